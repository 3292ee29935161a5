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

/// The patterns the description gives the texts keyflow checks say exactly what keyflow
/// accepts (within the lengths), so a generated request that fits the description is never
/// refused and one that does not is never stored: schemathesis (`scripts/fuzz.sh`) checks both
/// ways. The one gap: a pattern cannot name the noncharacters outside the Basic Multilingual
/// Plane (U+1FFFE…), which keyflow refuses and the description allows.
#[test]
fn the_text_patterns_say_what_keyflow_accepts() {
    use keyflow::domain::{FlowName, KeyName, person_name, prose, tag};
    use proptest::prelude::*;

    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(SNAPSHOT);
    let document: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let schemas = &document["components"]["schemas"];
    let pattern = |schema: &str, property: &str, items: bool| {
        let mut field = &schemas[schema]["properties"][property];
        if items {
            field = &field["items"];
        }
        let text = field["pattern"]
            .as_str()
            .unwrap_or_else(|| panic!("{schema}.{property} has no pattern"));
        regex::Regex::new(text).unwrap_or_else(|error| panic!("{schema}.{property}: {error}"))
    };
    let comment = &document["paths"]["/api/draw/1/flow/snap/{flow}"]["post"]["requestBody"]["content"]
        ["application/json"]["schema"]["oneOf"][1]["pattern"];
    let comment = regex::Regex::new(comment.as_str().expect("the comment has a pattern")).unwrap();
    type Accepts = fn(&str) -> bool;
    let checks: Vec<(&str, regex::Regex, Accepts)> = vec![
        (
            "a flow's name",
            pattern("FlowRequestAPI", "developerName", false),
            |t| FlowName::parse(t).is_ok(),
        ),
        (
            "a flow's summary",
            pattern("FlowRequestAPI", "developerSummary", false),
            |t| prose("s", t).is_ok(),
        ),
        (
            "a flow's tag",
            pattern("FlowRequestAPI", "tags", true),
            |t| tag("t", t).is_ok(),
        ),
        ("a snapshot's comment", comment, |t| prose("c", t).is_ok()),
        (
            "the tenant's summary",
            pattern("TenantRequestAPI", "developerSummary", false),
            |t| prose("s", t).is_ok(),
        ),
        (
            "a first name",
            pattern("UserUpdateRequestAPI", "firstName", false),
            |t| person_name("n", Some(t)).is_ok(),
        ),
        (
            "a last name",
            pattern("UserUpdateRequestAPI", "lastName", false),
            |t| person_name("n", Some(t)).is_ok(),
        ),
        (
            "a new user's first name",
            pattern("UserAddRequestAPI", "firstName", false),
            |t| person_name("n", Some(t)).is_ok(),
        ),
        (
            "a new user's last name",
            pattern("UserAddRequestAPI", "lastName", false),
            |t| person_name("n", Some(t)).is_ok(),
        ),
        (
            "a user's own first name",
            pattern("UserMeUpdateRequest", "firstName", false),
            |t| person_name("n", Some(t)).is_ok(),
        ),
        (
            "a user's own last name",
            pattern("UserMeUpdateRequest", "lastName", false),
            |t| person_name("n", Some(t)).is_ok(),
        ),
        (
            "a key's name",
            pattern("NewApiKeyRequest", "name", false),
            |t| KeyName::parse(t).is_ok(),
        ),
    ];
    // The characters the rules are about, often, and any other character now and then.
    let telling = [
        '\0', '\t', '\n', '\u{b}', '\r', '\u{1f}', ' ', 'a', 'é', 'ن', '\u{7f}', '\u{85}',
        '\u{9f}', '\u{a0}', '\u{1680}', '\u{2000}', '\u{200a}', '\u{200b}', '\u{200c}', '\u{200d}',
        '\u{2028}', '\u{2029}', '\u{202a}', '\u{202e}', '\u{202f}', '\u{205f}', '\u{2060}',
        '\u{2064}', '\u{2065}', '\u{2066}', '\u{2069}', '\u{3000}', '\u{fdd0}', '\u{fdef}',
        '\u{feff}', '\u{fffd}', '\u{fffe}', '\u{ffff}', '🚀', '.', '/', '\\',
    ];
    let character = prop_oneof![
        4 => proptest::sample::select(telling.to_vec()),
        1 => any::<char>().prop_filter("a noncharacter beyond the BMP", |c| {
            let code = u32::from(*c);
            code <= 0xFFFF || code & 0xFFFE != 0xFFFE
        }),
    ];
    let texts = proptest::collection::vec(character, 0..8).prop_map(String::from_iter);
    let mut runner = proptest::test_runner::TestRunner::new(ProptestConfig::with_cases(4000));
    runner
        .run(&texts, |text| {
            for (field, pattern, accepts) in &checks {
                prop_assert_eq!(
                    pattern.is_match(&text),
                    accepts(&text),
                    "{} {:?}: the description and keyflow disagree",
                    field,
                    text
                );
            }
            Ok(())
        })
        .unwrap();
}
