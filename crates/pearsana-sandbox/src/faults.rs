//! Fault injection and rate limiting.
//!
//! Which requests are affected is decided in [`crate::context`]: failures, dropped connections,
//! lost answers and latency hit the spec's authenticated operations (`/ping` and `/v1/*`);
//! `/health`, the token endpoint, the spec files and the `/sandbox/v1` helpers are never failed
//! or dropped, so
//! readiness checks, token requests and test assertions stay deterministic. Latency also
//! applies to the token endpoint, which lets clients observe concurrent token requests.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// What fault injection decided for one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// Handle the request normally.
    None,
    /// Answer `500 INTERNAL_SERVER_ERROR` without processing.
    Fail,
    /// Close the connection without answering, before processing.
    Drop,
    /// Process the request, then close the connection without answering: the client cannot
    /// tell whether its request took effect.
    LoseAnswer,
}

/// Draws faults from a seeded random sequence: one draw per affected request, so the same seed
/// and the same order of requests give the same faults.
#[derive(Debug)]
pub struct FaultInjector {
    fail_rate: f64,
    drop_rate: f64,
    lost_answer_rate: f64,
    rng: Mutex<StdRng>,
}

impl FaultInjector {
    /// An injector; without a seed one is taken from the operating system.
    pub fn new(config: &crate::config::FaultConfig) -> Self {
        let rng = match config.seed {
            Some(seed) => StdRng::seed_from_u64(seed),
            None => StdRng::from_os_rng(),
        };
        Self {
            fail_rate: config.fail_rate,
            drop_rate: config.drop_rate,
            lost_answer_rate: config.lost_answer_rate,
            rng: Mutex::new(rng),
        }
    }

    /// The fault for the next request.
    pub fn next(&self) -> Fault {
        if self.fail_rate <= 0.0 && self.drop_rate <= 0.0 && self.lost_answer_rate <= 0.0 {
            return Fault::None;
        }
        let draw: f64 = self.rng.lock().unwrap_or_else(|e| e.into_inner()).random();
        if draw < self.drop_rate {
            Fault::Drop
        } else if draw < self.drop_rate + self.fail_rate {
            Fault::Fail
        } else if draw < self.drop_rate + self.fail_rate + self.lost_answer_rate {
            Fault::LoseAnswer
        } else {
            Fault::None
        }
    }
}

/// Fixed one-second windows per App Client (ASSUMPTIONS L1).
#[derive(Debug)]
pub struct RateLimiter {
    per_second: u32,
    windows: Mutex<HashMap<String, (Instant, u32)>>,
}

impl RateLimiter {
    /// A limiter allowing `per_second` requests per client per second.
    pub fn new(per_second: u32) -> Self {
        Self {
            per_second,
            windows: Mutex::new(HashMap::new()),
        }
    }

    /// Counts a request of `client`; `Err(seconds)` when it is over the limit, with the whole
    /// seconds to wait (at least 1).
    pub fn check(&self, client: &str, now: Instant) -> Result<(), u64> {
        let mut windows = self.windows.lock().unwrap_or_else(|e| e.into_inner());
        let window = windows.entry(client.to_string()).or_insert((now, 0));
        if now.duration_since(window.0) >= Duration::from_secs(1) {
            *window = (now, 0);
        }
        if window.1 >= self.per_second {
            let left = Duration::from_secs(1).saturating_sub(now.duration_since(window.0));
            return Err(left.as_secs_f64().ceil().max(1.0) as u64);
        }
        window.1 += 1;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::FaultConfig;

    fn injector(
        fail_rate: f64,
        drop_rate: f64,
        lost_answer_rate: f64,
        seed: Option<u64>,
    ) -> FaultInjector {
        FaultInjector::new(&FaultConfig {
            fail_rate,
            drop_rate,
            lost_answer_rate,
            seed,
            ..FaultConfig::default()
        })
    }

    #[test]
    fn same_seed_gives_the_same_faults() {
        let a = injector(0.3, 0.3, 0.2, Some(7));
        let b = injector(0.3, 0.3, 0.2, Some(7));
        let seq_a: Vec<_> = (0..64).map(|_| a.next()).collect();
        let seq_b: Vec<_> = (0..64).map(|_| b.next()).collect();
        assert_eq!(seq_a, seq_b);
        assert!(seq_a.contains(&Fault::Drop) && seq_a.contains(&Fault::Fail));
        assert!(seq_a.contains(&Fault::LoseAnswer));
        assert!(seq_a.contains(&Fault::None));
    }

    #[test]
    fn rates_of_one_and_zero_are_absolute() {
        let always = injector(1.0, 0.0, 0.0, Some(1));
        assert!((0..32).all(|_| always.next() == Fault::Fail));
        let lost = injector(0.0, 0.0, 1.0, Some(1));
        assert!((0..32).all(|_| lost.next() == Fault::LoseAnswer));
        let never = injector(0.0, 0.0, 0.0, None);
        assert!((0..32).all(|_| never.next() == Fault::None));
    }

    #[test]
    fn limiter_counts_per_client_and_window() {
        let limiter = RateLimiter::new(2);
        let t0 = Instant::now();
        assert!(limiter.check("a", t0).is_ok());
        assert!(limiter.check("a", t0).is_ok());
        assert_eq!(limiter.check("a", t0 + Duration::from_millis(100)), Err(1));
        assert!(limiter.check("b", t0).is_ok());
        assert!(limiter.check("a", t0 + Duration::from_secs(1)).is_ok());
    }
}
