//! State, one partition per organisation: users, linked external references, invitations and
//! document metadata (file bytes are not kept). It lives in memory; with a data directory
//! every write is also queued, under the store's lock and so in order, to its database (see
//! [`crate::persist`]), and handlers wait for [`Store::flush`] before they answer.

use std::collections::HashMap;
use std::sync::Mutex;

use chrono::{DateTime, Utc};
use pearsana_api::types;
use serde::{Deserialize, Deserializer, Serialize};

use crate::persist::{Database, Kind, PersistError, Put, Snapshot, decode};

/// Decodes one of the fixed words records use (`api`, `pending`, …) back into its constant.
fn known_word<'de, D: Deserializer<'de>>(deserializer: D) -> Result<&'static str, D::Error> {
    const WORDS: [&str; 6] = [
        "api",
        "invitation",
        "pending",
        "accepted",
        "new",
        "existing",
    ];
    let word = String::deserialize(deserializer)?;
    WORDS
        .into_iter()
        .find(|known| *known == word)
        .ok_or_else(|| serde::de::Error::custom(format_args!("unknown value `{word}`")))
}

/// An external reference after normalisation (ASSUMPTIONS U1): namespace lowercase, external
/// id trimmed. The values as submitted are kept for error messages.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NormalizedRef {
    /// Lowercased namespace.
    pub namespace: String,
    /// Trimmed external id.
    pub external_id: String,
    /// Namespace as the caller sent it.
    #[serde(skip)]
    pub submitted_namespace: String,
}

impl NormalizedRef {
    /// Normalises a reference.
    pub fn new(namespace: &str, external_id: &str) -> Self {
        Self {
            namespace: namespace.to_lowercase(),
            external_id: external_id.trim().to_string(),
            submitted_namespace: namespace.to_string(),
        }
    }

    fn key(&self) -> (String, String) {
        (self.namespace.clone(), self.external_id.clone())
    }
}

/// A stored user, as the read-back helper shows it.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UserRecord {
    /// Identifier.
    pub user_id: String,
    /// Lowercased email.
    pub email: String,
    /// Given name.
    pub first_name: String,
    /// Family name.
    pub last_name: String,
    /// Role.
    pub role_name: String,
    /// References linked to the user.
    pub external_references: Vec<NormalizedRef>,
    /// Profile, when one was given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub profile: Option<types::UserProfile>,
    /// How the user came to be: `api` or `invitation`.
    #[serde(deserialize_with = "known_word")]
    pub source: &'static str,
    /// When the user was created.
    pub creation_date_time: DateTime<Utc>,
}

/// A stored invitation, as the read-back helper shows it.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InvitationRecord {
    /// Identifier.
    pub invitation_id: String,
    /// `pending` or `accepted`.
    #[serde(deserialize_with = "known_word")]
    pub status: &'static str,
    /// `new` or `existing`, decided when the invitation was created.
    #[serde(deserialize_with = "known_word")]
    pub user_state: &'static str,
    /// Lowercased email.
    pub email: String,
    /// Given name.
    pub first_name: String,
    /// Family name.
    pub last_name: String,
    /// References linked on acceptance.
    pub external_references: Vec<NormalizedRef>,
    /// Personal message.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// Roles.
    pub roles: Vec<String>,
    /// The user, once accepted (or when it already existed).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
    /// When the invitation was created.
    pub creation_date_time: DateTime<Utc>,
    /// When it was accepted.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub accepted_date_time: Option<DateTime<Utc>>,
}

impl InvitationRecord {
    /// The API's view of the invitation.
    pub fn to_api(&self) -> types::Invitation {
        crate::responses::invitation(
            self.creation_date_time,
            self.invitation_id.clone(),
            self.status.into(),
            self.user_state.into(),
        )
    }
}

/// A stored document's metadata, as the read-back helper shows it.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DocumentRecord {
    /// The document as the API answered it.
    #[serde(flatten)]
    pub document: types::Document,
    /// The reference it was submitted for.
    pub external_reference: NormalizedRef,
    /// The batch item id, for documents from a batch.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub item_id: Option<String>,
    /// The partner's own reference (batch items).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub partner_reference_id: Option<String>,
    /// Key-value metadata (batch items).
    #[serde(default, skip_serializing_if = "HashMap::is_empty")]
    pub metadata: HashMap<String, String>,
    /// Verification metadata.
    #[serde(default, skip_serializing_if = "serde_json::Map::is_empty")]
    pub verification_metadata: serde_json::Map<String, serde_json::Value>,
}

/// Why a write was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Conflict {
    /// The email belongs to this user already.
    Email {
        /// The existing user.
        user_id: String,
        /// The lowercased email.
        email: String,
    },
    /// The reference is linked to another user.
    ExternalRef(NormalizedRef),
    /// No invitation with this id.
    UnknownInvitation,
    /// The data directory could not record the write; nothing changed.
    Storage(String),
}

impl From<PersistError> for Conflict {
    fn from(error: PersistError) -> Self {
        Self::Storage(error.to_string())
    }
}

#[derive(Debug, Default)]
struct Organisation {
    users: Vec<UserRecord>,
    user_by_email: HashMap<String, usize>,
    linked: HashMap<(String, String), String>,
    invitations: Vec<InvitationRecord>,
    documents: Vec<DocumentRecord>,
}

impl Organisation {
    /// The first reference linked to someone other than `owner`.
    fn foreign_link(&self, refs: &[NormalizedRef], owner: Option<&str>) -> Option<NormalizedRef> {
        refs.iter()
            .find(|r| {
                self.linked
                    .get(&r.key())
                    .is_some_and(|linked| Some(linked.as_str()) != owner)
            })
            .cloned()
    }
}

/// The sandbox's state.
#[derive(Debug, Default)]
pub struct Store {
    organisations: Mutex<HashMap<String, Organisation>>,
    database: Option<Database>,
}

/// A user to create.
#[derive(Debug, Clone)]
pub struct NewUser {
    /// Lowercased email.
    pub email: String,
    /// Given name.
    pub first_name: String,
    /// Family name.
    pub last_name: String,
    /// Role.
    pub role_name: String,
    /// Normalised references.
    pub external_references: Vec<NormalizedRef>,
    /// Optional profile.
    pub profile: Option<types::UserProfile>,
}

/// An invitation to create.
#[derive(Debug, Clone)]
pub struct NewInvitation {
    /// Lowercased email.
    pub email: String,
    /// Given name.
    pub first_name: String,
    /// Family name.
    pub last_name: String,
    /// Normalised references.
    pub external_references: Vec<NormalizedRef>,
    /// Personal message.
    pub message: Option<String>,
    /// Roles.
    pub roles: Vec<String>,
}

impl Store {
    /// A store kept in `database` too, starting from what it held when opened.
    pub fn open(database: Database, snapshot: Snapshot) -> Result<Self, PersistError> {
        let mut organisations: HashMap<String, Organisation> = HashMap::new();
        for (org, json) in snapshot.users {
            let mut user: UserRecord = decode(Kind::User, &json)?;
            let o = organisations.entry(org).or_default();
            for r in &mut user.external_references {
                r.submitted_namespace.clone_from(&r.namespace);
                o.linked.insert(r.key(), user.user_id.clone());
            }
            o.user_by_email.insert(user.email.clone(), o.users.len());
            o.users.push(user);
        }
        for (org, json) in snapshot.invitations {
            let mut invitation: InvitationRecord = decode(Kind::Invitation, &json)?;
            for r in &mut invitation.external_references {
                r.submitted_namespace.clone_from(&r.namespace);
            }
            organisations
                .entry(org)
                .or_default()
                .invitations
                .push(invitation);
        }
        for (org, json) in snapshot.documents {
            let document: DocumentRecord = decode(Kind::Document, &json)?;
            organisations
                .entry(org)
                .or_default()
                .documents
                .push(document);
        }
        Ok(Self {
            organisations: Mutex::new(organisations),
            database: Some(database),
        })
    }

    /// Commits `puts` when there is a database (a no-op in memory).
    fn persist(
        &self,
        puts: impl FnOnce() -> Result<Vec<Put>, PersistError>,
    ) -> Result<(), Conflict> {
        if let Some(database) = &self.database {
            database.write(puts()?)?;
        }
        Ok(())
    }

    /// Waits until every write made so far is on disk (at once without a data directory).
    /// Handlers call it before answering a write with a `2xx`.
    pub async fn flush(&self) -> Result<(), Conflict> {
        if let Some(database) = &self.database {
            database.flush().await?;
        }
        Ok(())
    }

    fn with_org<T>(&self, org: &str, f: impl FnOnce(&mut Organisation) -> T) -> T {
        let mut orgs = self.organisations.lock().unwrap_or_else(|e| e.into_inner());
        f(orgs.entry(org.to_string()).or_default())
    }

    /// Creates a user (ASSUMPTIONS U2): email conflicts first, then reference conflicts.
    pub fn create_user(&self, org: &str, new: NewUser) -> Result<UserRecord, Conflict> {
        self.with_org(org, |o| {
            if let Some(&i) = o.user_by_email.get(&new.email) {
                return Err(Conflict::Email {
                    user_id: o.users[i].user_id.clone(),
                    email: new.email,
                });
            }
            if let Some(r) = o.foreign_link(&new.external_references, None) {
                return Err(Conflict::ExternalRef(r));
            }
            let mut record = user_record(&new, "api");
            record.external_references = new.external_references.clone();
            self.persist(|| Ok(vec![Put::new(Kind::User, org, &record.user_id, &record)?]))?;
            o.user_by_email.insert(record.email.clone(), o.users.len());
            for r in &record.external_references {
                o.linked.insert(r.key(), record.user_id.clone());
            }
            o.users.push(record.clone());
            Ok(record)
        })
    }

    /// Creates a pending invitation (ASSUMPTIONS U4): nothing is linked yet.
    pub fn create_invitation(
        &self,
        org: &str,
        new: NewInvitation,
    ) -> Result<InvitationRecord, Conflict> {
        self.with_org(org, |o| {
            let existing = o
                .user_by_email
                .get(&new.email)
                .map(|&i| o.users[i].user_id.clone());
            if let Some(r) = o.foreign_link(&new.external_references, existing.as_deref()) {
                return Err(Conflict::ExternalRef(r));
            }
            let record = InvitationRecord {
                invitation_id: format!("inv_{}", uuid::Uuid::new_v4().simple()),
                status: "pending",
                user_state: if existing.is_some() {
                    "existing"
                } else {
                    "new"
                },
                email: new.email,
                first_name: new.first_name,
                last_name: new.last_name,
                external_references: new.external_references,
                message: new.message,
                roles: new.roles,
                user_id: existing,
                creation_date_time: Utc::now(),
                accepted_date_time: None,
            };
            self.persist(|| {
                Ok(vec![Put::new(
                    Kind::Invitation,
                    org,
                    &record.invitation_id,
                    &record,
                )?])
            })?;
            o.invitations.push(record.clone());
            Ok(record)
        })
    }

    /// Accepts an invitation: creates the user if needed and links the references. Accepting
    /// twice answers the accepted invitation again. Returns whether a user was created.
    pub fn accept_invitation(
        &self,
        org: &str,
        invitation_id: &str,
    ) -> Result<(InvitationRecord, bool), Conflict> {
        self.with_org(org, |o| {
            let index = o
                .invitations
                .iter()
                .position(|i| i.invitation_id == invitation_id)
                .ok_or(Conflict::UnknownInvitation)?;
            let invitation = o.invitations[index].clone();
            if invitation.status == "accepted" {
                return Ok((invitation, false));
            }
            let existing = o.user_by_email.get(&invitation.email).copied();
            let owner = existing.map(|i| o.users[i].user_id.clone());
            if let Some(r) = o.foreign_link(&invitation.external_references, owner.as_deref()) {
                return Err(Conflict::ExternalRef(r));
            }
            let created = existing.is_none();
            // The user and the invitation as they will be, written before memory changes.
            let mut user = match existing {
                Some(i) => o.users[i].clone(),
                None => user_record(
                    &NewUser {
                        email: invitation.email.clone(),
                        first_name: invitation.first_name.clone(),
                        last_name: invitation.last_name.clone(),
                        role_name: invitation.roles.first().cloned().unwrap_or_default(),
                        external_references: Vec::new(),
                        profile: None,
                    },
                    "invitation",
                ),
            };
            for r in &invitation.external_references {
                if !o.linked.contains_key(&r.key())
                    && !user.external_references.iter().any(|l| l.key() == r.key())
                {
                    user.external_references.push(r.clone());
                }
            }
            let mut record = invitation;
            record.status = "accepted";
            record.user_id = Some(user.user_id.clone());
            record.accepted_date_time = Some(Utc::now());
            self.persist(|| {
                Ok(vec![
                    Put::new(Kind::User, org, &user.user_id, &user)?,
                    Put::new(Kind::Invitation, org, &record.invitation_id, &record)?,
                ])
            })?;
            for r in &user.external_references {
                o.linked.insert(r.key(), user.user_id.clone());
            }
            match existing {
                Some(i) => o.users[i] = user,
                None => {
                    o.user_by_email.insert(user.email.clone(), o.users.len());
                    o.users.push(user);
                }
            }
            o.invitations[index] = record.clone();
            Ok((record, created))
        })
    }

    /// Forgets every organisation's users, links, invitations and documents (in the data
    /// directory too).
    pub fn clear(&self) -> Result<(), Conflict> {
        let mut organisations = self.organisations.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(database) = &self.database {
            database.clear()?;
        }
        organisations.clear();
        Ok(())
    }

    /// The user a reference is linked to.
    pub fn linked_user(&self, org: &str, reference: &NormalizedRef) -> Option<String> {
        self.with_org(org, |o| o.linked.get(&reference.key()).cloned())
    }

    /// Records a stored document.
    pub fn add_document(&self, org: &str, record: DocumentRecord) -> Result<(), Conflict> {
        self.with_org(org, |o| {
            self.persist(|| {
                Ok(vec![Put::new(
                    Kind::Document,
                    org,
                    &record.document.document_id,
                    &record,
                )?])
            })?;
            o.documents.push(record);
            Ok(())
        })
    }

    /// Users of an organisation, oldest first.
    pub fn users(&self, org: &str) -> Vec<UserRecord> {
        self.with_org(org, |o| o.users.clone())
    }

    /// Invitations of an organisation, oldest first.
    pub fn invitations(&self, org: &str) -> Vec<InvitationRecord> {
        self.with_org(org, |o| o.invitations.clone())
    }

    /// Documents of an organisation, oldest first.
    pub fn documents(&self, org: &str) -> Vec<DocumentRecord> {
        self.with_org(org, |o| o.documents.clone())
    }
}

/// A new user's record, without linked references yet.
fn user_record(new: &NewUser, source: &'static str) -> UserRecord {
    UserRecord {
        user_id: uuid::Uuid::new_v4().to_string(),
        email: new.email.clone(),
        first_name: new.first_name.clone(),
        last_name: new.last_name.clone(),
        role_name: new.role_name.clone(),
        external_references: Vec::new(),
        profile: new.profile.clone(),
        source,
        creation_date_time: Utc::now(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(email: &str, refs: &[(&str, &str)]) -> NewUser {
        NewUser {
            email: email.into(),
            first_name: "A".into(),
            last_name: "B".into(),
            role_name: "student".into(),
            external_references: refs.iter().map(|(n, i)| NormalizedRef::new(n, i)).collect(),
            profile: None,
        }
    }

    #[test]
    fn references_are_normalised_and_linked_once() {
        let store = Store::default();
        let jane = store
            .create_user("o", user("jane@x.io", &[("SIS", " 1 ")]))
            .unwrap();
        assert_eq!(
            store.linked_user("o", &NormalizedRef::new("sis", "1")),
            Some(jane.user_id.clone())
        );
        let clash = store.create_user("o", user("joe@x.io", &[("Sis", "1")]));
        assert!(matches!(clash, Err(Conflict::ExternalRef(r)) if r.submitted_namespace == "Sis"));
        // Another organisation is a separate world.
        assert!(
            store
                .create_user("p", user("joe@x.io", &[("SIS", "1")]))
                .is_ok()
        );
    }

    #[test]
    fn invitations_link_only_when_accepted() {
        let store = Store::default();
        let inv = store
            .create_invitation(
                "o",
                NewInvitation {
                    email: "new@x.io".into(),
                    first_name: "N".into(),
                    last_name: "W".into(),
                    external_references: vec![NormalizedRef::new("LMS", "9")],
                    message: None,
                    roles: vec!["student".into()],
                },
            )
            .unwrap();
        assert_eq!(inv.user_state, "new");
        assert_eq!(
            store.linked_user("o", &NormalizedRef::new("lms", "9")),
            None
        );
        let (accepted, created) = store.accept_invitation("o", &inv.invitation_id).unwrap();
        assert!(created);
        assert_eq!(accepted.status, "accepted");
        assert_eq!(
            store.linked_user("o", &NormalizedRef::new("lms", "9")),
            accepted.user_id
        );
        let (again, created_again) = store.accept_invitation("o", &inv.invitation_id).unwrap();
        assert!(!created_again);
        assert_eq!(again.user_id, accepted.user_id);
        assert_eq!(
            store.accept_invitation("o", "inv_nope").unwrap_err(),
            Conflict::UnknownInvitation
        );
    }
}
