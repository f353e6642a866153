//! The clock the client reads and sleeps on.
//!
//! Token expiry, back-off and `Retry-After` all depend on time. The client never calls the
//! system clock directly but goes through a [`Clock`], so tests (and simulations) can run
//! hours of virtual time in milliseconds. The default, [`TokioClock`], follows tokio's clock,
//! which means `tokio::time::pause()` works too.

use std::fmt;
use std::time::{Duration, Instant};

pub use pearsana_api::hooks::BoxFuture;

/// A source of the current instant and a way to wait.
///
/// A test clock might advance a virtual "now" by the requested duration in `sleep` and return
/// at once:
///
/// ```
/// use std::sync::Mutex;
/// use std::time::{Duration, Instant};
/// use pearsana::time::{BoxFuture, Clock};
///
/// #[derive(Debug)]
/// struct VirtualClock { start: Instant, offset: Mutex<Duration> }
///
/// impl Clock for VirtualClock {
///     fn now(&self) -> Instant {
///         self.start + *self.offset.lock().unwrap()
///     }
///     fn sleep(&self, duration: Duration) -> BoxFuture<'static, ()> {
///         *self.offset.lock().unwrap() += duration;
///         Box::pin(async {})
///     }
/// }
/// ```
pub trait Clock: Send + Sync + fmt::Debug + 'static {
    /// The current instant.
    fn now(&self) -> Instant;

    /// Waits for `duration`.
    fn sleep(&self, duration: Duration) -> BoxFuture<'static, ()>;
}

/// The default clock: tokio's (`tokio::time::Instant` and `tokio::time::sleep`).
#[derive(Debug, Clone, Copy, Default)]
pub struct TokioClock;

impl Clock for TokioClock {
    fn now(&self) -> Instant {
        tokio::time::Instant::now().into_std()
    }

    fn sleep(&self, duration: Duration) -> BoxFuture<'static, ()> {
        Box::pin(tokio::time::sleep(duration))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn tokio_clock_follows_paused_time() {
        let clock = TokioClock;
        let before = clock.now();
        clock.sleep(Duration::from_secs(3600)).await;
        let slept = clock.now() - before;
        assert!(
            slept >= Duration::from_secs(3600) && slept < Duration::from_secs(3601),
            "{slept:?}"
        );
    }
}
