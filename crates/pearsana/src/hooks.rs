//! The generated client (`client.api()`) driven by the same pipeline as the ergonomic methods.
//!
//! The generated client builds the request (URL, headers, JSON body) and hands it to
//! [`RequestHooks::execute`]; the hook turns it into an [`Exchange`] (adding the request id,
//! version and user agent where the caller set none), runs it through
//! [`Shared::execute`](crate::pipeline::Shared::execute) and hands the final answer back for
//! the generated client to decode. Nothing is kept between calls.

use std::sync::Arc;

use bytes::Bytes;
use pearsana_api::hooks::{BoxFuture, RequestHooks};
use progenitor_client::OperationInfo;
use reqwest::header::{HeaderValue, LOCATION, USER_AGENT};
use reqwest::{Request, Response, StatusCode};

use crate::pipeline::{Answer, Exchange, Failed, OperationRef, Shared};
use crate::request_id::{REQUEST_ID_NAME, RequestId};
use crate::retry::RetryConfig;
use crate::version::VERSION_HEADER;

/// The hooks installed on the generated client.
#[derive(Debug)]
pub(crate) struct SdkHooks {
    pub(crate) shared: Arc<Shared>,
    pub(crate) retry: RetryConfig,
}

impl RequestHooks for SdkHooks {
    fn execute<'a>(
        &'a self,
        _client: &'a reqwest::Client,
        request: Request,
        info: &'a OperationInfo,
    ) -> BoxFuture<'a, reqwest::Result<Response>> {
        Box::pin(async move {
            let exchange = self.exchange(request, info).await?;
            let outcome = self.shared.execute(&exchange, &self.retry, None).await;
            match outcome.result {
                Ok(answer) => Ok(rebuild(answer)),
                Err(Failed::Answered(mut answer)) => {
                    let redactor = self.shared.tokens.redactor();
                    redactor.headers(&mut answer.headers);
                    answer.body = redactor.bytes(answer.body);
                    Ok(rebuild(answer))
                }
                Err(Failed::Transport(error)) => Err(error),
                Err(Failed::Auth(error)) => {
                    let message = self
                        .shared
                        .tokens
                        .redactor()
                        .text(&format!("could not obtain an access token: {error}"));
                    let body = serde_json::json!({"error": {
                        "code": "UNAUTHORIZED", "message": message,
                        "requestId": exchange.request_id,
                    }});
                    let mut headers = reqwest::header::HeaderMap::new();
                    headers.insert(
                        reqwest::header::CONTENT_TYPE,
                        HeaderValue::from_static("application/json"),
                    );
                    Ok(rebuild(Answer {
                        status: StatusCode::UNAUTHORIZED,
                        headers,
                        body: Bytes::from(body.to_string()),
                    }))
                }
                Err(Failed::Redirected(status, location)) => {
                    let mut headers = reqwest::header::HeaderMap::new();
                    if let Ok(value) = HeaderValue::from_str(&location) {
                        headers.insert(LOCATION, value);
                    }
                    Ok(rebuild(Answer {
                        status,
                        headers,
                        body: Bytes::new(),
                    }))
                }
                Err(Failed::TooLarge(status, limit)) => {
                    // A body that fails to read, so the generated client reports it.
                    let refused = std::io::Error::other(format!(
                        "response body larger than {limit} bytes; refused by the SDK"
                    ));
                    let stream = futures_util::stream::iter([Err::<Bytes, _>(refused)]);
                    let mut response = http::Response::new(reqwest::Body::wrap_stream(stream));
                    *response.status_mut() = status;
                    Ok(Response::from(response))
                }
            }
        })
    }
}

impl SdkHooks {
    /// The exchange for the generated client's request. The body is taken out of the request
    /// as the `Bytes` it already is (no copy), to be shared by every attempt.
    async fn exchange(
        &self,
        mut request: Request,
        info: &OperationInfo,
    ) -> reqwest::Result<Exchange> {
        let shared = &self.shared;
        let headers = request.headers_mut();
        let request_id = match headers.get(REQUEST_ID_NAME).and_then(|v| v.to_str().ok()) {
            Some(id) => id.to_owned(),
            None => {
                let id = RequestId::generate().as_str().to_owned();
                if let Ok(value) = HeaderValue::from_str(&id) {
                    headers.insert(REQUEST_ID_NAME, value);
                }
                id
            }
        };
        if !headers.contains_key(VERSION_HEADER) {
            headers.insert(VERSION_HEADER, shared.pinned_version.clone());
        }
        headers.insert(USER_AGENT, shared.user_agent.clone());
        let headers = std::mem::take(headers);
        let body = match request.body_mut().take() {
            Some(body) => Some(http_body_util::BodyExt::collect(body).await?.to_bytes()),
            None => None,
        };
        Ok(Exchange {
            op: OperationRef::by_id(info.operation_id),
            method: request.method().clone(),
            url: request.url().clone(),
            headers,
            body,
            streamed: None,
            request_id,
            timeout: request.timeout().copied().or(shared.timeout),
        })
    }
}

/// The answer as a `reqwest::Response` for the generated client.
fn rebuild(answer: Answer) -> Response {
    let mut response = http::Response::new(answer.body);
    *response.status_mut() = answer.status;
    *response.headers_mut() = answer.headers;
    Response::from(response)
}
