//! Starting and stopping a sandbox: the builder, the accept loop and the running handle.
//!
//! The accept loop is hand-written (hyper's HTTP/1 connection per socket) rather than
//! `axum::serve`, because dropping a connection without an answer (`--drop-rate`) needs control
//! over each connection's task.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;
use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore, oneshot};
use tokio::task::JoinHandle;
use tower::ServiceExt as _;

use crate::app::{AppState, router};
use crate::config::{AppClient, ClientSecret, ConfigError, Limits, SandboxConfig};
use crate::context::{ConnectionKiller, Overloaded};
use crate::faults::ScriptedFault;
use crate::hyper_errors::EnvelopeHyperErrors;
use crate::persist::PersistError;
use crate::request_log::RequestLogEntry;
use crate::stats::SandboxStats;
use crate::store::{DocumentRecord, InvitationRecord, UserRecord};

/// How long shutdown waits for requests in flight.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// Why a sandbox could not start.
#[derive(Debug, thiserror::Error)]
pub enum SandboxError {
    /// A configuration value is invalid.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The data directory could not be opened or read.
    #[error(transparent)]
    Storage(#[from] PersistError),
    /// The listen address could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// The cause.
        source: std::io::Error,
    },
}

/// Entry point of the library: `Sandbox::builder()…spawn()`.
#[derive(Debug, Clone, Copy)]
pub struct Sandbox;

impl Sandbox {
    /// A builder with the defaults: `127.0.0.1:0`, the default App Client, one-hour tokens and
    /// no faults.
    pub fn builder() -> SandboxBuilder {
        SandboxBuilder {
            config: SandboxConfig::default(),
        }
    }
}

/// Configures a sandbox before it starts.
#[derive(Debug, Clone)]
pub struct SandboxBuilder {
    config: SandboxConfig,
}

impl SandboxBuilder {
    /// A builder starting from a complete configuration.
    pub fn from_config(config: SandboxConfig) -> Self {
        Self { config }
    }

    /// Address to listen on (port 0 picks a free port).
    pub fn listen(mut self, addr: SocketAddr) -> Self {
        self.config.listen = addr;
        self
    }

    /// Adds an App Client with full scope names (the default client stays).
    pub fn client(
        mut self,
        id: impl Into<String>,
        secret: impl Into<String>,
        scopes: impl IntoIterator<Item = impl Into<String>>,
    ) -> Self {
        self.config.clients.push(AppClient {
            id: id.into(),
            secret: ClientSecret::new(secret),
            scopes: scopes.into_iter().map(Into::into).collect(),
        });
        self
    }

    /// Lifetime of access tokens.
    pub fn token_ttl(mut self, ttl: Duration) -> Self {
        self.config.token_ttl = ttl;
        self
    }

    /// Requests per second per App Client; `None` for no limit.
    pub fn rate_limit(mut self, per_second: Option<u32>) -> Self {
        self.config.faults.rate_limit = per_second;
        self
    }

    /// Fraction of API requests answered `500` before processing.
    pub fn fail_rate(mut self, rate: f64) -> Self {
        self.config.faults.fail_rate = rate;
        self
    }

    /// Fraction of API requests whose connection is closed without an answer.
    pub fn drop_rate(mut self, rate: f64) -> Self {
        self.config.faults.drop_rate = rate;
        self
    }

    /// Fraction of API requests that are processed but answered by closing the connection.
    pub fn lost_answer_rate(mut self, rate: f64) -> Self {
        self.config.faults.lost_answer_rate = rate;
        self
    }

    /// Delay before each API and token request is handled.
    pub fn latency(mut self, latency: Duration) -> Self {
        self.config.faults.latency = latency;
        self
    }

    /// Seed of the fault sequence.
    pub fn seed(mut self, seed: u64) -> Self {
        self.config.faults.seed = Some(seed);
        self
    }

    /// Keeps state in `dir` across restarts (created if missing).
    pub fn data_dir(mut self, dir: impl Into<std::path::PathBuf>) -> Self {
        self.config.data_dir = Some(dir.into());
        self
    }

    /// Connection, timeout and memory bounds.
    pub fn limits(mut self, limits: Limits) -> Self {
        self.config.limits = limits;
        self
    }

    /// Organisation of the App Clients.
    pub fn organisation_id(mut self, id: impl Into<String>) -> Self {
        self.config.organisation_id = id.into();
        self
    }

    /// The configuration built so far.
    pub fn config(&self) -> &SandboxConfig {
        &self.config
    }

    /// Binds the address and starts serving in the background.
    pub async fn spawn(self) -> Result<RunningSandbox, SandboxError> {
        self.config.validate()?;
        let addr = self.config.listen;
        let listener = TcpListener::bind(addr)
            .await
            .map_err(|source| SandboxError::Bind { addr, source })?;
        let local = listener
            .local_addr()
            .map_err(|source| SandboxError::Bind { addr, source })?;
        let limits = self.config.limits.clone();
        let state = Arc::new(AppState::new(self.config)?);
        let app = router(state.clone());
        let (stop_tx, stop_rx) = oneshot::channel();
        let task = tokio::spawn(serve(listener, app, limits, stop_rx));
        Ok(RunningSandbox {
            addr: local,
            state,
            stop: Some(stop_tx),
            task: Some(task),
        })
    }
}

/// A sandbox serving in the background; dropping it stops the server.
#[derive(Debug)]
pub struct RunningSandbox {
    addr: SocketAddr,
    state: Arc<AppState>,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

impl RunningSandbox {
    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Base URL of the API and of the token host, e.g. `http://127.0.0.1:8787`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// URL of the token endpoint.
    pub fn token_url(&self) -> String {
        format!("{}{}", self.url(), crate::context::TOKEN_PATH)
    }

    /// The configuration it runs with.
    pub fn config(&self) -> &SandboxConfig {
        &self.state.config
    }

    /// Counters so far.
    pub fn stats(&self) -> SandboxStats {
        self.state.stats.snapshot()
    }

    /// Users of the sandbox's organisation, oldest first (the same data as
    /// `GET /sandbox/v1/users`).
    pub fn users(&self) -> Vec<UserRecord> {
        self.state.store.users(&self.state.config.organisation_id)
    }

    /// Invitations of the sandbox's organisation, oldest first.
    pub fn invitations(&self) -> Vec<InvitationRecord> {
        self.state
            .store
            .invitations(&self.state.config.organisation_id)
    }

    /// Documents of the sandbox's organisation, oldest first.
    pub fn documents(&self) -> Vec<DocumentRecord> {
        self.state
            .store
            .documents(&self.state.config.organisation_id)
    }

    /// Appends faults to the fault script, as `POST /sandbox/v1/faults` does: each is used
    /// once, by the next request of its operation. On a bad entry nothing is queued and the
    /// message names it. Returns the length of the queue.
    pub fn script_faults(
        &self,
        faults: impl IntoIterator<Item = ScriptedFault>,
    ) -> Result<usize, String> {
        self.state.script.push(faults.into_iter().collect())
    }

    /// The scripted faults not used yet, next first (`GET /sandbox/v1/faults`).
    pub fn pending_faults(&self) -> Vec<ScriptedFault> {
        self.state.script.pending()
    }

    /// The request log, most recent first (`GET /sandbox/v1/requests`).
    pub fn requests(&self) -> Vec<RequestLogEntry> {
        self.state.requests.recent()
    }

    /// Stops accepting connections and waits (briefly) for requests in flight.
    pub async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for RunningSandbox {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

async fn serve(
    listener: TcpListener,
    app: Router,
    limits: Limits,
    mut stop: oneshot::Receiver<()>,
) {
    let graceful = GracefulShutdown::new();
    // Connections served normally, and the overflow that is accepted only to keep `/health`
    // answering (and to tell everyone else `503`) while the first bound is reached.
    let normal = Arc::new(Semaphore::new(limits.max_connections));
    let overflow = Arc::new(Semaphore::new(limits.max_connections));
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                match accepted {
                    Ok((stream, _)) => {
                        let _ = stream.set_nodelay(true);
                        if let Ok(permit) = normal.clone().try_acquire_owned() {
                            serve_connection(stream, app.clone(), &graceful, &limits, permit, false);
                        } else if let Ok(permit) = overflow.clone().try_acquire_owned() {
                            serve_connection(stream, app.clone(), &graceful, &limits, permit, true);
                        }
                        // Beyond both bounds the stream is dropped: the socket closes at once.
                    }
                    // Out of file descriptors and similar: wait a moment instead of spinning.
                    Err(_) => tokio::time::sleep(Duration::from_millis(20)).await,
                }
            }
            _ = &mut stop => break,
        }
    }
    drop(listener);
    let _ = tokio::time::timeout(SHUTDOWN_GRACE, graceful.shutdown()).await;
}

/// How long an overflow connection may take to send its one request's headers.
const OVERFLOW_HEADER_TIMEOUT: Duration = Duration::from_secs(1);

fn serve_connection(
    stream: tokio::net::TcpStream,
    app: Router,
    graceful: &GracefulShutdown,
    limits: &Limits,
    permit: OwnedSemaphorePermit,
    overflow: bool,
) {
    let killer = Arc::new(Notify::new());
    let handle = killer.clone();
    let service = hyper::service::service_fn(move |mut request: hyper::Request<Incoming>| {
        let extensions = request.extensions_mut();
        extensions.insert(ConnectionKiller(handle.clone()));
        if overflow {
            extensions.insert(Overloaded);
        }
        app.clone().oneshot(request.map(Body::new))
    });
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder.timer(TokioTimer::new());
    if overflow {
        builder
            .header_read_timeout(OVERFLOW_HEADER_TIMEOUT)
            .keep_alive(false);
    } else {
        builder.header_read_timeout(limits.header_read_timeout);
    }
    let io = TokioIo::new(EnvelopeHyperErrors::new(stream));
    let connection = builder.serve_connection(io, service);
    let connection = graceful.watch(connection);
    tokio::spawn(async move {
        let _permit = permit;
        tokio::select! {
            _ = connection => {}
            // Dropping the connection future closes the socket without an answer.
            _ = killer.notified() => {}
        }
    });
}
