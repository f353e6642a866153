//! Creates many users concurrently through a faulty server and reports what happened: every
//! user must end up created or found, with few token requests.
//!
//! ```sh
//! cargo run -p pearsana-sandbox -- --listen 127.0.0.1:18787 --fail-rate 0.2 --drop-rate 0.1 --token-ttl 5 &
//! PEARSANA_API_URL=http://127.0.0.1:18787 PEARSANA_AUTH_URL=http://127.0.0.1:18787 \
//! PEARSANA_CLIENT_ID=sandbox-client PEARSANA_CLIENT_SECRET=sandbox-secret \
//!   cargo run -p pearsana --example fault_drill -- 300 30
//! ```
//! Arguments: number of users (default 200), concurrent tasks (default 20).

use std::time::Instant;

use futures_util::StreamExt as _;
use pearsana::{Client, UserOutcome, external_reference, types};

#[tokio::main]
async fn main() -> Result<(), pearsana::Error> {
    let mut args = std::env::args().skip(1);
    let users: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(200);
    let concurrency: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(20);
    let client = Client::from_env()?;
    let run = format!("{:x}", std::process::id());
    let started = Instant::now();

    let outcomes: Vec<Result<UserOutcome, pearsana::Error>> = futures_util::stream::iter(0..users)
        .map(|i| {
            let client = client.clone();
            let run = run.clone();
            async move {
                let request: types::CreateUserRequest = types::CreateUserRequest::builder()
                    .identity(
                        types::UserIdentity::builder()
                            .email(format!("drill-{run}-{i}@example.com"))
                            .first_name("Drill")
                            .last_name(format!("User {i}"))
                            .role_name("student"),
                    )
                    .external_references(vec![external_reference("DRILL", &format!("{run}-{i}"))?])
                    .try_into()?;
                client.create_or_get_user(&request).await
            }
        })
        .buffer_unordered(concurrency)
        .collect()
        .await;

    let created = outcomes
        .iter()
        .filter(|o| matches!(o, Ok(UserOutcome::Created(_))))
        .count();
    let existing = outcomes
        .iter()
        .filter(|o| matches!(o, Ok(UserOutcome::Existing { .. })))
        .count();
    let failed: Vec<&pearsana::Error> = outcomes.iter().filter_map(|o| o.as_ref().err()).collect();
    println!(
        "{users} users in {:.2?}: {created} created, {existing} found after an ambiguous failure, {} failed; {} token request(s)",
        started.elapsed(),
        failed.len(),
        pearsana::testing::token_requests(&client)
    );
    for error in failed.iter().take(5) {
        println!("  failed: {error}");
    }
    Ok(())
}
