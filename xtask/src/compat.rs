//! `cargo xtask partner-compat`: proves that partner code written the documented way (builders
//! for requests and for response values in tests, fields read by name, `..` in patterns, a
//! wildcard arm for open enums) keeps compiling when the API grows.
//!
//! It takes the spec, adds one optional property to a request schema (`CreateUserRequest`) and
//! one to a response schema (`CreateUserResponse`), generates the client from that grown spec
//! into a scratch copy of `pearsana-api` under `target/partner-compat/`, and runs
//! `cargo check --offline --all-targets` on a small partner crate (library and tests) against
//! it. As controls, the same check must fail for each way of depending on a type's field list:
//! a struct literal of the request, a struct literal of the response in a test, an exhaustive
//! pattern of the response. Each must fail on the `#[non_exhaustive]` the generator puts on
//! every generated struct, so that such code is refused today rather than broken by the next
//! API version; otherwise the check would prove nothing.

use std::path::Path;
use std::process::Command;

use anyhow::{Context as _, Result, bail};
use openapiv3::{ObjectType, OpenAPI, ReferenceOr, Schema, SchemaKind, StringType, Type};

use crate::codegen::{self, SPEC_PATH, workspace_root};

/// A schema that grows by one optional property in the later API version.
struct Growth {
    /// The component schema.
    schema: &'static str,
    /// The property it gets.
    property: &'static str,
    /// Its Rust field name.
    field: &'static str,
}

/// The request that grows.
const REQUEST: Growth = Growth {
    schema: "CreateUserRequest",
    property: "preferredLanguage",
    field: "preferred_language",
};

/// The response that grows.
const RESPONSE: Growth = Growth {
    schema: "CreateUserResponse",
    property: "welcomeUrl",
    field: "welcome_url",
};

/// Partner code written today: builders for requests, fields read by name (and patterns with
/// `..`), a wildcard arm for open enums, and a response value built with its builder in a
/// test, as a partner's fake of the API would.
const PARTNER_CODE: &str = r#"//! Partner-style code, written against the spec as it is today.
use pearsana_api::types;

pub fn new_user() -> Result<types::CreateUserRequest, types::error::ConversionError> {
    let reference: types::ExternalReference = types::ExternalReference::builder()
        .namespace("SIS")
        .external_id("STU-2024-001")
        .try_into()?;
    types::CreateUserRequest::builder()
        .identity(
            types::UserIdentity::builder()
                .email("jane.smith@example.com")
                .first_name("Jane")
                .last_name("Smith")
                .role_name("student"),
        )
        .external_references(vec![reference])
        .try_into()
}

pub fn describe(status: &types::InvitationStatus) -> String {
    match status {
        types::InvitationStatus::Pending => "waiting".to_owned(),
        types::InvitationStatus::Accepted => "done".to_owned(),
        other => format!("{other}"),
    }
}

pub fn created_id(created: &types::CreateUserResponse) -> &str {
    &created.user_id
}

pub fn summary(created: &types::CreateUserResponse) -> String {
    let types::CreateUserResponse {
        email,
        organisation_id,
        ..
    } = created;
    format!("{email} in {organisation_id}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn created() -> types::CreateUserResponse {
        types::CreateUserResponse::builder()
            .email("jane.smith@example.com")
            .organisation_id("org_1")
            .status(types::CreateUserResponseStatus::Created)
            .user_id("usr_1")
            .try_into()
            .expect("every required field is set")
    }

    #[test]
    fn reads_the_created_user() {
        let created = created();
        assert_eq!(created_id(&created), "usr_1");
        assert_eq!(summary(&created), "jane.smith@example.com in org_1");
        assert!(new_user().is_ok());
    }
}
"#;

/// Controls: code that depends on a type's field list, which adding a field must break. Each
/// names the growth it depends on.
const CONTROLS: &[(&str, &Growth, &str)] = &[
    (
        "a struct literal of the request",
        &REQUEST,
        r#"use pearsana_api::types;

pub fn new_user(reference: types::ExternalReference) -> types::CreateUserRequest {
    types::CreateUserRequest {
        identity: types::UserIdentity {
            email: "jane.smith@example.com".into(),
            first_name: "Jane".into(),
            last_name: "Smith".into(),
            role_name: "student".into(),
        },
        external_references: vec![reference].into(),
        profile: None,
    }
}
"#,
    ),
    (
        "a struct literal of the response in a test",
        &RESPONSE,
        r#"#[cfg(test)]
mod tests {
    use pearsana_api::types;

    #[test]
    fn fake_answer() {
        let created = types::CreateUserResponse {
            email: "jane.smith@example.com".into(),
            organisation_id: "org_1".into(),
            status: types::CreateUserResponseStatus::Created,
            user_id: "usr_1".into(),
        };
        assert_eq!(created.user_id, "usr_1");
    }
}
"#,
    ),
    (
        "an exhaustive pattern of the response",
        &RESPONSE,
        r#"use pearsana_api::types;

pub fn summary(created: &types::CreateUserResponse) -> String {
    let types::CreateUserResponse {
        email,
        organisation_id,
        status,
        user_id,
    } = created;
    format!("{user_id}: {email} in {organisation_id} ({status})")
}
"#,
    ),
];

/// Runs the check; the scratch tree stays in `target/partner-compat/` for inspection.
pub fn run() -> Result<()> {
    let root = workspace_root();
    let scratch = root.join("target/partner-compat");
    let source = std::fs::read_to_string(root.join(SPEC_PATH))?;
    let mut spec = codegen::parse_spec(&source)?;
    let generated = grow(&mut spec)?;
    write_scratch(&root, &scratch, &generated)?;

    let partner = scratch.join("partner/src/lib.rs");
    for (what, growth, code) in CONTROLS {
        std::fs::write(&partner, code)?;
        let (ok, output) = cargo_check(&scratch)?;
        // It must fail on `#[non_exhaustive]`, which the generator puts on every generated
        // struct: partner code cannot depend on a field list even before the list grows (a
        // failure only on the missing new field would be the break this check guards against).
        if ok || !output.contains("non-exhaustive") {
            bail!(
                "control failed: {what} ({}) should not compile against the grown spec, but \
                 cargo check said:\n{output}",
                growth.schema
            );
        }
        println!(
            "control: {what} ({}) does not compile, as expected",
            growth.schema
        );
    }

    std::fs::write(&partner, PARTNER_CODE)?;
    let (ok, output) = cargo_check(&scratch)?;
    if !ok {
        bail!(
            "partner code written with builders no longer compiles against a spec with one \
             more optional property in a request and in a response:\n{output}"
        );
    }
    println!(
        "partner code (builders, fields read by name, wildcard arms, a response built in a \
         test) compiles against the spec with {}.{} and {}.{} added",
        REQUEST.schema, REQUEST.property, RESPONSE.schema, RESPONSE.property
    );
    Ok(())
}

/// Adds the optional properties of [`REQUEST`] and [`RESPONSE`] to `spec` and generates the
/// client from it, checking that each became a field.
fn grow(spec: &mut OpenAPI) -> Result<String> {
    for growth in [&REQUEST, &RESPONSE] {
        add_optional_property(spec, growth.schema, growth.property)?;
    }
    let generated = codegen::generate_client(spec, "grown spec for partner-compat")?;
    for growth in [&REQUEST, &RESPONSE] {
        if !generated.contains(&format!("pub {}:", growth.field)) {
            bail!(
                "the grown spec did not add `{}` to the generated {}",
                growth.field,
                growth.schema
            );
        }
    }
    Ok(generated)
}

/// Adds an optional string property to the component schema `schema`.
fn add_optional_property(spec: &mut OpenAPI, schema: &str, property: &str) -> Result<()> {
    let Some(ReferenceOr::Item(Schema {
        schema_kind: SchemaKind::Type(Type::Object(ObjectType { properties, .. })),
        ..
    })) = spec
        .components
        .as_mut()
        .and_then(|c| c.schemas.get_mut(schema))
    else {
        bail!("{SPEC_PATH}: {schema} is not an object schema");
    };
    if properties.contains_key(property) {
        bail!("{SPEC_PATH}: {schema} already has {property}");
    }
    let mut added = Schema {
        schema_data: Default::default(),
        schema_kind: SchemaKind::Type(Type::String(StringType::default())),
    };
    added.schema_data.description = Some("A field a later API version adds.".to_owned());
    properties.insert(property.to_owned(), ReferenceOr::Item(Box::new(added)));
    Ok(())
}

/// A workspace with a copy of `pearsana-api` (its generated code from the grown spec) and an
/// empty partner crate, sharing the real workspace's lock file and dependency settings.
fn write_scratch(root: &Path, scratch: &Path, generated: &str) -> Result<()> {
    let api = scratch.join("api");
    std::fs::create_dir_all(api.join("src"))?;
    std::fs::create_dir_all(scratch.join("partner/src"))?;
    let manifest = std::fs::read_to_string(root.join("Cargo.toml"))?;
    let mut out = String::new();
    for line in manifest.lines() {
        if line.starts_with("members") {
            out.push_str("members = [\"api\", \"partner\"]\n");
        } else if line.starts_with("default-members") {
            continue;
        } else if line.contains("path = \"crates/pearsana-api\"") {
            out.push_str(&line.replace("crates/pearsana-api", "api"));
            out.push('\n');
        } else if line.contains("path = \"crates/") {
            continue;
        } else {
            out.push_str(line);
            out.push('\n');
        }
    }
    std::fs::write(scratch.join("Cargo.toml"), out)?;
    std::fs::copy(root.join("Cargo.lock"), scratch.join("Cargo.lock"))?;
    let crate_dir = root.join("crates/pearsana-api");
    for file in ["Cargo.toml", "README.md"] {
        std::fs::copy(crate_dir.join(file), api.join(file))?;
    }
    for entry in std::fs::read_dir(crate_dir.join("src"))? {
        let entry = entry?;
        std::fs::copy(entry.path(), api.join("src").join(entry.file_name()))?;
    }
    std::fs::write(api.join("src/generated.rs"), generated)?;
    std::fs::write(
        scratch.join("partner/Cargo.toml"),
        "[package]\nname = \"partner\"\nversion = \"0.0.0\"\nedition = \"2024\"\npublish = false\n\n\
         [dependencies]\npearsana-api.workspace = true\n",
    )?;
    Ok(())
}

/// `cargo check --offline --all-targets -p partner` (library and tests) in the scratch
/// workspace: success and the output.
fn cargo_check(scratch: &Path) -> Result<(bool, String)> {
    let output = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned()))
        .args([
            "check",
            "--offline",
            "--quiet",
            "--all-targets",
            "-p",
            "partner",
            "--manifest-path",
        ])
        .arg(scratch.join("Cargo.toml"))
        .env("CARGO_TARGET_DIR", scratch.join("target"))
        .env("CARGO_TERM_COLOR", "never")
        .output()
        .context("running cargo check on the scratch workspace")?;
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    Ok((output.status.success(), text))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_grown_spec_adds_one_optional_field_to_the_request_and_the_response() {
        let root = workspace_root();
        let source = std::fs::read_to_string(root.join(SPEC_PATH)).unwrap();
        let mut spec = codegen::parse_spec(&source).unwrap();
        let generated = grow(&mut spec).unwrap();
        let file = syn::parse_file(&generated).unwrap();
        for growth in [&REQUEST, &RESPONSE] {
            let item = grown_struct(&file, growth.schema);
            let field = item
                .fields
                .iter()
                .find(|f| f.ident.as_ref().is_some_and(|i| i == growth.field))
                .unwrap_or_else(|| panic!("{}: no field {}", growth.schema, growth.field));
            let ty = &field.ty;
            assert_eq!(
                quote::quote!(#ty).to_string().replace(' ', ""),
                "::std::option::Option<::std::string::String>",
                "{}: the new property is an optional field",
                growth.schema
            );
            // What makes the controls fail before the growth already.
            assert!(
                item.attrs
                    .iter()
                    .any(|a| a.path().is_ident("non_exhaustive")),
                "{} is not #[non_exhaustive]",
                growth.schema
            );
        }
        // Twice is refused: the check must really grow the schemas.
        let error = grow(&mut spec).unwrap_err();
        assert!(error.to_string().contains("already has"), "{error}");
    }

    #[test]
    fn each_control_uses_the_fields_of_todays_type() {
        // The controls list exactly today's fields; a control that already fails to compile
        // against today's spec for another reason would prove nothing. Checked here for the
        // field names (the compile itself is `cargo xtask partner-compat`).
        let root = workspace_root();
        let source = std::fs::read_to_string(root.join(SPEC_PATH)).unwrap();
        let spec = codegen::parse_spec(&source).unwrap();
        let generated = codegen::generate_client(&spec, "test").unwrap();
        let file = syn::parse_file(&generated).unwrap();
        for (what, growth, code) in CONTROLS {
            let item = grown_struct(&file, growth.schema);
            for field in &item.fields {
                let name = field.ident.as_ref().unwrap().to_string();
                assert!(code.contains(name.as_str()), "{what}: misses {name}");
            }
            assert!(!code.contains(growth.field), "{what}");
        }
        assert!(PARTNER_CODE.contains(&format!("types::{}::builder()", RESPONSE.schema)));
    }

    fn grown_struct<'a>(file: &'a syn::File, name: &str) -> &'a syn::ItemStruct {
        file.items
            .iter()
            .filter_map(|item| match item {
                syn::Item::Mod(module) if module.ident == "types" => module.content.as_ref(),
                _ => None,
            })
            .flat_map(|(_, items)| items)
            .find_map(|item| match item {
                syn::Item::Struct(item) if item.ident == name => Some(item),
                _ => None,
            })
            .unwrap_or_else(|| panic!("no struct {name} in types"))
    }
}
