//! The one extension point of the generated client.
//!
//! The generated [`Client`](crate::Client) carries a [`Hooks`] value and calls it around every
//! request: [`RequestHooks::prepare`] once per operation call (to add headers), then
//! [`RequestHooks::execute`] to send (where a caller may authenticate, retry and observe). With
//! [`Hooks::none`] the client sends requests unchanged through its own `reqwest::Client`.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use progenitor_client::{ClientHooks, ClientInfo as _, OperationInfo};

/// A boxed, `Send` future, as returned by [`RequestHooks`] methods.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Behaviour layered around every request the generated client sends.
pub trait RequestHooks: Send + Sync + 'static {
    /// Runs once per operation call, before the request is sent. An `Err` aborts the call with
    /// `Error::Custom` carrying the message.
    fn prepare<'a>(
        &'a self,
        request: &'a mut reqwest::Request,
        info: &'a OperationInfo,
    ) -> BoxFuture<'a, Result<(), String>> {
        let _ = (request, info);
        Box::pin(async { Ok(()) })
    }

    /// Sends the request with `client` and returns the final response; may send it more than
    /// once.
    fn execute<'a>(
        &'a self,
        client: &'a reqwest::Client,
        request: reqwest::Request,
        info: &'a OperationInfo,
    ) -> BoxFuture<'a, reqwest::Result<reqwest::Response>>;
}

/// The hooks a generated [`Client`](crate::Client) calls; cheap to clone.
#[derive(Clone, Default)]
pub struct Hooks(Option<Arc<dyn RequestHooks>>);

impl Hooks {
    /// No hooks: requests are sent exactly as built.
    pub fn none() -> Self {
        Self(None)
    }

    /// Calls `hooks` around every request.
    pub fn new(hooks: Arc<dyn RequestHooks>) -> Self {
        Self(Some(hooks))
    }
}

impl fmt::Debug for Hooks {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.0.is_some() {
            "Hooks(installed)"
        } else {
            "Hooks(none)"
        })
    }
}

impl ClientHooks<Hooks> for crate::Client {
    async fn pre<E>(
        &self,
        request: &mut reqwest::Request,
        info: &OperationInfo,
    ) -> Result<(), progenitor_client::Error<E>> {
        match &self.inner().0 {
            Some(hooks) => hooks
                .prepare(request, info)
                .await
                .map_err(progenitor_client::Error::Custom),
            None => Ok(()),
        }
    }

    async fn exec(
        &self,
        request: reqwest::Request,
        info: &OperationInfo,
    ) -> reqwest::Result<reqwest::Response> {
        match &self.inner().0 {
            Some(hooks) => hooks.execute(self.client(), request, info).await,
            None => self.client().execute(request).await,
        }
    }
}
