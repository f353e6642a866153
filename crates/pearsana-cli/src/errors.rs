//! Sorting SDK errors into what the CLI does about them: an exit status, a row failure code,
//! and whether an import should stop.

use pearsana::{AuthError, Error, ErrorCode};

use crate::exit::Exit;
use crate::import::engine::Failure;

/// What kind of problem an SDK error is, from the CLI's point of view.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorClass {
    /// The API refused this particular request (validation, conflict, not found…).
    Rejected,
    /// The input was rejected before sending (bad field, unreadable file).
    Invalid,
    /// Credentials or scopes: every later request would fail the same way.
    Auth,
    /// Network, timeouts or server errors after the SDK's retries.
    Unavailable,
    /// The client's own settings (API version, URLs).
    Config,
}

/// Classifies an SDK error.
pub fn classify(error: &Error) -> ErrorClass {
    match error {
        Error::Api(api) => match api.code {
            ErrorCode::Unauthorized | ErrorCode::InsufficientScope | ErrorCode::Forbidden => {
                ErrorClass::Auth
            }
            ErrorCode::InternalServerError | ErrorCode::TooManyRequests => ErrorClass::Unavailable,
            ErrorCode::InvalidApiVersion | ErrorCode::UnsupportedApiVersion => ErrorClass::Config,
            _ if api.status.is_server_error() => ErrorClass::Unavailable,
            _ => ErrorClass::Rejected,
        },
        Error::UnsupportedApiVersion { .. } | Error::Config(_) => ErrorClass::Config,
        Error::Auth { source, .. } => match source {
            AuthError::Transport(_) | AuthError::InvalidTokenResponse { .. } => {
                ErrorClass::Unavailable
            }
            AuthError::UnexpectedResponse { status, .. } if status.is_server_error() => {
                ErrorClass::Unavailable
            }
            _ => ErrorClass::Auth,
        },
        Error::Validation(_) | Error::File { .. } | Error::InvalidRequest { .. } => {
            ErrorClass::Invalid
        }
        Error::Transport { .. } | Error::Decode { .. } => ErrorClass::Unavailable,
        Error::UnexpectedStatus { status, .. } if status.is_server_error() => {
            ErrorClass::Unavailable
        }
        _ => ErrorClass::Rejected,
    }
}

/// The exit status for a command that failed with `error`.
pub fn exit_for(error: &Error) -> Exit {
    match classify(error) {
        ErrorClass::Rejected => Exit::Failed,
        ErrorClass::Invalid | ErrorClass::Config => Exit::Usage,
        ErrorClass::Auth => Exit::Auth,
        ErrorClass::Unavailable => Exit::Unavailable,
    }
}

/// The code written into reports for a row that failed with `error`: the API's error code
/// when there is one, else a short client-side code.
pub fn failure_code(error: &Error) -> String {
    if let Some(code) = error.code() {
        return code.to_string();
    }
    match error {
        Error::Auth { .. } => "TOKEN_ERROR",
        Error::Validation(_) | Error::InvalidRequest { .. } => "INVALID_REQUEST",
        Error::File { .. } => "FILE_ERROR",
        Error::Transport { .. } => "NETWORK_ERROR",
        Error::Decode { .. } | Error::UnexpectedStatus { .. } => "BAD_RESPONSE",
        Error::Config(_) | Error::UnsupportedApiVersion { .. } => "CONFIG_ERROR",
        _ => "CLIENT_ERROR",
    }
    .to_string()
}

/// A row failure from an SDK error.
pub fn row_failure(error: &Error) -> Failure {
    let class = classify(error);
    Failure {
        code: failure_code(error),
        message: error.to_string(),
        stops_import: matches!(class, ErrorClass::Auth | ErrorClass::Config),
        ambiguous: error.may_have_been_processed(),
    }
}

/// Extra advice printed after an error of this class.
pub fn hint(class: ErrorClass) -> Option<&'static str> {
    match class {
        ErrorClass::Auth => Some(
            "check --client-id/--client-secret (or PEARSANA_CLIENT_ID/PEARSANA_CLIENT_SECRET) and the scopes granted to the App Client",
        ),
        ErrorClass::Unavailable => Some("check --env/--api-url and that the service is reachable"),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use pearsana::{ConfigError, ValidationError};
    use reqwest::StatusCode;

    use super::*;

    // Only errors that can be built outside the SDK; API answers are covered end to end.

    fn auth(source: AuthError) -> Error {
        Error::Auth {
            source,
            request_id: None,
        }
    }

    #[test]
    fn credential_and_settings_problems_stop_an_import_and_pick_their_exit_status() {
        let missing = auth(AuthError::MissingCredentials);
        assert_eq!(classify(&missing), ErrorClass::Auth);
        assert_eq!(exit_for(&missing), Exit::Auth);
        let failure = row_failure(&missing);
        assert!(failure.stops_import && !failure.ambiguous);
        assert_eq!(failure.code, "TOKEN_ERROR");

        let config = Error::Config(ConfigError::Invalid {
            field: "api_url",
            reason: "not a URL".into(),
        });
        assert_eq!(exit_for(&config), Exit::Usage);
        assert!(row_failure(&config).stops_import);
    }

    #[test]
    fn a_token_host_in_trouble_is_unavailable_not_an_auth_failure() {
        let down = auth(AuthError::UnexpectedResponse {
            status: StatusCode::BAD_GATEWAY,
            body: String::new(),
        });
        assert_eq!(classify(&down), ErrorClass::Unavailable);
        assert_eq!(exit_for(&down), Exit::Unavailable);
        assert!(!row_failure(&down).stops_import);
    }

    #[test]
    fn input_problems_fail_the_row_and_were_certainly_not_processed() {
        let invalid = Error::Validation(ValidationError::single("identity.email", "is required"));
        assert_eq!(exit_for(&invalid), Exit::Usage);
        let failure = row_failure(&invalid);
        assert_eq!(failure.code, "INVALID_REQUEST");
        assert!(!failure.ambiguous && !failure.stops_import);
        assert!(failure.message.contains("identity.email"));

        let file = Error::File {
            path: "t.pdf".into(),
            source: std::io::Error::other("gone"),
        };
        assert_eq!(failure_code(&file), "FILE_ERROR");
        assert!(!file.may_have_been_processed());
    }

    #[test]
    fn server_side_statuses_without_an_envelope_may_have_been_processed() {
        let bad_gateway = Error::UnexpectedStatus {
            status: StatusCode::BAD_GATEWAY,
            body: Default::default(),
            retry_after: None,
            request_id: None,
        };
        assert!(bad_gateway.may_have_been_processed());
        assert_eq!(exit_for(&bad_gateway), Exit::Unavailable);
        let teapot = Error::UnexpectedStatus {
            status: StatusCode::IM_A_TEAPOT,
            body: Default::default(),
            retry_after: None,
            request_id: None,
        };
        assert!(!teapot.may_have_been_processed());
        assert_eq!(exit_for(&teapot), Exit::Failed);
    }
}
