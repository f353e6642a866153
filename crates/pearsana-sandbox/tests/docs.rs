//! `GET /docs`: the rendered API reference, built from the spec the sandbox serves.

mod common;

use common::*;
use pearsana_api::spec::operations;

#[tokio::test]
async fn docs_are_a_self_contained_page_of_the_served_spec() {
    let sandbox = start().await;
    let response = reqwest::get(format!("{}/docs", sandbox.url()))
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers()["content-type"],
        "text/html; charset=utf-8"
    );
    let page = response.text().await.unwrap();
    // Scripts are inlined: no <script src=...> to fetch from elsewhere.
    assert!(!page.contains("<script src="), "the page loads a script");
    // The page embeds the spec; every operation of the spec is in it.
    for op in operations::ALL {
        let camel: String = op
            .id
            .split('_')
            .enumerate()
            .map(|(i, w)| {
                if i == 0 {
                    w.to_string()
                } else {
                    w[..1].to_uppercase() + &w[1..]
                }
            })
            .collect();
        assert!(page.contains(&format!("\"{camel}\"")), "{camel} is missing");
    }
}
