//! `invitations import`: one `POST /v1/invitations` per row.

use csv::StringRecord;
use pearsana_api::types::{CreateInvitationRequest, InvitationIdentity};

use super::csv_input::{Column, ColumnIndex};
use super::fields::Fields;
use super::plan::RowKind;
use super::users::{external_reference, reference_identity};

/// Columns of an invitations roster. `roles` holds role names separated by `;` or `|`.
pub const COLUMNS: &[Column] = &[
    Column::required("email"),
    Column::required("firstName"),
    Column::required("lastName"),
    Column::required("namespace"),
    Column::required("externalId"),
    Column::optional("message"),
    Column::optional("roles").with_aliases(&["role", "roleName"]),
];

/// Invitations roster rows.
#[derive(Debug, Default, Clone, Copy)]
pub struct Invitations;

/// Splits a `roles` cell (`student;alumni`) into role names.
pub fn split_roles(cell: &str) -> Vec<String> {
    cell.split([';', '|'])
        .map(str::trim)
        .filter(|r| !r.is_empty())
        .map(str::to_string)
        .collect()
}

/// Builds an invitation request; `roles` empty means the API default.
pub fn invitation_request(
    email: String,
    first_name: String,
    last_name: String,
    reference: pearsana_api::types::ExternalReference,
    message: Option<String>,
    roles: Vec<String>,
) -> CreateInvitationRequest {
    let mut builder = pearsana_api::types::builder::CreateInvitationRequest::default()
        .email(email)
        .external_references(vec![reference])
        .identity(
            InvitationIdentity::builder()
                .first_name(first_name)
                .last_name(last_name),
        )
        .message(message);
    if !roles.is_empty() {
        builder = builder.roles(roles);
    }
    CreateInvitationRequest::try_from(builder).expect("every required field is set")
}

impl RowKind for Invitations {
    type Value = CreateInvitationRequest;
    const NAME: &'static str = "invitations";

    fn columns(&self) -> &'static [Column] {
        COLUMNS
    }

    fn parse(
        &self,
        index: &ColumnIndex,
        record: &StringRecord,
    ) -> Result<CreateInvitationRequest, Vec<String>> {
        let mut f = Fields::new(index, record);
        let email = f.email("email");
        let first_name = f.required("firstName");
        let last_name = f.required("lastName");
        let reference = external_reference(&mut f);
        let message = f.optional("message");
        let roles = f
            .optional("roles")
            .map(|r| split_roles(&r))
            .unwrap_or_default();
        let request = reference.map(|reference| {
            invitation_request(email, first_name, last_name, reference, message, roles)
        });
        f.finish(request)
            .map(|r| r.expect("a row without problems has its reference"))
    }

    fn identities(&self, value: &CreateInvitationRequest) -> Vec<(&'static str, String)> {
        let references: Vec<String> = value
            .external_references
            .iter()
            .map(reference_identity)
            .collect();
        let mut ids = vec![(
            "email+reference",
            format!("{}|{}", value.email, references.join(",")),
        )];
        ids.extend(references.into_iter().map(|r| ("namespace:externalId", r)));
        ids
    }
}

#[cfg(test)]
mod tests {
    use super::super::plan::plan_all;
    use super::*;

    #[test]
    fn roles_split_and_default_applies_when_blank() {
        assert_eq!(
            split_roles(" student ; alumni|| "),
            vec!["student", "alumni"]
        );
        let text = "email,firstName,lastName,namespace,externalId,roles\n\
                    a@x.org,A,B,SIS,1,faculty;staff\n\
                    b@x.org,C,D,SIS,2,\n";
        let (valid, invalid) = plan_all(&Invitations, text.as_bytes());
        assert!(invalid.is_empty(), "{:?}", invalid);
        assert_eq!(valid[0].value.roles, vec!["faculty", "staff"]);
        assert_eq!(
            valid[1].value.roles,
            vec!["student"],
            "API default from the spec"
        );
        assert_eq!(valid[0].key, "a@x.org|sis:1");
    }
}
