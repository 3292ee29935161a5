//! Editing tokens as Boomi's builders use them: the token read once and kept for the element
//! writes and imports that follow; a save of the flow or its graph makes it stale; and two
//! members holding one token told apart per element (docs/API.md, "Editing tokens").

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::graph::{current_token, elements_path, flow_id, list, save_flow, setup};
use crate::helpers::{TestApp, assert_error, assert_json, both_backends};

both_backends! {
    the_same_element_posted_twice_with_one_token_passes,
    imports_then_element_writes_with_the_token_read_before_pass,
    another_editor_changing_the_same_element_is_refused_naming_it,
    two_editors_racing_on_one_element_one_wins,
    a_flow_save_makes_the_token_stale,
}

/// A write of an element with the editing token a builder holds, sent as `who` sends it.
fn post_with(
    app: &TestApp,
    who: &Editor,
    flow: &str,
    token: &str,
    kind: &str,
    body: &Value,
) -> reqwest::RequestBuilder {
    let path = elements_path(flow, token, kind);
    match who {
        Editor::Key(key) => app.with_key(Method::POST, &path, key),
        Editor::SignedIn(token) => app.with_token(Method::POST, &path, token),
    }
    .json(body)
}

/// Who sends a request: the administrator through an API key, or another member signed in.
enum Editor {
    Key(String),
    SignedIn(String),
}

/// Another member of the tenant, invited and signed in with their own password.
async fn second_member(app: &TestApp, email: &str) -> Editor {
    let admin = app.admin_token().await;
    let added = app.invite(&admin, &app.tenant_id, email).await;
    app.accept_invitation(&added, "a long enough password")
        .await;
    Editor::SignedIn(app.login(email, "a long enough password").await)
}

/// A builder posts one element twice from one screen with the token it read once, then
/// deletes another one with it: each passes, and the token stays.
async fn the_same_element_posted_twice_with_one_token_passes() {
    let (app, key, flow) = setup().await;
    let id = flow_id(&flow);
    let token = flow["editingToken"].as_str().unwrap().to_string();
    let me = Editor::Key(key.clone());
    let body = json!({"elementType": "STEP", "developerName": "Review", "x": 10, "y": 20});
    let response = post_with(&app, &me, &id, &token, "map", &body)
        .send()
        .await
        .unwrap();
    let first = assert_json(response, StatusCode::OK).await;
    let element = first["id"].as_str().unwrap();
    let moved = json!({"id": element, "elementType": "STEP", "developerName": "Review",
                       "x": 300, "y": 20});
    let response = post_with(&app, &me, &id, &token, "map", &moved)
        .send()
        .await
        .unwrap();
    assert_eq!(assert_json(response, StatusCode::OK).await["x"], 300);
    let response = post_with(&app, &me, &id, &token, "map", &moved)
        .send()
        .await
        .unwrap();
    assert_eq!(assert_json(response, StatusCode::OK).await["id"], element);
    let group = json!({"elementType": "GROUP", "developerName": "Lane"});
    let response = post_with(&app, &me, &id, &token, "group", &group)
        .send()
        .await
        .unwrap();
    let lane = assert_json(response, StatusCode::OK).await;
    let path = format!(
        "{}/{}",
        elements_path(&id, &token, "group"),
        lane["id"].as_str().unwrap()
    );
    let response = app
        .with_key(Method::DELETE, &path, &key)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(current_token(&app, &key, &id).await, token);
    let maps = list(&app, &key, &id, "map").await;
    let review = maps.iter().find(|m| m["id"] == element).unwrap();
    assert_eq!(review["x"], 300);
}

/// A builder's element import: the token read first, then tenant elements imported into the
/// flow, then a navigation element and a map element written with that token. All pass.
async fn imports_then_element_writes_with_the_token_read_before_pass() {
    let (app, key, flow) = setup().await;
    let id = flow_id(&flow);
    let token = current_token(&app, &key, &id).await;
    let mut imported = Vec::new();
    for (kind, body) in [
        (
            "value",
            json!({"developerName": "Customer", "contentType": "ContentString"}),
        ),
        ("page", json!({"developerName": "Welcome"})),
    ] {
        let response = app
            .with_key(Method::POST, &format!("/api/draw/1/element/{kind}"), &key)
            .json(&body)
            .send()
            .await
            .unwrap();
        let element = assert_json(response, StatusCode::OK).await;
        let element = element["id"].as_str().unwrap().to_string();
        let path = format!("/api/draw/1/element/flow/{id}/{kind}/{element}");
        let response = app
            .with_key(Method::POST, &path, &key)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK, "importing the {kind}");
        imported.push(element);
    }
    let me = Editor::Key(key.clone());
    let navigation = json!({"developerName": "Main menu", "navigationItems": []});
    let response = post_with(&app, &me, &id, &token, "navigation", &navigation)
        .send()
        .await
        .unwrap();
    assert_json(response, StatusCode::OK).await;
    let map = json!({"elementType": "INPUT", "developerName": "Ask", "x": 50, "y": 50,
                     "pageElementId": imported[1]});
    let response = post_with(&app, &me, &id, &token, "map", &map)
        .send()
        .await
        .unwrap();
    assert_json(response, StatusCode::OK).await;
    // Removing an import keeps the token too.
    let path = format!("/api/draw/1/element/flow/{id}/value/{}", imported[0]);
    let response = app
        .with_key(Method::DELETE, &path, &key)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(current_token(&app, &key, &id).await, token);
    assert_eq!(list(&app, &key, &id, "navigation").await.len(), 1);
}

/// Two members hold the same token. The first changes an element; the second's write of that
/// element with the same token is refused, naming it, so it cannot undo the first's change
/// unseen; the second's write of another element passes, and so do the first's own writes.
/// The refusal renews the token: the second member's reload brings a token their write
/// passes with, and the first member's old token is stale from then on.
async fn another_editor_changing_the_same_element_is_refused_naming_it() {
    let (app, key, flow) = setup().await;
    let id = flow_id(&flow);
    let ada = Editor::Key(key.clone());
    let bob = second_member(&app, "bob@example.com").await;
    let token = current_token(&app, &key, &id).await;
    let body = json!({"elementType": "STEP", "developerName": "Approve", "x": 1, "y": 1});
    let response = post_with(&app, &ada, &id, &token, "map", &body)
        .send()
        .await
        .unwrap();
    let element = assert_json(response, StatusCode::OK).await["id"].clone();
    let other = json!({"elementType": "STEP", "developerName": "Archive"});
    let response = post_with(&app, &bob, &id, &token, "map", &other)
        .send()
        .await
        .unwrap();
    assert_json(response, StatusCode::OK).await;

    // Bob read the token before Ada's change, and moves the element as he saw it.
    let bobs = json!({"id": element, "elementType": "STEP", "developerName": "Approve (Bob)"});
    let response = post_with(&app, &bob, &id, &token, "map", &bobs)
        .send()
        .await
        .unwrap();
    let message = assert_error(response, StatusCode::CONFLICT).await;
    assert!(
        message.contains(element.as_str().unwrap()) && message.contains("'Approve'"),
        "{message}"
    );
    assert!(message.contains("another editor"), "{message}");
    let maps = list(&app, &key, &id, "map").await;
    assert!(maps.iter().any(|m| m["developerName"] == "Approve"));
    assert!(!maps.iter().any(|m| m["developerName"] == "Approve (Bob)"));
    // The refusal renewed the token: Bob reloads and his write passes.
    let renewed = current_token(&app, &key, &id).await;
    assert_ne!(renewed, token);
    let response = post_with(&app, &bob, &id, &renewed, "map", &bobs)
        .send()
        .await
        .unwrap();
    assert_json(response, StatusCode::OK).await;
    // Ada's old token is stale now: she reloads too, and sees Bob's change.
    let adas = json!({"id": element, "elementType": "STEP", "developerName": "Approve (Ada)"});
    let response = post_with(&app, &ada, &id, &token, "map", &adas)
        .send()
        .await
        .unwrap();
    let message = assert_error(response, StatusCode::CONFLICT).await;
    assert!(message.contains("editingToken"), "{message}");
    assert_eq!(current_token(&app, &key, &id).await, renewed);
    let maps = list(&app, &key, &id, "map").await;
    assert!(maps.iter().any(|m| m["developerName"] == "Approve (Bob)"));
    // Under that token Bob changed the element, so deleting it is refused as well (a reload
    // under the same token cannot be told from none: the refusal renews the token again).
    let path = format!(
        "{}/{}",
        elements_path(&id, &renewed, "map"),
        element.as_str().unwrap()
    );
    let response = app
        .with_key(Method::DELETE, &path, &key)
        .send()
        .await
        .unwrap();
    let message = assert_error(response, StatusCode::CONFLICT).await;
    assert!(message.contains("'Approve (Bob)'"), "{message}");
    let again = current_token(&app, &key, &id).await;
    let path = format!(
        "{}/{}",
        elements_path(&id, &again, "map"),
        element.as_str().unwrap()
    );
    let response = app
        .with_key(Method::DELETE, &path, &key)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
}

/// Two members with one token write the same element at the same moment, round after round:
/// exactly one write of each round passes, the other is refused naming the element.
async fn two_editors_racing_on_one_element_one_wins() {
    let (app, key, flow) = setup().await;
    let id = flow_id(&flow);
    let ada = Editor::Key(key.clone());
    let bob = second_member(&app, "bob@example.com").await;
    for round in 0..10 {
        // A save of the flow gives a fresh token that neither has written under.
        save_flow(&app, &key, &id).await;
        let token = current_token(&app, &key, &id).await;
        let element = uuid::Uuid::new_v4().to_string();
        let body = |who: &str| json!({"id": element, "elementType": "STEP", "developerName": format!("{who} {round}")});
        let (first, second) = (body("Ada"), body("Bob"));
        let (a, b) = tokio::join!(
            post_with(&app, &ada, &id, &token, "map", &first).send(),
            post_with(&app, &bob, &id, &token, "map", &second).send(),
        );
        let (a, b) = (a.unwrap(), b.unwrap());
        let statuses = [a.status(), b.status()];
        assert!(
            statuses.contains(&StatusCode::OK) && statuses.contains(&StatusCode::CONFLICT),
            "round {round}: {statuses:?}"
        );
        let loser = if a.status() == StatusCode::CONFLICT {
            a
        } else {
            b
        };
        let message = assert_error(loser, StatusCode::CONFLICT).await;
        assert!(message.contains(&element), "{message}");
    }
}

/// Writes that renew the token: a save of the flow (`POST /api/draw/1/flow` with the flow as
/// fetched) and a save of its graph. An element write with the old token is refused; an
/// import is not such a write.
async fn a_flow_save_makes_the_token_stale() {
    let (app, key, flow) = setup().await;
    let id = flow_id(&flow);
    let me = Editor::Key(key.clone());
    let token = current_token(&app, &key, &id).await;
    let saved = save_flow(&app, &key, &id).await;
    assert_ne!(saved["editingToken"], token.as_str());
    let body = json!({"elementType": "STEP", "developerName": "After the save"});
    let response = post_with(&app, &me, &id, &token, "map", &body)
        .send()
        .await
        .unwrap();
    let message = assert_error(response, StatusCode::CONFLICT).await;
    assert!(message.contains("editingToken"), "{message}");
    // With the new token it passes; then a graph save renews the token again.
    let token = saved["editingToken"].as_str().unwrap();
    let response = post_with(&app, &me, &id, token, "map", &body)
        .send()
        .await
        .unwrap();
    assert_json(response, StatusCode::OK).await;
    let graph = json!({"id": {"id": id}, "editingToken": token});
    let response = app
        .with_key(Method::POST, "/api/draw/1/graph/flow", &key)
        .json(&graph)
        .send()
        .await
        .unwrap();
    let written = assert_json(response, StatusCode::OK).await;
    assert_ne!(written["editingToken"], token);
    let response = post_with(&app, &me, &id, token, "map", &body)
        .send()
        .await
        .unwrap();
    assert_error(response, StatusCode::CONFLICT).await;
}
