//! Packages by sharing token: `POST /api/package/1/flow/{flow}[/{version}]/share`,
//! `POST /api/package/1/shared/flow`, and keyflow's revocations
//! (`DELETE /api/package/1/flow/{flow}/share` and `…/shares`).

use reqwest::{Method, Response, StatusCode};
use serde_json::{Value, json};

use crate::graph_seed::{graph_of, seed};
use crate::helpers::{Backend, TestApp, assert_error, assert_json, both_backends};

both_backends! {
    a_shared_flow_arrives_in_another_tenant_as_it_was_when_shared,
    sharing_blanks_passwords_unless_told_not_to,
    a_revoked_token_imports_nothing,
    an_expired_token_imports_nothing,
    garbage_tokens_are_refused_as_unknown_ones_and_bodies_without_one_are_422,
    sharing_and_importing_take_the_export_and_import_rights,
    the_token_is_kept_only_as_its_digest,
}

const PACKAGE: &str = "/api/package/1";
const SHARED: &str = "/api/package/1/shared/flow";

/// `POST …/share` with a key; returns the token.
async fn share(app: &TestApp, key: &str, path: &str) -> String {
    let response = app.with_key(Method::POST, path, key).send().await.unwrap();
    let answer = assert_json(response, StatusCode::OK).await;
    let fields = answer.as_object().expect("an object");
    assert_eq!(fields.len(), 1, "only the token: {answer}");
    let token = answer["token"].as_str().expect("a token").to_string();
    // `kfs_` and 32 random bytes in URL-safe base64: opaque, naming no flow or tenant.
    assert!(
        token.starts_with("kfs_") && token.len() == 4 + 43,
        "{token}"
    );
    token
}

/// `POST /api/package/1/shared/flow{query}` with a key and `body`, whatever it answers.
async fn import(app: &TestApp, key: &str, query: &str, body: &Value) -> Response {
    app.with_key(Method::POST, &format!("{SHARED}{query}"), key)
        .json(body)
        .send()
        .await
        .unwrap()
}

/// `DELETE /api/package/1/flow/{flow}/share` with the token in the body.
async fn revoke(app: &TestApp, key: &str, flow: &str, token: &str) -> Response {
    app.with_key(Method::DELETE, &format!("{PACKAGE}/flow/{flow}/share"), key)
        .json(&json!({ "token": token }))
        .send()
        .await
        .unwrap()
}

/// A second tenant of the administrator, and the administrator's key there.
async fn other_tenant(app: &TestApp, name: &str) -> (String, String) {
    let other = app.second_tenant(name).await;
    let token = app.admin_token().await;
    let key = app.new_key_for(&token, "other", &other).await;
    (other, key)
}

/// The package the export answers for `path`.
async fn export(app: &TestApp, key: &str, path: &str) -> Value {
    let response = app.with_key(Method::GET, path, key).send().await.unwrap();
    let answer = assert_json(response, StatusCode::OK).await;
    serde_json::from_str(answer.as_str().expect("a JSON string")).unwrap()
}

/// The refusal of a dead token: 404, saying the token is unknown, revoked or expired.
async fn assert_dead(response: Response) {
    let message = assert_error(response, StatusCode::NOT_FOUND).await;
    assert!(message.contains("unknown, revoked or expired"), "{message}");
}

async fn a_shared_flow_arrives_in_another_tenant_as_it_was_when_shared() {
    let app = TestApp::spawn().await;
    let key = app.new_key("sharer").await;
    let seeded = seed(&app, &key, &app.tenant_id, "Shared", 6).await;
    // Shared as the export answers with passwords blanked (sharing's default).
    let path = format!("{PACKAGE}/flow/{}?nullPasswords=true", seeded.flow);
    let before = export(&app, &key, &path).await;
    let token = share(&app, &key, &format!("{PACKAGE}/flow/{}/share", seeded.flow)).await;
    // The package is frozen at issue: a later change of the flow is not shared.
    let renamed = app
        .with_key(Method::POST, "/api/draw/1/flow", &key)
        .json(&json!({ "id": { "id": seeded.flow }, "developerName": "Renamed after" }))
        .send()
        .await
        .unwrap();
    let renamed = assert_json(renamed, StatusCode::OK).await;

    let (other, other_key) = other_tenant(&app, "Receiver").await;
    let imported = assert_json(
        import(&app, &other_key, "", &json!({ "token": token })).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(imported["developerName"], "Shared");
    let id = imported["id"]["id"].as_str().unwrap().to_string();
    assert_ne!(
        id, seeded.flow,
        "another tenant holds the id: a derived one"
    );
    let copy = export(&app, &other_key, &format!("{PACKAGE}/flow/{id}")).await;
    assert_eq!(copy["tenantId"], other.as_str());
    assert_eq!(
        graph_of(&copy["flow"]),
        graph_of(&before["flow"]),
        "the flow arrives with its elements and the tenant elements it uses"
    );

    // A token works more than once, with the import's flags: here a running snapshot.
    let query = "?isSnapshot=true&isActive=true&isDefault=true";
    let snapshot = assert_json(
        import(&app, &other_key, query, &json!({ "token": token })).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(snapshot["id"]["id"], id.as_str());
    assert_eq!(
        (&snapshot["isActive"], &snapshot["isDefault"]),
        (&json!(true), &json!(true))
    );
    // The import's rules: without overwriting, a differing element of the tenant is a 409.
    crate::graph_seed::change_element(
        &app,
        &other,
        seeded.values[0],
        "contentType",
        json!("ContentString"),
    )
    .await;
    let body = json!({ "token": token });
    let refused = import(&app, &other_key, "?overwriteExisting=false", &body).await;
    assert_eq!(refused.status(), StatusCode::CONFLICT);
    let body: Value = refused.json().await.unwrap();
    assert_eq!(
        body["existingElements"]["valueElements"][0]["id"],
        seeded.values[0].to_string()
    );
    assert_error(
        import(
            &app,
            &other_key,
            "?isSnapshot=yes",
            &json!({ "token": token }),
        )
        .await,
        StatusCode::BAD_REQUEST,
    )
    .await;

    // One version by its id (here the current one, renamed), imported into the sharing
    // tenant itself: the flow keeps its id there.
    let version = renamed["id"]["versionId"].as_str().unwrap();
    let path = format!("{PACKAGE}/flow/{}/{version}/share", seeded.flow);
    let by_version = share(&app, &key, &path).await;
    let back = assert_json(
        import(&app, &key, "", &json!({ "token": by_version })).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(back["id"]["id"], seeded.flow.as_str());
    assert_eq!(back["developerName"], "Renamed after");

    // Unknown flows and versions are 404s, as for the export; a malformed one a 400.
    let nowhere = uuid::Uuid::new_v4();
    for path in [
        format!("{PACKAGE}/flow/{nowhere}/share"),
        format!("{PACKAGE}/flow/{}/{nowhere}/share", seeded.flow),
    ] {
        let response = app
            .with_key(Method::POST, &path, &key)
            .send()
            .await
            .unwrap();
        assert_error(response, StatusCode::NOT_FOUND).await;
    }
    let response = app
        .with_key(Method::POST, &format!("{PACKAGE}/flow/nope/share"), &key)
        .send()
        .await
        .unwrap();
    assert_error(response, StatusCode::BAD_REQUEST).await;
}

async fn sharing_blanks_passwords_unless_told_not_to() {
    let app = TestApp::spawn().await;
    let key = app.new_key("sharer").await;
    let seeded = seed(&app, &key, &app.tenant_id, "Secrets", 2).await;
    let (_, other_key) = other_tenant(&app, "Receiver").await;
    let service = |package: &Value| package["flow"]["serviceElements"][0].clone();
    let latest = format!("{PACKAGE}/flow/{}", seeded.flow);
    let version = export(&app, &key, &latest).await["versionId"]
        .as_str()
        .unwrap()
        .to_string();
    let of_version = format!("{latest}/{version}");

    // What the token imported leaves in the receiving tenant: its copy's export, passwords
    // kept (nullPasswords=false) so it shows what arrived.
    let arrived = |token: String| {
        let (app, other_key) = (&app, &other_key);
        async move {
            let imported = assert_json(
                import(app, other_key, "", &json!({ "token": token })).await,
                StatusCode::OK,
            )
            .await;
            let id = imported["id"]["id"].as_str().unwrap().to_string();
            let path = format!("{PACKAGE}/flow/{id}?nullPasswords=false");
            service(&export(app, other_key, &path).await)
        }
    };
    // Blanked by default on both paths (the token leaves the tenant), and when asked.
    for path in [
        format!("{latest}/share"),
        format!("{of_version}/share"),
        format!("{latest}/share?nullPasswords=true"),
    ] {
        let got = arrived(share(&app, &key, &path).await).await;
        assert_eq!(got["httpAuthenticationPassword"], "", "{path}");
        assert_eq!(got["configurationValues"][0]["contentValue"], "", "{path}");
        assert_eq!(got["httpAuthenticationUsername"], "bot", "{path}");
    }
    // Kept when told not to blank them.
    for path in [
        format!("{latest}/share?nullPasswords=false"),
        format!("{of_version}/share?nullPasswords=false"),
    ] {
        let got = arrived(share(&app, &key, &path).await).await;
        assert_eq!(got["httpAuthenticationPassword"], "hunter2", "{path}");
    }
    let response = app
        .with_key(
            Method::POST,
            &format!("{latest}/share?nullPasswords=TRUE"),
            &key,
        )
        .send()
        .await
        .unwrap();
    assert_error(response, StatusCode::BAD_REQUEST).await;
}

async fn a_revoked_token_imports_nothing() {
    let app = TestApp::spawn().await;
    let key = app.new_key("sharer").await;
    let seeded = seed(&app, &key, &app.tenant_id, "Revoked", 2).await;
    let flow = seeded.flow.as_str();
    let shared = format!("{PACKAGE}/flow/{flow}/share");
    let (token, kept) = (
        share(&app, &key, &shared).await,
        share(&app, &key, &shared).await,
    );
    let (_, other_key) = other_tenant(&app, "Receiver").await;

    // Another tenant cannot revoke it: the flow is not theirs.
    assert_error(
        revoke(&app, &other_key, flow, &token).await,
        StatusCode::NOT_FOUND,
    )
    .await;
    assert_eq!(
        revoke(&app, &key, flow, &token).await.status(),
        StatusCode::OK
    );
    assert_dead(import(&app, &other_key, "", &json!({ "token": token })).await).await;
    // Revoking it again, or revoking a made-up token, names nothing: 404.
    assert_error(
        revoke(&app, &key, flow, &token).await,
        StatusCode::NOT_FOUND,
    )
    .await;
    let other_flow = seed(&app, &key, &app.tenant_id, "Unshared", 1).await.flow;
    assert_error(
        revoke(&app, &key, &other_flow, &kept).await,
        StatusCode::NOT_FOUND,
    )
    .await;
    // The other token of the flow still works, until every share of the flow is revoked.
    let body = json!({ "token": kept });
    assert_eq!(
        import(&app, &other_key, "", &body).await.status(),
        StatusCode::OK
    );
    let all = format!("{PACKAGE}/flow/{flow}/shares");
    let refused = app
        .with_key(Method::DELETE, &all, &other_key)
        .send()
        .await
        .unwrap();
    assert_error(refused, StatusCode::NOT_FOUND).await;
    let revoked = app
        .with_key(Method::DELETE, &all, &key)
        .send()
        .await
        .unwrap();
    assert_eq!(revoked.status(), StatusCode::OK);
    assert_dead(import(&app, &other_key, "", &body).await).await;

    // Deleting the flow ends its shares too.
    let token = share(&app, &key, &shared).await;
    let deleted = app
        .with_key(Method::DELETE, &format!("/api/draw/1/flow/{flow}"), &key)
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), StatusCode::OK);
    assert_dead(import(&app, &other_key, "", &json!({ "token": token })).await).await;
}

/// Sets every share's expiry to `at` (RFC 3339) in the server's database, beside the server:
/// the test stands in for seven days passing.
async fn expire_shares_beside(app: &TestApp, at: &str) {
    let sql = format!("UPDATE package_shares SET expires_at = '{at}'");
    match app.backend() {
        Backend::Postgres => {
            let mut db = app.postgres().await;
            sqlx::raw_sql(&sql).execute(&mut db).await.unwrap();
        }
        Backend::Sqlite => {
            use sqlx::Connection;
            let options = sqlx::sqlite::SqliteConnectOptions::new()
                .filename(app.data_dir().join("keyflow.db"))
                .busy_timeout(std::time::Duration::from_secs(10));
            let mut db = sqlx::SqliteConnection::connect_with(&options)
                .await
                .unwrap();
            sqlx::raw_sql(&sql).execute(&mut db).await.unwrap();
            db.close().await.unwrap();
        }
    }
}

async fn an_expired_token_imports_nothing() {
    let app = TestApp::spawn().await;
    let key = app.new_key("sharer").await;
    let seeded = seed(&app, &key, &app.tenant_id, "Expiring", 2).await;
    let token = share(&app, &key, &format!("{PACKAGE}/flow/{}/share", seeded.flow)).await;
    let (_, other_key) = other_tenant(&app, "Receiver").await;
    // Issued for seven days.
    let dump = app.state.store.export().await.unwrap();
    let row = &dump.package_shares[0];
    let lifetime = row.expires_at.to_rfc3339();
    let week = row
        .created_at
        .plus(std::time::Duration::from_secs(7 * 86_400));
    assert_eq!(lifetime, week.to_rfc3339());

    let body = json!({ "token": token });
    expire_shares_beside(&app, "2000-01-01T00:00:00.000000Z").await;
    assert_dead(import(&app, &other_key, "", &body).await).await;
    // The same row, its expiry moved back into the future, imports again: only the expiry
    // refused it.
    expire_shares_beside(&app, &lifetime).await;
    assert_eq!(
        import(&app, &other_key, "", &body).await.status(),
        StatusCode::OK
    );
}

async fn garbage_tokens_are_refused_as_unknown_ones_and_bodies_without_one_are_422() {
    let app = TestApp::spawn().await;
    let key = app.new_key("importer").await;
    let seeded = seed(&app, &key, &app.tenant_id, "Guarded", 1).await;
    let real = share(&app, &key, &format!("{PACKAGE}/flow/{}/share", seeded.flow)).await;
    let counts = app.row_counts().await;
    let lookalike = format!("kfs_{}", "A".repeat(43));
    let long = "x".repeat(100_000);
    let off_by_one = format!(
        "{}{}",
        &real[..real.len() - 1],
        if real.ends_with('A') { 'B' } else { 'A' }
    );
    for token in [
        "garbage",
        lookalike.as_str(),
        off_by_one.as_str(),
        long.as_str(),
        "kfs_\u{202e}'; DROP TABLE package_shares; --",
        "../../etc/passwd",
        "  ",
        "",
    ] {
        assert_dead(import(&app, &key, "", &json!({ "token": token })).await).await;
    }
    for body in [json!({}), json!({ "token": null })] {
        let message = assert_error(
            import(&app, &key, "", &body).await,
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
        assert!(message.contains("token"), "{message}");
    }
    for body in [json!({ "token": 7 }), json!(["kfs_"]), json!("kfs_")] {
        assert_error(
            import(&app, &key, "", &body).await,
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
    }
    let raw = app
        .with_key(Method::POST, SHARED, &key)
        .header("content-type", "application/json")
        .body("{\"token\":")
        .send()
        .await
        .unwrap();
    assert_error(raw, StatusCode::BAD_REQUEST).await;
    // A revocation without a token names nothing to revoke.
    let flow = &seeded.flow;
    let response = app
        .with_key(
            Method::DELETE,
            &format!("{PACKAGE}/flow/{flow}/share"),
            &key,
        )
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_error(response, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert_eq!(app.row_counts().await, counts, "nothing was written");
}

async fn sharing_and_importing_take_the_export_and_import_rights() {
    let app = TestApp::spawn().await;
    let admin_key = app.new_key("admin").await;
    let seeded = seed(&app, &admin_key, &app.tenant_id, "Rights", 2).await;
    let shared = format!("{PACKAGE}/flow/{}/share", seeded.flow);
    // A standard user exports, so shares, with a key, or a token their key obtained.
    app.create_user("sam@example.com", "sam's long password", &app.tenant_id)
        .await;
    let sam = app.login("sam@example.com", "sam's long password").await;
    let sam_key = app.new_key_for(&sam, "sam", &app.tenant_id).await;
    let token = share(&app, &sam_key, &shared).await;
    let bound = app
        .with_key(
            Method::GET,
            &format!("/api/draw/1/authentication/{}", app.tenant_id),
            &sam_key,
        )
        .send()
        .await
        .unwrap();
    let bound = assert_json(bound, StatusCode::OK).await;
    let bound = bound.as_str().unwrap();
    let by_token = app
        .with_token(Method::POST, &shared, bound)
        .send()
        .await
        .unwrap();
    let by_token = assert_json(by_token, StatusCode::OK).await;
    let second = by_token["token"].as_str().unwrap();

    // Any member imports into their own tenant: the standard user, in Example.
    let imported = app
        .with_token(Method::POST, SHARED, bound)
        .json(&json!({ "token": token }))
        .send()
        .await
        .unwrap();
    let imported = assert_json(imported, StatusCode::OK).await;
    assert_eq!(imported["id"]["id"], seeded.flow.as_str());
    // And a member may revoke a share of their tenant's flow, whoever issued it.
    assert_eq!(
        revoke(&app, &admin_key, &seeded.flow, second)
            .await
            .status(),
        StatusCode::OK
    );

    // A member of another tenant cannot share a flow not theirs: 404, as for the export.
    let (_, other_key) = other_tenant(&app, "Outsiders").await;
    let response = app
        .with_key(Method::POST, &shared, &other_key)
        .send()
        .await
        .unwrap();
    assert_error(response, StatusCode::NOT_FOUND).await;
    // No credential: 401 before anything is looked at.
    for (method, path) in [(Method::POST, shared.as_str()), (Method::POST, SHARED)] {
        let response = app
            .client
            .request(method, app.url(path))
            .json(&json!({ "token": token }))
            .send()
            .await
            .unwrap();
        crate::helpers::assert_unauthorized(response).await;
    }
}

async fn the_token_is_kept_only_as_its_digest() {
    let app = TestApp::spawn().await;
    let key = app.new_key("sharer").await;
    let seeded = seed(&app, &key, &app.tenant_id, "Digested", 1).await;
    let token = share(&app, &key, &format!("{PACKAGE}/flow/{}/share", seeded.flow)).await;
    let dump = app.state.store.export().await.unwrap();
    assert_eq!(dump.package_shares.len(), 1);
    let row = &dump.package_shares[0];
    assert_eq!(row.flow_id.to_string(), seeded.flow);
    let everything = format!("{dump:?}{}", row.package);
    let secret = token.trim_start_matches("kfs_");
    assert!(!everything.contains(secret), "the token is stored");
    // Its digest is HMAC-SHA256 under the pepper: 32 bytes, found by the token alone.
    let found = app
        .state
        .store
        .shared_package(&row.digest, keyflow::domain::Timestamp::now())
        .await
        .unwrap();
    assert_eq!(found.map(|share| share.flow_id), Some(row.flow_id));
    // The share is recorded in the audit trail, naming the flow, never the token.
    let audit = dump
        .audit_events
        .iter()
        .find(|event| event.action == "package.shared")
        .expect("an audit record");
    assert_eq!(audit.subject.as_deref(), Some(seeded.flow.as_str()));
}
