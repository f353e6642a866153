//! Spec → generated client crate and bundled JSON spec.
//!
//! The pipeline is `serde_yaml` → `openapiv3::OpenAPI` → progenitor (builder interface) →
//! `syn` → open enums ([`crate::open_enums`]) → `prettyplease` → `rustfmt`, so the output is byte-for-byte what `cargo fmt` would
//! leave alone. Every output is computed in memory; [`Mode`] only decides whether the results
//! are written or compared with what is committed.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{Context as _, Result, anyhow, bail};
use progenitor::{GenerationSettings, Generator, HooksMode, InterfaceStyle, TagStyle, TypeImpl};
use sha2::{Digest as _, Sha256};

/// The spec, relative to the workspace root.
pub const SPEC_PATH: &str = "openapi/pearsana-partner.yaml";
/// The bundled JSON form of the spec, published next to the YAML source.
pub const SPEC_JSON_PATH: &str = "openapi/pearsana-partner.json";
/// The generated module of the client crate.
pub const GENERATED_PATH: &str = "crates/pearsana-api/src/generated.rs";
/// Constants taken from the spec (servers, scopes, operations, limits).
pub const CONSTANTS_PATH: &str = "crates/pearsana-api/src/spec.rs";
/// The copies of the spec that the sandbox serves: a published crate cannot include files from
/// outside its own directory.
pub const SANDBOX_SPEC_YAML_PATH: &str = "crates/pearsana-sandbox/assets/pearsana-partner.yaml";
/// The JSON copy the sandbox serves.
pub const SANDBOX_SPEC_JSON_PATH: &str = "crates/pearsana-sandbox/assets/pearsana-partner.json";

/// What to do with the regenerated outputs.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Write every output that differs from the file on disk.
    Write,
    /// Compare only; print a unified diff for each difference and fail if there is one.
    Check,
}

/// One file the generator owns.
struct Output {
    path: &'static str,
    contents: String,
}

/// The workspace root (the parent of this crate's directory).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives one level below the workspace root")
        .to_path_buf()
}

/// Regenerates all outputs of the workspace and writes or checks them.
pub fn run(mode: Mode) -> Result<()> {
    run_in(&workspace_root(), mode)
}

/// Regenerates all outputs of the tree at `root` and writes or checks them.
fn run_in(root: &Path, mode: Mode) -> Result<()> {
    let outputs = generate(root)?;
    let mut drifted = Vec::new();
    for output in &outputs {
        let path = root.join(output.path);
        let current = match std::fs::read_to_string(&path) {
            Ok(text) => Some(text),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => None,
            Err(error) => return Err(error).with_context(|| format!("reading {}", output.path)),
        };
        if current.as_deref() == Some(output.contents.as_str()) {
            continue;
        }
        match mode {
            Mode::Write => {
                std::fs::write(&path, &output.contents)
                    .with_context(|| format!("writing {}", output.path))?;
                println!("wrote {}", output.path);
            }
            Mode::Check => {
                print_diff(
                    output.path,
                    current.as_deref().unwrap_or(""),
                    &output.contents,
                );
                drifted.push(output.path);
            }
        }
    }
    if !drifted.is_empty() {
        bail!(
            "{} out of date with {SPEC_PATH}: run `cargo xtask codegen` and commit the result",
            drifted.join(", ")
        );
    }
    // The rendered reference needs Node to rebuild, so the check only compares its stamp; a
    // write rebuilds it when the spec changed (`cargo xtask docs --check` compares in full).
    if let Err(stale) = crate::docs::check_stamp(root) {
        match mode {
            Mode::Check => return Err(stale),
            Mode::Write => crate::docs::run_in(root, Mode::Write)?,
        }
    }
    if mode == Mode::Check {
        println!("generated files match {SPEC_PATH}");
    }
    Ok(())
}

fn print_diff(path: &str, current: &str, expected: &str) {
    let diff = similar::TextDiff::from_lines(current, expected);
    print!(
        "{}",
        diff.unified_diff().context_radius(3).header(
            &format!("a/{path} (committed)"),
            &format!("b/{path} (from spec)")
        )
    );
}

/// Computes every output from the spec on disk.
fn generate(root: &Path) -> Result<Vec<Output>> {
    let written = std::fs::read_to_string(root.join(SPEC_PATH))
        .with_context(|| format!("reading {SPEC_PATH}"))?;
    // The spec as committed carries the code samples of openapi/code-samples/.
    let source = crate::samples::inject(root, &written)?;
    let spec = parse_spec(&source)?;
    let digest = hex(&Sha256::digest(source.as_bytes()));
    let json = bundle_json(&source)?;
    Ok(vec![
        Output {
            path: SPEC_PATH,
            contents: source.clone(),
        },
        Output {
            path: GENERATED_PATH,
            contents: generate_client(&spec, &digest)?,
        },
        Output {
            path: CONSTANTS_PATH,
            contents: with_header(&rustfmt(&crate::constants::render(&spec)?)?, &digest),
        },
        Output {
            path: SPEC_JSON_PATH,
            contents: json.clone(),
        },
        Output {
            path: SANDBOX_SPEC_YAML_PATH,
            contents: source.clone(),
        },
        Output {
            path: SANDBOX_SPEC_JSON_PATH,
            contents: json,
        },
    ])
}

/// Parses the YAML spec, naming the file, line and column of the first problem.
pub(crate) fn parse_spec(source: &str) -> Result<openapiv3::OpenAPI> {
    serde_yaml::from_str(source).map_err(|error| match error.location() {
        Some(at) => anyhow!("{SPEC_PATH}:{}:{}: {error}", at.line(), at.column()),
        None => anyhow!("{SPEC_PATH}: {error}"),
    })
}

/// Progenitor settings: the builder interface, schemars derives for the schema agreement
/// tests, and the `hooks::Hooks` inner type through which the handwritten SDK adds
/// authentication, versioning and retries without touching generated code.
fn settings() -> GenerationSettings {
    let mut settings = GenerationSettings::new();
    settings
        .with_interface(InterfaceStyle::Builder)
        .with_tag(TagStyle::Merged)
        .with_derive("schemars::JsonSchema")
        .with_derive("PartialEq")
        // An API version is a date: the spec states it as a string with a date pattern (what
        // every generator can read; some refuse `format: date` in a header), and Rust callers
        // keep passing a `chrono::NaiveDate`.
        .with_replacement(
            "ApiVersionDate",
            "::chrono::naive::NaiveDate",
            [TypeImpl::Display, TypeImpl::FromStr].into_iter(),
        )
        .with_inner_type(quote::quote!(crate::hooks::Hooks))
        .with_hooks(HooksMode::Expected)
        .with_timeout(30);
    settings
}

pub(crate) fn generate_client(spec: &openapiv3::OpenAPI, digest: &str) -> Result<String> {
    // Value sets the spec declares open (`x-extensible-enum`) get a named enum schema, in
    // this in-memory copy only: the committed spec and the other outputs keep them as written.
    let mut spec = spec.clone();
    let open = crate::open_enums::name_extensible_enums(&mut spec)
        .with_context(|| format!("{SPEC_PATH}: open enums"))?;
    let spec = &spec;
    let mut settings = settings();
    for schema in crate::bounds::plain_strings(spec) {
        settings.with_conversion(
            schema,
            "::std::string::String",
            [TypeImpl::FromStr, TypeImpl::Display, TypeImpl::Default].into_iter(),
        );
    }
    for schema in crate::bounds::unsigned_integers(spec) {
        settings.with_conversion(
            schema,
            "u64",
            [TypeImpl::FromStr, TypeImpl::Display, TypeImpl::Default].into_iter(),
        );
    }
    // progenitor asserts on layouts it cannot express; report those as errors instead of
    // letting the panic message scroll past as a crash.
    let previous_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let tokens = std::panic::catch_unwind(|| Generator::new(&settings).generate_tokens(spec));
    std::panic::set_hook(previous_hook);
    let tokens = match tokens {
        Ok(Ok(tokens)) => tokens,
        Ok(Err(error)) => bail!("progenitor could not generate a client from {SPEC_PATH}: {error}"),
        Err(panic) => {
            let reason = panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_else(|| "unknown panic".to_string());
            bail!(
                "progenitor panicked on {SPEC_PATH}: {reason} (see TOOLCHAIN notes: every error \
                 response of an operation must share one schema)"
            )
        }
    };
    let mut file: syn::File = syn::parse2(tokens).context("progenitor produced invalid Rust")?;
    crate::open_enums::OpenEnums { open }.apply(&mut file)?;
    crate::builders::borrow_builder_errors(&mut file)?;
    // Any object type can grow (requests and responses): other crates build them with
    // builders or serde, and read their fields.
    crate::open_enums::mark_non_exhaustive(&mut file);
    syn::visit_mut::VisitMut::visit_file_mut(&mut LineDocs, &mut file);
    Ok(with_header(
        &rustfmt(&prettyplease::unparse(&file))?,
        digest,
    ))
}

/// Splits every multi-line `#[doc = "..."]` into one attribute per line.
///
/// prettyplease prints a multi-line doc attribute as a `/** ... */` block, and rustfmt then
/// indents the block's continuation lines with the item, so rustdoc reads a description's
/// second paragraph as an indented code block (and runs it as a doc test). One attribute per
/// line prints as `///` comments, whose text rustfmt leaves alone. The documentation text is
/// unchanged.
struct LineDocs;

impl LineDocs {
    fn split(attrs: &mut Vec<syn::Attribute>) {
        if !attrs.iter().any(|a| multi_line_doc(a).is_some()) {
            return;
        }
        let mut out = Vec::with_capacity(attrs.len());
        for attr in attrs.drain(..) {
            match multi_line_doc(&attr) {
                Some(text) => {
                    for line in text.lines() {
                        let line = if line.is_empty() {
                            String::new()
                        } else {
                            format!(" {line}")
                        };
                        out.push(syn::parse_quote!(#[doc = #line]));
                    }
                }
                None => out.push(attr),
            }
        }
        *attrs = out;
    }
}

/// The text of a `#[doc = "..."]` attribute that spans several lines.
fn multi_line_doc(attr: &syn::Attribute) -> Option<String> {
    let syn::Meta::NameValue(meta) = &attr.meta else {
        return None;
    };
    if !meta.path.is_ident("doc") {
        return None;
    }
    match &meta.value {
        syn::Expr::Lit(syn::ExprLit {
            lit: syn::Lit::Str(text),
            ..
        }) if text.value().contains('\n') => Some(text.value()),
        _ => None,
    }
}

macro_rules! split_docs_of {
    ($($visit:ident: $node:ty),* $(,)?) => {
        impl syn::visit_mut::VisitMut for LineDocs {
            $(
                fn $visit(&mut self, node: &mut $node) {
                    LineDocs::split(&mut node.attrs);
                    syn::visit_mut::$visit(self, node);
                }
            )*
        }
    };
}

split_docs_of!(
    visit_item_struct_mut: syn::ItemStruct,
    visit_item_enum_mut: syn::ItemEnum,
    visit_item_fn_mut: syn::ItemFn,
    visit_item_impl_mut: syn::ItemImpl,
    visit_item_mod_mut: syn::ItemMod,
    visit_item_const_mut: syn::ItemConst,
    visit_item_type_mut: syn::ItemType,
    visit_item_trait_mut: syn::ItemTrait,
    visit_impl_item_fn_mut: syn::ImplItemFn,
    visit_trait_item_fn_mut: syn::TraitItemFn,
    visit_field_mut: syn::Field,
    visit_variant_mut: syn::Variant,
);

/// Prefixes the "generated, do not edit" header naming the spec and its content hash.
fn with_header(body: &str, digest: &str) -> String {
    format!(
        "// @generated by `cargo xtask codegen` from {SPEC_PATH}\n\
         // (sha256 {digest}). Do not edit: change the spec or xtask and regenerate.\n\n{body}"
    )
}

/// Formats Rust source exactly as `cargo fmt` would for this workspace. rustfmt is not always
/// idempotent on the block doc comments prettyplease writes (a second pass can re-indent a
/// closing `*/`), so it runs until the text stops changing; `cargo fmt --check` then agrees.
fn rustfmt(source: &str) -> Result<String> {
    let mut current = rustfmt_once(source)?;
    for _ in 0..4 {
        let next = rustfmt_once(&current)?;
        if next == current {
            return Ok(current);
        }
        current = next;
    }
    bail!("rustfmt did not reach a fixed point on the generated code")
}

fn rustfmt_once(source: &str) -> Result<String> {
    let mut child = Command::new("rustfmt")
        .args(["--edition", "2024", "--emit", "stdout", "--quiet"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .context("running rustfmt (install it with `rustup component add rustfmt`)")?;
    child
        .stdin
        .take()
        .expect("stdin is piped")
        .write_all(source.as_bytes())
        .context("writing to rustfmt")?;
    let output = child.wait_with_output().context("waiting for rustfmt")?;
    if !output.status.success() {
        bail!(
            "rustfmt failed on the generated code: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    String::from_utf8(output.stdout).context("rustfmt printed invalid UTF-8")
}

/// The spec as pretty-printed JSON, keys in source order, for tools that want JSON.
fn bundle_json(source: &str) -> Result<String> {
    let value: serde_json::Value =
        serde_yaml::from_str(source).with_context(|| format!("{SPEC_PATH} as JSON"))?;
    let mut json = serde_json::to_string_pretty(&value)?;
    json.push('\n');
    Ok(json)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A scratch copy of the spec and every generated output.
    fn scratch_tree() -> tempfile::TempDir {
        let dir = tempfile::tempdir().expect("temp dir");
        let root = workspace_root();
        for path in [
            SPEC_PATH,
            SPEC_JSON_PATH,
            GENERATED_PATH,
            CONSTANTS_PATH,
            SANDBOX_SPEC_YAML_PATH,
            SANDBOX_SPEC_JSON_PATH,
            crate::docs::DOCS_PATH,
        ] {
            let to = dir.path().join(path);
            std::fs::create_dir_all(to.parent().unwrap()).unwrap();
            std::fs::copy(root.join(path), to).unwrap();
        }
        for sub in ["", "curl", "cli"] {
            let from = root.join(crate::samples::SAMPLES_DIR).join(sub);
            let to = dir.path().join(crate::samples::SAMPLES_DIR).join(sub);
            std::fs::create_dir_all(&to).unwrap();
            for entry in std::fs::read_dir(from).unwrap() {
                let entry = entry.unwrap();
                if entry.file_type().unwrap().is_file() {
                    std::fs::copy(entry.path(), to.join(entry.file_name())).unwrap();
                }
            }
        }
        dir
    }

    #[test]
    fn committed_outputs_match_and_generation_is_deterministic() {
        let tree = scratch_tree();
        run_in(tree.path(), Mode::Check).expect("committed files match the spec");
        let first = generate(tree.path()).unwrap();
        let second = generate(tree.path()).unwrap();
        for (a, b) in first.iter().zip(&second) {
            assert_eq!(
                a.contents, b.contents,
                "{} differs between two runs",
                a.path
            );
        }
    }

    #[test]
    fn check_fails_on_a_hand_edit_and_write_repairs_it() {
        let tree = scratch_tree();
        let generated = tree.path().join(GENERATED_PATH);
        let mut text = std::fs::read_to_string(&generated).unwrap();
        text.push_str("// a hand edit\n");
        std::fs::write(&generated, &text).unwrap();
        let error = run_in(tree.path(), Mode::Check).unwrap_err().to_string();
        assert!(error.contains(GENERATED_PATH), "{error}");
        run_in(tree.path(), Mode::Write).unwrap();
        run_in(tree.path(), Mode::Check).expect("write repaired the drift");
    }

    #[test]
    fn a_reference_page_of_another_spec_fails_the_check() {
        let tree = scratch_tree();
        let page = tree.path().join(crate::docs::DOCS_PATH);
        let text = std::fs::read_to_string(&page).unwrap();
        let stale = text.replace(
            "pearsana-spec-sha256\" content=\"",
            "pearsana-spec-sha256\" content=\"0",
        );
        assert_ne!(stale, text, "the page carries the spec's hash");
        std::fs::write(&page, stale).unwrap();
        let error = run_in(tree.path(), Mode::Check).unwrap_err().to_string();
        assert!(error.contains(crate::docs::DOCS_PATH), "{error}");
    }

    #[test]
    fn a_spec_edit_is_reported_as_drift() {
        let tree = scratch_tree();
        let spec = tree.path().join(SPEC_PATH);
        let text = std::fs::read_to_string(&spec).unwrap();
        std::fs::write(
            &spec,
            text.replace("summary: Create a user", "summary: Make a user"),
        )
        .unwrap();
        let error = run_in(tree.path(), Mode::Check).unwrap_err().to_string();
        assert!(error.contains(SPEC_JSON_PATH), "{error}");
    }

    #[test]
    fn parse_errors_name_the_file_line_and_reason() {
        let error = parse_spec("openapi: 3.0.3\ninfo:\n  title: [unclosed\n")
            .unwrap_err()
            .to_string();
        assert!(error.starts_with(&format!("{SPEC_PATH}:")), "{error}");
        let line: usize = error
            .split(':')
            .nth(1)
            .unwrap()
            .parse()
            .expect("a line number");
        assert!(line >= 3, "{error}");
        let missing = parse_spec("openapi: 3.0.3\n").unwrap_err().to_string();
        assert!(missing.contains("missing field"), "{missing}");
    }

    #[test]
    fn progenitor_panics_become_errors() {
        // Two error responses with different schemas make progenitor 0.15 panic.
        let spec = parse_spec(
            r##"
openapi: 3.0.3
info: {title: t, version: "1"}
paths:
  /x:
    get:
      operationId: getX
      responses:
        "200": {description: ok, content: {application/json: {schema: {type: string}}}}
        "400": {description: a, content: {application/json: {schema: {type: integer}}}}
        "500": {description: b, content: {application/json: {schema: {type: boolean}}}}
"##,
        )
        .unwrap();
        let error = generate_client(&spec, "0").unwrap_err().to_string();
        assert!(error.contains("progenitor"), "{error}");
    }
}
