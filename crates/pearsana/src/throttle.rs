//! Adaptive throttling: after a `429` the client lowers its own send rate.
//!
//! A client that ignores rate limits until it is refused sends a burst of requests that are
//! bound to fail (at `-c 32`, one refused request per task each time the limit is hit). Like
//! the AWS SDK's adaptive retry mode, the client keeps a shared pacing state (one per client,
//! shared by all clones and tasks):
//!
//! - **Dormant** until the first `429`: two atomic operations per answer to count successes,
//!   no lock, no waiting.
//! - **Engaging** on a `429`: the rate the server accepted over the last second is the best
//!   estimate of the limit, so the client paces every following attempt (retries included) at
//!   98% of it, evenly spaced, and on first engagement also holds every send until the
//!   server's `Retry-After` has passed (the window is full; anything sent earlier is refused).
//! - **Probing**: while no `429` arrives the rate grows by 0.5% per second, so a limit that
//!   rises is found again; the next `429` sets it back to 98% of what was accepted. Within 1%
//!   of the rate at which the server last refused, growth slows to 0.05% per second: the
//!   client sits just under a limit it has found instead of crossing it every few seconds
//!   (each crossing costs a refused request and delays its row by a whole `Retry-After`), and
//!   still finds a raised limit within about 20 seconds. After 30 seconds without a `429`
//!   the throttle goes dormant again.
//!
//! It is on by default: it costs nothing until the server refuses a request for rate, and a
//! client that keeps sending at a rate the server refuses only burns its own quota (every
//! refused request counts against the limit too). Turn it off with
//! [`ClientBuilder::adaptive_throttling`](crate::ClientBuilder::adaptive_throttling) when
//! another layer already paces requests.

use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use crate::time::Clock;

/// Share of the measured accepted rate the client paces at after a `429`.
const BACKOFF_SHARE: f64 = 0.98;
/// Growth of the paced rate per second without a `429`.
const PROBE_GROWTH_PER_SECOND: f64 = 0.005;
/// Growth per second once the pace is within [`NEAR_CEILING`] of the last refused rate.
const CAUTIOUS_GROWTH_PER_SECOND: f64 = 0.0005;
/// Share of the last refused rate from which probing is cautious.
const NEAR_CEILING: f64 = 0.99;
/// Time without a `429` after which pacing stops.
const DORMANT_AFTER: Duration = Duration::from_secs(30);
/// The slowest pace the throttle ever sets.
const MIN_RATE: f64 = 1.0;
/// The shortest time between two cuts of the pace: the refusals of one overshoot are one event.
const CUT_INTERVAL: Duration = Duration::from_secs(1);

#[derive(Debug)]
struct State {
    /// Requests per second while engaged.
    rate: f64,
    /// The rate the server last refused at (the accepted rate measured at that `429`).
    ceiling: f64,
    /// The earliest start of the next paced attempt.
    next_start: Option<Instant>,
    last_throttled: Option<Instant>,
    last_growth: Option<Instant>,
}

/// Successes in the current and the previous one-second bucket, counted with atomics so the
/// dormant path takes no lock (an approximate count is all the estimate needs).
#[derive(Debug)]
struct Counter {
    epoch: OnceLock<Instant>,
    /// Start of the current bucket in milliseconds since `epoch`; `u64::MAX` before the first.
    bucket_start_ms: AtomicU64,
    current: AtomicU32,
    previous: AtomicU32,
}

impl Counter {
    fn new() -> Self {
        Self {
            epoch: OnceLock::new(),
            bucket_start_ms: AtomicU64::new(u64::MAX),
            current: AtomicU32::new(0),
            previous: AtomicU32::new(0),
        }
    }

    fn millis(&self, now: Instant) -> u64 {
        let epoch = *self.epoch.get_or_init(|| now);
        now.saturating_duration_since(epoch).as_millis() as u64
    }

    fn count(&self, now: Instant) {
        let ms = self.millis(now);
        let start = self.bucket_start_ms.load(Ordering::Acquire);
        if start == u64::MAX {
            let _ = self.bucket_start_ms.compare_exchange(
                u64::MAX,
                ms,
                Ordering::AcqRel,
                Ordering::Acquire,
            );
        } else if ms >= start.saturating_add(1000) {
            let stale = ms >= start.saturating_add(2000);
            let next = if stale { ms } else { start + 1000 };
            if self
                .bucket_start_ms
                .compare_exchange(start, next, Ordering::AcqRel, Ordering::Acquire)
                .is_ok()
            {
                let finished = self.current.swap(0, Ordering::AcqRel);
                self.previous
                    .store(if stale { 0 } else { finished }, Ordering::Release);
            }
        }
        self.current.fetch_add(1, Ordering::AcqRel);
    }

    /// Successes over the last second (sliding over the two buckets).
    fn accepted_rate(&self, now: Instant) -> f64 {
        let start = self.bucket_start_ms.load(Ordering::Acquire);
        if start == u64::MAX {
            return MIN_RATE;
        }
        let age = self.millis(now).saturating_sub(start) as f64 / 1000.0;
        let current = f64::from(self.current.load(Ordering::Acquire));
        let previous = f64::from(self.previous.load(Ordering::Acquire));
        if age >= 2.0 {
            MIN_RATE
        } else if age >= 1.0 {
            current * (2.0 - age)
        } else {
            current + previous * (1.0 - age)
        }
    }
}

/// The pacing state of one client (shared by its clones).
#[derive(Debug)]
pub(crate) struct Throttle {
    enabled: bool,
    engaged: AtomicBool,
    counter: Counter,
    state: Mutex<State>,
}

impl Throttle {
    pub(crate) fn new(enabled: bool) -> Self {
        Self {
            enabled,
            engaged: AtomicBool::new(false),
            counter: Counter::new(),
            state: Mutex::new(State {
                rate: f64::INFINITY,
                ceiling: f64::INFINITY,
                next_start: None,
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
        self.counter.count(now);
        if !self.engaged() {
            return;
        }
        let mut state = self.lock();
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
            let growth = if state.rate >= state.ceiling * NEAR_CEILING {
                CAUTIOUS_GROWTH_PER_SECOND
            } else {
                PROBE_GROWTH_PER_SECOND
            };
            state.rate *= 1.0 + growth * since.as_secs_f64();
            state.last_growth = Some(now);
        }
    }

    /// Lowers the pace after a `429`; `retry_after` is what the server asked for.
    pub(crate) fn on_throttled(&self, now: Instant, retry_after: Option<Duration>) {
        if !self.enabled {
            return;
        }
        let accepted = self.counter.accepted_rate(now);
        let mut state = self.lock();
        let engaging = !self.engaged();
        let target = (accepted * BACKOFF_SHARE).max(MIN_RATE);
        // The refusals of one overshoot arrive together (every request that was in flight
        // then), so they are one event: the pace is cut at most once per `CUT_INTERVAL`.
        // Cutting for each of them let one burst, measured at a moment the counter saw few
        // answers, drive the pace far below the limit, where probing takes minutes to climb.
        let recently_cut = state
            .last_throttled
            .is_some_and(|t| now.saturating_duration_since(t) < CUT_INTERVAL);
        if engaging || !recently_cut {
            state.ceiling = accepted.max(MIN_RATE);
        }
        if engaging {
            state.rate = target;
        } else if !recently_cut {
            state.rate = state.rate.min(target.max(state.rate * 0.9));
        }
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
    fn the_refusals_of_one_overshoot_cut_the_pace_once() {
        let throttle = Throttle::new(true);
        let t0 = Instant::now();
        for i in 0..200 {
            throttle.on_accepted(t0 + Duration::from_micros(500 * i));
        }
        let t1 = t0 + Duration::from_millis(100);
        throttle.on_throttled(t1, Some(Duration::from_secs(1)));
        let engaged_at = throttle.rate().unwrap();
        // Three seconds later, 30 requests that were in flight together are refused at once,
        // at a moment the counter has seen few answers.
        let t2 = t1 + Duration::from_secs(3);
        for _ in 0..30 {
            throttle.on_throttled(t2, Some(Duration::from_secs(1)));
        }
        let after_burst = throttle.rate().unwrap();
        assert!(
            (after_burst - engaged_at * 0.9).abs() < 0.5,
            "one cut of 10 %, not one per refusal: {engaged_at} -> {after_burst}"
        );
        // A refusal a second later is a new overshoot and cuts again.
        throttle.on_throttled(t2 + CUT_INTERVAL, Some(Duration::from_secs(1)));
        assert!(throttle.rate().unwrap() < after_burst);
    }

    #[test]
    fn probing_slows_down_just_under_the_rate_the_server_refused() {
        let throttle = Throttle::new(true);
        let t0 = Instant::now();
        for i in 0..200 {
            throttle.on_accepted(t0 + Duration::from_micros(500 * i));
        }
        let t1 = t0 + Duration::from_millis(100);
        throttle.on_throttled(t1, Some(Duration::from_secs(1)));
        let accepted = throttle.lock().ceiling;
        assert!((accepted - 200.0).abs() < 1.0, "{accepted}");
        // Answers every 100 ms for 15 seconds, as a paced import would get.
        let mut now = t1;
        for _ in 0..150 {
            now += Duration::from_millis(100);
            throttle.on_accepted(now);
        }
        let rate = throttle.rate().unwrap();
        // At 0.5 % per second all along it would be 196 × 1.005^15 ≈ 211, past the limit.
        assert!(
            rate >= accepted * NEAR_CEILING - 0.5,
            "it still climbs to the limit: {rate}"
        );
        assert!(rate < accepted, "it stays under the refused rate: {rate}");
        // A raised limit is still found: 25 seconds after the refusal (before the throttle
        // would go dormant) the pace is past the old limit.
        for _ in 0..100 {
            now += Duration::from_millis(100);
            throttle.on_accepted(now);
        }
        assert!(throttle.rate().unwrap() > accepted, "{:?}", throttle.rate());
    }

    #[test]
    fn a_disabled_throttle_never_engages() {
        let throttle = Throttle::new(false);
        throttle.on_throttled(Instant::now(), Some(Duration::from_secs(1)));
        assert!(!throttle.engaged());
    }
}
