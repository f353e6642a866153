//! The SDK against a scripted server that answers like a newer API: every operation's
//! response examples with an unknown field in every object and an unknown value in every
//! enum. Successes decode with the unknown values kept; error answers stay typed API errors
//! with the unknown code; the batch helper keeps each item's outcome.

use pearsana::retry::NeverRetry;
use pearsana::{Client, Environment, Error, ItemError, types};
use pearsana_tests::{
    UNKNOWN_VALUE, add_unknown_fields, media_examples, operations, replace_enum_values, resolve,
    response_examples,
};
use serde_json::{Value, json};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

fn schema_ref(name: &str) -> Value {
    json!({ "$ref": format!("#/components/schemas/{name}") })
}

/// The example with unknown fields and unknown enum values, and the same without the fields
/// (what the typed value must re-encode to).
fn evolve(example: &Value, schema: &str) -> (Value, Value) {
    let mut expected = example.clone();
    replace_enum_values(&mut expected, &schema_ref(schema));
    let mut evolved = expected.clone();
    add_unknown_fields(&mut evolved, &schema_ref(schema));
    (evolved, expected)
}

async fn scripted(method_name: &str, route: &str, status: u16, body: &Value) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/oauth2/token"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "access_token": "tok", "token_type": "Bearer", "expires_in": 3600,
            "scope": "pearsana-partner/ping"
        })))
        .mount(&server)
        .await;
    Mock::given(method(method_name))
        .and(path(route))
        .respond_with(ResponseTemplate::new(status).set_body_json(body))
        .mount(&server)
        .await;
    server
}

fn client(server: &MockServer) -> Client {
    Client::builder()
        .environment(Environment::Custom {
            api_url: server.uri(),
            auth_url: server.uri(),
        })
        .credentials("evolved-client", "evolved-secret-1234")
        .retry_policy(NeverRetry)
        .build()
        .unwrap()
}

/// The request example of an operation, typed.
fn request<T: serde::de::DeserializeOwned>(operation: &Value) -> T {
    let media = &resolve(&operation["requestBody"])["content"]["application/json"];
    let mut examples = Vec::new();
    media_examples("request", media, &mut examples);
    let (_, _, example) = examples.into_iter().next().expect("a request example");
    serde_json::from_value(example).expect("the request example decodes")
}

/// Calls the operation through the SDK; the body re-encoded as JSON.
async fn call(client: &Client, id: &str, operation: &Value) -> Result<Value, Error> {
    let body = match id {
        "getHealth" => serde_json::to_value(client.health().await?),
        "ping" => serde_json::to_value(client.ping().await?),
        "createUser" => {
            let request: types::CreateUserRequest = request(operation);
            serde_json::to_value(client.create_user(&request).await?)
        }
        "createInvitation" => {
            let request: types::CreateInvitationRequest = request(operation);
            serde_json::to_value(client.create_invitation(&request).await?)
        }
        "submitDocument" => {
            let request: types::SubmitDocumentRequest = request(operation);
            serde_json::to_value(client.submit_document(&request).await?)
        }
        "submitDocumentBatch" => {
            let request: types::SubmitDocumentBatchRequest = request(operation);
            serde_json::to_value(client.submit_document_batch(&request).await?)
        }
        other => panic!("operation {other} has no SDK call in this test: add it"),
    };
    Ok(body.unwrap())
}

#[tokio::test]
async fn every_operation_decodes_evolved_successes_and_errors() {
    let mut checked = 0;
    for (http_method, route, operation) in operations() {
        let id = operation["operationId"].as_str().unwrap();
        for (_, status, label, schema, example) in
            response_examples().into_iter().filter(|(op, ..)| op == id)
        {
            let code: u16 = status.parse().unwrap();
            let (evolved, expected) = evolve(&example, &schema);
            let server = scripted(&http_method, &route, code, &evolved).await;
            let outcome = call(&client(&server), id, operation).await;
            if code < 300 {
                let body = outcome.unwrap_or_else(|e| panic!("{label}: {e:?}"));
                assert_eq!(body, expected, "{label}");
            } else {
                let error = outcome.expect_err(&label);
                let message = example["error"]["message"].as_str().unwrap();
                match &error {
                    Error::UnsupportedApiVersion { message: m, .. } => assert_eq!(m, message),
                    _ => {
                        let api = error
                            .api_error()
                            .unwrap_or_else(|| panic!("{label}: not an API error: {error:?}"));
                        assert!(api.code.is_unknown(), "{label}");
                        assert_eq!(api.code.as_str(), UNKNOWN_VALUE, "{label}");
                        assert_eq!(api.message, message, "{label}");
                        assert_eq!(api.status.as_u16(), code, "{label}");
                    }
                }
            }
            checked += 1;
        }
    }
    assert!(checked > 40, "only {checked} examples");
}

/// The batch operation's route, its definition and its `200` answer example.
fn batch_operation() -> (String, &'static Value, Value) {
    let (_, route, operation) = operations()
        .into_iter()
        .find(|(_, _, op)| op["operationId"] == "submitDocumentBatch")
        .unwrap();
    let (_, _, _, _, example) = response_examples()
        .into_iter()
        .find(|(op, status, ..)| op == "submitDocumentBatch" && status == "200")
        .unwrap();
    (route, operation, example)
}

#[tokio::test]
async fn the_batch_helper_keeps_every_item_of_an_evolved_answer() {
    let (route, operation, example) = batch_operation();
    let (evolved, _) = evolve(&example, "SubmitDocumentBatchResponse");
    let server = scripted("POST", &route, 200, &evolved).await;
    let items = request::<types::SubmitDocumentBatchRequest>(operation).items;
    let outcome = client(&server).submit_documents(items).await.unwrap();
    assert_eq!(outcome.items.len(), 2);
    let created = outcome.get("item-001").unwrap().result.as_ref().unwrap();
    assert!(created.category.is_unknown());
    assert_eq!(created.document_id, "doc_7f3a9c2e");
    match &outcome.get("item-002").unwrap().result {
        Err(ItemError::Rejected { code, message, .. }) => {
            assert_eq!(code.as_str(), UNKNOWN_VALUE);
            assert!(message.contains("STU-2024-002"), "{message}");
        }
        other => panic!("expected a rejected item, got {other:?}"),
    }
}

#[tokio::test]
async fn an_unreadable_batch_result_fails_only_its_own_item() {
    let (route, operation, mut answer) = batch_operation();
    // item-001's document lacks a field the SDK requires; item-002's error details carry a
    // member of the wrong type next to a well-formed one.
    let results = answer["results"].as_array_mut().unwrap();
    assert_eq!(results[0]["itemId"], "item-001");
    results[0]["document"]
        .as_object_mut()
        .unwrap()
        .remove("documentId")
        .expect("the example's document has a documentId");
    assert_eq!(results[1]["itemId"], "item-002");
    results[1]["error"]["details"] = json!({ "type": "sis", "externalId": 42 });
    let server = scripted("POST", &route, 200, &answer).await;
    let items = request::<types::SubmitDocumentBatchRequest>(operation).items;
    let outcome = client(&server).submit_documents(items).await.unwrap();

    match &outcome.get("item-001").unwrap().result {
        Err(error @ ItemError::Undecodable(source)) => {
            assert!(source.to_string().contains("documentId"), "{source}");
            assert!(error.to_string().contains("unreadable"), "{error}");
        }
        other => panic!("expected an undecodable item, got {other:?}"),
    }
    match &outcome.get("item-002").unwrap().result {
        Err(ItemError::Rejected {
            code,
            message,
            details,
        }) => {
            assert_eq!(*code, pearsana::ErrorCode::NotFound);
            assert!(message.contains("STU-2024-002"), "{message}");
            // The malformed member is dropped, the well-formed one is kept.
            match details {
                pearsana::ErrorDetails::Other(details) => {
                    assert_eq!(details.type_.as_deref(), Some("sis"));
                    assert_eq!(details.external_id, None);
                }
                other => panic!("expected the kept details, got {other:?}"),
            }
        }
        other => panic!("expected a rejected item, got {other:?}"),
    }

    // An answer without a results list is still an error for the whole batch.
    let server = scripted(
        "POST",
        &route,
        200,
        &json!({ "summary": answer["summary"] }),
    )
    .await;
    let items = request::<types::SubmitDocumentBatchRequest>(operation).items;
    let outcome = client(&server).submit_documents(items).await.unwrap();
    for item in &outcome.items {
        assert!(
            matches!(&item.result, Err(ItemError::Request(error)) if matches!(**error, Error::Decode { .. })),
            "{:?}",
            item.result
        );
    }
}
