//! Adaptive throttling: after a `429` the client lowers its own send rate.
//!
//! A client that ignores rate limits until it is refused sends a burst of requests that are
//! bound to fail (at `-c 32`, one refused request per task each time the limit is hit). Like
//! the AWS SDK's adaptive retry mode, the client keeps a shared pacing state (one per client,
//! shared by all clones and tasks):
//!
//! - **Dormant** until the first `429`: one uncontended lock per answer to count successes,
//!   no waiting.
//! - **Engaging** on a `429`: the rate the server accepted over the last second is the best
//!   estimate of the limit, so the client paces every following attempt (retries included) at
//!   98% of it, evenly spaced, and on first engagement also holds every send until the
//!   server's `Retry-After` has passed (the window is full; anything sent earlier is refused).
//! - **Probing**: while no `429` arrives the rate grows by 0.5% per second, so a limit that
//!   rises is found again; the next `429` sets it back to 98% of what was accepted. After
//!   30 seconds without a `429` the throttle goes dormant again.
//!
//! It is on by default: it costs nothing until the server refuses a request for rate, and a
//! client that keeps sending at a rate the server refuses only burns its own quota (every
//! refused request counts against the limit too). Turn it off with
//! [`ClientBuilder::adaptive_throttling`](crate::ClientBuilder::adaptive_throttling) when
//! another layer already paces requests.

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use crate::time::Clock;

/// Share of the measured accepted rate the client paces at after a `429`.
const BACKOFF_SHARE: f64 = 0.98;
/// Growth of the paced rate per second without a `429`.
const PROBE_GROWTH_PER_SECOND: f64 = 0.005;
/// Time without a `429` after which pacing stops.
const DORMANT_AFTER: Duration = Duration::from_secs(30);
/// The slowest pace the throttle ever sets.
const MIN_RATE: f64 = 1.0;

#[derive(Debug)]
struct State {
    /// Requests per second while engaged.
    rate: f64,
    /// The earliest start of the next paced attempt.
    next_start: Option<Instant>,
    /// Successes counted in the current and the previous one-second bucket.
    bucket_start: Option<Instant>,
    current: u32,
    previous: u32,
    last_throttled: Option<Instant>,
    last_growth: Option<Instant>,
}

/// The pacing state of one client (shared by its clones).
#[derive(Debug)]
pub(crate) struct Throttle {
    enabled: bool,
    engaged: AtomicBool,
    state: Mutex<State>,
}

impl Throttle {
    pub(crate) fn new(enabled: bool) -> Self {
        Self {
            enabled,
            engaged: AtomicBool::new(false),
            state: Mutex::new(State {
                rate: f64::INFINITY,
                next_start: None,
                bucket_start: None,
                current: 0,
                previous: 0,
                last_throttled: None,
                last_growth: None,
            }),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Whether the client is pacing its requests now.
    pub(crate) fn engaged(&self) -> bool {
        self.engaged.load(Ordering::Relaxed)
    }

    /// The paced rate in requests per second, while engaged.
    pub(crate) fn rate(&self) -> Option<f64> {
        self.engaged().then(|| self.lock().rate)
    }

    /// Waits for this attempt's turn (returns at once while dormant).
    pub(crate) async fn acquire(&self, clock: &dyn Clock) {
        if !self.enabled || !self.engaged() {
            return;
        }
        let now = clock.now();
        let start = {
            let mut state = self.lock();
            let start = state.next_start.map_or(now, |next| next.max(now));
            state.next_start = Some(start + Duration::from_secs_f64(1.0 / state.rate));
            start
        };
        if start > now {
            clock.sleep(start - now).await;
        }
    }

    /// Counts an answer that was not a `429`.
    pub(crate) fn on_accepted(&self, now: Instant) {
        if !self.enabled {
            return;
        }
        let mut state = self.lock();
        state.count(now);
        if !self.engaged() {
            return;
        }
        if state
            .last_throttled
            .is_some_and(|t| now.saturating_duration_since(t) > DORMANT_AFTER)
        {
            self.engaged.store(false, Ordering::Relaxed);
            state.next_start = None;
            return;
        }
        let since = state
            .last_growth
            .map_or(Duration::ZERO, |t| now.saturating_duration_since(t));
        if since >= Duration::from_millis(100) {
            state.rate *= 1.0 + PROBE_GROWTH_PER_SECOND * since.as_secs_f64();
            state.last_growth = Some(now);
        }
    }

    /// Lowers the pace after a `429`; `retry_after` is what the server asked for.
    pub(crate) fn on_throttled(&self, now: Instant, retry_after: Option<Duration>) {
        if !self.enabled {
            return;
        }
        let mut state = self.lock();
        let accepted = state.accepted_rate(now);
        let engaging = !self.engaged();
        let target = (accepted * BACKOFF_SHARE).max(MIN_RATE);
        state.rate = if engaging {
            target
        } else {
            state.rate.min(target.max(state.rate * 0.9))
        };
        state.last_throttled = Some(now);
        state.last_growth = Some(now);
        if engaging {
            // The server's window is full: nothing sent before `Retry-After` can succeed.
            let hold = retry_after
                .unwrap_or(Duration::ZERO)
                .min(Duration::from_secs(5));
            state.next_start = Some(now + hold);
            self.engaged.store(true, Ordering::Relaxed);
            tracing::info!(
                rate = state.rate,
                hold_ms = hold.as_millis() as u64,
                "rate limited: pacing requests"
            );
        } else {
            tracing::debug!(rate = state.rate, "rate limited again: slower pace");
        }
    }
}

impl State {
    fn count(&mut self, now: Instant) {
        match self.bucket_start {
            None => {
                self.bucket_start = Some(now);
                self.current = 1;
            }
            Some(start) => {
                let age = now.saturating_duration_since(start);
                if age >= Duration::from_secs(2) {
                    self.previous = 0;
                    self.current = 0;
                    self.bucket_start = Some(now);
                } else if age >= Duration::from_secs(1) {
                    self.previous = self.current;
                    self.current = 0;
                    self.bucket_start = Some(start + Duration::from_secs(1));
                }
                self.current += 1;
            }
        }
    }

    /// Successes over the last second (sliding over two buckets).
    fn accepted_rate(&self, now: Instant) -> f64 {
        let Some(start) = self.bucket_start else {
            return MIN_RATE;
        };
        let age = now.saturating_duration_since(start).as_secs_f64();
        if age >= 2.0 {
            return MIN_RATE;
        }
        if age >= 1.0 {
            return f64::from(self.current) * (2.0 - age);
        }
        f64::from(self.current) + f64::from(self.previous) * (1.0 - age)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_429_engages_at_98_percent_of_the_accepted_rate_and_probing_grows_it() {
        let throttle = Throttle::new(true);
        let t0 = Instant::now();
        for i in 0..200 {
            throttle.on_accepted(t0 + Duration::from_micros(500 * i));
        }
        assert!(!throttle.engaged());
        let t1 = t0 + Duration::from_millis(100);
        throttle.on_throttled(t1, Some(Duration::from_secs(1)));
        let rate = throttle.rate().unwrap();
        assert!((rate - 196.0).abs() < 0.5, "{rate}");
        throttle.on_accepted(t1 + Duration::from_secs(2));
        assert!(throttle.rate().unwrap() > rate);
        throttle.on_accepted(t1 + Duration::from_secs(40));
        assert!(!throttle.engaged(), "dormant again after a quiet spell");
    }

    #[test]
    fn a_disabled_throttle_never_engages() {
        let throttle = Throttle::new(false);
        throttle.on_throttled(Instant::now(), Some(Duration::from_secs(1)));
        assert!(!throttle.engaged());
    }
}
