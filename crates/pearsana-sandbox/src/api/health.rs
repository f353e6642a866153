//! `GET /health` and `GET /ping`.

use axum::Json;
use pearsana_api::types::{HealthResponse, PingResponse};

use crate::auth::guard::Caller;
use crate::error::ApiError;

/// `GET /health`: no credentials needed.
pub async fn health() -> Json<HealthResponse> {
    Json(HealthResponse {
        status: "ok".into(),
    })
}

/// `GET /ping`: echoes the token's client and scopes.
pub async fn ping(caller: Caller) -> Result<Json<PingResponse>, ApiError> {
    Ok(Json(PingResponse {
        client_id: caller.client_id,
        message: "Authorized".into(),
        scopes: caller.scopes,
        status: "ok".into(),
    }))
}
