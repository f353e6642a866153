//! Facts of the spec that progenitor does not carry into code (servers, scopes, per-operation
//! scopes, limits), emitted as constants so the SDK, the sandbox and the CLI read them from one
//! place instead of retyping them.

use std::fmt::Write as _;

use anyhow::{Context as _, Result, anyhow, bail};
use openapiv3::{OpenAPI, Parameter, ReferenceOr, Schema, SchemaKind, Type};

/// Renders `spec.rs` (unformatted; the caller runs rustfmt).
pub fn render(spec: &OpenAPI) -> Result<String> {
    let mut out = String::new();
    writeln!(
        out,
        "//! Constants taken from the OpenAPI spec: version, servers, scopes, operations and limits.\n\
         \n\
         /// The API version the spec describes (`info.version`), sent as `X-API-Version`.\n\
         pub const API_VERSION: &str = {:?};\n\n\
         /// The oldest API version the service still accepts (`x-pearsana-oldest-supported-version`).\n\
         pub const OLDEST_SUPPORTED_VERSION: &str = {:?};\n",
        spec.info.version,
        ext_str(&spec.info.extensions, "x-pearsana-oldest-supported-version")?,
    )?;

    render_servers(spec, &mut out)?;
    let scopes = render_scopes(spec, &mut out)?;
    render_operations(spec, &scopes, &mut out)?;
    render_limits(spec, &mut out)?;
    render_request_bounds(spec, &mut out)?;
    Ok(out)
}

fn render_servers(spec: &OpenAPI, out: &mut String) -> Result<()> {
    out.push_str(
        "/// One deployment of the API, with the host that issues its tokens.\n\
         #[derive(Debug, Clone, Copy, PartialEq, Eq)]\n\
         pub struct Server {\n\
         /// Short name (`sandbox`, `production`).\n\
         pub name: &'static str,\n\
         /// Base URL of the API.\n\
         pub api_url: &'static str,\n\
         /// Base URL of the OAuth 2.0 token host; tokens come from `{auth_url}/oauth2/token`.\n\
         pub auth_url: &'static str,\n\
         }\n\n",
    );
    for server in &spec.servers {
        let name = ext_str(&server.extensions, "x-pearsana-environment")
            .with_context(|| format!("server {}", server.url))?;
        let auth = ext_str(&server.extensions, "x-pearsana-auth-url")
            .with_context(|| format!("server {}", server.url))?;
        writeln!(
            out,
            "/// The {name} environment: {}\n\
             pub const {}: Server = Server {{ name: {name:?}, api_url: {:?}, auth_url: {auth:?} }};\n",
            server.description.as_deref().unwrap_or_default(),
            name.to_uppercase(),
            server.url,
        )?;
    }
    Ok(())
}

/// Returns the scope names in spec order.
fn render_scopes(spec: &OpenAPI, out: &mut String) -> Result<Vec<String>> {
    let components = spec.components.as_ref().context("spec has no components")?;
    let scheme = components
        .security_schemes
        .get("partnerOAuth")
        .context("security scheme `partnerOAuth` is missing")?;
    let ReferenceOr::Item(openapiv3::SecurityScheme::OAuth2 { flows, .. }) = scheme else {
        bail!("security scheme `partnerOAuth` must be an inline oauth2 scheme");
    };
    let flow = flows
        .client_credentials
        .as_ref()
        .context("`partnerOAuth` has no clientCredentials flow")?;
    writeln!(
        out,
        "/// Token URL of the sandbox as the spec's security scheme states it.\n\
         pub const SPEC_TOKEN_URL: &str = {:?};\n",
        flow.token_url
    )?;
    out.push_str("/// OAuth 2.0 scope names.\npub mod scopes {\n");
    let mut names = Vec::new();
    for (scope, description) in &flow.scopes {
        writeln!(
            out,
            "/// {description}\npub const {}: &str = {scope:?};",
            scope_const(scope)
        )?;
        names.push(scope.clone());
    }
    writeln!(
        out,
        "/// Every scope, in spec order.\npub const ALL: &[&str] = &[{}];\n\
         /// Every scope with its description, in spec order.\n\
         pub const DESCRIBED: &[(&str, &str)] = &[{}];\n}}\n",
        names
            .iter()
            .map(|s| scope_const(s))
            .collect::<Vec<_>>()
            .join(", "),
        flow.scopes
            .iter()
            .map(|(s, d)| format!("({}, {d:?})", scope_const(s)))
            .collect::<Vec<_>>()
            .join(", ")
    )?;
    Ok(names)
}

fn render_operations(spec: &OpenAPI, scopes: &[String], out: &mut String) -> Result<()> {
    out.push_str(
        "/// What the spec says about one operation.\n\
         #[derive(Debug, Clone, Copy, PartialEq, Eq)]\n\
         pub struct Operation {\n\
         /// The operation id in snake case, as `progenitor_client::OperationInfo` reports it.\n\
         pub id: &'static str,\n\
         /// HTTP method, upper case.\n\
         pub method: &'static str,\n\
         /// Path template.\n\
         pub path: &'static str,\n\
         /// Scopes a token must carry (all of them); empty when no token is needed.\n\
         pub required_scopes: &'static [&'static str],\n\
         /// Whether a bearer token is needed at all.\n\
         pub authenticated: bool,\n\
         /// Whether the `X-API-Version` header is mandatory.\n\
         pub requires_api_version: bool,\n\
         }\n\n\
         /// Operations, in spec order.\npub mod operations {\nuse super::{Operation, scopes};\n",
    );
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
                        required.push(format!("scopes::{}", scope_const(scope)));
                    }
                }
            }
            let requires_version = op.parameters.iter().any(|p| match p {
                ReferenceOr::Reference { reference } => reference.ends_with("/ApiVersionRequired"),
                ReferenceOr::Item(Parameter::Header { parameter_data, .. }) => {
                    parameter_data.name == "X-API-Version" && parameter_data.required
                }
                ReferenceOr::Item(_) => false,
            });
            let snake = snake_case(id);
            writeln!(
                out,
                "/// `{} {path}`: {}\npub const {}: Operation = Operation {{ id: {snake:?}, method: {:?}, path: {path:?}, required_scopes: &[{}], authenticated: {authenticated}, requires_api_version: {requires_version} }};",
                method.to_uppercase(),
                op.summary.as_deref().unwrap_or_default(),
                snake.to_uppercase(),
                method.to_uppercase(),
                required.join(", "),
            )?;
            all.push(snake.to_uppercase());
        }
    }
    writeln!(
        out,
        "/// Every operation, in spec order.\npub const ALL: &[Operation] = &[{}];\n}}\n\
         /// Looks an operation up by its snake-case id.\n\
         pub fn operation(id: &str) -> Option<&'static Operation> {{\n\
         operations::ALL.iter().find(|op| op.id == id)\n}}\n",
        all.join(", ")
    )?;
    Ok(())
}

fn render_limits(spec: &OpenAPI, out: &mut String) -> Result<()> {
    let schema = |name: &str| -> Result<&openapiv3::Schema> {
        spec.components
            .as_ref()
            .and_then(|c| c.schemas.get(name))
            .and_then(ReferenceOr::as_item)
            .ok_or_else(|| anyhow!("schema {name} is missing or not inline"))
    };
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
    let batch_items = property(schema("SubmitDocumentBatchRequest")?, "items")?;
    let SchemaKind::Type(Type::Array(array)) = &batch_items.schema_kind else {
        bail!("SubmitDocumentBatchRequest.items must be an array");
    };
    let (min, max) = (
        array.min_items.context("batch items need minItems")?,
        array.max_items.context("batch items need maxItems")?,
    );
    let file = property(schema("SubmitDocumentRequest")?, "file")?;
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
    writeln!(
        out,
        "/// Fewest items a document batch may hold.\npub const BATCH_MIN_ITEMS: usize = {min};\n\
         /// Most items a document batch may hold.\npub const BATCH_MAX_ITEMS: usize = {max};\n\
         /// Largest decoded document, in bytes.\npub const MAX_DOCUMENT_BYTES: u64 = {max_file};\n\
         /// Longest `X-Request-Id` the API echoes.\npub const MAX_REQUEST_ID_LEN: usize = {request_id};"
    )?;
    Ok(())
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

/// `pearsana-partner/partners.users:write` → `PARTNERS_USERS_WRITE`.
fn scope_const(scope: &str) -> String {
    let short = scope.rsplit('/').next().unwrap_or(scope);
    short
        .chars()
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
/// the one walker that checks a JSON body against it, so the sandbox and the SDK enforce the
/// same bounds as the spec states.
fn render_request_bounds(spec: &OpenAPI, out: &mut String) -> Result<()> {
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
    out.push_str(
        "/// A bound the spec puts on one field of a request body. Bounds the public \n\
         /// documentation does not state are marked `x-pearsana-assumption` in the spec.\n\
         #[derive(Debug, Clone, Copy, PartialEq, Eq)]\n\
         pub struct FieldBound {\n\
         /// Path from the body's root: properties joined by `.`, `[]` for any array element and \n\
         /// `*` for any value of a free-form map (`items[].metadata.*`).\n\
         pub path: &'static str,\n\
         /// Most characters (Unicode scalar values) of a string.\n\
         pub max_length: Option<usize>,\n\
         /// Most elements of an array.\n\
         pub max_items: Option<usize>,\n\
         /// Most members of an object.\n\
         pub max_properties: Option<usize>,\n\
         }\n\n\
         /// Every bounded request field, in spec order. A base64 `file` is bounded by \n\
         /// [`MAX_DOCUMENT_BYTES`] after decoding instead.\n\
         pub const REQUEST_BOUNDS: &[FieldBound] = &[\n",
    );
    for (path, bound) in &bounds {
        writeln!(
            out,
            "FieldBound {{ path: {path:?}, max_length: {:?}, max_items: {:?}, max_properties: {:?} }},",
            bound.max_length, bound.max_items, bound.max_properties
        )?;
    }
    // The lookup and the walker are the same for every spec: handwritten in
    // `pearsana-api/src/bounds.rs`, re-exported here beside the table they read.
    out.push_str(
        "];\n\npub use crate::bounds::{BoundExcess, check_request_bounds, request_bound};\n",
    );
    Ok(())
}

fn resolve<'a>(spec: &'a OpenAPI, schema: &'a ReferenceOr<Schema>) -> Result<&'a Schema> {
    match schema {
        ReferenceOr::Item(schema) => Ok(schema),
        ReferenceOr::Reference { reference } => {
            let name = reference
                .strip_prefix("#/components/schemas/")
                .with_context(|| format!("unsupported reference {reference}"))?;
            spec.components
                .as_ref()
                .and_then(|c| c.schemas.get(name))
                .and_then(ReferenceOr::as_item)
                .with_context(|| format!("schema {name} is missing or not inline"))
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
