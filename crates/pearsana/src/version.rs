//! API versions: the date the client pins, and what the server reports back.
//!
//! The pinned version defaults to [`spec::API_VERSION`] (the version the generated client was
//! built from), so there is one source of truth. Every response tells which version was
//! applied, which is the latest and which is the oldest still supported; the client keeps the
//! last values it saw and warns once (through `tracing`) when a newer version exists.

use std::fmt;
use std::str::FromStr;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use chrono::NaiveDate;
use pearsana_api::spec;
use reqwest::header::{AsHeaderName, HeaderMap, HeaderName, HeaderValue};

use crate::error::{Error, ValidationError};

/// Request and response header: the version asked for and the version applied
/// ([`spec::headers::X_API_VERSION`]).
pub const VERSION_HEADER: &str = spec::headers::X_API_VERSION;
/// Response header: the newest version the server offers
/// ([`spec::headers::X_API_VERSION_LATEST`]).
pub const LATEST_VERSION_HEADER: &str = spec::headers::X_API_VERSION_LATEST;
/// Response header: the oldest version the server still accepts
/// ([`spec::headers::X_API_VERSION_SUPPORTED`]).
pub const SUPPORTED_VERSION_HEADER: &str = spec::headers::X_API_VERSION_SUPPORTED;

// The same as header names: a map is read with these without parsing the name each time.
pub(crate) const VERSION_NAME: HeaderName = HeaderName::from_static(VERSION_HEADER);
pub(crate) const LATEST_VERSION_NAME: HeaderName = HeaderName::from_static(LATEST_VERSION_HEADER);
pub(crate) const SUPPORTED_VERSION_NAME: HeaderName =
    HeaderName::from_static(SUPPORTED_VERSION_HEADER);

/// A date-based API version (`YYYY-MM-DD`).
///
/// ```
/// use pearsana::ApiVersion;
///
/// let pinned = ApiVersion::default();
/// assert_eq!(pinned.to_string(), pearsana::spec::API_VERSION);
/// let older: ApiVersion = "2025-06-01".parse()?;
/// assert!(older < pinned);
/// assert!("30/01/2026".parse::<ApiVersion>().is_err());
/// # Ok::<(), pearsana::Error>(())
/// ```
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ApiVersion(NaiveDate);

impl ApiVersion {
    /// The version this SDK was built against ([`spec::API_VERSION`]).
    pub fn pinned_by_sdk() -> Self {
        parse_spec_constant(spec::API_VERSION)
    }

    /// The oldest version the spec says the service accepts
    /// ([`spec::OLDEST_SUPPORTED_VERSION`]).
    pub fn oldest_supported_by_spec() -> Self {
        parse_spec_constant(spec::OLDEST_SUPPORTED_VERSION)
    }

    /// Wraps a date.
    pub fn from_date(date: NaiveDate) -> Self {
        Self(date)
    }

    /// The version as a date (what the generated builders take for `x_api_version`).
    pub fn date(&self) -> NaiveDate {
        self.0
    }

    /// By the spec's rule ([`spec::parse_version_date`]): `YYYY-MM-DD`, a real day.
    fn parse_strict(text: &str) -> Option<Self> {
        spec::parse_version_date(text).map(Self)
    }
}

fn parse_spec_constant(text: &str) -> ApiVersion {
    // The spec's codegen only emits `YYYY-MM-DD` dates; a failure here is a broken build of
    // the generated crate, so fall back to the epoch rather than panic in a library.
    ApiVersion::parse_strict(text).unwrap_or(ApiVersion(NaiveDate::MIN))
}

impl Default for ApiVersion {
    fn default() -> Self {
        Self::pinned_by_sdk()
    }
}

impl FromStr for ApiVersion {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse_strict(s.trim()).ok_or_else(|| {
            ValidationError::single(
                "apiVersion",
                format!("`{s}` is not a date in the form YYYY-MM-DD"),
            )
            .into()
        })
    }
}

impl fmt::Display for ApiVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0.format(spec::VERSION_DATE_FORMAT))
    }
}

impl fmt::Debug for ApiVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ApiVersion({self})")
    }
}

/// The versions the server reported on the most recent response that carried them. Fields
/// may be added; read them, do not build this with a struct literal.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct VersionInfo {
    /// The version the client sends on every request.
    pub pinned: Option<ApiVersion>,
    /// `X-API-Version`: the version the server applied.
    pub applied: Option<ApiVersion>,
    /// `X-API-Version-Latest`: the newest version available.
    pub latest: Option<ApiVersion>,
    /// `X-API-Version-Supported`: the oldest version still accepted.
    pub oldest_supported: Option<ApiVersion>,
}

impl VersionInfo {
    /// Whether the server offers a version newer than the pinned one.
    pub fn newer_version_available(&self) -> bool {
        matches!((self.pinned, self.latest), (Some(p), Some(l)) if l > p)
    }
}

/// Reads a version header; absent or malformed values give `None`.
pub(crate) fn header_version(headers: &HeaderMap, name: impl AsHeaderName) -> Option<ApiVersion> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| ApiVersion::parse_strict(v.trim()))
}

/// FNV-1a over the raw header values (absent and empty differ), so that an unchanged set of
/// version headers is recognised without parsing or locking.
fn fingerprint(values: [Option<&HeaderValue>; 3]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    let mut eat = |byte: u8| {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    };
    for value in values {
        match value {
            Some(v) => v.as_bytes().iter().for_each(|b| eat(*b)),
            None => eat(0xff),
        }
        eat(0);
    }
    hash
}

/// Shared record of the version headers seen so far.
#[derive(Debug)]
pub(crate) struct VersionTracker {
    pinned: ApiVersion,
    seen: Mutex<VersionInfo>,
    /// FNV-1a of the last response's three raw version headers.
    last_fingerprint: AtomicU64,
    warned_newer: AtomicBool,
}

impl VersionTracker {
    pub(crate) fn new(pinned: ApiVersion) -> Self {
        Self {
            pinned,
            seen: Mutex::new(VersionInfo {
                pinned: Some(pinned),
                ..VersionInfo::default()
            }),
            last_fingerprint: AtomicU64::new(0),
            warned_newer: AtomicBool::new(false),
        }
    }

    pub(crate) fn pinned(&self) -> ApiVersion {
        self.pinned
    }

    /// Records the version headers of a response (each one only when present). The raw
    /// header values of the last response are kept, so the common case (the same three values
    /// on every response) costs three comparisons and no date parsing.
    pub(crate) fn record(&self, headers: &HeaderMap) {
        let fingerprint = fingerprint([
            headers.get(VERSION_NAME),
            headers.get(LATEST_VERSION_NAME),
            headers.get(SUPPORTED_VERSION_NAME),
        ]);
        if self.last_fingerprint.swap(fingerprint, Ordering::Relaxed) == fingerprint {
            return;
        }
        let applied = header_version(headers, VERSION_NAME);
        let latest = header_version(headers, LATEST_VERSION_NAME);
        let supported = header_version(headers, SUPPORTED_VERSION_NAME);
        {
            let mut seen = self.seen.lock().unwrap_or_else(|e| e.into_inner());
            if applied.is_some() {
                seen.applied = applied;
            }
            if latest.is_some() {
                seen.latest = latest;
            }
            if supported.is_some() {
                seen.oldest_supported = supported;
            }
        }
        if let Some(latest) = latest
            && latest > self.pinned
            && !self.warned_newer.swap(true, Ordering::Relaxed)
        {
            tracing::warn!(
                pinned = %self.pinned,
                latest = %latest,
                "a newer Pearsana API version is available; the client keeps using the pinned one"
            );
        }
    }

    pub(crate) fn snapshot(&self) -> VersionInfo {
        self.seen.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}
