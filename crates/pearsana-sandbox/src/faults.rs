//! Fault injection and rate limiting.
//!
//! Faults hit the spec's authenticated operations (`/ping` and `/v1/*`), after the request's
//! token, version and scopes were accepted. Each request's fault comes from, in order: its
//! `X-Sandbox-Fault` header, the fault script (`POST /sandbox/v1/faults`: a queue of faults
//! each matched by operation and consumed in order), then the seeded random rates
//! (`--fail-rate`, `--drop-rate`, `--lost-answer-rate`). `/health`, the token endpoint, the
//! spec files and the `/sandbox/v1` helpers are never failed or dropped, so readiness checks,
//! token requests and test assertions stay deterministic. Latency (`--latency`) also applies to
//! the token endpoint, which lets clients observe concurrent token requests.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use pearsana_api::types::{ErrorCode, ErrorDetails};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};

use crate::app::AppState;
use crate::auth::guard::Caller;
use crate::body;
use crate::context::{ConnectionKiller, RequestContext, TOKEN_PATH};
use crate::error::ApiError;
use crate::request_log::AppliedFault;
use crate::stats::bump;

/// Name of the request header that asks for a fault.
pub const FAULT_HEADER: &str = "x-sandbox-fault";

/// The values `X-Sandbox-Fault` accepts, for error messages.
pub const FAULT_VALUES: &str = "429, 500, 503, drop, lost-answer or latency=MS";

/// Longest latency a fault may ask for.
pub const MAX_FAULT_LATENCY: Duration = Duration::from_secs(60);

/// What fault injection decided for one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// Handle the request normally.
    None,
    /// Answer `429 TOO_MANY_REQUESTS` with `Retry-After` without processing.
    TooManyRequests,
    /// Answer `500 INTERNAL_SERVER_ERROR` without processing.
    Fail,
    /// Answer `503` (envelope) without processing.
    Unavailable,
    /// Close the connection without answering, before processing.
    Drop,
    /// Process the request, then close the connection without answering: the client cannot
    /// tell whether its request took effect.
    LoseAnswer,
    /// Wait, then handle the request normally.
    Latency(Duration),
}

impl Fault {
    /// Parses one value of `X-Sandbox-Fault` or of a fault script entry.
    pub fn parse(value: &str) -> Option<Self> {
        match value.trim() {
            "429" => Some(Self::TooManyRequests),
            "500" => Some(Self::Fail),
            "503" => Some(Self::Unavailable),
            "drop" => Some(Self::Drop),
            "lost-answer" => Some(Self::LoseAnswer),
            other => {
                let ms: u64 = other.strip_prefix("latency=")?.parse().ok()?;
                let latency = Duration::from_millis(ms);
                (latency <= MAX_FAULT_LATENCY).then_some(Self::Latency(latency))
            }
        }
    }

    /// The name the request log shows (`None` for no fault).
    pub fn name(self) -> Option<String> {
        Some(match self {
            Self::None => return None,
            Self::TooManyRequests => "429".into(),
            Self::Fail => "500".into(),
            Self::Unavailable => "503".into(),
            Self::Drop => "drop".into(),
            Self::LoseAnswer => "lost-answer".into(),
            Self::Latency(d) => format!("latency={}", d.as_millis()),
        })
    }
}

/// One entry of the fault script.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ScriptedFault {
    /// Operation id it applies to (`create_user` or `createUser`); absent: the next request
    /// to any operation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operation: Option<String>,
    /// The fault, as `X-Sandbox-Fault` writes it.
    pub fault: String,
}

/// The queue of scripted faults.
#[derive(Debug, Default)]
pub struct FaultScript {
    queue: Mutex<VecDeque<(ScriptedFault, Fault)>>,
}

/// Operation ids compare without case and underscores, so `createUser` is `create_user`.
fn same_operation(a: &str, b: &str) -> bool {
    let key = |s: &str| {
        s.chars()
            .filter(|c| *c != '_')
            .map(|c| c.to_ascii_lowercase())
            .collect::<String>()
    };
    key(a) == key(b)
}

impl FaultScript {
    /// Checks and appends entries; on error nothing is appended and the message names the
    /// first bad entry.
    pub fn push(&self, entries: Vec<ScriptedFault>) -> Result<usize, String> {
        let mut parsed = Vec::with_capacity(entries.len());
        for (i, entry) in entries.into_iter().enumerate() {
            let Some(fault) = Fault::parse(&entry.fault) else {
                return Err(format!("faults[{i}].fault must be one of {FAULT_VALUES}"));
            };
            if let Some(op) = &entry.operation
                && !pearsana_api::spec::operations::ALL
                    .iter()
                    .any(|known| known.authenticated && same_operation(known.id, op))
            {
                return Err(format!(
                    "faults[{i}].operation must name an authenticated operation, e.g. create_user"
                ));
            }
            parsed.push((entry, fault));
        }
        let mut queue = self.queue.lock().unwrap_or_else(|e| e.into_inner());
        queue.extend(parsed);
        Ok(queue.len())
    }

    /// Takes the first queued fault for an operation.
    pub fn take(&self, operation: &str) -> Option<Fault> {
        let mut queue = self.queue.lock().unwrap_or_else(|e| e.into_inner());
        let index = queue.iter().position(|(entry, _)| {
            entry
                .operation
                .as_deref()
                .is_none_or(|op| same_operation(op, operation))
        })?;
        queue.remove(index).map(|(_, fault)| fault)
    }

    /// The queued entries, next first.
    pub fn pending(&self) -> Vec<ScriptedFault> {
        let queue = self.queue.lock().unwrap_or_else(|e| e.into_inner());
        queue.iter().map(|(entry, _)| entry.clone()).collect()
    }

    /// Empties the queue.
    pub fn clear(&self) {
        self.queue.lock().unwrap_or_else(|e| e.into_inner()).clear();
    }
}

/// The fault layer; see the module documentation.
pub async fn layer(State(app): State<Arc<AppState>>, request: Request, next: Next) -> Response {
    let Some(context) = request.extensions().get::<RequestContext>().cloned() else {
        return next.run(request).await;
    };
    let latency = app.config.faults.latency;
    let Some(op) = context.operation.filter(|op| op.authenticated) else {
        if request.uri().path() == TOKEN_PATH && !latency.is_zero() {
            tokio::time::sleep(latency).await;
        }
        return next.run(request).await;
    };
    let timeout = app.config.limits.body_read_timeout;
    let header = request.headers().get(FAULT_HEADER).map(|v| v.to_str());
    let fault = match header {
        Some(value) => match value.ok().and_then(Fault::parse) {
            Some(fault) => fault,
            None => {
                let error = ApiError::validation(vec![format!(
                    "X-Sandbox-Fault must be one of {FAULT_VALUES}"
                )]);
                return body::reject(request, error, timeout);
            }
        },
        None => app.script.take(op.id).unwrap_or_else(|| app.faults.next()),
    };
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
    let applied = fault.name().map(AppliedFault);
    let mut response = match fault {
        Fault::None => next.run(request).await,
        Fault::Latency(extra) => {
            tokio::time::sleep(extra).await;
            next.run(request).await
        }
        Fault::TooManyRequests => {
            bump(&app.stats.rate_limited);
            body::reject(request, too_many_requests(1), timeout)
        }
        Fault::Fail => {
            bump(&app.stats.injected_failures);
            body::reject(request, ApiError::internal(), timeout)
        }
        Fault::Unavailable => {
            bump(&app.stats.injected_failures);
            let error = ApiError::unavailable("The service is unavailable (injected fault).", 1);
            body::reject(request, error, timeout)
        }
        Fault::Drop | Fault::LoseAnswer => {
            let killer = request.extensions().get::<ConnectionKiller>().cloned();
            let caller = request
                .extensions()
                .get::<Caller>()
                .map(|c| c.client_id.clone());
            let (method, path) = (request.method().clone(), request.uri().path().to_string());
            if fault == Fault::Drop {
                bump(&app.stats.dropped_connections);
            } else {
                // The work is done (and stored); only the answer goes missing.
                let _ = next.run(request).await;
                bump(&app.stats.lost_answers);
            }
            app.requests.record(context.log_entry(
                method.as_str(),
                &path,
                None,
                caller,
                fault.name(),
            ));
            match killer {
                Some(killer) => killer.kill().await,
                None => ApiError::internal().into_response(),
            }
        }
    };
    if let Some(applied) = applied {
        response.extensions_mut().insert(applied);
    }
    response
}

/// `429 TOO_MANY_REQUESTS` with `Retry-After` and the seconds in the details.
pub fn too_many_requests(seconds: u64) -> ApiError {
    let unit = if seconds == 1 { "second" } else { "seconds" };
    let mut details = ErrorDetails::default();
    details.retry_after_seconds = Some(seconds);
    let mut error = ApiError::new(
        ErrorCode::TooManyRequests,
        format!("Rate limit exceeded; retry after {seconds} {unit}."),
    )
    .with_details(details);
    error.retry_after = Some(seconds);
    error
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
    fn header_values_parse_exactly() {
        assert_eq!(Fault::parse("429"), Some(Fault::TooManyRequests));
        assert_eq!(Fault::parse(" lost-answer "), Some(Fault::LoseAnswer));
        assert_eq!(
            Fault::parse("latency=250"),
            Some(Fault::Latency(Duration::from_millis(250)))
        );
        for bad in [
            "",
            "404",
            "Drop",
            "latency=",
            "latency=-1",
            "latency=600000",
        ] {
            assert_eq!(Fault::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn scripts_match_by_operation_in_order() {
        let script = FaultScript::default();
        let entry = |op: Option<&str>, fault: &str| ScriptedFault {
            operation: op.map(str::to_string),
            fault: fault.into(),
        };
        script
            .push(vec![
                entry(Some("createUser"), "429"),
                entry(Some("create_invitation"), "500"),
                entry(Some("create_user"), "lost-answer"),
            ])
            .unwrap();
        assert_eq!(script.take("create_user"), Some(Fault::TooManyRequests));
        assert_eq!(script.take("create_user"), Some(Fault::LoseAnswer));
        assert_eq!(script.take("create_user"), None);
        assert_eq!(script.take("create_invitation"), Some(Fault::Fail));
        let bad = script.push(vec![entry(None, "500"), entry(Some("nope"), "500")]);
        assert!(bad.unwrap_err().starts_with("faults[1].operation"));
        assert!(script.pending().is_empty(), "a bad script adds nothing");
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
