//! Test helpers under `/sandbox/v1`: not part of the Partner API. Any valid token may call them
//! (no scope needed, no rate limit, no faults). They accept invitations and read state back.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use pearsana_api::types::{ErrorCode, Invitation};
use serde::Serialize;

use crate::api::users::conflict_error;
use crate::app::AppState;
use crate::auth::guard::authenticate;
use crate::error::ApiError;
use crate::stats::bump;
use crate::store::{DocumentRecord, InvitationRecord, UserRecord};

/// Suffix of the accept action in `/sandbox/v1/invitations/{invitationId}:accept`.
pub const ACCEPT_SUFFIX: &str = ":accept";

/// Answer of the accept helper.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct AcceptResponse {
    invitation: Invitation,
    user_id: Option<String>,
    user_created: bool,
}

/// `POST /sandbox/v1/invitations/{invitationId}:accept`: accepts a pending invitation as the
/// invited person would, creating the user if needed and linking the references.
pub async fn accept_invitation(
    State(app): State<Arc<AppState>>,
    Path(segment): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let caller = authenticate(&app, &headers)?;
    let Some(invitation_id) = segment.strip_suffix(ACCEPT_SUFFIX) else {
        return Err(ApiError::unknown_path(
            "POST",
            &format!("/sandbox/v1/invitations/{segment}"),
        ));
    };
    let (record, created) = app
        .store
        .accept_invitation(&caller.organisation_id, invitation_id)
        .map_err(|conflict| match conflict {
            crate::store::Conflict::UnknownInvitation => ApiError::new(
                ErrorCode::NotFound,
                format!("No invitation {invitation_id}."),
            ),
            other => conflict_error(other),
        })?;
    if created {
        bump(&app.stats.users_created);
    }
    Ok(Json(AcceptResponse {
        invitation: record.to_api(),
        user_id: record.user_id,
        user_created: created,
    })
    .into_response())
}

/// Users of the caller's organisation.
#[derive(Debug, Serialize)]
struct Users {
    users: Vec<UserRecord>,
}

/// Invitations of the caller's organisation.
#[derive(Debug, Serialize)]
struct Invitations {
    invitations: Vec<InvitationRecord>,
}

/// Documents of the caller's organisation.
#[derive(Debug, Serialize)]
struct Documents {
    documents: Vec<DocumentRecord>,
}

/// `GET /sandbox/v1/users`.
pub async fn users(
    State(app): State<Arc<AppState>>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let caller = authenticate(&app, &headers)?;
    let users = app.store.users(&caller.organisation_id);
    Ok(Json(Users { users }).into_response())
}

/// `GET /sandbox/v1/invitations`.
pub async fn invitations(
    State(app): State<Arc<AppState>>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let caller = authenticate(&app, &headers)?;
    let invitations = app.store.invitations(&caller.organisation_id);
    Ok(Json(Invitations { invitations }).into_response())
}

/// `GET /sandbox/v1/documents`.
pub async fn documents(
    State(app): State<Arc<AppState>>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let caller = authenticate(&app, &headers)?;
    let documents = app.store.documents(&caller.organisation_id);
    Ok(Json(Documents { documents }).into_response())
}

/// `GET /sandbox/v1/stats`: the counters of [`crate::SandboxStats`].
pub async fn stats(
    State(app): State<Arc<AppState>>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    authenticate(&app, &headers)?;
    Ok(Json(app.stats.snapshot()).into_response())
}
