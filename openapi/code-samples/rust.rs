//! Rust samples of the spec's operations, using the `pearsana` SDK. `cargo xtask codegen`
//! copies the lines between `// sample: <operationId>` and `// end sample` into the spec's
//! `x-codeSamples`; `crates/pearsana-cli/tests/code_samples.rs` compiles this file and runs every
//! function against a sandbox.

/// Result of a sample.
pub type SampleResult = Result<(), Box<dyn std::error::Error + Send + Sync>>;

/// `GET /health`.
pub async fn get_health() -> SampleResult {
    // sample: getHealth
    // Reads PEARSANA_CLIENT_ID and PEARSANA_CLIENT_SECRET (and optional PEARSANA_ENV).
    let client = pearsana::Client::from_env()?;
    let health = client.health().await?;
    println!("status: {}", health.status);
    // end sample
    Ok(())
}

/// `GET /ping`.
pub async fn ping() -> SampleResult {
    // sample: ping
    let client = pearsana::Client::from_env()?;
    let ping = client.ping().await?;
    println!("client {} has scopes {:?}", ping.client_id, ping.scopes);
    // end sample
    Ok(())
}

/// `POST /v1/users`.
pub async fn create_user() -> SampleResult {
    // sample: createUser
    use pearsana::types;

    let client = pearsana::Client::from_env()?;
    let request: types::CreateUserRequest = types::CreateUserRequest::builder()
        .identity(
            types::UserIdentity::builder()
                .email("jane.smith@example.com")
                .first_name("Jane")
                .last_name("Smith")
                .role_name("student"),
        )
        .external_references(vec![pearsana::external_reference("SIS", "STU-2024-001")?])
        .try_into()?;
    let user = client.create_user(&request).await?;
    println!("created user {}", user.user_id);
    // end sample
    Ok(())
}

/// `POST /v1/invitations`.
pub async fn create_invitation() -> SampleResult {
    // sample: createInvitation
    use pearsana::types;

    let client = pearsana::Client::from_env()?;
    let request: types::CreateInvitationRequest = types::CreateInvitationRequest::builder()
        .email("john.doe@example.com")
        .identity(
            types::InvitationIdentity::builder()
                .first_name("John")
                .last_name("Doe"),
        )
        .external_references(vec![pearsana::external_reference("SIS", "STU-2024-002")?])
        .message(Some("Welcome to Pearsana!".to_string()))
        .try_into()?;
    let created = client.create_invitation(&request).await?;
    println!(
        "invitation {} is {}",
        created.invitation.invitation_id, created.invitation.status
    );
    // end sample
    Ok(())
}

/// `POST /v1/documents:submit`.
pub async fn submit_document() -> SampleResult {
    // sample: submitDocument
    let client = pearsana::Client::from_env()?;
    // Or DocumentFile::from_path("transcript.pdf").await?
    let file = pearsana::DocumentFile::from_bytes(b"%PDF-1.4\n")?.with_filename("transcript.pdf");
    let reference = pearsana::external_reference("SIS", "STU-2024-001")?;
    let request = file.submit_request(reference, "OFFICIAL_TRANSCRIPT")?;
    let stored = client.submit_document(&request).await?;
    println!(
        "stored {} ({})",
        stored.document.document_id, stored.document.category
    );
    // end sample
    Ok(())
}

/// `POST /v1/documents:submitBatch`.
pub async fn submit_document_batch() -> SampleResult {
    // sample: submitDocumentBatch
    use pearsana::types;

    let client = pearsana::Client::from_env()?;
    let reference = pearsana::external_reference("SIS", "STU-2024-001")?;
    let mut items = Vec::new();
    for (item_id, name, kind) in [
        ("item-001", "transcript.pdf", "OFFICIAL_TRANSCRIPT"),
        ("item-002", "diploma.pdf", "DIPLOMA"),
    ] {
        let file = pearsana::DocumentFile::from_bytes(b"%PDF-1.4\n")?.with_filename(name);
        items.push(file.batch_item(item_id, reference.clone(), kind)?);
    }
    let request: types::SubmitDocumentBatchRequest = types::SubmitDocumentBatchRequest::builder()
        .items(items)
        .try_into()?;
    let batch = client.submit_document_batch(&request).await?;
    for result in &batch.results {
        println!("{}: {:?}", result.item_id, result.status);
    }
    // end sample
    Ok(())
}
