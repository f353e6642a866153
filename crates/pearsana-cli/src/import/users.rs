//! `users import`: one `POST /v1/users` per row.

use std::sync::LazyLock;

use csv::StringRecord;
use pearsana_api::types::{
    Address, CreateUserRequest, ExternalReference, UserIdentity, UserProfile,
};

use super::csv_input::{Column, ColumnIndex};
use super::fields::Fields;
use super::plan::RowKind;

/// Columns of a users roster.
pub const COLUMNS: &[Column] = &[
    Column::required("email"),
    Column::required("firstName"),
    Column::required("lastName"),
    Column::required("roleName").with_aliases(&["role"]),
    Column::required("namespace"),
    Column::required("externalId"),
    Column::optional("preferredName"),
    Column::optional("phone"),
    Column::optional("currency"),
    Column::optional("line1").with_aliases(&["addressLine1"]),
    Column::optional("line2").with_aliases(&["addressLine2"]),
    Column::optional("line3").with_aliases(&["addressLine3"]),
    Column::optional("city"),
    Column::optional("state"),
    Column::optional("zip").with_aliases(&["postalCode", "postcode"]),
    Column::optional("country"),
    Column::optional("dateOfBirth").with_aliases(&["dob"]),
    Column::optional("citizenship"),
];

/// Users roster rows.
#[derive(Debug, Default, Clone, Copy)]
pub struct Users;

/// A request with empty identity, no references and no profile, for a row to fill in place.
///
/// Request types are `#[non_exhaustive]`, so outside their crate they come from builders, and a
/// builder moves its whole state on every setter: for the rows of a roster (each parsed twice,
/// validation pass then send pass) that was most of the per-row cost the builders added. One
/// blank request is built once; a clone of its empty strings and list allocates nothing.
fn blank_request() -> CreateUserRequest {
    static BLANK: LazyLock<CreateUserRequest> = LazyLock::new(|| {
        CreateUserRequest::builder()
            .external_references(Vec::<ExternalReference>::new())
            .identity(
                UserIdentity::builder()
                    .email("")
                    .first_name("")
                    .last_name("")
                    .role_name(""),
            )
            .try_into()
            .expect("a request of empty strings and no references converts")
    });
    BLANK.clone()
}

/// Reads the external reference columns shared by users and invitations.
pub fn external_reference(fields: &mut Fields<'_>) -> Option<ExternalReference> {
    let namespace = fields.required("namespace");
    let external_id = fields.required("externalId");
    ExternalReference::builder()
        .namespace(namespace.to_lowercase())
        .external_id(external_id)
        .try_into()
        .ok()
}

/// The identity of an external reference as the API compares it (namespace lowercase, id
/// trimmed).
pub fn reference_identity(reference: &ExternalReference) -> String {
    format!(
        "{}:{}",
        reference.namespace.to_lowercase(),
        reference.external_id.trim()
    )
}

impl RowKind for Users {
    type Value = CreateUserRequest;
    const NAME: &'static str = "users";

    fn columns(&self) -> &'static [Column] {
        COLUMNS
    }

    fn parse(
        &self,
        index: &ColumnIndex,
        record: &StringRecord,
    ) -> Result<CreateUserRequest, Vec<String>> {
        let mut f = Fields::new(index, record);
        let mut request = blank_request();
        request.identity.email = f.email("email");
        request.identity.first_name = f.required("firstName");
        request.identity.last_name = f.required("lastName");
        request.identity.role_name = f.required("roleName");
        let reference = external_reference(&mut f);
        // Request types are `#[non_exhaustive]`: built from their defaults or builders.
        let mut address = Address::default();
        address.line1 = f.optional("line1");
        address.line2 = f.optional("line2");
        address.line3 = f.optional("line3");
        address.city = f.optional("city");
        address.state = f.optional("state");
        address.zip = f.optional("zip");
        address.country = f.optional("country");
        address.date_of_birth = f.date("dateOfBirth");
        address.citizenship = f.optional("citizenship");
        let mut profile = UserProfile::default();
        profile.address = (address != Address::default()).then_some(address);
        profile.currency = f.optional("currency");
        profile.phone = f.optional("phone");
        profile.preferred_name = f.optional("preferredName");
        request.profile = (profile != UserProfile::default()).then_some(profile);
        let request = reference.map(|reference| {
            request.external_references = vec![reference].into();
            request
        });
        f.finish(request)
            .map(|r| r.expect("a row without problems has its reference"))
    }

    fn identities(&self, value: &CreateUserRequest) -> Vec<(&'static str, String)> {
        let mut ids = vec![("email", value.identity.email.clone())];
        ids.extend(
            value
                .external_references
                .iter()
                .map(|r| ("namespace:externalId", reference_identity(r))),
        );
        ids
    }
}

#[cfg(test)]
mod tests {
    use super::super::plan::plan_all;
    use super::*;

    #[test]
    fn rows_become_requests_with_profiles_only_when_given() {
        let text = "Email,First_Name,last-name,ROLE NAME,namespace,external_id,phone,dob,city\n\
                    Jane@Example.org,Jane,Smith,student,SIS,STU-1,,,\n\
                    john@example.org,John,Doe,student,SIS,STU-2,+1 555,2001-02-03,Boston\n";
        let (valid, invalid) = plan_all(&Users, text.as_bytes());
        assert!(invalid.is_empty(), "{:?}", invalid);
        let jane = &valid[0];
        assert_eq!(jane.key, "jane@example.org");
        assert_eq!(jane.value.identity.email, "jane@example.org");
        assert_eq!(jane.value.external_references[0].namespace.as_str(), "sis");
        assert!(jane.value.profile.is_none());
        let john = &valid[1].value;
        let profile = john.profile.as_ref().unwrap();
        assert_eq!(profile.phone.as_deref(), Some("+1 555"));
        let address = profile.address.as_ref().unwrap();
        assert_eq!(address.city.as_deref(), Some("Boston"));
        assert_eq!(address.date_of_birth.unwrap().to_string(), "2001-02-03");
    }

    #[test]
    fn invalid_rows_report_line_and_every_problem_and_valid_rows_remain() {
        let text = "email,firstName,lastName,roleName,namespace,externalId,dateOfBirth\n\
                    ok@example.org,A,B,student,SIS,1,\n\
                    not-an-email,,B,student,,1x,15/05/2000\n\
                    OK@example.org,C,D,student,SIS,2,\n\
                    other@example.org,E,F,student,sis,1,\n\
                    fine@example.org,G,H,student,SIS,3,\n";
        let (valid, invalid) = plan_all(&Users, text.as_bytes());
        assert_eq!(valid.len() + invalid.len(), 5);
        let lines: Vec<u64> = valid.iter().map(|r| r.line).collect();
        assert_eq!(lines, vec![2, 6]);
        let bad = &invalid;
        assert_eq!(bad[0].line, 3);
        assert_eq!(bad[0].problems.len(), 4, "{:?}", bad[0].problems);
        assert!(bad[0].problems.iter().any(|p| p.starts_with("email:")));
        assert!(
            bad[0]
                .problems
                .iter()
                .any(|p| p == "firstName: is required")
        );
        assert!(
            bad[0]
                .problems
                .iter()
                .any(|p| p == "namespace: is required")
        );
        assert!(
            bad[0]
                .problems
                .iter()
                .any(|p| p.starts_with("dateOfBirth:"))
        );
        assert_eq!(bad[1].line, 4);
        assert!(
            bad[1].problems[0].contains("line 2"),
            "{:?}",
            bad[1].problems
        );
        assert_eq!(bad[2].line, 5);
        assert!(
            bad[2].problems[0].starts_with("namespace:externalId"),
            "{:?}",
            bad[2].problems
        );
    }
}
