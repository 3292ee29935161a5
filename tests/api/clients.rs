//! What real clients trip on: CORS for pages of other origins, objects where Boomi's shapes
//! have objects, a key made for the `manywhotenant` tenant, query names in any case, tokens
//! kept with their JSON quotes (or one of them), `manywhotenant: null`, unknown API paths
//! without a credential, trailing slashes, and installing a service (refused: no connectors).

use reqwest::{Method, Response, StatusCode};
use serde_json::json;

use crate::helpers::{
    TestApp, assert_error, assert_json, assert_unauthorized, both_backends, enc, flow_names,
};

both_backends! {
    a_preflight_is_answered_without_a_credential_and_never_allows_credentials,
    api_answers_carry_cors_headers_also_from_the_caches,
    the_pages_carry_no_cors_headers,
    only_the_configured_origins_are_allowed,
    a_flow_answers_its_authorization_and_identity_provider_as_objects,
    tenant_settings_are_objects_and_round_trip,
    a_key_without_tenant_id_is_for_the_manywhotenant_tenant,
    query_names_match_in_any_case_and_twice_in_two_cases_is_refused,
    a_token_or_key_in_quotes_is_accepted,
    a_token_or_key_with_a_stray_quote_is_accepted,
    a_null_or_empty_manywhotenant_is_no_tenant_header,
    an_unknown_api_path_needs_a_credential_and_is_404_with_one,
    a_trailing_slash_is_served_as_the_path_without_it,
    installing_a_service_is_refused_as_not_implemented,
}

const ORIGIN: &str = "https://builder.example";
const FLOW: &str = "/api/draw/1/flow";

fn header<'a>(response: &'a Response, name: &str) -> Option<&'a str> {
    response.headers().get(name).map(|v| v.to_str().unwrap())
}

async fn a_preflight_is_answered_without_a_credential_and_never_allows_credentials() {
    let app = TestApp::spawn().await;
    for path in [
        FLOW,
        "/api/admin/1/users/me/keys",
        "/api/draw/1/nothing-here",
    ] {
        let response = app
            .client
            .request(Method::OPTIONS, app.url(path))
            .header("origin", ORIGIN)
            .header("access-control-request-method", "POST")
            .header(
                "access-control-request-headers",
                "x-boomi-flow-api-key,manywhotenant,authorization,content-type",
            )
            .send()
            .await
            .unwrap();
        assert!(
            response.status().is_success(),
            "{path}: {}",
            response.status()
        );
        assert_eq!(header(&response, "access-control-allow-origin"), Some("*"));
        let allowed = header(&response, "access-control-allow-headers")
            .unwrap()
            .to_ascii_lowercase();
        for needed in [
            "x-boomi-flow-api-key",
            "manywhotenant",
            "authorization",
            "content-type",
        ] {
            assert!(allowed.contains(needed), "{needed} not in {allowed}");
        }
        let methods = header(&response, "access-control-allow-methods").unwrap();
        assert!(
            methods.contains("POST") && methods.contains("DELETE"),
            "{methods}"
        );
        assert!(
            response
                .headers()
                .get("access-control-allow-credentials")
                .is_none(),
            "credentials must never be allowed across origins"
        );
    }
}

async fn api_answers_carry_cors_headers_also_from_the_caches() {
    let app = TestApp::spawn().await;
    let key = app.new_key("page").await;
    // The first request fills the key and list caches; the second would be answered from
    // them before routing — with an Origin it must still carry the CORS headers.
    let mut bodies = Vec::new();
    for _ in 0..3 {
        let response = app
            .with_key(Method::GET, FLOW, &key)
            .header("origin", ORIGIN)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(header(&response, "access-control-allow-origin"), Some("*"));
        let exposed = header(&response, "access-control-expose-headers").unwrap();
        assert!(exposed.contains("x-request-id"), "{exposed}");
        assert!(
            response
                .headers()
                .get("access-control-allow-credentials")
                .is_none()
        );
        bodies.push(response.text().await.unwrap());
    }
    assert!(
        bodies.windows(2).all(|pair| pair[0] == pair[1]),
        "{bodies:?}"
    );
    // Without an Origin the early answer still serves the same list.
    let plain = app.with_key(Method::GET, FLOW, &key).send().await.unwrap();
    assert_eq!(plain.text().await.unwrap(), bodies[0]);
    // An error of the API carries them too, so a page can read it.
    let refused = app
        .client
        .get(app.url(FLOW))
        .header("origin", ORIGIN)
        .send()
        .await
        .unwrap();
    assert_eq!(header(&refused, "access-control-allow-origin"), Some("*"));
    assert_unauthorized(refused).await;
}

async fn the_pages_carry_no_cors_headers() {
    let app = TestApp::spawn().await;
    for path in ["/login", "/settings", "/no-such-page"] {
        let response = app
            .client
            .get(app.url(path))
            .header("origin", ORIGIN)
            .send()
            .await
            .unwrap();
        assert!(
            response
                .headers()
                .keys()
                .all(|name| !name.as_str().starts_with("access-control-")),
            "{path}: {:?}",
            response.headers()
        );
    }
    let preflight = app
        .client
        .request(Method::OPTIONS, app.url("/login"))
        .header("origin", ORIGIN)
        .header("access-control-request-method", "POST")
        .send()
        .await
        .unwrap();
    assert!(
        preflight
            .headers()
            .get("access-control-allow-origin")
            .is_none()
    );
}

async fn only_the_configured_origins_are_allowed() {
    let app = TestApp::spawn_with(|config| {
        config.cors_origins = Some(vec![ORIGIN.to_string(), "http://localhost:3000".into()]);
    })
    .await;
    let key = app.new_key("page").await;
    for (origin, allowed) in [
        (ORIGIN, true),
        ("http://localhost:3000", true),
        ("https://evil.example", false),
    ] {
        let response = app
            .with_key(Method::GET, FLOW, &key)
            .header("origin", origin)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        let expected = allowed.then_some(origin);
        assert_eq!(header(&response, "access-control-allow-origin"), expected);
    }
}

async fn a_flow_answers_its_authorization_and_identity_provider_as_objects() {
    let app = TestApp::spawn().await;
    let key = app.new_key("flows").await;
    let created = app
        .with_key(Method::POST, FLOW, &key)
        .json(&json!({"developerName": "Plain", "authorization": null}))
        .send()
        .await
        .unwrap();
    let flow = assert_json(created, StatusCode::OK).await;
    assert_eq!(
        flow["authorization"],
        json!({"serviceElementId": null, "globalAuthenticationType": null,
               "streamBehaviourType": null, "showPagesAsReadOnly": false,
               "groups": null, "users": null, "locations": null})
    );
    assert_eq!(
        flow["identityProvider"],
        json!({"id": null, "allowedUsers": null, "allowedGroups": null})
    );
    // In the list, a snapshot and the running version too.
    let list = assert_json(app.list_flows(Some(&key), None).await, StatusCode::OK).await;
    assert!(list[0]["authorization"].is_object() && list[0]["identityProvider"].is_object());
    let id = flow["id"]["id"].as_str().unwrap();
    let snap = app
        .with_key(Method::POST, &format!("{FLOW}/snap/{id}"), &key)
        .send()
        .await
        .unwrap();
    let snap = assert_json(snap, StatusCode::OK).await;
    assert!(snap["authorization"].is_object() && snap["identityProvider"].is_object());
    // What was set is answered as set.
    let auth = json!({"serviceElementId": null, "globalAuthenticationType": "PUBLIC",
        "streamBehaviourType": "NONE", "showPagesAsReadOnly": true,
        "groups": null, "users": null, "locations": null});
    let mut again = flow.clone();
    again["authorization"] = auth.clone();
    let saved = app
        .with_key(Method::POST, FLOW, &key)
        .json(&again)
        .send()
        .await
        .unwrap();
    assert_eq!(
        assert_json(saved, StatusCode::OK).await["authorization"],
        auth
    );
}

async fn tenant_settings_are_objects_and_round_trip() {
    let app = TestApp::spawn().await;
    let token = app.admin_token().await;
    let tenant = "/api/admin/1/tenant";
    let before = app
        .with_token(Method::GET, tenant, &token)
        .send()
        .await
        .unwrap();
    let before = assert_json(before, StatusCode::OK).await;
    for field in [
        "securitySettings",
        "stateSettings",
        "observabilitySettings",
        "tenantSettings",
        "externalStorageSettings",
    ] {
        assert!(before[field].is_object(), "{field}: {}", before[field]);
    }
    assert_eq!(before["tenantSettings"]["themes"], false);
    assert_eq!(before["securitySettings"]["isSamlEnabled"], false);

    let sent = json!({"themes": true, "environments": true, "releaseCycle": 1,
        "integrationAccounts": [{"id": "a"}], "notInTheDescription": {"kept": "as sent"}});
    let posted = app
        .with_token(Method::POST, tenant, &token)
        .json(&json!({"developerSummary": "ours", "tenantSettings": sent}))
        .send()
        .await
        .unwrap();
    let posted = assert_json(posted, StatusCode::OK).await;
    let expected = json!({"disableServiceInvokerLogging": false, "formatValues": false,
        "useRegionalRedirectUris": false, "themes": true, "environments": true,
        "releaseCycle": 1, "integrationAccounts": [{"id": "a"}],
        "notInTheDescription": {"kept": "as sent"}, "maxApiKeyLifetimeDays": null,
        "apiKeyRateLimit": null});
    assert_eq!(posted["tenantSettings"], expected);
    let read = app
        .with_token(Method::GET, tenant, &token)
        .send()
        .await
        .unwrap();
    assert_eq!(
        assert_json(read, StatusCode::OK).await["tenantSettings"],
        expected
    );

    // Another change that leaves them out (or null) keeps them.
    let renamed = app
        .with_token(Method::POST, tenant, &token)
        .json(&json!({"developerSummary": "still ours", "tenantSettings": null}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        assert_json(renamed, StatusCode::OK).await["tenantSettings"],
        expected
    );

    // users/me shows each tenant's settings, and the member's own settings, as objects.
    let me = app.me(&token).await;
    let ours = &me["tenants"][0];
    assert_eq!(ours["tenantSettings"], expected);
    assert_eq!(ours["settings"]["enabledSSO"], false);

    for wrong in [
        json!([]),
        json!({"themes": "yes"}),
        json!({"releaseCycle": 9}),
    ] {
        let refused = app
            .with_token(Method::POST, tenant, &token)
            .json(&json!({"tenantSettings": wrong}))
            .send()
            .await
            .unwrap();
        assert_error(refused, StatusCode::UNPROCESSABLE_ENTITY).await;
    }
    let unchanged = app
        .with_token(Method::GET, tenant, &token)
        .send()
        .await
        .unwrap();
    assert_eq!(
        assert_json(unchanged, StatusCode::OK).await["tenantSettings"],
        expected
    );
}

async fn a_key_without_tenant_id_is_for_the_manywhotenant_tenant() {
    let app = TestApp::spawn().await;
    let other = app.second_tenant("Second").await;
    let token = app.admin_token().await;
    let keys = "/api/admin/1/users/me/keys";
    let made = app
        .with_token(Method::POST, keys, &token)
        .header("manywhotenant", &other)
        .json(&json!({"name": "from-header"}))
        .send()
        .await
        .unwrap();
    let made = assert_json(made, StatusCode::OK).await;
    assert_eq!(made["tenantId"], other.as_str());
    // The key works in that tenant.
    let key = made["apiKey"].as_str().unwrap();
    let listed = app.list_flows(Some(key), Some(&other)).await;
    assert_eq!(listed.status(), StatusCode::OK);
    // A tenantId in the body wins over the header.
    let made = app
        .with_token(Method::POST, keys, &token)
        .header("manywhotenant", &other)
        .json(&json!({"name": "from-body", "tenantId": app.tenant_id}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        assert_json(made, StatusCode::OK).await["tenantId"],
        app.tenant_id.as_str()
    );
    // With neither, the clear 422.
    let neither = app
        .with_token(Method::POST, keys, &token)
        .json(&json!({"name": "nowhere"}))
        .send()
        .await
        .unwrap();
    let message = assert_error(neither, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert!(message.contains("tenantId"), "{message}");
}

async fn query_names_match_in_any_case_and_twice_in_two_cases_is_refused() {
    let app = TestApp::spawn().await;
    let key = app.new_key("query").await;
    for name in ["Alpha", "Beta", "Gamma"] {
        let made = app
            .with_key(Method::POST, FLOW, &key)
            .json(&json!({"developerName": name}))
            .send()
            .await
            .unwrap();
        assert_eq!(made.status(), StatusCode::OK);
    }
    let filter = enc("developerName eq 'beta'");
    for name in ["filter", "Filter", "FILTER"] {
        let response = app
            .get_flows(&format!("{FLOW}?{name}={filter}"), Some(&key), None)
            .await;
        let flows = assert_json(response, StatusCode::OK).await;
        assert_eq!(flow_names(&flows), ["Beta"], "{name}");
    }
    let paged = app
        .get_flows(&format!("{FLOW}?PAGE=2&PageSize=1"), Some(&key), None)
        .await;
    assert_eq!(
        flow_names(&assert_json(paged, StatusCode::OK).await),
        ["Beta"]
    );
    let users = app
        .with_key(Method::GET, "/api/admin/1/users?PAGESIZE=1", &key)
        .send()
        .await
        .unwrap();
    let users = assert_json(users, StatusCode::OK).await;
    assert_eq!(users["_meta"]["pageSize"], 1);

    let twice = app
        .get_flows(
            &format!("{FLOW}?filter={filter}&Filter={filter}"),
            Some(&key),
            None,
        )
        .await;
    let message = assert_error(twice, StatusCode::BAD_REQUEST).await;
    assert!(message.contains("different cases"), "{message}");
}

async fn a_token_or_key_in_quotes_is_accepted() {
    let app = TestApp::spawn().await;
    // What a tool keeps of the sign-in's answer: the JSON string, quotes and all.
    let login = app.try_login(&app.admin_email, &app.admin_password).await;
    let kept = login.text().await.unwrap();
    assert!(kept.starts_with('"') && kept.ends_with('"'), "{kept}");
    for sent in [kept.clone(), format!("Bearer {kept}")] {
        let me = app
            .client
            .get(app.url("/api/admin/1/users/me"))
            .header("authorization", &sent)
            .send()
            .await
            .unwrap();
        assert_eq!(
            assert_json(me, StatusCode::OK).await["email"],
            app.admin_email.as_str()
        );
    }
    let key = app.new_key("quoted").await;
    let listed = app.list_flows(Some(&format!("\"{key}\"")), None).await;
    assert_eq!(listed.status(), StatusCode::OK);
    // Only quotes are forgiven: a wrong token stays wrong.
    let wrong = app
        .client
        .get(app.url("/api/admin/1/users/me"))
        .header("authorization", "\"not-a-token\"")
        .send()
        .await
        .unwrap();
    assert_unauthorized(wrong).await;
}

/// A client that strips only one of the sign-in answer's JSON quotes sends the token with a
/// quote at one end: it is read as the token. Issue 20, point 2.
async fn a_token_or_key_with_a_stray_quote_is_accepted() {
    let app = TestApp::spawn().await;
    let login = app.try_login(&app.admin_email, &app.admin_password).await;
    let kept = login.text().await.unwrap();
    let leading = kept.strip_suffix('"').unwrap().to_string();
    let trailing = kept.strip_prefix('"').unwrap().to_string();
    for sent in [
        leading.clone(),
        trailing.clone(),
        format!("Bearer {leading}"),
        format!("Bearer {trailing}"),
    ] {
        let me = app
            .client
            .get(app.url("/api/admin/1/users/me"))
            .header("authorization", &sent)
            .send()
            .await
            .unwrap();
        assert_eq!(
            assert_json(me, StatusCode::OK).await["email"],
            app.admin_email.as_str(),
            "{sent}"
        );
    }
    let key = app.new_key("stray").await;
    for sent in [format!("\"{key}"), format!("{key}\"")] {
        let listed = app.list_flows(Some(&sent), None).await;
        assert_eq!(listed.status(), StatusCode::OK, "{sent}");
    }
    // Every other malformed form keeps today's 401: a quote inside, a lone quote, two at an
    // end that leave one behind, another scheme.
    let refused_token = |sent: String| {
        app.client
            .get(app.url("/api/admin/1/users/me"))
            .header("authorization", sent)
            .send()
    };
    let token_refusal =
        assert_unauthorized(refused_token("\"not-a-token".into()).await.unwrap()).await;
    let inner = &kept[1..kept.len() - 1];
    for sent in [
        format!("{}\"{}", &inner[..8], &inner[8..]),
        "\"".to_string(),
        format!("\"\"{inner}"),
        format!("{inner}\"\""),
        format!("Basic {inner}"),
    ] {
        let answer = refused_token(sent.clone()).await.unwrap();
        assert_eq!(assert_unauthorized(answer).await, token_refusal, "{sent}");
    }
    let key_refusal = assert_unauthorized(app.list_flows(Some("kf_nope"), None).await).await;
    for sent in [format!("\"\"{key}"), format!("{key}\"\""), "\"".to_string()] {
        let answer = app.list_flows(Some(&sent), None).await;
        assert_eq!(assert_unauthorized(answer).await, key_refusal, "{sent}");
    }
}

/// A script that formats an unset tenant into the header sends `ManyWhoTenant: null` (or an
/// empty value): read as no tenant header, so the key or token decides the tenant. Issue 20,
/// point 2.
async fn a_null_or_empty_manywhotenant_is_no_tenant_header() {
    let app = TestApp::spawn().await;
    let key = app.new_key("null tenant").await;
    let token = app.admin_token().await;
    for tenant in ["null", "NULL", ""] {
        let with_key = app.list_flows(Some(&key), Some(tenant)).await;
        assert_eq!(with_key.status(), StatusCode::OK, "{tenant:?}");
        let with_token = app
            .with_token(Method::GET, "/api/admin/1/tenant", &token)
            .header("ManyWhoTenant", tenant)
            .send()
            .await
            .unwrap();
        let answer = assert_json(with_token, StatusCode::OK).await;
        assert_eq!(answer["id"], app.tenant_id.as_str(), "{tenant:?}");
    }
    // Anything else still has to be a tenant id.
    for tenant in ["undefined", "none", "\"null\""] {
        let answer = app.list_flows(Some(&key), Some(tenant)).await;
        let message = assert_error(answer, StatusCode::BAD_REQUEST).await;
        assert!(message.contains("manywhotenant"), "{message}");
    }
}

async fn an_unknown_api_path_needs_a_credential_and_is_404_with_one() {
    let app = TestApp::spawn().await;
    let missing = app.client.get(app.url(FLOW)).send().await.unwrap();
    let missing = assert_unauthorized(missing).await;
    for path in ["/api/draw/1/nothing", "/api/nothing/at/all"] {
        for method in [Method::GET, Method::POST, Method::DELETE] {
            let response = app
                .client
                .request(method, app.url(path))
                .send()
                .await
                .unwrap();
            assert_eq!(assert_unauthorized(response).await, missing, "{path}");
        }
    }
    let key = app.new_key("unknown").await;
    let with_key = app
        .with_key(Method::GET, "/api/draw/1/nothing", &key)
        .send()
        .await
        .unwrap();
    assert_error(with_key, StatusCode::NOT_FOUND).await;
    let token = app.admin_token().await;
    let with_token = app
        .with_token(Method::GET, "/api/nothing/at/all", &token)
        .send()
        .await
        .unwrap();
    assert_error(with_token, StatusCode::NOT_FOUND).await;
    // Outside the API, nothing changes: a 404 without a credential.
    let page = app
        .client
        .get(app.url("/no-such-page"))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), StatusCode::NOT_FOUND);
}

/// Tools join a base ending in `/` with an empty last part: every method on an API path with a
/// trailing slash is served as the path without it, its query kept. Issue 20, point 5.
async fn a_trailing_slash_is_served_as_the_path_without_it() {
    let app = TestApp::spawn().await;
    let key = app.new_key("slash").await;
    let send = |method: Method, path: &str| app.with_key(method, path, &key);

    let created = send(Method::POST, "/api/draw/1/flow/")
        .json(&json!({ "developerName": "Slashed" }))
        .send()
        .await
        .unwrap();
    let flow = assert_json(created, StatusCode::OK).await;
    let id = flow["id"]["id"].as_str().unwrap().to_string();
    send(Method::POST, FLOW)
        .json(&json!({ "developerName": "Other" }))
        .send()
        .await
        .unwrap();

    // The query string stays: the filter applies. Twice, so the second is the cached list's.
    let filter = enc("developerName eq 'Slashed'");
    for _ in 0..2 {
        let listed = send(Method::GET, &format!("{FLOW}/?filter={filter}"))
            .send()
            .await
            .unwrap();
        let names = flow_names(&assert_json(listed, StatusCode::OK).await);
        assert_eq!(names, ["Slashed"]);
        let whole = send(Method::GET, &format!("{FLOW}/")).send().await.unwrap();
        assert_eq!(
            flow_names(&assert_json(whole, StatusCode::OK).await).len(),
            3
        );
    }
    let values = send(Method::GET, "/api/draw/1/element/value/")
        .send()
        .await
        .unwrap();
    let without = send(Method::GET, "/api/draw/1/element/value")
        .send()
        .await
        .unwrap();
    assert_eq!(
        assert_json(values, StatusCode::OK).await,
        assert_json(without, StatusCode::OK).await
    );
    let one = send(Method::GET, &format!("{FLOW}/{id}/"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        assert_json(one, StatusCode::OK).await["developerName"],
        "Slashed"
    );
    let deleted = send(Method::DELETE, &format!("{FLOW}/{id}//"))
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), StatusCode::OK);
    let gone = send(Method::GET, &format!("{FLOW}/{id}"))
        .send()
        .await
        .unwrap();
    assert_error(gone, StatusCode::NOT_FOUND).await;

    // Nothing else changes: no credential is the same 401, an unknown path the same 404,
    // a method a path does not have the same 405.
    let bare = app.client.get(app.url(FLOW)).send().await.unwrap();
    let slashed = app
        .client
        .get(app.url(&format!("{FLOW}/")))
        .send()
        .await
        .unwrap();
    assert_eq!(
        assert_unauthorized(slashed).await,
        assert_unauthorized(bare).await
    );
    let unknown = send(Method::GET, "/api/draw/1/nothing/")
        .send()
        .await
        .unwrap();
    assert_error(unknown, StatusCode::NOT_FOUND).await;
    let not_allowed = send(Method::PUT, &format!("{FLOW}/")).send().await.unwrap();
    assert_error(not_allowed, StatusCode::METHOD_NOT_ALLOWED).await;
}

/// Boomi's "Install Service Element" calls the connector at `uri`; keyflow calls none, and
/// says so with 501 (not a 405 from the neighbouring `…/service/{id}`). Issue 20, point 5.
async fn installing_a_service_is_refused_as_not_implemented() {
    let app = TestApp::spawn().await;
    const INSTALL: &str = "/api/draw/1/element/service/install";
    // As the builder sends it: the connector's URL and its credentials.
    let body = json!({
        "uri": "https://connector.example/api/rest/1",
        "httpAuthenticationUsername": "builder",
        "httpAuthenticationPassword": "connector-secret",
        "configurationValues": []
    });
    let bare = app
        .client
        .post(app.url(INSTALL))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_unauthorized(bare).await;
    let key = app.new_key("install").await;
    let token = app.admin_token().await;
    for request in [
        app.with_key(Method::POST, INSTALL, &key).json(&body),
        app.with_token(Method::POST, INSTALL, &token).json(&body),
        app.with_key(Method::POST, &format!("{INSTALL}/"), &key)
            .json(&body),
        app.with_key(Method::POST, INSTALL, &key),
    ] {
        let answer = request.send().await.unwrap();
        let message = assert_error(answer, StatusCode::NOT_IMPLEMENTED).await;
        assert!(
            message.contains("keyflow does not call connectors"),
            "{message}"
        );
        assert!(!message.contains("connector-secret"), "{message}");
    }
    // Nothing was saved as a service.
    let services = app
        .with_key(Method::GET, "/api/draw/1/element/service", &key)
        .send()
        .await
        .unwrap();
    assert_eq!(assert_json(services, StatusCode::OK).await, json!([]));
}
