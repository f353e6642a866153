//! Client-side checks of request bodies, run before any I/O.
//!
//! Each function returns a [`ValidationError`] listing every problem found (empty when the
//! request is fine), with field paths as the API names them (`identity.email`,
//! `items[2].itemId`). The rules are the documented ones; the server still has the last word.

use std::collections::HashSet;

use base64::Engine as _;
use pearsana_api::spec::{
    BATCH_MAX_ITEMS, BATCH_MIN_ITEMS, MAX_DOCUMENT_BYTES, check_request_bounds, request_bound,
};
use pearsana_api::types::{self, VerificationIntent};

use crate::error::ValidationError;

/// Checks a `POST /v1/users` body.
///
/// ```
/// use pearsana::{types, validate};
///
/// let request: types::CreateUserRequest = serde_json::from_value(serde_json::json!({
///     "identity": {"email": "not-an-email", "firstName": "", "lastName": "Smith", "roleName": "student"},
///     "externalReferences": [{"namespace": "SIS", "externalId": "1"}, {"namespace": "sis", "externalId": "2"}]
/// })).unwrap();
/// let problems = validate::create_user(&request);
/// assert!(problems.mentions("identity.email"));
/// assert!(problems.mentions("identity.firstName"));
/// assert!(problems.mentions("externalReferences[1].namespace"));
/// ```
pub fn create_user(request: &types::CreateUserRequest) -> ValidationError {
    let mut problems = ValidationError::default();
    email(&mut problems, "identity.email", &request.identity.email);
    required(
        &mut problems,
        "identity.firstName",
        &request.identity.first_name,
    );
    required(
        &mut problems,
        "identity.lastName",
        &request.identity.last_name,
    );
    required(
        &mut problems,
        "identity.roleName",
        &request.identity.role_name,
    );
    external_references(
        &mut problems,
        "externalReferences",
        &request.external_references,
    );
    if let Some(profile) = &request.profile {
        profile_fields(&mut problems, profile);
    }
    bounds(&mut problems, request);
    problems
}

/// The optional profile strings, for control characters.
fn profile_fields(problems: &mut ValidationError, profile: &types::UserProfile) {
    let mut optional = |field: &str, value: &Option<String>| {
        if let Some(value) = value {
            no_control(problems, field, value, false);
        }
    };
    optional("profile.preferredName", &profile.preferred_name);
    optional("profile.phone", &profile.phone);
    optional("profile.currency", &profile.currency);
    if let Some(a) = &profile.address {
        for (field, value) in [
            ("profile.address.line1", &a.line1),
            ("profile.address.line2", &a.line2),
            ("profile.address.line3", &a.line3),
            ("profile.address.city", &a.city),
            ("profile.address.state", &a.state),
            ("profile.address.zip", &a.zip),
            ("profile.address.country", &a.country),
            ("profile.address.citizenship", &a.citizenship),
        ] {
            optional(field, value);
        }
    }
}

/// Checks a `POST /v1/invitations` body.
pub fn create_invitation(request: &types::CreateInvitationRequest) -> ValidationError {
    let mut problems = ValidationError::default();
    email(&mut problems, "email", &request.email);
    required(
        &mut problems,
        "identity.firstName",
        &request.identity.first_name,
    );
    required(
        &mut problems,
        "identity.lastName",
        &request.identity.last_name,
    );
    external_references(
        &mut problems,
        "externalReferences",
        &request.external_references,
    );
    for (i, role) in request.roles.iter().enumerate() {
        required(&mut problems, Indexed("roles", i, ""), role);
    }
    if let Some(message) = &request.message {
        no_control(&mut problems, "message", message, true);
    }
    bounds(&mut problems, request);
    problems
}

/// Checks a `POST /v1/documents:submit` body.
pub fn submit_document(request: &types::SubmitDocumentRequest) -> ValidationError {
    let mut problems = ValidationError::default();
    document(
        &mut problems,
        "",
        DocumentFields {
            external_reference: &request.external_reference,
            document_type: request.document_type.as_str(),
            file: &request.file,
            intent: request.verification_intent.as_ref(),
            attestation_reference_id: request.attestation_reference_id.as_deref(),
            filename: request.filename.as_deref(),
            verification_metadata: &request.verification_metadata,
        },
    );
    problems
}

/// Checks a `POST /v1/documents:submitBatch` body: 1 to 25 items, unique `itemId`s, and
/// every item as for a single submission.
pub fn submit_document_batch(request: &types::SubmitDocumentBatchRequest) -> ValidationError {
    let mut problems = ValidationError::default();
    let count = request.items.len();
    if !(BATCH_MIN_ITEMS..=BATCH_MAX_ITEMS).contains(&count) {
        problems.push(
            "items",
            format!("must hold {BATCH_MIN_ITEMS} to {BATCH_MAX_ITEMS} items, not {count}"),
        );
    }
    batch_items(&mut problems, &request.items);
    problems
}

/// Checks items for [`Client::submit_documents`](crate::Client::submit_documents): each item,
/// and `itemId`s unique across all of them (any number of items).
pub(crate) fn batch_items(
    problems: &mut ValidationError,
    items: &[types::SubmitDocumentBatchItem],
) {
    let mut seen = HashSet::new();
    for (i, item) in items.iter().enumerate() {
        let prefix = format!("items[{i}].");
        let item_id: &str = &item.item_id;
        if item_id.trim().is_empty() {
            problems.push(format!("{prefix}itemId"), "is required");
        } else if !seen.insert(item_id) {
            problems.push(
                format!("{prefix}itemId"),
                format!("`{item_id}` appears more than once"),
            );
        }
        document(
            problems,
            &prefix,
            DocumentFields {
                external_reference: &item.external_reference,
                document_type: item.document_type.as_str(),
                file: &item.file,
                intent: item.verification_intent.as_ref(),
                attestation_reference_id: item.attestation_reference_id.as_deref(),
                filename: item.filename.as_deref(),
                verification_metadata: &item.verification_metadata,
            },
        );
        let path = format!("{prefix}partnerReferenceId");
        bounded_string(problems, &path, item.partner_reference_id.as_deref());
        let path = format!("{prefix}metadata");
        bounded_members(problems, &path, item.metadata.len());
        for (key, value) in &item.metadata {
            let bound = request_bound(&format!("{path}.*")).and_then(|b| b.max_length);
            if let Some(max) = bound
                && value.chars().count() > max
            {
                problems.push(
                    format!("{path}.{key}"),
                    format!("must be at most {max} characters"),
                );
            }
        }
    }
}

struct DocumentFields<'a> {
    external_reference: &'a types::ExternalReference,
    document_type: &'a str,
    file: &'a str,
    intent: Option<&'a VerificationIntent>,
    attestation_reference_id: Option<&'a str>,
    filename: Option<&'a str>,
    verification_metadata: &'a serde_json::Map<String, serde_json::Value>,
}

/// Adds every value of a small request (no base64 file) that is over a bound of the spec
/// ([`pearsana_api::spec::REQUEST_BOUNDS`], the same table the sandbox enforces).
fn bounds<T: serde::Serialize>(problems: &mut ValidationError, request: &T) {
    let mut excess = Vec::new();
    // Walks the typed body: nothing is allocated unless a value is over its bound.
    if pearsana_api::bounds::check_bounds(request, &mut excess).is_err() {
        // A shape the walker does not follow (an array or object inside a free-form map): the
        // JSON form is checked instead. Serialising a generated request type to JSON cannot
        // fail (string keys, no custom serialisers); if it ever did, the server would still
        // check the bounds.
        let Ok(value) = serde_json::to_value(request) else {
            return;
        };
        check_request_bounds("", &value, &mut excess);
    }
    for excess in excess {
        problems.push(excess.path, excess.problem);
    }
}

/// A string field of a document request over its `maxLength`. Documents are checked field by
/// field rather than through [`bounds`], which would copy the base64 file.
fn bounded_string(problems: &mut ValidationError, path: &str, value: Option<&str>) {
    let max = request_bound(path).and_then(|b| b.max_length);
    if let (Some(max), Some(value)) = (max, value)
        && value.chars().count() > max
    {
        problems.push(path, format!("must be at most {max} characters"));
    }
}

/// A map field of a document request over its `maxProperties`.
fn bounded_members(problems: &mut ValidationError, path: &str, members: usize) {
    if let Some(max) = request_bound(path).and_then(|b| b.max_properties)
        && members > max
    {
        problems.push(path, format!("must have at most {max} properties"));
    }
}

fn document(problems: &mut ValidationError, prefix: &str, fields: DocumentFields<'_>) {
    external_reference(
        problems,
        &format!("{prefix}externalReference"),
        fields.external_reference,
    );
    required(
        problems,
        &format!("{prefix}documentType"),
        fields.document_type,
    );
    if let Some(message) = file_problem(fields.file) {
        problems.push(format!("{prefix}file"), message);
    }
    if let Some(filename) = fields.filename {
        no_control(problems, &format!("{prefix}filename"), filename, false);
    }
    bounded_string(problems, &format!("{prefix}filename"), fields.filename);
    bounded_string(
        problems,
        &format!("{prefix}attestationReferenceId"),
        fields.attestation_reference_id,
    );
    bounded_members(
        problems,
        &format!("{prefix}verificationMetadata"),
        fields.verification_metadata.len(),
    );
    if let Some(reference) = fields.attestation_reference_id {
        let field = format!("{prefix}attestationReferenceId");
        if fields.intent != Some(&VerificationIntent::Attest) {
            problems.push(field, "is only allowed when verificationIntent is `attest`");
        } else if reference.trim().is_empty() {
            problems.push(field, "must not be empty");
        } else {
            no_control(problems, &field, reference, false);
        }
    }
}

/// Why a base64 `file` value is unacceptable, if it is.
pub(crate) fn file_problem(file: &str) -> Option<String> {
    if file.is_empty() {
        return Some("is required".to_owned());
    }
    match base64::engine::general_purpose::STANDARD.decode(file) {
        Err(_) => Some("is not valid standard base64 (with padding)".to_owned()),
        Ok(bytes) if bytes.is_empty() => Some("decodes to no bytes".to_owned()),
        Ok(bytes) if bytes.len() as u64 > MAX_DOCUMENT_BYTES => Some(format!(
            "decodes to {} bytes; at most {MAX_DOCUMENT_BYTES} are allowed",
            bytes.len()
        )),
        Ok(_) => None,
    }
}

/// A field path, written out only when a problem is found (the happy path builds none).
trait FieldPath: Copy {
    fn path(self) -> String;
}

impl<T: AsRef<str> + ?Sized> FieldPath for &T {
    fn path(self) -> String {
        self.as_ref().to_owned()
    }
}

/// `{list}[{index}]{suffix}`, e.g. `externalReferences[1].namespace`.
#[derive(Clone, Copy)]
struct Indexed<'a>(&'a str, usize, &'static str);

impl FieldPath for Indexed<'_> {
    fn path(self) -> String {
        format!("{}[{}]{}", self.0, self.1, self.2)
    }
}

fn required(problems: &mut ValidationError, field: impl FieldPath, value: &str) {
    if value.trim().is_empty() {
        problems.push(field.path(), "is required");
    } else {
        no_control(problems, field, value, false);
    }
}

/// Refuses control characters (Unicode category Cc, such as NUL), as the API does; free text
/// (`text`) may hold line breaks and tabs.
fn no_control(problems: &mut ValidationError, field: impl FieldPath, value: &str, text: bool) {
    if has_control(value, text) {
        problems.push(
            field.path(),
            "must not contain control characters (such as NUL)",
        );
    }
}

/// Whether a value holds a control character (U+0000 to U+001F, U+007F to U+009F); with
/// `text`, line breaks and tabs do not count.
pub fn has_control(value: &str, text: bool) -> bool {
    // One pass over the bytes. ASCII control characters are below 0x20, and 0x7F; the branch
    // on them is almost never taken, so it costs next to nothing per byte.
    let mut non_ascii = false;
    for &b in value.as_bytes() {
        if (b < 0x20 || b == 0x7f) && !(text && matches!(b, b'\n' | b'\r' | b'\t')) {
            return true;
        }
        non_ascii |= b >= 0x80;
    }
    // The C1 controls (U+0080 to U+009F) are the only non-ASCII control characters.
    non_ascii && value.chars().any(|c| c.is_control() && !c.is_ascii())
}

fn external_reference(
    problems: &mut ValidationError,
    field: &str,
    reference: &types::ExternalReference,
) {
    required(
        problems,
        &format!("{field}.namespace"),
        &reference.namespace,
    );
    required(
        problems,
        &format!("{field}.externalId"),
        &reference.external_id,
    );
}

fn external_references(
    problems: &mut ValidationError,
    field: &str,
    references: &[types::ExternalReference],
) {
    if references.is_empty() {
        problems.push(field, "must hold at least one external reference");
    }
    for (i, reference) in references.iter().enumerate() {
        required(
            problems,
            Indexed(field, i, ".namespace"),
            &reference.namespace,
        );
        required(
            problems,
            Indexed(field, i, ".externalId"),
            &reference.external_id,
        );
        // Namespaces are stored lowercase, so `SIS` and `sis` are the same namespace. Lists
        // are short (the spec allows 20): compared pairwise, nothing allocated.
        let namespace = reference.namespace.trim();
        if !namespace.is_empty()
            && references[..i]
                .iter()
                .any(|earlier| same_namespace(earlier.namespace.trim(), namespace))
        {
            problems.push(
                Indexed(field, i, ".namespace").path(),
                format!(
                    "namespace `{}` appears more than once",
                    reference.namespace.as_str()
                ),
            );
        }
    }
}

/// Whether two trimmed namespaces are equal once lowercased.
fn same_namespace(a: &str, b: &str) -> bool {
    if a.is_ascii() && b.is_ascii() {
        a.eq_ignore_ascii_case(b)
    } else {
        a.chars()
            .flat_map(char::to_lowercase)
            .eq(b.chars().flat_map(char::to_lowercase))
    }
}

fn email(problems: &mut ValidationError, field: &str, value: &str) {
    if value.trim().is_empty() {
        problems.push(field, "is required");
    } else if !is_email(value) {
        problems.push(field, format!("`{value}` is not a valid email address"));
    }
}

/// A pragmatic address check: one `@`, a local part of 1 to 64 characters, a domain of
/// dot-separated labels (letters, digits, hyphens, not at a label's ends) with at least one
/// dot, no whitespace, 254 characters at most. Addresses are ASCII only, as the API assumes
/// (see `UserIdentity.email` in the spec): lowercasing is then the only normalisation, and a
/// lookalike such as the Kelvin sign (U+212A, which lowercases to `k`) cannot pose as another
/// address.
pub fn is_email(value: &str) -> bool {
    if value.len() > 254 || !value.bytes().all(|b| b.is_ascii_graphic()) {
        return false;
    }
    let Some((local, domain)) = value.split_once('@') else {
        return false;
    };
    if local.is_empty()
        || local.len() > 64
        || domain.contains('@')
        || local.starts_with('.')
        || local.ends_with('.')
    {
        return false;
    }
    domain.contains('.')
        && domain.split('.').all(|label| {
            !label.is_empty()
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails() {
        for ok in ["student@example.com", "a.b+tag@uni.ac.uk", "X@Example.COM"] {
            assert!(is_email(ok), "{ok}");
        }
        for bad in [
            "",
            "plain",
            "@example.com",
            "a@",
            "a@b",
            "a b@example.com",
            "a@@example.com",
            "a@-x.com",
            "a@x..com",
            "\u{212A}ate@example.com",
            "jos\u{e9}@example.com",
            "a@b\u{e9}.io",
            "a\0@example.com",
        ] {
            assert!(!is_email(bad), "{bad}");
        }
    }

    #[test]
    fn control_characters_in_names_are_refused() {
        let request: types::CreateUserRequest = serde_json::from_value(serde_json::json!({
            "identity": {"email": "a@example.com", "firstName": "Ja\u{0}ne", "lastName": "S", "roleName": "student"},
            "externalReferences": [{"namespace": "SIS\u{1}", "externalId": "1"}]
        }))
        .unwrap();
        let problems = create_user(&request);
        assert!(problems.mentions("identity.firstName"), "{problems}");
        assert!(
            problems.mentions("externalReferences[0].namespace"),
            "{problems}"
        );
        assert!(!problems.mentions("identity.lastName"));
        assert!(!has_control("line\nbreak\tok", true));
        assert!(has_control("line\nbreak", false));
        // Every character against the standard library's definition, in plain and in text
        // fields, alone and after non-ASCII text (the two paths of the check).
        for c in (0..0x250u32).filter_map(char::from_u32) {
            for text in [false, true] {
                let expected = c.is_control() && !(text && matches!(c, '\n' | '\r' | '\t'));
                for value in [format!("a{c}b"), format!("é{c}"), format!("{c}ü")] {
                    assert_eq!(
                        has_control(&value, text),
                        expected,
                        "{c:?} in {value:?}, text {text}"
                    );
                }
            }
        }
        assert!(!has_control("Zoë Ångström 李", false));
        assert!(!has_control("", false));
    }

    #[test]
    fn files() {
        assert!(file_problem("aGVsbG8=").is_none());
        assert!(file_problem("aGVsbG8").is_some(), "padding is required");
        assert!(file_problem("not base64!").is_some());
        assert!(file_problem("").is_some());
    }
}
