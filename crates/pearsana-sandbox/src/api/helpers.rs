//! Test helpers under `/sandbox/v1`: not part of the Partner API. Any valid token may call them
//! (no scope needed, no rate limit, no faults). They accept invitations and read state back.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use pearsana_api::types::{ErrorCode, Invitation};
use serde::{Deserialize, Serialize};

use crate::api::users::conflict_error;
use crate::app::AppState;
use crate::auth::guard::Caller;
use crate::body::JsonBody;
use crate::error::ApiError;
use crate::faults::ScriptedFault;
use crate::request_log::RequestLogEntry;
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
    caller: Caller,
) -> Result<Response, ApiError> {
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
    // Durable before the answer goes out (a no-op without --data-dir).
    app.store.flush().await.map_err(conflict_error)?;
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
pub async fn users(State(app): State<Arc<AppState>>, caller: Caller) -> Result<Response, ApiError> {
    let users = app.store.users(&caller.organisation_id);
    Ok(Json(Users { users }).into_response())
}

/// `GET /sandbox/v1/invitations`.
pub async fn invitations(
    State(app): State<Arc<AppState>>,
    caller: Caller,
) -> Result<Response, ApiError> {
    let invitations = app.store.invitations(&caller.organisation_id);
    Ok(Json(Invitations { invitations }).into_response())
}

/// `GET /sandbox/v1/documents`.
pub async fn documents(
    State(app): State<Arc<AppState>>,
    caller: Caller,
) -> Result<Response, ApiError> {
    let documents = app.store.documents(&caller.organisation_id);
    Ok(Json(Documents { documents }).into_response())
}

/// `GET /sandbox/v1/stats`: the counters of [`crate::SandboxStats`].
pub async fn stats(State(app): State<Arc<AppState>>, _caller: Caller) -> Response {
    Json(app.stats.snapshot()).into_response()
}

/// The request log.
#[derive(Debug, Serialize)]
struct Requests {
    requests: Vec<RequestLogEntry>,
}

/// `GET /sandbox/v1/requests`: the last requests, most recent first.
pub async fn requests(State(app): State<Arc<AppState>>, _caller: Caller) -> Response {
    Json(Requests {
        requests: app.requests.recent(),
    })
    .into_response()
}

/// The fault settings: the queued script and the configured rates.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Faults {
    faults: Vec<ScriptedFault>,
    #[serde(default, skip_deserializing)]
    fail_rate: f64,
    #[serde(default, skip_deserializing)]
    drop_rate: f64,
    #[serde(default, skip_deserializing)]
    lost_answer_rate: f64,
    #[serde(default, skip_deserializing)]
    latency_ms: u64,
    #[serde(default, skip_deserializing)]
    rate_limit: Option<u32>,
}

fn fault_settings(app: &AppState) -> Response {
    let f = &app.config.faults;
    Json(Faults {
        faults: app.script.pending(),
        fail_rate: f.fail_rate,
        drop_rate: f.drop_rate,
        lost_answer_rate: f.lost_answer_rate,
        latency_ms: u64::try_from(f.latency.as_millis()).unwrap_or(u64::MAX),
        rate_limit: f.rate_limit,
    })
    .into_response()
}

/// `GET /sandbox/v1/faults`: the queued fault script and the configured fault rates.
pub async fn faults(State(app): State<Arc<AppState>>, _caller: Caller) -> Response {
    fault_settings(&app)
}

/// `POST /sandbox/v1/faults` with `{"faults": [{"operation": "create_user", "fault": "429"}]}`:
/// appends to the fault script; each entry is used once by the next matching request.
pub async fn push_faults(
    State(app): State<Arc<AppState>>,
    _caller: Caller,
    JsonBody(value): JsonBody,
) -> Result<Response, ApiError> {
    let script: Faults = serde_json::from_value(value)
        .map_err(|e| ApiError::validation(vec![format!("body: {e}")]))?;
    app.script
        .push(script.faults)
        .map_err(|e| ApiError::validation(vec![e]))?;
    Ok(fault_settings(&app))
}

/// `POST /sandbox/v1/reset`: forgets all state (users, links, invitations, documents, the
/// request log and the fault script); counters and configuration stay.
pub async fn reset(
    State(app): State<Arc<AppState>>,
    _caller: Caller,
) -> Result<StatusCode, ApiError> {
    app.store.clear().map_err(conflict_error)?;
    app.store.flush().await.map_err(conflict_error)?;
    app.requests.clear();
    app.script.clear();
    Ok(StatusCode::NO_CONTENT)
}

/// `DELETE /sandbox/v1/faults`: empties the fault script.
pub async fn clear_faults(State(app): State<Arc<AppState>>, _caller: Caller) -> Response {
    app.script.clear();
    fault_settings(&app)
}
