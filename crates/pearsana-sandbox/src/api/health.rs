//! `GET /health` and `GET /ping`.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use axum::http::HeaderMap;
use pearsana_api::spec::operations;
use pearsana_api::types::{HealthResponse, PingResponse};

use crate::app::AppState;
use crate::auth::guard::authorize;
use crate::error::ApiError;

/// `GET /health`: no credentials needed.
pub async fn health() -> Json<HealthResponse> {
    Json(HealthResponse {
        status: "ok".into(),
    })
}

/// `GET /ping`: echoes the token's client and scopes.
pub async fn ping(
    State(app): State<Arc<AppState>>,
    headers: HeaderMap,
) -> Result<Json<PingResponse>, ApiError> {
    let caller = authorize(&app, &headers, &operations::PING)?;
    Ok(Json(PingResponse {
        client_id: caller.client_id,
        message: "Authorized".into(),
        scopes: caller.scopes,
        status: "ok".into(),
    }))
}
