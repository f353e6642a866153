//! Facts of the spec that progenitor does not carry into code (versions and their date format,
//! servers, the token path, header names, scopes, per-operation scopes and idempotency, limits,
//! request bounds), emitted as `spec.rs` so the SDK, the sandbox and the CLI read them from one
//! place instead of retyping them.
//!
//! The Rust is built with `quote` and printed with `prettyplease` (the caller runs rustfmt), as
//! `codegen.rs` does for the client: every value is a token, never text pasted into a template.

use anyhow::{Context as _, Result, anyhow, bail};
use openapiv3::{OpenAPI, Parameter, ReferenceOr, Schema, SchemaKind, Type};
use proc_macro2::{Literal, TokenStream};
use quote::{format_ident, quote};

/// The vendor extension that states whether an operation may be repeated harmlessly, on
/// operations whose HTTP method does not say so.
pub const IDEMPOTENT_EXTENSION: &str = "x-pearsana-idempotent";

/// The pattern of `ApiVersionDate` that [`VERSION_DATE_FORMAT`] stands for.
const VERSION_DATE_PATTERN: &str = "^[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])$";
/// The `chrono` format of a version date (`YYYY-MM-DD`).
const VERSION_DATE_FORMAT: &str = "%Y-%m-%d";

/// Renders `spec.rs` (unformatted; the caller runs rustfmt).
pub fn render(spec: &OpenAPI) -> Result<String> {
    let versions = render_versions(spec)?;
    let servers = render_servers(spec)?;
    let token = render_token(spec)?;
    let headers = render_headers(spec)?;
    let (scopes, scope_names) = render_scopes(spec)?;
    let operations = render_operations(spec, &scope_names)?;
    let limits = render_limits(spec)?;
    let bounds = render_request_bounds(spec)?;
    let file = quote! {
        #![doc = " Facts taken from the OpenAPI spec: versions, servers, the token path, header names,"]
        #![doc = " scopes, operations (with their idempotency) and limits."]
        #versions
        #servers
        #token
        #headers
        #scopes
        #operations
        #limits
        #bounds
    };
    let file: syn::File = syn::parse2(file).context("the spec constants are not valid Rust")?;
    Ok(prettyplease::unparse(&file))
}

/// `text` with every bare `http(s)://` URL written as a rustdoc autolink (`<https://…>`).
fn autolink(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(start) = rest.find("https://").or_else(|| rest.find("http://")) {
        out.push_str(&rest[..start]);
        let url = &rest[start..];
        let end = url
            .find(|c: char| c.is_whitespace() || matches!(c, ')' | '>' | '`'))
            .unwrap_or(url.len());
        let url_text = url[..end].trim_end_matches(['.', ',', ';', ':']);
        out.push('<');
        out.push_str(url_text);
        out.push('>');
        rest = &url[url_text.len()..];
    }
    out.push_str(rest);
    out
}

/// `#[doc]` attributes, one per line, so that prettyplease prints `///` comments.
fn doc(text: &str) -> TokenStream {
    text.lines()
        .map(|line| {
            let line = if line.is_empty() {
                String::new()
            } else {
                format!(" {line}")
            };
            quote!(#[doc = #line])
        })
        .collect()
}

fn usize_lit(n: usize) -> Literal {
    Literal::usize_unsuffixed(n)
}

fn option_usize(n: Option<usize>) -> TokenStream {
    match n {
        Some(n) => {
            let n = usize_lit(n);
            quote!(Some(#n))
        }
        None => quote!(None),
    }
}

fn render_versions(spec: &OpenAPI) -> Result<TokenStream> {
    let current = spec.info.version.as_str();
    let oldest = ext_str(&spec.info.extensions, "x-pearsana-oldest-supported-version")?;
    let date = component_schema(spec, "ApiVersionDate")?;
    let SchemaKind::Type(Type::String(string)) = &date.schema_kind else {
        bail!("schema ApiVersionDate must be a string");
    };
    if string.pattern.as_deref() != Some(VERSION_DATE_PATTERN) {
        bail!(
            "schema ApiVersionDate has pattern {:?}; the generator knows only \
             {VERSION_DATE_PATTERN:?} (YYYY-MM-DD): teach xtask/src/constants.rs the new format",
            string.pattern
        );
    }
    let len = match (string.min_length, string.max_length) {
        (Some(min), Some(max)) if min == max => min,
        other => bail!("schema ApiVersionDate needs equal minLength and maxLength, not {other:?}"),
    };
    for (what, version) in [("info.version", current), ("oldest supported", oldest)] {
        if !is_version_date(version) || version.len() != len {
            bail!("{what} {version:?} is not a YYYY-MM-DD date");
        }
    }
    if oldest > current {
        bail!("the oldest supported version {oldest} is newer than the current one {current}");
    }
    let mut supported = vec![oldest];
    if current != oldest {
        supported.push(current);
    }
    let len = usize_lit(len);
    Ok(quote! {
        #[doc = " The API version the spec describes (`info.version`), sent as `X-API-Version`."]
        pub const API_VERSION: &str = #current;
        #[doc = " The oldest API version the service still accepts (`x-pearsana-oldest-supported-version`)."]
        pub const OLDEST_SUPPORTED_VERSION: &str = #oldest;
        #[doc = " Every version the service serves, oldest first: a request for a date between two of"]
        #[doc = " them gets the newest one not after that date."]
        pub const SUPPORTED_VERSIONS: &[&str] = &[#(#supported),*];
        #[doc = " The `chrono` format of a version date (schema `ApiVersionDate`: `YYYY-MM-DD`)."]
        pub const VERSION_DATE_FORMAT: &str = #VERSION_DATE_FORMAT;
        #[doc = " The exact length of a version date."]
        pub const VERSION_DATE_LEN: usize = #len;
        #[doc = " The pattern of a version date, as the spec states it."]
        pub const VERSION_DATE_PATTERN: &str = #VERSION_DATE_PATTERN;
        // Reading a date by that pattern is the same for every spec the generator accepts:
        // handwritten in `pearsana-api/src/version_date.rs`, re-exported beside its constants.
        pub use crate::version_date::parse_version_date;
    })
}

/// `YYYY-MM-DD` with digits where digits belong (the calendar is checked by the SDK's parser).
fn is_version_date(text: &str) -> bool {
    let bytes = text.as_bytes();
    bytes.len() == 10
        && bytes.iter().enumerate().all(|(i, b)| match i {
            4 | 7 => *b == b'-',
            _ => b.is_ascii_digit(),
        })
}

fn render_servers(spec: &OpenAPI) -> Result<TokenStream> {
    let mut consts = TokenStream::new();
    for server in &spec.servers {
        let name = ext_str(&server.extensions, "x-pearsana-environment")
            .with_context(|| format!("server {}", server.url))?;
        let auth = ext_str(&server.extensions, "x-pearsana-auth-url")
            .with_context(|| format!("server {}", server.url))?;
        let docs = doc(&format!(
            "The {name} environment: {}",
            autolink(server.description.as_deref().unwrap_or_default())
        ));
        let ident = format_ident!("{}", name.to_uppercase());
        let url = &server.url;
        consts.extend(quote! {
            #docs
            pub const #ident: Server = Server { name: #name, api_url: #url, auth_url: #auth };
        });
    }
    Ok(quote! {
        #[doc = " One deployment of the API, with the host that issues its tokens."]
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub struct Server {
            #[doc = " Short name (`sandbox`, `production`)."]
            pub name: &'static str,
            #[doc = " Base URL of the API."]
            pub api_url: &'static str,
            #[doc = " Base URL of the OAuth 2.0 token host; tokens come from `{auth_url}` followed by"]
            #[doc = " [`TOKEN_PATH`]."]
            pub auth_url: &'static str,
        }
        #consts
    })
}

fn client_credentials(spec: &OpenAPI) -> Result<&openapiv3::ClientCredentialsOAuth2Flow> {
    let components = spec.components.as_ref().context("spec has no components")?;
    let scheme = components
        .security_schemes
        .get("partnerOAuth")
        .context("security scheme `partnerOAuth` is missing")?;
    let ReferenceOr::Item(openapiv3::SecurityScheme::OAuth2 { flows, .. }) = scheme else {
        bail!("security scheme `partnerOAuth` must be an inline oauth2 scheme");
    };
    flows
        .client_credentials
        .as_ref()
        .context("`partnerOAuth` has no clientCredentials flow")
}

/// The token URL of the security scheme, and its path on the auth host. The path is the same
/// on every environment: the sandbox server's `x-pearsana-auth-url` must prefix the URL.
fn render_token(spec: &OpenAPI) -> Result<TokenStream> {
    let url = client_credentials(spec)?.token_url.as_str();
    let rest = url
        .split_once("://")
        .map(|(_, rest)| rest)
        .with_context(|| format!("tokenUrl {url} is not absolute"))?;
    let path = &rest[rest
        .find('/')
        .with_context(|| format!("tokenUrl {url} has no path"))?..];
    let auth_hosts: Vec<&str> = spec
        .servers
        .iter()
        .filter_map(|s| s.extensions.get("x-pearsana-auth-url")?.as_str())
        .collect();
    if !auth_hosts.iter().any(|host| format!("{host}{path}") == url) {
        bail!("tokenUrl {url} is not `{{x-pearsana-auth-url}}{path}` of any server");
    }
    Ok(quote! {
        #[doc = " Token URL of the sandbox as the spec's security scheme states it."]
        pub const SPEC_TOKEN_URL: &str = #url;
        #[doc = " Path of the OAuth 2.0 token endpoint on every environment's auth host (the path of"]
        #[doc = " the security scheme's `tokenUrl`)."]
        pub const TOKEN_PATH: &str = #path;
    })
}

/// Every header name the spec declares, in first-seen order: component headers, header
/// parameters (components, then operations) and response headers, with the first description.
fn declared_headers(spec: &OpenAPI) -> Result<Vec<(String, String)>> {
    let mut seen: indexmap::IndexMap<String, (String, String)> = indexmap::IndexMap::new();
    let mut add = |name: &str, description: Option<&str>| {
        seen.entry(name.to_ascii_lowercase())
            .or_insert_with(|| (name.to_string(), String::new()));
        if let Some(description) = description.filter(|d| !d.is_empty()) {
            let entry = seen.get_mut(&name.to_ascii_lowercase()).expect("inserted");
            if entry.1.is_empty() {
                entry.1 = description.trim().to_string();
            }
        }
    };
    let components = spec.components.as_ref().context("spec has no components")?;
    let header_parameter = |parameter: &Parameter| match parameter {
        Parameter::Header { parameter_data, .. } => Some((
            parameter_data.name.clone(),
            parameter_data.description.clone(),
        )),
        _ => None,
    };
    for (name, header) in &components.headers {
        add(
            name,
            header.as_item().and_then(|h| h.description.as_deref()),
        );
    }
    for parameter in components.parameters.values() {
        if let Some((name, description)) = parameter.as_item().and_then(header_parameter) {
            add(&name, description.as_deref());
        }
    }
    let mut responses = Vec::new();
    for response in components
        .responses
        .values()
        .filter_map(ReferenceOr::as_item)
    {
        responses.push(response);
    }
    for (_, item) in spec.paths.iter() {
        let item = item.as_item().context("path items must be inline")?;
        for (_, op) in item.iter() {
            for parameter in op.parameters.iter().filter_map(ReferenceOr::as_item) {
                if let Some((name, description)) = header_parameter(parameter) {
                    add(&name, description.as_deref());
                }
            }
            responses.extend(
                op.responses
                    .responses
                    .values()
                    .filter_map(ReferenceOr::as_item),
            );
        }
    }
    for response in responses {
        for (name, header) in &response.headers {
            add(
                name,
                header.as_item().and_then(|h| h.description.as_deref()),
            );
        }
    }
    Ok(seen.into_values().collect())
}

/// The first sentence of a description, on one line.
fn first_sentence(text: &str) -> String {
    let flat = text.split_whitespace().collect::<Vec<_>>().join(" ");
    match flat.find(". ") {
        Some(end) => flat[..=end].to_string(),
        None => flat,
    }
}

fn render_headers(spec: &OpenAPI) -> Result<TokenStream> {
    let mut consts = TokenStream::new();
    let mut declared = Vec::new();
    for (spelled, description) in declared_headers(spec)? {
        let ident = format_ident!("{}", upper_snake(&spelled));
        let lower = spelled.to_ascii_lowercase();
        let docs = doc(&format!("`{spelled}`: {}", first_sentence(&description)));
        consts.extend(quote! {
            #docs
            pub const #ident: &str = #lower;
        });
        declared.push(quote!((#spelled, #ident)));
    }
    Ok(quote! {
        #[doc = " Header names the spec declares, lower case (as `http::HeaderName` stores them, so"]
        #[doc = " they work with `HeaderName::from_static` and `HeaderMap::get`)."]
        pub mod headers {
            #consts
            #[doc = " Every declared header: its spelling in the spec and its lower-case name."]
            pub const DECLARED: &[(&str, &str)] = &[#(#declared),*];
            #[doc = " The spec's spelling of a declared header (`x-request-id` → `X-Request-Id`),"]
            #[doc = " for messages; `None` for a header the spec does not declare."]
            pub fn spelling(name: &str) -> Option<&'static str> {
                DECLARED
                    .iter()
                    .find(|(_, lower)| lower.eq_ignore_ascii_case(name))
                    .map(|(spelled, _)| *spelled)
            }
        }
    })
}

/// Returns the tokens and the scope names in spec order.
fn render_scopes(spec: &OpenAPI) -> Result<(TokenStream, Vec<String>)> {
    let flow = client_credentials(spec)?;
    let mut consts = TokenStream::new();
    let mut idents = Vec::new();
    let mut described = Vec::new();
    let mut names = Vec::new();
    for (scope, description) in &flow.scopes {
        let ident = format_ident!("{}", scope_const(scope));
        let docs = doc(description);
        consts.extend(quote! {
            #docs
            pub const #ident: &str = #scope;
        });
        described.push(quote!((#ident, #description)));
        idents.push(ident);
        names.push(scope.clone());
    }
    let tokens = quote! {
        #[doc = " OAuth 2.0 scope names."]
        pub mod scopes {
            #consts
            #[doc = " Every scope, in spec order."]
            pub const ALL: &[&str] = &[#(#idents),*];
            #[doc = " Every scope with its description, in spec order."]
            pub const DESCRIBED: &[(&str, &str)] = &[#(#described),*];
        }
    };
    Ok((tokens, names))
}

/// Whether repeating an operation is harmless: the method's semantics (RFC 9110 §9.2.2) where
/// they say so, the operation's [`IDEMPOTENT_EXTENSION`] where they do not (`POST`, `PATCH`),
/// and never both disagreeing.
fn idempotency(method: &str, op: &openapiv3::Operation, id: &str) -> Result<bool> {
    let by_method = match method {
        "get" | "head" | "options" | "trace" | "put" | "delete" => Some(true),
        _ => None,
    };
    let stated = match op.extensions.get(IDEMPOTENT_EXTENSION) {
        Some(serde_json::Value::Bool(stated)) => Some(*stated),
        Some(other) => bail!("{id}: {IDEMPOTENT_EXTENSION} must be true or false, not {other}"),
        None => None,
    };
    match (by_method, stated) {
        (Some(by_method), Some(stated)) if by_method != stated => bail!(
            "{id}: {IDEMPOTENT_EXTENSION}: {stated} contradicts the semantics of {}",
            method.to_uppercase()
        ),
        (Some(idempotent), _) | (None, Some(idempotent)) => Ok(idempotent),
        (None, None) => bail!(
            "{id}: a {} operation must state {IDEMPOTENT_EXTENSION}: true or false",
            method.to_uppercase()
        ),
    }
}

fn render_operations(spec: &OpenAPI, scopes: &[String]) -> Result<TokenStream> {
    let version_header = component_header_parameter(spec, "ApiVersionRequired")?;
    let mut consts = TokenStream::new();
    let mut all = Vec::new();
    for (path, item) in spec.paths.iter() {
        let item = item.as_item().context("path items must be inline")?;
        for (method, op) in item.iter() {
            let id = op
                .operation_id
                .as_deref()
                .with_context(|| format!("{method} {path} has no operationId"))?;
            let security = op.security.as_ref().or(spec.security.as_ref());
            let mut required = Vec::new();
            let mut authenticated = false;
            for requirement in security.into_iter().flatten() {
                for (_, list) in requirement {
                    authenticated = true;
                    for scope in list {
                        if !scopes.contains(scope) {
                            bail!("{id} requires undeclared scope {scope}");
                        }
                        let scope = format_ident!("{}", scope_const(scope));
                        required.push(quote!(scopes::#scope));
                    }
                }
            }
            let requires_version = op.parameters.iter().any(|p| match p {
                ReferenceOr::Reference { reference } => reference.ends_with("/ApiVersionRequired"),
                ReferenceOr::Item(Parameter::Header { parameter_data, .. }) => {
                    parameter_data.name.eq_ignore_ascii_case(&version_header)
                        && parameter_data.required
                }
                ReferenceOr::Item(_) => false,
            });
            let idempotent = idempotency(method, op, id)?;
            let snake = snake_case(id);
            let upper_method = method.to_uppercase();
            let docs = doc(&format!(
                "`{upper_method} {path}`: {}",
                op.summary.as_deref().unwrap_or_default()
            ));
            let ident = format_ident!("{}", snake.to_uppercase());
            consts.extend(quote! {
                #docs
                pub const #ident: Operation = Operation {
                    id: #snake,
                    method: #upper_method,
                    path: #path,
                    required_scopes: &[#(#required),*],
                    authenticated: #authenticated,
                    requires_api_version: #requires_version,
                    idempotent: #idempotent,
                };
            });
            all.push(ident);
        }
    }
    Ok(quote! {
        #[doc = " What the spec says about one operation."]
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub struct Operation {
            #[doc = " The operation id in snake case, as `progenitor_client::OperationInfo` reports it."]
            pub id: &'static str,
            #[doc = " HTTP method, upper case."]
            pub method: &'static str,
            #[doc = " Path template."]
            pub path: &'static str,
            #[doc = " Scopes a token must carry (all of them); empty when no token is needed."]
            pub required_scopes: &'static [&'static str],
            #[doc = " Whether a bearer token is needed at all."]
            pub authenticated: bool,
            #[doc = " Whether the `X-API-Version` header is mandatory."]
            pub requires_api_version: bool,
            #[doc = " Whether sending the request twice leaves the same state as sending it once: by the"]
            #[doc = " method's semantics (`GET`), else by the operation's `x-pearsana-idempotent`."]
            pub idempotent: bool,
        }
        #[doc = " Operations, in spec order."]
        pub mod operations {
            use super::{Operation, scopes};
            #consts
            #[doc = " Every operation, in spec order."]
            pub const ALL: &[Operation] = &[#(#all),*];
        }
        #[doc = " Looks an operation up by its snake-case id."]
        pub fn operation(id: &str) -> Option<&'static Operation> {
            operations::ALL.iter().find(|op| op.id == id)
        }
    })
}

fn component_schema<'a>(spec: &'a OpenAPI, name: &str) -> Result<&'a Schema> {
    spec.components
        .as_ref()
        .and_then(|c| c.schemas.get(name))
        .and_then(ReferenceOr::as_item)
        .ok_or_else(|| anyhow!("schema {name} is missing or not inline"))
}

fn component_header_parameter(spec: &OpenAPI, name: &str) -> Result<String> {
    match spec
        .components
        .as_ref()
        .and_then(|c| c.parameters.get(name))
        .and_then(ReferenceOr::as_item)
    {
        Some(Parameter::Header { parameter_data, .. }) => Ok(parameter_data.name.clone()),
        _ => bail!("parameter {name} is missing or not an inline header parameter"),
    }
}

fn render_limits(spec: &OpenAPI) -> Result<TokenStream> {
    let property = |schema: &openapiv3::Schema, name: &str| -> Result<openapiv3::Schema> {
        match &schema.schema_kind {
            SchemaKind::Type(Type::Object(object)) => object
                .properties
                .get(name)
                .and_then(|p| p.as_item())
                .map(|p| (**p).clone())
                .ok_or_else(|| anyhow!("property {name} is missing or not inline")),
            _ => bail!("expected an object schema"),
        }
    };
    let batch_items = property(
        component_schema(spec, "SubmitDocumentBatchRequest")?,
        "items",
    )?;
    let SchemaKind::Type(Type::Array(array)) = &batch_items.schema_kind else {
        bail!("SubmitDocumentBatchRequest.items must be an array");
    };
    let (min, max) = (
        array.min_items.context("batch items need minItems")?,
        array.max_items.context("batch items need maxItems")?,
    );
    let file = property(component_schema(spec, "SubmitDocumentRequest")?, "file")?;
    let max_file = file
        .schema_data
        .extensions
        .get("x-pearsana-max-decoded-bytes")
        .and_then(serde_json::Value::as_u64)
        .context("SubmitDocumentRequest.file needs x-pearsana-max-decoded-bytes")?;
    let request_id = match spec
        .components
        .as_ref()
        .and_then(|c| c.parameters.get("RequestId"))
        .and_then(ReferenceOr::as_item)
    {
        Some(Parameter::Header { parameter_data, .. }) => match &parameter_data.format {
            openapiv3::ParameterSchemaOrContent::Schema(ReferenceOr::Item(s)) => s
                .schema_data
                .extensions
                .get("x-pearsana-max-length")
                .and_then(serde_json::Value::as_u64),
            _ => None,
        },
        _ => None,
    }
    .context("parameter RequestId needs a schema with x-pearsana-max-length")?;
    let (min, max) = (usize_lit(min), usize_lit(max));
    let max_file = Literal::u64_unsuffixed(max_file);
    let request_id = Literal::u64_unsuffixed(request_id);
    Ok(quote! {
        #[doc = " Fewest items a document batch may hold."]
        pub const BATCH_MIN_ITEMS: usize = #min;
        #[doc = " Most items a document batch may hold."]
        pub const BATCH_MAX_ITEMS: usize = #max;
        #[doc = " Largest decoded document, in bytes."]
        pub const MAX_DOCUMENT_BYTES: u64 = #max_file;
        #[doc = " Longest `X-Request-Id` the API echoes."]
        pub const MAX_REQUEST_ID_LEN: usize = #request_id;
    })
}

fn ext_str<'a>(
    extensions: &'a indexmap::IndexMap<String, serde_json::Value>,
    key: &str,
) -> Result<&'a str> {
    extensions
        .get(key)
        .and_then(serde_json::Value::as_str)
        .with_context(|| format!("missing string extension {key}"))
}

/// `X-API-Version` → `X_API_VERSION`; non-alphanumerics become single underscores.
fn upper_snake(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_uppercase()
            } else {
                '_'
            }
        })
        .collect::<String>()
        .split('_')
        .filter(|part| !part.is_empty())
        .collect::<Vec<_>>()
        .join("_")
}

/// `pearsana-partner/partners.users:write` → `PARTNERS_USERS_WRITE`.
fn scope_const(scope: &str) -> String {
    upper_snake(scope.rsplit('/').next().unwrap_or(scope))
}

/// `submitDocumentBatch` → `submit_document_batch`, matching progenitor's operation ids.
fn snake_case(id: &str) -> String {
    let mut out = String::new();
    for (i, c) in id.chars().enumerate() {
        if c.is_ascii_uppercase() {
            if i > 0 {
                out.push('_');
            }
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

/// One bound of a request body field, keyed by its path from the body's root.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
struct Bound {
    max_length: Option<usize>,
    max_items: Option<usize>,
    max_properties: Option<usize>,
}

/// Emits every `maxLength`, `maxItems` and `maxProperties` of the request bodies as a table, and
/// re-exports the one walker that checks a JSON body against it, so the sandbox and the SDK
/// enforce the same bounds as the spec states.
fn render_request_bounds(spec: &OpenAPI) -> Result<TokenStream> {
    let mut bounds: indexmap::IndexMap<String, Bound> = indexmap::IndexMap::new();
    for (path, item) in spec.paths.iter() {
        let item = item.as_item().context("path items must be inline")?;
        for (method, op) in item.iter() {
            let Some(body) = &op.request_body else {
                continue;
            };
            let body = body
                .as_item()
                .with_context(|| format!("{method} {path}: request bodies must be inline"))?;
            for media in body.content.values() {
                if let Some(schema) = &media.schema {
                    collect_bounds(spec, schema, String::new(), &mut bounds)?;
                }
            }
        }
    }
    let rows = bounds.iter().map(|(path, bound)| {
        let max_length = option_usize(bound.max_length);
        let max_items = option_usize(bound.max_items);
        let max_properties = option_usize(bound.max_properties);
        quote! {
            FieldBound {
                path: #path,
                max_length: #max_length,
                max_items: #max_items,
                max_properties: #max_properties,
            }
        }
    });
    // The lookup and the walker are the same for every spec: handwritten in
    // `pearsana-api/src/bounds.rs`, re-exported here beside the table they read.
    Ok(quote! {
        #[doc = " A bound the spec puts on one field of a request body. Bounds the public"]
        #[doc = " documentation does not state are marked `x-pearsana-assumption` in the spec."]
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub struct FieldBound {
            #[doc = " Path from the body's root: properties joined by `.`, `[]` for any array element and"]
            #[doc = " `*` for any value of a free-form map (`items[].metadata.*`)."]
            pub path: &'static str,
            #[doc = " Most characters (Unicode scalar values) of a string."]
            pub max_length: Option<usize>,
            #[doc = " Most elements of an array."]
            pub max_items: Option<usize>,
            #[doc = " Most members of an object."]
            pub max_properties: Option<usize>,
        }
        #[doc = " Every bounded request field, in spec order. A base64 `file` is bounded by"]
        #[doc = " [`MAX_DOCUMENT_BYTES`] after decoding instead."]
        pub const REQUEST_BOUNDS: &[FieldBound] = &[#(#rows),*];
        pub use crate::bounds::{BoundExcess, check_request_bounds, request_bound};
    })
}

fn resolve<'a>(spec: &'a OpenAPI, schema: &'a ReferenceOr<Schema>) -> Result<&'a Schema> {
    match schema {
        ReferenceOr::Item(schema) => Ok(schema),
        ReferenceOr::Reference { reference } => {
            let name = reference
                .strip_prefix("#/components/schemas/")
                .with_context(|| format!("unsupported reference {reference}"))?;
            component_schema(spec, name)
        }
    }
}

fn unbox(schema: &ReferenceOr<Box<Schema>>) -> ReferenceOr<Schema> {
    match schema {
        ReferenceOr::Item(schema) => ReferenceOr::Item((**schema).clone()),
        ReferenceOr::Reference { reference } => ReferenceOr::Reference {
            reference: reference.clone(),
        },
    }
}

fn collect_bounds(
    spec: &OpenAPI,
    schema: &ReferenceOr<Schema>,
    path: String,
    bounds: &mut indexmap::IndexMap<String, Bound>,
) -> Result<()> {
    let schema = resolve(spec, schema)?;
    let mut bound = Bound::default();
    match &schema.schema_kind {
        SchemaKind::Type(Type::String(string)) => {
            let base64 = matches!(
                string.format,
                openapiv3::VariantOrUnknownOrEmpty::Item(openapiv3::StringFormat::Byte)
            );
            if !base64 {
                bound.max_length = string.max_length;
            }
        }
        SchemaKind::Type(Type::Array(array)) => {
            bound.max_items = array.max_items;
            if let Some(items) = &array.items {
                collect_bounds(spec, &unbox(items), format!("{path}[]"), bounds)?;
            }
        }
        SchemaKind::Type(Type::Object(object)) => {
            let join = |key: &str| {
                if path.is_empty() {
                    key.to_string()
                } else {
                    format!("{path}.{key}")
                }
            };
            for (name, property) in &object.properties {
                collect_bounds(spec, &unbox(property), join(name), bounds)?;
            }
            if let Some(openapiv3::AdditionalProperties::Schema(values)) =
                &object.additional_properties
            {
                bound.max_properties = object.max_properties;
                collect_bounds(spec, values, join("*"), bounds)?;
            } else if object.max_properties.is_some() {
                bound.max_properties = object.max_properties;
            }
        }
        SchemaKind::AllOf { all_of } => {
            for part in all_of {
                collect_bounds(spec, part, path.clone(), bounds)?;
            }
        }
        _ => {}
    }
    if bound != Bound::default() {
        if let Some(seen) = bounds.get(&path)
            && *seen != bound
        {
            bail!("request field {path} has two different bounds: {seen:?} and {bound:?}");
        }
        bounds.insert(path, bound);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> OpenAPI {
        let source = std::fs::read_to_string(
            crate::codegen::workspace_root().join(crate::codegen::SPEC_PATH),
        )
        .expect("the spec");
        serde_yaml::from_str(&source).expect("a valid spec")
    }

    #[test]
    fn idempotency_follows_the_method_and_the_extension() {
        let spec = spec();
        let mut seen = Vec::new();
        for (_, item) in spec.paths.iter() {
            for (method, op) in item.as_item().unwrap().iter() {
                let id = op.operation_id.clone().unwrap();
                seen.push((id.clone(), idempotency(method, op, &id).unwrap()));
            }
        }
        let expected = [
            ("getHealth", true),
            ("ping", true),
            ("createUser", true),
            ("createInvitation", false),
            ("submitDocument", false),
            ("submitDocumentBatch", false),
        ];
        let expected: Vec<_> = expected.iter().map(|(i, b)| (i.to_string(), *b)).collect();
        assert_eq!(seen, expected);
    }

    #[test]
    fn a_post_without_the_extension_or_a_contradiction_is_refused() {
        let mut op = openapiv3::Operation::default();
        let error = idempotency("post", &op, "createThing")
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("createThing") && error.contains(IDEMPOTENT_EXTENSION),
            "{error}"
        );
        op.extensions
            .insert(IDEMPOTENT_EXTENSION.into(), serde_json::Value::Bool(false));
        let error = idempotency("get", &op, "readThing")
            .unwrap_err()
            .to_string();
        assert!(error.contains("contradicts"), "{error}");
        assert!(!idempotency("post", &op, "createThing").unwrap());
        op.extensions
            .insert(IDEMPOTENT_EXTENSION.into(), serde_json::Value::from("yes"));
        assert!(idempotency("post", &op, "createThing").is_err());
    }

    #[test]
    fn headers_come_from_parameters_and_responses() {
        let names: Vec<String> = declared_headers(&spec())
            .unwrap()
            .into_iter()
            .map(|(spelled, _)| spelled)
            .collect();
        for expected in [
            "X-API-Version",
            "X-Request-Id",
            "X-API-Version-Latest",
            "X-API-Version-Supported",
            "Retry-After",
        ] {
            assert!(
                names.iter().any(|n| n == expected),
                "{expected} in {names:?}"
            );
        }
        let mut lower: Vec<_> = names.iter().map(|n| n.to_ascii_lowercase()).collect();
        lower.dedup();
        assert_eq!(lower.len(), names.len(), "each header once: {names:?}");
    }

    #[test]
    fn the_token_path_must_match_a_server_auth_host() {
        let mut spec = spec();
        assert!(
            render_token(&spec)
                .unwrap()
                .to_string()
                .contains("\"/oauth2/token\"")
        );
        if let Some(ReferenceOr::Item(openapiv3::SecurityScheme::OAuth2 { flows, .. })) = spec
            .components
            .as_mut()
            .unwrap()
            .security_schemes
            .get_mut("partnerOAuth")
        {
            flows.client_credentials.as_mut().unwrap().token_url =
                "https://elsewhere.example.com/oauth2/token".into();
        }
        assert!(render_token(&spec).is_err());
    }

    #[test]
    fn bare_urls_become_autolinks() {
        assert_eq!(
            autolink("Sandbox (tokens from https://a.example.com). See http://b.example.com/x, ok"),
            "Sandbox (tokens from <https://a.example.com>). See <http://b.example.com/x>, ok"
        );
        assert_eq!(autolink("no link"), "no link");
    }

    #[test]
    fn an_unknown_version_date_pattern_is_refused() {
        let mut spec = spec();
        let date = spec
            .components
            .as_mut()
            .unwrap()
            .schemas
            .get_mut("ApiVersionDate")
            .unwrap();
        if let ReferenceOr::Item(Schema {
            schema_kind: SchemaKind::Type(Type::String(string)),
            ..
        }) = date
        {
            string.pattern = Some("^[0-9]{8}$".into());
        }
        let error = render_versions(&spec).unwrap_err().to_string();
        assert!(error.contains("ApiVersionDate"), "{error}");
    }
}
