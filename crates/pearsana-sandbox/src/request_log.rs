//! The request log behind `GET /sandbox/v1/requests`: the last requests, most recent first.

use std::collections::VecDeque;
use std::sync::Mutex;

use chrono::{DateTime, Utc};
use serde::Serialize;

/// How many requests the log keeps.
pub const REQUEST_LOG_CAPACITY: usize = 1000;

/// One request as the log shows it.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RequestLogEntry {
    /// When the request ended.
    pub time: DateTime<Utc>,
    /// HTTP method.
    pub method: String,
    /// Path, without the query.
    pub path: String,
    /// Spec operation id (snake case), when the request addressed one.
    pub operation: Option<&'static str>,
    /// Status answered; `None` when the connection was closed instead (fault `drop` or
    /// `lost-answer`).
    pub status: Option<u16>,
    /// Milliseconds from arrival to answer.
    pub latency_ms: f64,
    /// The request id.
    pub request_id: String,
    /// The App Client of a verified token.
    pub client_id: Option<String>,
    /// The injected fault, if any (`429`, `500`, `503`, `drop`, `lost-answer`, `latency=MS`).
    pub fault: Option<String>,
}

/// The App Client of a request, left in the response's extensions by the auth layer.
#[derive(Debug, Clone)]
pub struct ClientId(pub String);

/// The fault applied to a request, left in the response's extensions by the fault layer.
#[derive(Debug, Clone)]
pub struct AppliedFault(pub String);

/// A bounded ring of the last requests.
#[derive(Debug)]
pub struct RequestLog {
    entries: Mutex<VecDeque<RequestLogEntry>>,
    capacity: usize,
}

impl Default for RequestLog {
    fn default() -> Self {
        Self::with_capacity(REQUEST_LOG_CAPACITY)
    }
}

impl RequestLog {
    /// A log keeping the last `capacity` requests.
    pub fn with_capacity(capacity: usize) -> Self {
        Self {
            entries: Mutex::new(VecDeque::with_capacity(capacity)),
            capacity,
        }
    }

    /// Adds a request, forgetting the oldest one when full.
    pub fn record(&self, entry: RequestLogEntry) {
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        if entries.len() == self.capacity {
            entries.pop_front();
        }
        entries.push_back(entry);
    }

    /// The requests, most recent first.
    pub fn recent(&self) -> Vec<RequestLogEntry> {
        let entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        entries.iter().rev().cloned().collect()
    }

    /// Forgets every request.
    pub fn clear(&self) {
        self.entries
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(n: usize) -> RequestLogEntry {
        RequestLogEntry {
            time: Utc::now(),
            method: "GET".into(),
            path: format!("/{n}"),
            operation: None,
            status: Some(200),
            latency_ms: 0.0,
            request_id: n.to_string(),
            client_id: None,
            fault: None,
        }
    }

    #[test]
    fn the_ring_keeps_the_most_recent_first() {
        let log = RequestLog::with_capacity(3);
        for n in 0..5 {
            log.record(entry(n));
        }
        let ids: Vec<_> = log.recent().into_iter().map(|e| e.request_id).collect();
        assert_eq!(ids, ["4", "3", "2"]);
    }
}
