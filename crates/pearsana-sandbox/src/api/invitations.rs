//! `POST /v1/invitations`.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use pearsana_api::types::CreateInvitationRequest;
use serde_json::Value;

use crate::api::users::conflict_error;
use crate::api::{as_object, into_type};
use crate::app::AppState;
use crate::auth::guard::Caller;
use crate::body::JsonBody;
use crate::error::ApiError;
use crate::responses::create_invitation_response;
use crate::stats::bump;
use crate::store::{NewInvitation, NormalizedRef};
use crate::validate::{Presence, Problems, join};

/// Validates a create-invitation body; on success the typed request and its normalised
/// references.
pub fn parse(value: Value) -> Result<(CreateInvitationRequest, Vec<NormalizedRef>), ApiError> {
    let body = as_object(&value)?;
    let mut p = Problems::default();
    let refs = p.external_reference_list(body, "externalReferences");
    p.email(body, "email", "email");
    if let Some(identity) = p.object(body, "identity", "identity", Presence::Required) {
        for field in ["firstName", "lastName"] {
            p.string(
                identity,
                field,
                &join("identity", field),
                Presence::Required,
                false,
            );
        }
    }
    p.optional_text(body, "message", "message");
    p.optional_string_array(body, "roles", "roles");
    let request = into_type(&value, p)?;
    Ok((request, refs))
}

/// The handler.
pub async fn create_invitation(
    State(app): State<Arc<AppState>>,
    caller: Caller,
    JsonBody(value): JsonBody,
) -> Result<Response, ApiError> {
    let (request, refs) = parse(value)?;
    let new = NewInvitation {
        email: request.email.to_ascii_lowercase(),
        first_name: request.identity.first_name,
        last_name: request.identity.last_name,
        external_references: refs,
        message: request.message,
        roles: request.roles,
    };
    let invitation = app
        .store
        .create_invitation(&caller.organisation_id, new)
        .map_err(conflict_error)?;
    bump(&app.stats.invitations_created);
    // Durable before the answer goes out (a no-op without --data-dir).
    app.store.flush().await.map_err(conflict_error)?;
    let response = create_invitation_response(invitation.to_api());
    Ok((StatusCode::CREATED, Json(response)).into_response())
}
