//! `POST /v1/users`.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use pearsana_api::types::{CreateUserRequest, CreateUserResponseStatus, ErrorCode, ErrorDetails};
use serde_json::Value;

use crate::api::{as_object, into_type};
use crate::app::AppState;
use crate::auth::guard::Caller;
use crate::body::JsonBody;
use crate::error::ApiError;
use crate::responses::create_user_response;
use crate::stats::bump;
use crate::store::{Conflict, NewUser, NormalizedRef};
use crate::validate::{Presence, Problems, join};

/// Validates a create-user body; on success the typed request and its normalised references.
pub fn parse(value: Value) -> Result<(CreateUserRequest, Vec<NormalizedRef>), ApiError> {
    let body = as_object(&value)?;
    let mut p = Problems::default();
    if let Some(identity) = p.object(body, "identity", "identity", Presence::Required) {
        p.email(identity, "email", "identity.email");
        for field in ["firstName", "lastName", "roleName"] {
            p.string(
                identity,
                field,
                &join("identity", field),
                Presence::Required,
                false,
            );
        }
    }
    let refs = p.external_reference_list(body, "externalReferences");
    if let Some(profile) = p.object(body, "profile", "profile", Presence::Optional) {
        p.optional_strings(profile, &["preferredName", "phone", "currency"], "profile");
        if let Some(address) = p.object(profile, "address", "profile.address", Presence::Optional) {
            let fields = [
                "line1",
                "line2",
                "line3",
                "city",
                "state",
                "zip",
                "country",
                "citizenship",
            ];
            p.optional_strings(address, &fields, "profile.address");
            p.optional_date(address, "dateOfBirth", "profile.address.dateOfBirth");
        }
    }
    let request = into_type(&value, p)?;
    Ok((request, refs))
}

/// The `409` for a conflict found by the store.
pub fn conflict_error(conflict: Conflict) -> ApiError {
    match conflict {
        Conflict::Email { user_id, email } => {
            let mut details = ErrorDetails::default();
            details.user_id = Some(user_id);
            details.email = Some(email);
            ApiError::new(ErrorCode::Conflict, "User with this email already exists")
                .with_details(details)
        }
        Conflict::ExternalRef(r) => {
            let message = format!(
                "External reference {}/{} is already linked to another user in this organisation.",
                r.submitted_namespace, r.external_id
            );
            let mut details = ErrorDetails::default();
            details.type_ = Some(r.submitted_namespace);
            details.external_id = Some(r.external_id);
            ApiError::new(ErrorCode::ExternalRefConflict, message).with_details(details)
        }
        Conflict::UnknownInvitation => ApiError::new(ErrorCode::NotFound, "No such invitation."),
        Conflict::Storage(reason) => {
            tracing::error!(%reason, "the data directory refused a write");
            ApiError::internal()
        }
    }
}

/// The handler.
pub async fn create_user(
    State(app): State<Arc<AppState>>,
    caller: Caller,
    JsonBody(value): JsonBody,
) -> Result<Response, ApiError> {
    let (request, refs) = parse(value)?;
    let identity = request.identity;
    let new = NewUser {
        email: identity.email.to_ascii_lowercase(),
        first_name: identity.first_name,
        last_name: identity.last_name,
        role_name: identity.role_name,
        external_references: refs,
        profile: request.profile,
    };
    let user = app
        .store
        .create_user(&caller.organisation_id, new)
        .map_err(conflict_error)?;
    bump(&app.stats.users_created);
    // Durable before the answer goes out (a no-op without --data-dir).
    app.store.flush().await.map_err(conflict_error)?;
    let response = create_user_response(
        user.email,
        caller.organisation_id,
        CreateUserResponseStatus::Created,
        user.user_id,
    );
    Ok((StatusCode::CREATED, Json(response)).into_response())
}
