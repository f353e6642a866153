//! `POST /v1/invitations`.

use std::sync::Arc;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use pearsana_api::spec::operations;
use pearsana_api::types::{CreateInvitationRequest, CreateInvitationResponse};
use serde_json::Value;

use crate::api::users::conflict_error;
use crate::api::{as_object, into_type};
use crate::app::AppState;
use crate::auth::guard::authorize;
use crate::body::{self, BufferedBody};
use crate::error::ApiError;
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
    p.string(body, "message", "message", Presence::Optional, false);
    p.optional_string_array(body, "roles", "roles");
    let request = into_type(&value, p)?;
    Ok((request, refs))
}

/// The handler.
pub async fn create_invitation(
    State(app): State<Arc<AppState>>,
    Extension(body): Extension<BufferedBody>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let caller = authorize(&app, &headers, &operations::CREATE_INVITATION)?;
    let (request, refs) = parse(body::json(&headers, &body)?)?;
    let new = NewInvitation {
        email: request.email.to_lowercase(),
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
    let response = CreateInvitationResponse {
        invitation: invitation.to_api(),
    };
    Ok((StatusCode::CREATED, Json(response)).into_response())
}
