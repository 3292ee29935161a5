//! keyflow's OpenAPI description: served without credentials, and equal to the committed
//! `docs/openapi.json` (regenerate it with `KEYFLOW_UPDATE_SNAPSHOTS=1 cargo test openapi`).

use std::collections::BTreeSet;
use std::path::PathBuf;

use reqwest::StatusCode;
use serde_json::Value;

use crate::helpers::{TestApp, assert_json};

const SNAPSHOT: &str = "docs/openapi.json";

async fn served(app: &TestApp) -> Value {
    let response = app
        .client
        .get(app.url("/api/openapi.json"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        response.headers()["content-type"],
        "application/json",
        "the description is JSON"
    );
    assert_json(response, StatusCode::OK).await
}

#[tokio::test]
async fn the_description_equals_the_committed_snapshot() {
    let app = TestApp::spawn().await;
    let document = served(&app).await;
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(SNAPSHOT);
    let generated = format!("{}\n", serde_json::to_string_pretty(&document).unwrap());
    if std::env::var_os("KEYFLOW_UPDATE_SNAPSHOTS").is_some() {
        std::fs::write(&path, &generated).unwrap();
        return;
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == generated,
        "{SNAPSHOT} is not what keyflow serves: review the change, then regenerate it with \
         KEYFLOW_UPDATE_SNAPSHOTS=1 cargo test --test api openapi"
    );
}

/// Every route answers something other than "no such endpoint" for each documented method,
/// and the description names the three credential headers.
#[tokio::test]
async fn every_documented_operation_is_routed_and_secured() {
    let app = TestApp::spawn().await;
    let document = served(&app).await;
    let schemes = &document["components"]["securitySchemes"];
    let headers: BTreeSet<&str> = ["apiKey", "tenant", "token"]
        .iter()
        .map(|name| schemes[name]["name"].as_str().expect("a header scheme"))
        .collect();
    assert_eq!(
        headers,
        BTreeSet::from(["x-boomi-flow-api-key", "manywhotenant", "Authorization"])
    );
    let paths = document["paths"].as_object().unwrap();
    assert!(paths.len() >= 20, "only {} paths", paths.len());
    for (path, item) in paths {
        for (method, operation) in item.as_object().unwrap() {
            assert!(
                operation["security"].is_array(),
                "{method} {path} states no security"
            );
            let concrete = path
                .replace("{isDefault}", "true")
                .replace("{isActivated}", "true")
                .replace('{', "x")
                .replace('}', "");
            let request = app
                .client
                .request(method.to_uppercase().parse().unwrap(), app.url(&concrete));
            let response = request.send().await.unwrap();
            let body = response.text().await.unwrap();
            assert_ne!(
                body, "\"there is no such endpoint\"",
                "{method} {path} is not routed"
            );
        }
    }
}
