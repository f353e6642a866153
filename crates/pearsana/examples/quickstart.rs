//! From credentials to a created user, against a local `pearsana-sandbox`
//! (`cargo run -p pearsana-sandbox`) or whatever the `PEARSANA_*` variables point at.
//!
//! ```sh
//! cargo run -p pearsana --example quickstart
//! PEARSANA_ENV=sandbox PEARSANA_CLIENT_ID=... PEARSANA_CLIENT_SECRET=... cargo run -p pearsana --example quickstart
//! ```

use pearsana::{Client, DocumentFile, Environment, UserOutcome, external_reference, types};

#[tokio::main]
async fn main() -> Result<(), pearsana::Error> {
    let client = if std::env::var_os("PEARSANA_CLIENT_ID").is_some() {
        Client::from_env()?
    } else {
        // The local sandbox's default App Client.
        Client::builder()
            .environment(Environment::Local)
            .credentials("sandbox-client", "sandbox-secret")
            .build()?
    };

    println!("health: {}", client.health().await?.status);
    let pong = client.ping().await?;
    println!(
        "authenticated as {} with scopes {:?}",
        pong.client_id, pong.scopes
    );

    // Builders keep this code compiling when the API adds optional fields.
    let request: types::CreateUserRequest = types::CreateUserRequest::builder()
        .identity(
            types::UserIdentity::builder()
                .email("jane.smith@example.com")
                .first_name("Jane")
                .last_name("Smith")
                .role_name("student"),
        )
        .external_references(vec![external_reference("SIS", "STU-2024-001")?])
        .try_into()?;
    // One call with its own timeout; `send()` returns the body with the response metadata.
    let answer = client
        .create_or_get_user(&request)
        .timeout(std::time::Duration::from_secs(5))
        .send()
        .await?;
    println!(
        "request id {} ({} attempt(s), {:?})",
        answer.metadata().request_id(),
        answer.metadata().attempts(),
        answer.metadata().elapsed()
    );
    let user_id = match answer.into_body() {
        UserOutcome::Created(user) => {
            println!("created user {} in {}", user.user_id, user.organisation_id);
            user.user_id
        }
        UserOutcome::Existing { user_id, email } => {
            println!("{email} already exists as {user_id}");
            user_id
        }
    };

    let document = DocumentFile::from_bytes(b"%PDF-1.4 example transcript")?
        .with_filename("transcript.pdf")
        .submit_request(
            external_reference("SIS", "STU-2024-001")?,
            "OFFICIAL_TRANSCRIPT",
        )?;
    let submitted = client.submit_document(&document).await?;
    println!(
        "document {} stored for {user_id} as {}",
        submitted.document.document_id, submitted.document.mime_type
    );
    // Categories (like every value set of the API) are open enums: keep a wildcard arm, a
    // newer API may add categories this version does not know.
    match &submitted.document.category {
        types::DocumentCategory::Academic => println!("filed with the transcripts"),
        other => println!("filed under {other}"),
    }

    let versions = client.version_info();
    let scopes = client.token_status().map(|t| t.scopes).unwrap_or_default();
    println!(
        "API version {} (latest {:?}); token scopes: {}",
        client.api_version(),
        versions.latest.map(|v| v.to_string()),
        scopes.join(" ")
    );
    Ok(())
}
