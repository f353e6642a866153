//! Counters for tests and benchmarks: what the sandbox was asked and what it did.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use serde::Serialize;

/// A snapshot of the sandbox's counters.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SandboxStats {
    /// Requests to `POST /oauth2/token`, successful or not.
    pub token_requests: u64,
    /// Access tokens issued.
    pub tokens_issued: u64,
    /// Requests per spec operation id (snake case, as in `pearsana_api::spec::operations`),
    /// whatever their outcome.
    pub requests_by_operation: BTreeMap<String, u64>,
    /// Users created (by `POST /v1/users` or by accepting an invitation).
    pub users_created: u64,
    /// Invitations created.
    pub invitations_created: u64,
    /// Documents stored (single or batch).
    pub documents_created: u64,
    /// Requests answered `500` by fault injection.
    pub injected_failures: u64,
    /// Connections closed without an answer by fault injection, before processing.
    pub dropped_connections: u64,
    /// Requests processed whose answer was then lost by fault injection.
    pub lost_answers: u64,
    /// Requests answered `429`.
    pub rate_limited: u64,
}

/// Live counters, updated by the server.
#[derive(Debug, Default)]
pub(crate) struct Stats {
    pub token_requests: AtomicU64,
    pub tokens_issued: AtomicU64,
    pub users_created: AtomicU64,
    pub invitations_created: AtomicU64,
    pub documents_created: AtomicU64,
    pub injected_failures: AtomicU64,
    pub dropped_connections: AtomicU64,
    pub lost_answers: AtomicU64,
    pub rate_limited: AtomicU64,
    by_operation: Mutex<BTreeMap<&'static str, u64>>,
}

/// Adds one to a counter.
pub(crate) fn bump(counter: &AtomicU64) {
    counter.fetch_add(1, Ordering::Relaxed);
}

impl Stats {
    pub fn count_operation(&self, id: &'static str) {
        let mut map = self.by_operation.lock().unwrap_or_else(|e| e.into_inner());
        *map.entry(id).or_default() += 1;
    }

    pub fn snapshot(&self) -> SandboxStats {
        let load = |c: &AtomicU64| c.load(Ordering::Relaxed);
        let by_operation = self.by_operation.lock().unwrap_or_else(|e| e.into_inner());
        SandboxStats {
            token_requests: load(&self.token_requests),
            tokens_issued: load(&self.tokens_issued),
            requests_by_operation: by_operation
                .iter()
                .map(|(k, v)| (k.to_string(), *v))
                .collect(),
            users_created: load(&self.users_created),
            invitations_created: load(&self.invitations_created),
            documents_created: load(&self.documents_created),
            injected_failures: load(&self.injected_failures),
            dropped_connections: load(&self.dropped_connections),
            lost_answers: load(&self.lost_answers),
            rate_limited: load(&self.rate_limited),
        }
    }
}
