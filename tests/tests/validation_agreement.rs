//! The SDK's client-side validation and the sandbox agree on the input rules the contract
//! fixes as assumptions (issue 14 item 14): ASCII-only emails compared without case, no
//! control characters in names, line breaks allowed in an invitation's message. The CLI
//! validates through the SDK, so it agrees too.

use pearsana::{types, validate};
use pearsana_api::spec::API_VERSION;
use pearsana_sandbox::{DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, Sandbox};
use serde_json::{Value, json};

fn user(email: &str, first_name: &str, namespace: &str) -> Value {
    json!({
        "identity": {"email": email, "firstName": first_name, "lastName": "Smith", "roleName": "student"},
        "externalReferences": [{"namespace": namespace, "externalId": "1"}]
    })
}

fn invitation(email: &str, message: &str) -> Value {
    json!({
        "email": email,
        "identity": {"firstName": "In", "lastName": "Vite"},
        "externalReferences": [{"namespace": "SIS", "externalId": "1"}],
        "message": message
    })
}

#[tokio::test]
async fn sdk_and_sandbox_accept_and_refuse_the_same_bodies() {
    let sandbox = Sandbox::builder().spawn().await.unwrap();
    let http = reqwest::Client::new();
    let token: Value = http
        .post(sandbox.token_url())
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", DEFAULT_CLIENT_ID),
            ("client_secret", DEFAULT_CLIENT_SECRET),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = token["access_token"].as_str().unwrap().to_string();

    // (path, body, field the rule is about or None when the body is fine)
    let cases = [
        ("/v1/users", user("jane@example.com", "Jane", "SIS"), None),
        ("/v1/users", user("JOE@Example.COM", "Joe", "SIS"), None),
        (
            "/v1/users",
            user("\u{212A}ate@example.com", "Kate", "SIS"),
            Some("identity.email"),
        ),
        (
            "/v1/users",
            user("jos\u{e9}@example.com", "José", "SIS"),
            Some("identity.email"),
        ),
        (
            "/v1/users",
            user("nul@example.com", "Ja\u{0}ne", "SIS"),
            Some("identity.firstName"),
        ),
        (
            "/v1/users",
            user("bel@example.com", "Bel", "SIS\u{7}"),
            Some("externalReferences[0].namespace"),
        ),
        (
            "/v1/invitations",
            invitation("inv@example.com", "Hello\nsee you\tsoon"),
            None,
        ),
        (
            "/v1/invitations",
            invitation("inv2@example.com", "Hello\u{0}"),
            Some("message"),
        ),
    ];
    for (i, (path, body, field)) in cases.into_iter().enumerate() {
        let sdk = if path == "/v1/users" {
            validate::create_user(
                &serde_json::from_value::<types::CreateUserRequest>(body.clone()).unwrap(),
            )
        } else {
            validate::create_invitation(
                &serde_json::from_value::<types::CreateInvitationRequest>(body.clone()).unwrap(),
            )
        };
        // Each case uses its own reference so that only the rule under test can refuse it.
        let mut body = body;
        body["externalReferences"][0]["externalId"] = json!(i.to_string());
        let answer = http
            .post(format!("{}{path}", sandbox.url()))
            .bearer_auth(&token)
            .header("X-API-Version", API_VERSION)
            .json(&body)
            .send()
            .await
            .unwrap();
        let status = answer.status().as_u16();
        let answer: Value = answer.json().await.unwrap();
        match field {
            None => {
                assert!(sdk.is_empty(), "case {i}: SDK refused {sdk}");
                assert_eq!(status, 201, "case {i}: sandbox answered {answer}");
            }
            Some(field) => {
                assert!(sdk.mentions(field), "case {i}: SDK said {sdk}");
                assert_eq!(status, 400, "case {i}: sandbox answered {answer}");
                let errors = answer["error"]["details"]["errors"].to_string();
                assert!(errors.contains(field), "case {i}: sandbox said {errors}");
            }
        }
    }
}
