//! `GET /health` and `GET /ping`.

use axum::Json;
use pearsana_api::types::{HealthResponse, HealthResponseStatus, PingResponse, PingResponseStatus};

use crate::auth::guard::Caller;
use crate::error::ApiError;
use crate::responses::{health_response, ping_response};

/// `GET /health`: no credentials needed.
pub async fn health() -> Json<HealthResponse> {
    Json(health_response(HealthResponseStatus::Ok))
}

/// `GET /ping`: echoes the token's client and scopes.
pub async fn ping(caller: Caller) -> Result<Json<PingResponse>, ApiError> {
    Ok(Json(ping_response(
        caller.client_id,
        "Authorized".into(),
        caller.scopes,
        PingResponseStatus::Ok,
    )))
}
