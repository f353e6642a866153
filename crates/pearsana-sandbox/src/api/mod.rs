//! Handlers of the spec's operations and of the sandbox's own endpoints.

pub mod console;
pub mod documents;
pub mod health;
pub mod helpers;
pub mod invitations;
pub mod spec_files;
pub mod users;

use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::error::ApiError;
use crate::validate::Problems;

/// Converts a body that passed validation into its generated type. The checks mirror the
/// schema, so a failure here means they disagree; it is still answered as a validation error
/// rather than a server error.
pub(crate) fn into_type<T: DeserializeOwned>(
    value: &Value,
    problems: Problems,
) -> Result<T, ApiError> {
    into_type_at("", value, problems)
}

/// [`into_type`] for the part of a body found at `path` (`items[2]` for a batch item). Before
/// converting, the value is checked against the spec's length, item and property bounds
/// ([`pearsana_api::spec::REQUEST_BOUNDS`]), every excess naming its field.
pub(crate) fn into_type_at<T: DeserializeOwned>(
    path: &str,
    value: &Value,
    mut problems: Problems,
) -> Result<T, ApiError> {
    let mut excess = Vec::new();
    pearsana_api::spec::check_request_bounds(path, value, &mut excess);
    for excess in excess {
        problems.add(excess.to_string());
    }
    if !problems.is_empty() {
        return Err(ApiError::validation(problems.into_vec()));
    }
    T::deserialize(value)
        .map_err(|e| ApiError::validation(vec![format!("body does not match the schema: {e}")]))
}

/// The body as an object, or the validation error saying it is not one.
pub(crate) fn as_object(value: &Value) -> Result<&serde_json::Map<String, Value>, ApiError> {
    value
        .as_object()
        .ok_or_else(|| ApiError::validation(vec!["body must be a JSON object".into()]))
}
