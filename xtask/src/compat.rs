//! `cargo xtask partner-compat`: proves that partner code written the documented way (builders
//! for requests, a wildcard arm for open enums) keeps compiling when the API grows.
//!
//! It takes the spec, adds one optional property to `CreateUserRequest`, generates the client
//! from that grown spec into a scratch copy of `pearsana-api` under
//! `target/partner-compat/`, and runs `cargo check --offline` on a small partner crate against
//! it. As a control, the same check with a struct literal of the request must fail (on the new
//! field, or on the `#[non_exhaustive]` the generator puts on request types): otherwise the
//! check would prove nothing.

use std::path::Path;
use std::process::Command;

use anyhow::{Context as _, Result, bail};
use openapiv3::{ObjectType, OpenAPI, ReferenceOr, Schema, SchemaKind, StringType, Type};

use crate::codegen::{self, SPEC_PATH, workspace_root};

/// The schema that grows and the property it gets.
const GROWN_SCHEMA: &str = "CreateUserRequest";
const NEW_PROPERTY: &str = "preferredLanguage";
/// The Rust name of [`NEW_PROPERTY`], which the struct-literal control must be told is missing.
const NEW_FIELD: &str = "preferred_language";

/// Partner code written today: builders for requests, a wildcard arm for open enums, fields
/// read by name.
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
"#;

/// The same request as a struct literal: what adding a field breaks.
const LITERAL_CODE: &str = r#"use pearsana_api::types;

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
"#;

/// Runs the check; the scratch tree stays in `target/partner-compat/` for inspection.
pub fn run() -> Result<()> {
    let root = workspace_root();
    let scratch = root.join("target/partner-compat");
    let source = std::fs::read_to_string(root.join(SPEC_PATH))?;
    let mut spec = codegen::parse_spec(&source)?;
    add_optional_property(&mut spec, GROWN_SCHEMA, NEW_PROPERTY)?;
    let generated = codegen::generate_client(&spec, "grown spec for partner-compat")?;
    if !generated.contains(&format!("pub {NEW_FIELD}:")) {
        bail!("the grown spec did not add `{NEW_FIELD}` to the generated {GROWN_SCHEMA}");
    }
    write_scratch(&root, &scratch, &generated)?;

    let partner = scratch.join("partner/src/lib.rs");
    std::fs::write(&partner, LITERAL_CODE)?;
    let (ok, output) = cargo_check(&scratch)?;
    // The literal fails on the missing new field, or already on `#[non_exhaustive]`, which
    // the generator puts on request types so that partners never write one.
    if ok || !(output.contains(NEW_FIELD) || output.contains("non-exhaustive")) {
        bail!(
            "control failed: a struct literal of {GROWN_SCHEMA} should not compile against \
             the grown spec, but cargo check said:\n{output}"
        );
    }
    println!("control: a struct literal of {GROWN_SCHEMA} does not compile, as expected");

    std::fs::write(&partner, PARTNER_CODE)?;
    let (ok, output) = cargo_check(&scratch)?;
    if !ok {
        bail!(
            "partner code written with builders no longer compiles against a spec with one \
             more optional property:\n{output}"
        );
    }
    println!(
        "partner code with builders and wildcard arms compiles against the spec with \
         {GROWN_SCHEMA}.{NEW_PROPERTY} added"
    );
    Ok(())
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

/// `cargo check --offline -p partner` in the scratch workspace: success and the output.
fn cargo_check(scratch: &Path) -> Result<(bool, String)> {
    let output = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned()))
        .args([
            "check",
            "--offline",
            "--quiet",
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
    fn the_grown_spec_adds_one_optional_field_to_the_generated_request() {
        let root = workspace_root();
        let source = std::fs::read_to_string(root.join(SPEC_PATH)).unwrap();
        let mut spec = codegen::parse_spec(&source).unwrap();
        add_optional_property(&mut spec, GROWN_SCHEMA, NEW_PROPERTY).unwrap();
        let generated = codegen::generate_client(&spec, "test").unwrap();
        assert!(
            generated.contains(&format!(
                "pub {NEW_FIELD}: ::std::option::Option<::std::string::String>"
            )),
            "the new property is an optional field"
        );
        // Twice is refused: the check must really grow the schema.
        let error = add_optional_property(&mut spec, GROWN_SCHEMA, NEW_PROPERTY).unwrap_err();
        assert!(error.to_string().contains("already has"), "{error}");
    }
}
