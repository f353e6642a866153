//! The router: every route of the sandbox and the shared state behind them.

use std::sync::Arc;

use axum::Router;
use axum::middleware;
use axum::routing::{get, post};

use crate::api::{console, documents, health, helpers, invitations, spec_files, users};
use crate::auth::jwt::TokenSigner;
use crate::auth::{guard, token_endpoint};
use crate::body::{self, BodyBudget};
use crate::config::SandboxConfig;
use crate::context::{self, TOKEN_PATH};
use crate::faults::{self, FaultInjector, FaultScript, RateLimiter};
use crate::persist::{Database, PersistError};
use crate::request_log::RequestLog;
use crate::stats::Stats;
use crate::store::Store;
use crate::versioning;

/// State shared by all requests of one sandbox.
#[derive(Debug)]
pub struct AppState {
    /// The configuration it was started with.
    pub config: SandboxConfig,
    /// Signs and verifies access tokens.
    pub signer: TokenSigner,
    /// Users, invitations and documents.
    pub store: Store,
    /// Counters.
    pub(crate) stats: Stats,
    /// Fault sequence.
    pub faults: FaultInjector,
    /// Per-client limit, when configured.
    pub limiter: Option<RateLimiter>,
    /// Queued faults (`POST /sandbox/v1/faults`).
    pub script: FaultScript,
    /// The last requests (`GET /sandbox/v1/requests`).
    pub requests: RequestLog,
    /// Memory for request bodies being buffered.
    pub body_budget: BodyBudget,
}

impl AppState {
    /// State for a configuration; opens the data directory when one is configured.
    pub fn new(config: SandboxConfig) -> Result<Self, PersistError> {
        let store = match &config.data_dir {
            Some(dir) => {
                let (database, snapshot) = Database::open(dir)?;
                Store::open(database, snapshot)?
            }
            None => Store::default(),
        };
        let faults = &config.faults;
        Ok(Self {
            faults: FaultInjector::new(faults),
            limiter: faults.rate_limit.map(RateLimiter::new),
            signer: TokenSigner::new(),
            store,
            stats: Stats::default(),
            script: FaultScript::default(),
            requests: RequestLog::default(),
            body_budget: BodyBudget::new(config.limits.max_inflight_body_bytes),
            config,
        })
    }
}

/// The router with every route, the 404 fallback and the layers.
pub fn router(state: Arc<AppState>) -> Router {
    Router::new()
        .route("/", get(console::index))
        .route("/console/app.js", get(console::script))
        .route("/console/app.css", get(console::style))
        .route("/health", get(health::health))
        .route("/ping", get(health::ping))
        .route("/v1/users", post(users::create_user))
        .route("/v1/invitations", post(invitations::create_invitation))
        .route("/v1/documents:submit", post(documents::submit))
        .route("/v1/documents:submitBatch", post(documents::submit_batch))
        .route(TOKEN_PATH, post(token_endpoint::token))
        .route("/openapi.yaml", get(spec_files::yaml))
        .route("/openapi.json", get(spec_files::json))
        .route("/docs", get(spec_files::docs))
        // The reference routes by path (`/docs/users`, ...); every such page is the same file.
        .route("/docs/{*page}", get(spec_files::docs))
        .route(
            "/sandbox/v1/invitations/{action}",
            post(helpers::accept_invitation),
        )
        .route("/sandbox/v1/users", get(helpers::users))
        .route("/sandbox/v1/invitations", get(helpers::invitations))
        .route("/sandbox/v1/documents", get(helpers::documents))
        .route("/sandbox/v1/stats", get(helpers::stats))
        .route("/sandbox/v1/requests", get(helpers::requests))
        .route("/sandbox/v1/reset", post(helpers::reset))
        .route(
            "/sandbox/v1/faults",
            get(helpers::faults)
                .post(helpers::push_faults)
                .delete(helpers::clear_faults),
        )
        .fallback(context::not_found)
        // One layer per concern; the last added runs first (see `crate::context`).
        .layer(middleware::from_fn_with_state(state.clone(), body::layer))
        .layer(middleware::from_fn_with_state(state.clone(), faults::layer))
        .layer(middleware::from_fn_with_state(state.clone(), guard::layer))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            versioning::layer,
        ))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            context::layer,
        ))
        .with_state(state)
}
