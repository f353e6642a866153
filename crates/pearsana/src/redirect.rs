//! Redirects are never followed.
//!
//! The Partner API and its token endpoint never redirect. A redirect can only come from a
//! misconfigured URL, a proxy or an attacker, and following it would send the client secret
//! (token requests) or personal data and documents (API calls) to a host they were not meant
//! for. The HTTP client the SDK builds therefore has redirects turned off
//! ([`reqwest::redirect::Policy::none`]), and every answer is checked here: a `3xx` answer, or
//! an answer that came from another origin than the request went to (a caller-supplied
//! `reqwest::Client` that follows redirects), becomes an error naming the redirect.

use reqwest::header::LOCATION;
use reqwest::{Response, Url};

/// The HTTP client policy the SDK installs: never follow a redirect.
pub(crate) fn policy() -> reqwest::redirect::Policy {
    reqwest::redirect::Policy::none()
}

/// Where `response` redirects to, if it is a redirect or came from another origin than
/// `requested`; `None` for an ordinary answer.
pub(crate) fn redirect_target(requested: &str, response: &Response) -> Option<String> {
    if response.status().is_redirection() {
        let location = response
            .headers()
            .get(LOCATION)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("(no Location header)");
        return Some(location.to_owned());
    }
    let requested = Url::parse(requested).ok()?;
    (response.url().origin() != requested.origin()).then(|| response.url().to_string())
}

/// Like [`redirect_target`], comparing with the URL of the request that was sent.
pub(crate) fn redirect_target_url(requested: &Url, response: &Response) -> Option<String> {
    if response.status().is_redirection() {
        return redirect_target(requested.as_str(), response);
    }
    (response.url().origin() != requested.origin()).then(|| response.url().to_string())
}
