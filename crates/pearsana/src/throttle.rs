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
//! - **Provisional**, that first pace: the answers of the last second say little about the
//!   limit. A client that started in a window another process (or the previous run of an
//!   import) had mostly used sees its first `429` after a few answers; one whose own sending
//!   was slowed (a busy machine) measures its own pace, not the server's limit.
//!   It then grows its pace after the hold, by 10% per second in the first second and twice
//!   as fast in each following one (so a good estimate is crossed gently and a bad one is left
//!   within seconds), until the next `429` measures the limit (see cutting). (Without this, a
//!   rerun started right after a first import paced at a tenth of the limit for half a
//!   minute.)
//! - **Cutting** on a later `429`, once per second while refusals continue. Against a server
//!   that counts fixed one-second windows the client knows the limit exactly: the first answer
//!   after a refusal comes after a reset, so the answers counted from there until the next
//!   refusal (within the second) are what one window takes, and the pace becomes 98% of that.
//!   Otherwise (a count far below the accepted rate means the server refuses between answers,
//!   as a token bucket does) the limit is below the refused pace and at most the rate
//!   accepted over the last second: the pace drops to 98% of the lower of the two, by at
//!   least 2% and at most 10%.
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
/// Growth per second in the first second of a provisional pace; it doubles every second after.
const PROVISIONAL_GROWTH_PER_SECOND: f64 = 0.1;
/// The most the provisional growth doubles.
const PROVISIONAL_DOUBLINGS: u32 = 5;
/// The length of the server's rate-limit window the client assumes: limits are per second.
const WINDOW: Duration = Duration::from_secs(1);
/// How close after the last refusal the next answer must come for it to mark the reset.
const RESET_PIN: Duration = Duration::from_millis(20);
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
    /// Whether the pace rests on the first estimate, which says little about the limit.
    provisional: bool,
    /// When the provisional pace started to grow (the end of the hold).
    provisional_from: Option<Instant>,
    /// Start of the server's current window as the client sees it: the first answer after a
    /// refusal came after a reset; later windows follow every second from there.
    window_start: Option<Instant>,
    /// Answers since `window_start`.
    window_count: u32,
    /// Whether the next answer starts a window (set by a refusal).
    awaiting_reset: bool,
    /// When the pace was last cut.
    last_cut: Option<Instant>,
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
                provisional: false,
                provisional_from: None,
                window_start: None,
                window_count: 0,
                awaiting_reset: false,
                last_cut: None,
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
        // Answers that arrive during the first hold were accepted before the window filled.
        let holding = state.provisional_from.is_some_and(|t| now < t);
        if state.awaiting_reset && !holding {
            // The reset lies between the last refusal and this answer; only when they are
            // close together (the client kept sending) does this answer show where it was.
            let gap = state
                .last_throttled
                .map_or(Duration::MAX, |t| now.saturating_duration_since(t));
            let pinned = RESET_PIN.max(Duration::from_secs_f64(2.0 / state.rate.max(MIN_RATE)));
            state.window_start = (gap <= pinned).then_some(now);
            state.window_count = 0;
            state.awaiting_reset = false;
        }
        if let Some(start) = state.window_start {
            let passed = now.saturating_duration_since(start);
            if passed >= WINDOW {
                state.window_start = Some(start + WINDOW * passed.as_secs() as u32);
                state.window_count = 0;
            }
            state.window_count = state.window_count.saturating_add(1);
        }
        let since = state
            .last_growth
            .map_or(Duration::ZERO, |t| now.saturating_duration_since(t));
        if since >= Duration::from_millis(100) {
            let growth = if state.provisional {
                let seconds = state
                    .provisional_from
                    .map_or(0, |t| now.saturating_duration_since(t).as_secs());
                PROVISIONAL_GROWTH_PER_SECOND
                    * f64::from(1u32 << seconds.min(u64::from(PROVISIONAL_DOUBLINGS)))
            } else if state.rate >= state.ceiling * NEAR_CEILING {
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
        // The refusals of one overshoot arrive together (every request that was in flight
        // then), so they are one event: the pace is cut at most once per `CUT_INTERVAL`.
        // Cutting for each of them let one burst, measured at a moment the counter saw few
        // answers, drive the pace far below the limit, where probing takes minutes to climb.
        // (Timed from the last cut, not the last refusal: refusals that keep coming must keep
        // cutting.)
        let may_cut = state
            .last_cut
            .is_none_or(|t| now.saturating_duration_since(t) >= CUT_INTERVAL);
        let after_hold = state.provisional_from.is_some_and(|t| now > t);
        // What the server accepted in its current window, when the client knows where that
        // window started: the limit itself, however fast the client was sending. Only for a
        // server that counts fixed windows: one that refuses between answers (a token bucket,
        // say) leaves a count far below the rate it accepts, and that count is not used.
        let window = state
            .window_start
            .filter(|start| now.saturating_duration_since(*start) < WINDOW)
            .filter(|_| state.window_count > 0 && f64::from(state.window_count) >= 0.5 * accepted);
        let in_window = window.map(|_| f64::from(state.window_count));
        if engaging {
            state.rate = (accepted * BACKOFF_SHARE).max(MIN_RATE);
            state.ceiling = f64::INFINITY;
            state.provisional = true;
            state.last_cut = Some(now);
            state.window_start = None;
            state.awaiting_reset = true;
        } else if may_cut && (after_hold || !state.provisional) {
            // Refused at the current pace: the limit is what the window took, or else below
            // the pace and at most the rate accepted over the last second. A provisional pace
            // is replaced; a measured one drops by 2 % to 10 % unless the window counted it.
            let refused_at = state.rate;
            let (estimate, counted) = match in_window {
                Some(count) => (count, true),
                None => (accepted.min(refused_at), false),
            };
            state.rate = if counted || state.provisional {
                estimate * BACKOFF_SHARE
            } else {
                (estimate * BACKOFF_SHARE)
                    .max(refused_at * 0.9)
                    .min(refused_at * BACKOFF_SHARE)
            }
            .max(MIN_RATE);
            state.ceiling = estimate.max(MIN_RATE);
            state.provisional = false;
            state.last_cut = Some(now);
            if let Some(start) = window {
                // The window is full until it resets: anything sent before is refused.
                let reset = start + WINDOW;
                state.next_start = Some(state.next_start.map_or(reset, |next| next.max(reset)));
            }
            state.window_start = None;
            state.awaiting_reset = true;
        } else if !may_cut {
            // A refusal of the same overshoot: the window is still full.
            state.window_start = None;
            state.awaiting_reset = true;
        }
        state.last_throttled = Some(now);
        if state.last_cut == Some(now) {
            state.last_growth = Some(now);
        }
        if engaging {
            // The server's window is full: nothing sent before `Retry-After` can succeed.
            let hold = retry_after
                .unwrap_or(Duration::ZERO)
                .min(Duration::from_secs(5));
            state.next_start = Some(now + hold);
            // No growth for the time nothing is sent.
            state.last_growth = Some(now + hold);
            state.provisional_from = Some(now + hold);
            self.engaged.store(true, Ordering::Relaxed);
            tracing::info!(
                rate = state.rate,
                hold_ms = hold.as_millis() as u64,
                provisional = state.provisional,
                "rate limited: pacing requests"
            );
        } else {
            tracing::debug!(
                rate = state.rate,
                provisional = state.provisional,
                window_count = in_window,
                accepted,
                "rate limited again"
            );
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
        let t1 = engage_and_settle(&throttle);
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
        let t1 = engage_and_settle(&throttle);
        let accepted = throttle.lock().ceiling;
        assert!((accepted - 200.0).abs() < 2.0, "{accepted}");
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

    /// 200 answers a second, a `429` (the provisional pace), the hold, 200 answers a second
    /// for 2.2 s and a second `429`: a pace settled at 98 % of a measured 200 per second.
    fn engage_and_settle(throttle: &Throttle) -> Instant {
        let t0 = Instant::now();
        let t1 = answers(
            throttle,
            t0,
            Duration::from_millis(1200),
            Duration::from_millis(5),
        );
        throttle.on_throttled(t1, Some(Duration::from_secs(1)));
        assert!(throttle.lock().provisional);
        let hold_end = t1 + Duration::from_secs(1);
        let t2 = answers(
            throttle,
            hold_end,
            Duration::from_millis(2200),
            Duration::from_millis(5),
        );
        throttle.on_throttled(t2, Some(Duration::from_secs(1)));
        assert!(!throttle.lock().provisional);
        t2
    }

    /// Answers every `step` from `from` for `span`, as a paced client would get; returns the
    /// time of the last.
    fn answers(throttle: &Throttle, from: Instant, span: Duration, step: Duration) -> Instant {
        let mut now = from;
        while now < from + span {
            now += step;
            throttle.on_accepted(now);
        }
        now
    }

    /// Another client had used most of the window: 20 answers, then a `429` 15 ms after the
    /// start; returns its time.
    fn engage_in_a_used_window(throttle: &Throttle) -> Instant {
        let t0 = Instant::now();
        for i in 0..20 {
            throttle.on_accepted(t0 + Duration::from_micros(750 * i));
        }
        let t1 = t0 + Duration::from_millis(15);
        throttle.on_throttled(t1, Some(Duration::from_secs(1)));
        t1
    }

    #[test]
    fn a_first_estimate_from_a_fraction_of_a_second_is_provisional_and_left_within_seconds() {
        let throttle = Throttle::new(true);
        let t1 = engage_in_a_used_window(&throttle);
        assert!(throttle.lock().provisional);
        assert!(throttle.rate().unwrap() < 25.0, "{:?}", throttle.rate());
        // Nothing grows during the hold.
        throttle.on_accepted(t1 + Duration::from_millis(900));
        assert!(throttle.rate().unwrap() < 25.0, "{:?}", throttle.rate());
        // Five seconds of paced answers after the hold: past a limit of 200.
        let hold_end = t1 + Duration::from_secs(1);
        let now = answers(
            &throttle,
            hold_end,
            Duration::from_secs(5),
            Duration::from_millis(10),
        );
        assert!(throttle.rate().unwrap() > 200.0, "{:?}", throttle.rate());
        // The next 429 replaces the provisional pace.
        throttle.on_throttled(now, Some(Duration::from_secs(1)));
        let state = throttle.lock();
        assert!(!state.provisional);
        assert!(state.ceiling.is_finite());
    }

    #[test]
    fn an_answer_right_after_a_refusal_marks_the_window_whose_count_is_the_limit() {
        let throttle = Throttle::new(true);
        let t1 = engage_in_a_used_window(&throttle);
        // A refusal of a request in flight during the hold changes nothing.
        throttle.on_throttled(t1 + Duration::from_millis(5), Some(Duration::from_secs(1)));
        assert!(throttle.lock().provisional);
        // After the hold, the provisional pace is refused: no window is known yet (the reset
        // happened somewhere during the hold), so this cut rests on the last second.
        let hold_end = t1 + Duration::from_secs(1);
        let refused = answers(
            &throttle,
            hold_end,
            Duration::from_millis(600),
            Duration::from_millis(4),
        );
        throttle.on_throttled(refused, Some(Duration::from_secs(1)));
        assert!(!throttle.lock().provisional);
        // The next answer comes 2 ms after that refusal: the window reset there. It takes 200
        // answers, then refuses again more than a second after the last cut.
        let reset = refused + Duration::from_millis(2);
        throttle.on_accepted(reset);
        let full = answers(
            &throttle,
            reset,
            Duration::from_millis(796),
            Duration::from_millis(4),
        );
        let cut_at = refused + CUT_INTERVAL.max(full - refused) + Duration::from_millis(1);
        assert!(cut_at < reset + WINDOW, "still in the window");
        throttle.on_throttled(cut_at, Some(Duration::from_secs(1)));
        let state = throttle.lock();
        assert!((state.ceiling - 200.0).abs() < 0.5, "{}", state.ceiling);
        assert!((state.rate - 196.0).abs() < 0.5, "{}", state.rate);
        assert_eq!(
            state.next_start,
            Some(reset + WINDOW),
            "nothing is sent into the full window"
        );
    }

    #[test]
    fn refusals_that_keep_coming_keep_cutting_once_a_second() {
        let throttle = Throttle::new(true);
        let t1 = engage_and_settle(&throttle);
        let engaged_at = throttle.rate().unwrap();
        // Refused every 10 ms for 3.5 s, with answers in between at the paced rate.
        let mut now = t1 + Duration::from_secs(1);
        let end = now + Duration::from_millis(3500);
        while now < end {
            now += Duration::from_millis(5);
            throttle.on_accepted(now);
            now += Duration::from_millis(5);
            throttle.on_throttled(now, Some(Duration::from_secs(1)));
        }
        let rate = throttle.rate().unwrap();
        // One cut per second, each at least 2 %.
        assert!(
            rate <= engaged_at * 0.98f64.powi(3) + 0.01,
            "{engaged_at} -> {rate}"
        );
        assert!(
            rate >= engaged_at * 0.9f64.powi(4) - 0.01,
            "{engaged_at} -> {rate}"
        );
    }

    #[test]
    fn a_good_provisional_estimate_is_crossed_gently() {
        // A fresh window: 200 answers in 100 ms, then a 429.
        let throttle = Throttle::new(true);
        let t0 = Instant::now();
        for i in 0..200 {
            throttle.on_accepted(t0 + Duration::from_micros(500 * i));
        }
        let t1 = t0 + Duration::from_millis(100);
        throttle.on_throttled(t1, Some(Duration::from_secs(1)));
        let start = throttle.rate().unwrap();
        answers(
            &throttle,
            t1 + Duration::from_secs(1),
            Duration::from_secs(1),
            Duration::from_millis(5),
        );
        let after_a_second = throttle.rate().unwrap();
        assert!(
            after_a_second < start * 1.12,
            "at most about 10 % in the first second: {start} -> {after_a_second}"
        );
    }

    #[test]
    fn a_disabled_throttle_never_engages() {
        let throttle = Throttle::new(false);
        throttle.on_throttled(Instant::now(), Some(Duration::from_secs(1)));
        assert!(!throttle.engaged());
    }
}
