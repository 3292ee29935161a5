//! The store contract for whole flows: tenant elements (names unique per tenant and kind, a
//! used element kept), flow graph writes (create, update with an editing token, replace),
//! batches written all or nothing, snapshot images, element writes that keep the editing token
//! and refuse another user's change under it, and the races the database must hold: one name
//! saved at once, a delete against a write that starts using the element, writes from one
//! editing token, two users writing one element under one token.

use keyflow::domain::element::{ElementKind, ElementName, FlowElementKind};
use keyflow::store::{
    Edit, ElementBatch, FlowGraphWrite, FlowUse, FrozenImage, GraphMode, JsonObject, NewElement,
    NewFlowElement,
};
use serde_json::json;
use uuid::Uuid;

use super::*;

fn document(value: serde_json::Value) -> JsonObject {
    value.as_object().expect("a JSON object").clone()
}

fn element(kind: ElementKind, name: &str, author: UserId) -> NewElement {
    NewElement {
        id: Uuid::new_v4(),
        kind,
        name: ElementName::parse(name).unwrap(),
        document: document(json!({ "developerName": name, "note": "nul \u{0} kept" })),
        author,
    }
}

fn graph_element(id: Uuid, kind: FlowElementKind, name: &str, x: i64) -> NewFlowElement {
    NewFlowElement {
        id,
        kind,
        developer_name: name.into(),
        document: document(json!({ "developerName": name, "x": x, "y": 0 })),
    }
}

/// A write of the flow that touches only what `change` sets.
fn write(id: FlowId, mode: GraphMode, author: UserId) -> FlowGraphWrite {
    FlowGraphWrite {
        id,
        mode,
        header: None,
        start_map_element_id: None,
        elements: None,
        uses: None,
        author,
    }
}

/// An element write: sent with `token`, which the flow keeps; computed from `read_at`.
fn keeping(token: Uuid, read_at: Option<VersionId>) -> GraphMode {
    GraphMode::Update(Edit {
        read_at,
        token: Some(token),
        keep_token: true,
    })
}

/// An update that renews the token, expecting `token` when given (a flow or graph save).
fn update(token: Option<Uuid>) -> GraphMode {
    GraphMode::Update(Edit {
        token,
        ..Edit::default()
    })
}

fn uses(elements: &[Uuid]) -> Option<Vec<FlowUse>> {
    Some(
        elements
            .iter()
            .map(|&element| FlowUse {
                element,
                imported: false,
            })
            .collect(),
    )
}

#[track_caller]
fn assert_conflict_naming<T: std::fmt::Debug>(result: Result<T, StoreError>, text: &str) {
    match result {
        Err(StoreError::Conflict(message)) => assert!(message.contains(text), "{message}"),
        other => panic!("expected a Conflict naming {text}: {other:?}"),
    }
}

#[tokio::test]
async fn elements_are_saved_read_listed_and_deleted_with_names_unique_per_kind() {
    each(|store| async move {
        let store = store.as_ref();
        let acme = tenant(store, "Acme").await;
        let other = tenant(store, "Other").await;
        let ada = member(store, acme.id, "ada@example.com", Role::Administrator).await;
        let bob = member(store, acme.id, "bob@example.com", Role::Standard).await;

        let total = store
            .save_element(acme.id, element(ElementKind::Value, "Total", ada))
            .await
            .unwrap();
        assert_eq!(
            (total.kind, total.developer_name.as_str()),
            (ElementKind::Value, "Total")
        );
        assert_eq!(total.document["note"], "nul \u{0} kept");
        assert_eq!(total.who_created.email.as_deref(), Some("ada@example.com"));
        let read = store.element(acme.id, total.id).await.unwrap().unwrap();
        assert_eq!((read.id, read.document), (total.id, total.document.clone()));
        assert!(store.element(other.id, total.id).await.unwrap().is_none());

        // Unique per tenant and kind, ignoring case; free for another kind or tenant.
        let clash = store
            .save_element(acme.id, element(ElementKind::Value, "TOTAL", bob))
            .await;
        assert_conflict_naming(clash, "TOTAL");
        let typed = store
            .save_element(acme.id, element(ElementKind::Type, "total", ada))
            .await
            .unwrap();
        store
            .save_element(other.id, element(ElementKind::Value, "Total", ada))
            .await
            .unwrap();
        // An id of another kind is not taken over.
        let mut retyped = element(ElementKind::Value, "Retyped", ada);
        retyped.id = typed.id;
        assert_conflict_naming(store.save_element(acme.id, retyped).await, "type element");

        // Saving an id again replaces it, keeping its creation.
        let mut renamed = element(ElementKind::Value, "Amount", bob);
        renamed.id = total.id;
        let amount = store.save_element(acme.id, renamed).await.unwrap();
        assert_eq!(amount.developer_name, "Amount");
        assert_eq!(amount.date_created, total.date_created);
        assert_eq!((amount.who_created.id, amount.who_modified.id), (ada, bob));
        // Its old name is free again.
        let again = store
            .save_element(acme.id, element(ElementKind::Value, "total", bob))
            .await
            .unwrap();

        let values = store
            .elements(acme.id, Some(ElementKind::Value))
            .await
            .unwrap();
        let listed: Vec<&str> = values.iter().map(|e| e.developer_name.as_str()).collect();
        assert_eq!(listed, ["Amount", "total"]);
        assert_eq!(store.elements(acme.id, None).await.unwrap().len(), 3);
        let some = store
            .elements_by_ids(acme.id, &[again.id, Uuid::new_v4(), typed.id])
            .await
            .unwrap();
        assert_eq!(some.len(), 2);
        assert!(
            store
                .elements_by_ids(acme.id, &[])
                .await
                .unwrap()
                .is_empty()
        );

        // A used element stays, and the refusal names the flow that uses it.
        let flow = store
            .create_flow(acme.id, &draft("Invoices"), ada)
            .await
            .unwrap();
        let mut adding = write(flow.id, update(None), ada);
        adding.uses = uses(&[amount.id]);
        store.write_flow(acme.id, adding).await.unwrap();
        let users = store.flows_using(acme.id, amount.id).await.unwrap();
        assert_eq!(names(&users), ["Invoices"]);
        let refused = store
            .delete_element(acme.id, ElementKind::Value, amount.id)
            .await;
        assert_conflict_naming(refused, "Invoices");
        assert!(store.element(acme.id, amount.id).await.unwrap().is_some());
        // Of another kind, or in another tenant, it is not there to delete.
        let wrong_kind = store.delete_element(acme.id, ElementKind::Type, amount.id);
        assert!(!wrong_kind.await.unwrap());
        let wrong_tenant = store.delete_element(other.id, ElementKind::Value, amount.id);
        assert!(!wrong_tenant.await.unwrap());
        let mut dropping = write(flow.id, update(None), ada);
        dropping.uses = uses(&[]);
        store.write_flow(acme.id, dropping).await.unwrap();
        assert!(
            store
                .flows_using(acme.id, amount.id)
                .await
                .unwrap()
                .is_empty()
        );
        let deleted = store.delete_element(acme.id, ElementKind::Value, amount.id);
        assert!(deleted.await.unwrap());
        let gone = store.delete_element(acme.id, ElementKind::Value, amount.id);
        assert!(!gone.await.unwrap());
        assert!(store.element(acme.id, amount.id).await.unwrap().is_none());
    })
    .await;
}

#[tokio::test]
async fn a_flow_write_creates_updates_or_replaces_the_flow_and_its_graph() {
    each(|store| async move {
        let store = store.as_ref();
        let acme = tenant(store, "Acme").await;
        let other = tenant(store, "Other").await;
        let ada = member(store, acme.id, "ada@example.com", Role::Administrator).await;
        let bob = member(store, acme.id, "bob@example.com", Role::Standard).await;

        // Create: the header is the flow's, and it starts at a START element.
        let id = FlowId::generate();
        let mut create = write(id, GraphMode::Create, ada);
        create.header = Some(draft("Orders"));
        let flow = store.write_flow(acme.id, create.clone()).await.unwrap();
        assert_eq!((flow.id, flow.developer_name.as_str()), (id, "Orders"));
        let start = store.flow_elements(acme.id, id).await.unwrap();
        assert_eq!(start.len(), 1);
        assert_eq!(start[0].document["elementType"], "START");
        assert_eq!(flow.start_map_element_id, Some(start[0].id.to_string()));
        assert!(store.flow_uses(acme.id, id).await.unwrap().is_empty());
        assert_conflict(store.write_flow(acme.id, create.clone()).await);
        assert_conflict(store.write_flow(other.id, create).await);

        // Update: from the current editing token, or refused; another tenant's is Missing.
        let stale = write(id, update(Some(Uuid::new_v4())), ada);
        assert_conflict_naming(store.write_flow(acme.id, stale).await, "editingToken");
        assert_missing(
            store
                .write_flow(other.id, write(id, update(None), ada))
                .await,
        );
        let unknown = write(FlowId::generate(), update(None), ada);
        assert_missing(store.write_flow(acme.id, unknown).await);
        let start_id = start[0].id;
        let group = Uuid::new_v4();
        let mut graph = write(id, update(Some(flow.editing_token)), bob);
        graph.elements = Some(vec![
            NewFlowElement {
                id: start_id,
                kind: FlowElementKind::Map,
                developer_name: start[0].developer_name.clone(),
                document: start[0].document.clone(),
            },
            graph_element(group, FlowElementKind::Group, "Lane", 10),
        ]);
        let updated = store.write_flow(acme.id, graph).await.unwrap();
        assert_ne!(updated.editing_token, flow.editing_token);
        assert_ne!(updated.version_id, flow.version_id);
        assert_eq!(
            updated.developer_name, "Orders",
            "no header keeps the flow's"
        );
        assert_eq!(updated.who_modified.id, bob);
        let elements = store.flow_elements(acme.id, id).await.unwrap();
        assert_eq!(elements.len(), 2);
        let kept = elements.iter().find(|e| e.id == start_id).unwrap();
        // An element sent back unchanged keeps its creation and its modification.
        assert_eq!(kept.date_created, start[0].date_created);
        assert_eq!(kept.date_modified, start[0].date_modified);
        assert_eq!(kept.who_modified.id, ada);
        // One that changed keeps its creation only.
        let mut moved = write(id, update(Some(updated.editing_token)), bob);
        moved.elements = Some(vec![graph_element(
            start_id,
            FlowElementKind::Map,
            "Start",
            300,
        )]);
        let moved_flow = store.write_flow(acme.id, moved).await.unwrap();
        let elements = store.flow_elements(acme.id, id).await.unwrap();
        assert_eq!(elements.len(), 1, "the graph is replaced whole");
        assert_eq!(elements[0].date_created, start[0].date_created);
        assert_eq!(
            (elements[0].who_created.id, elements[0].who_modified.id),
            (ada, bob)
        );
        assert_eq!(elements[0].document["x"], 300);
        // Two elements with one id, or a use of an element the tenant lacks, change nothing.
        let mut twice = write(id, update(None), ada);
        twice.elements = Some(vec![
            graph_element(group, FlowElementKind::Group, "A", 1),
            graph_element(group, FlowElementKind::Group, "B", 2),
        ]);
        assert_conflict(store.write_flow(acme.id, twice).await);
        let foreign = store
            .save_element(other.id, element(ElementKind::Value, "Theirs", ada))
            .await
            .unwrap();
        let mut dangling = write(id, update(None), ada);
        dangling.uses = uses(&[foreign.id]);
        assert_conflict_naming(store.write_flow(acme.id, dangling).await, "does not have");
        let after = store.flow(acme.id, id).await.unwrap().unwrap();
        assert_eq!(after.editing_token, moved_flow.editing_token);
        assert_eq!(store.flow_elements(acme.id, id).await.unwrap().len(), 1);
        // Uses: listed once each, an explicit import remembered.
        let value = store
            .save_element(acme.id, element(ElementKind::Value, "Mine", ada))
            .await
            .unwrap();
        let mut using = write(id, update(None), ada);
        using.uses = Some(vec![
            FlowUse {
                element: value.id,
                imported: false,
            },
            FlowUse {
                element: value.id,
                imported: true,
            },
        ]);
        store.write_flow(acme.id, using).await.unwrap();
        let listed = store.flow_uses(acme.id, id).await.unwrap();
        assert_eq!(
            listed,
            [FlowUse {
                element: value.id,
                imported: true
            }]
        );

        // Replace: creates or overwrites the tenant's flow, never another tenant's.
        let mut taken = write(id, GraphMode::Replace, ada);
        taken.header = Some(draft("Stolen"));
        assert_conflict_naming(store.write_flow(other.id, taken).await, "another tenant");
        let mut replace = write(id, GraphMode::Replace, ada);
        replace.header = Some(draft("Orders imported"));
        replace.elements = Some(vec![graph_element(
            start_id,
            FlowElementKind::Map,
            "Start",
            5,
        )]);
        replace.uses = uses(&[]);
        let replaced = store.write_flow(acme.id, replace).await.unwrap();
        assert_eq!(replaced.developer_name, "Orders imported");
        assert_eq!(replaced.date_created, flow.date_created);
        assert!(store.flow_uses(acme.id, id).await.unwrap().is_empty());
        let fresh = FlowId::generate();
        let mut import = write(fresh, GraphMode::Replace, ada);
        import.header = Some(draft("Imported"));
        import.start_map_element_id = Some(start_id.to_string());
        import.elements = Some(vec![graph_element(
            start_id,
            FlowElementKind::Map,
            "Start",
            1,
        )]);
        let imported = store.write_flow(acme.id, import).await.unwrap();
        assert_eq!(imported.start_map_element_id, Some(start_id.to_string()));
        assert_eq!(store.flow_elements(acme.id, fresh).await.unwrap().len(), 1);

        // create_flow and update_flow are flow writes too.
        let plain = store
            .create_flow(acme.id, &draft("Plain"), ada)
            .await
            .unwrap();
        assert_eq!(
            store.flow_elements(acme.id, plain.id).await.unwrap().len(),
            1
        );
        let mut token_bound = write(plain.id, update(Some(plain.editing_token)), ada);
        token_bound.header = Some(draft("Plain"));
        let renamed = store
            .update_flow(acme.id, plain.id, &draft("Plain v2"), bob)
            .await
            .unwrap()
            .unwrap();
        assert_ne!(renamed.editing_token, plain.editing_token);
        assert_conflict(store.write_flow(acme.id, token_bound).await);
        assert!(
            store
                .update_flow(other.id, plain.id, &draft("No"), ada)
                .await
                .unwrap()
                .is_none()
        );
        assert_missing(store.flow_elements(other.id, plain.id).await);
        assert_missing(store.flow_uses(other.id, plain.id).await);
    })
    .await;
}

#[tokio::test]
async fn a_batch_is_written_all_or_nothing() {
    each(|store| async move {
        let store = store.as_ref();
        let acme = tenant(store, "Acme").await;
        let ada = member(store, acme.id, "ada@example.com", Role::Administrator).await;
        let kept = store
            .save_element(acme.id, element(ElementKind::Value, "Kept", ada))
            .await
            .unwrap();

        // The second flow fails: neither the elements nor the first flow are written.
        let fresh = element(ElementKind::Type, "Fresh", ada);
        let first = FlowId::generate();
        let mut create = write(first, GraphMode::Create, ada);
        create.header = Some(draft("First"));
        create.uses = uses(&[fresh.id, kept.id]);
        let missing = write(FlowId::generate(), update(None), ada);
        let batch = ElementBatch {
            elements: vec![fresh.clone()],
            overwrite_existing: true,
            flows: vec![create.clone(), missing],
        };
        assert_missing(store.apply_batch(acme.id, batch).await);
        assert!(store.element(acme.id, fresh.id).await.unwrap().is_none());
        assert!(store.flow(acme.id, first).await.unwrap().is_none());

        // Whole, it is written: an existing element is kept unless overwriting.
        let mut renamed = element(ElementKind::Value, "Renamed", ada);
        renamed.id = kept.id;
        let second = FlowId::generate();
        let mut create_second = write(second, GraphMode::Create, ada);
        create_second.header = Some(draft("Second"));
        let batch = ElementBatch {
            elements: vec![fresh.clone(), renamed],
            overwrite_existing: false,
            flows: vec![create, create_second],
        };
        let flows = store.apply_batch(acme.id, batch).await.unwrap();
        assert_eq!(names(&flows), ["First", "Second"]);
        let still = store.element(acme.id, kept.id).await.unwrap().unwrap();
        assert_eq!(still.developer_name, "Kept");
        assert!(store.element(acme.id, fresh.id).await.unwrap().is_some());
        assert_eq!(store.flow_uses(acme.id, first).await.unwrap().len(), 2);
        let users = store.flows_using(acme.id, kept.id).await.unwrap();
        assert_eq!(names(&users), ["First"]);
    })
    .await;
}

#[tokio::test]
async fn a_snapshot_keeps_the_image_read_at_its_version() {
    each(|store| async move {
        let store = store.as_ref();
        let acme = tenant(store, "Acme").await;
        let other = tenant(store, "Other").await;
        let ada = member(store, acme.id, "ada@example.com", Role::Administrator).await;
        let flow = store
            .create_flow(acme.id, &draft("Orders"), ada)
            .await
            .unwrap();
        let json = r#"{"mapElements":[{"note":"nul \u0000"}],"valueElements":[]}"#;
        let image = |read_at| FrozenImage {
            read_at,
            json: json.to_string(),
        };

        let stale = store
            .snapshot_flow(acme.id, flow.id, None, Some(image(VersionId::generate())))
            .await;
        assert!(matches!(stale, Err(StoreError::Moved(_))), "{stale:?}");
        assert!(store.snapshots(acme.id, flow.id).await.unwrap().is_empty());
        let with = store
            .snapshot_flow(
                acme.id,
                flow.id,
                Some("imaged"),
                Some(image(flow.version_id)),
            )
            .await
            .unwrap();
        let kept = store
            .snapshot_image(acme.id, flow.id, with.version_id)
            .await
            .unwrap();
        assert_eq!(kept.as_deref(), Some(json));
        let without = store
            .snapshot_flow(acme.id, flow.id, None, None)
            .await
            .unwrap();
        let none = store
            .snapshot_image(acme.id, flow.id, without.version_id)
            .await
            .unwrap();
        assert!(none.is_none());
        assert_missing(
            store
                .snapshot_image(acme.id, flow.id, VersionId::generate())
                .await,
        );
        assert_missing(
            store
                .snapshot_image(other.id, flow.id, with.version_id)
                .await,
        );
        // A flow that moved on refuses the image read before.
        store
            .update_flow(acme.id, flow.id, &draft("Orders v2"), ada)
            .await
            .unwrap();
        let moved = store
            .snapshot_flow(acme.id, flow.id, None, Some(image(flow.version_id)))
            .await;
        assert!(matches!(moved, Err(StoreError::Moved(_))), "{moved:?}");
        assert_missing(
            store
                .snapshot_flow(other.id, flow.id, None, Some(image(flow.version_id)))
                .await,
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn racing_saves_of_one_element_name_store_exactly_one() {
    each(|store| async move {
        let acme = tenant(store.as_ref(), "Acme").await;
        let ada = member(
            store.as_ref(),
            acme.id,
            "ada@example.com",
            Role::Administrator,
        )
        .await;
        for round in 0..10 {
            let name = format!("Value {round}");
            let saves = (0..20).map(|i| {
                let store = store.clone();
                // Each in its own case: the names clash ignoring case.
                let name = if i % 2 == 0 {
                    name.clone()
                } else {
                    name.to_uppercase()
                };
                let new = element(ElementKind::Value, &name, ada);
                tokio::spawn(async move { store.save_element(acme.id, new).await })
            });
            let results = futures_join(saves).await;
            let stored = results.iter().filter(|r| r.is_ok()).count();
            let refused = results
                .iter()
                .filter(|r| matches!(r, Err(StoreError::Conflict(_))))
                .count();
            assert_eq!((stored, refused), (1, 19), "round {round}: {results:?}");
        }
        let values = store
            .elements(acme.id, Some(ElementKind::Value))
            .await
            .unwrap();
        assert_eq!(values.len(), 10);
    })
    .await;
}

/// A delete of an element and a flow write that starts using it, at the same moment: one of
/// them wins, and a flow never uses an element that is gone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_delete_racing_a_new_use_never_leaves_a_dangling_use() {
    each(|store| async move {
        let acme = tenant(store.as_ref(), "Acme").await;
        let ada = member(
            store.as_ref(),
            acme.id,
            "ada@example.com",
            Role::Administrator,
        )
        .await;
        let flow = store
            .create_flow(acme.id, &draft("Racer"), ada)
            .await
            .unwrap();
        for round in 0..20 {
            let value = store
                .save_element(
                    acme.id,
                    element(ElementKind::Value, &format!("v{round}"), ada),
                )
                .await
                .unwrap();
            let deleting = {
                let store = store.clone();
                tokio::spawn(async move {
                    store
                        .delete_element(acme.id, ElementKind::Value, value.id)
                        .await
                })
            };
            let using = {
                let store = store.clone();
                let mut adding = write(flow.id, update(None), ada);
                adding.uses = uses(&[value.id]);
                tokio::spawn(async move { store.write_flow(acme.id, adding).await })
            };
            let deleted = deleting.await.unwrap();
            let used = using.await.unwrap();
            let gone = store.element(acme.id, value.id).await.unwrap().is_none();
            let listed = store.flow_uses(acme.id, flow.id).await.unwrap();
            let uses_it = listed.iter().any(|u| u.element == value.id);
            match (&deleted, &used) {
                (Ok(true), Err(StoreError::Conflict(_))) => assert!(gone && !uses_it),
                (Err(StoreError::Conflict(_)), Ok(_)) => assert!(!gone && uses_it),
                _ => panic!("round {round}: delete {deleted:?}, use {used:?}"),
            }
            // Free the element for the next round's flow write.
            let mut clearing = write(flow.id, update(None), ada);
            clearing.uses = uses(&[]);
            store.write_flow(acme.id, clearing).await.unwrap();
        }
    })
    .await;
}

/// Writes based on one editing token, at the same moment: exactly one is taken.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn racing_writes_from_one_editing_token_take_exactly_one() {
    each(|store| async move {
        let acme = tenant(store.as_ref(), "Acme").await;
        let ada = member(
            store.as_ref(),
            acme.id,
            "ada@example.com",
            Role::Administrator,
        )
        .await;
        let flow = store
            .create_flow(acme.id, &draft("Contended"), ada)
            .await
            .unwrap();
        let mut token = flow.editing_token;
        for round in 0..10 {
            let writes = (0..8).map(|i| {
                let store = store.clone();
                let mut change = write(flow.id, update(Some(token)), ada);
                change.header = Some(draft(&format!("Contended {round}.{i}")));
                tokio::spawn(async move { store.write_flow(acme.id, change).await })
            });
            let results = futures_join(writes).await;
            let taken: Vec<_> = results.iter().filter_map(|r| r.as_ref().ok()).collect();
            assert_eq!(taken.len(), 1, "round {round}: {results:?}");
            assert!(
                results
                    .iter()
                    .all(|r| r.is_ok() || matches!(r, Err(StoreError::Conflict(_))))
            );
            token = taken[0].editing_token;
            let now = store.flow(acme.id, flow.id).await.unwrap().unwrap();
            assert_eq!(now.developer_name, taken[0].developer_name);
        }
    })
    .await;
}

/// An element write keeps the flow's token and moves its version. With the same token, the
/// same user writes again, and another user writes another element; another user's change to
/// an element changed under that token is Conflict naming it, writes nothing, and renews the
/// token. A write computed from an older version is Moved.
#[tokio::test]
async fn element_writes_keep_the_token_and_refuse_another_users_change_under_it() {
    each(|store| async move {
        let store = store.as_ref();
        let acme = tenant(store, "Acme").await;
        let ada = member(store, acme.id, "ada@example.com", Role::Administrator).await;
        let bob = member(store, acme.id, "bob@example.com", Role::Standard).await;
        let flow = store
            .create_flow(acme.id, &draft("Shared"), ada)
            .await
            .unwrap();
        let start = store.flow_elements(acme.id, flow.id).await.unwrap();
        let start = NewFlowElement {
            id: start[0].id,
            kind: FlowElementKind::Map,
            developer_name: start[0].developer_name.clone(),
            document: start[0].document.clone(),
        };
        let token = flow.editing_token;
        let (step, other) = (Uuid::new_v4(), Uuid::new_v4());
        let graph = |step_x: i64, other_x: Option<i64>| {
            let mut elements = vec![
                start.clone(),
                graph_element(step, FlowElementKind::Map, "Step", step_x),
            ];
            elements
                .extend(other_x.map(|x| graph_element(other, FlowElementKind::Group, "Other", x)));
            Some(elements)
        };
        let mut first = write(flow.id, keeping(token, Some(flow.version_id)), ada);
        first.elements = graph(1, None);
        let written = store.write_flow(acme.id, first).await.unwrap();
        assert_eq!(
            written.editing_token, token,
            "an element write keeps the token"
        );
        assert_ne!(written.version_id, flow.version_id);
        // Computed from the version before: Moved, and nothing written.
        let mut late = write(flow.id, keeping(token, Some(flow.version_id)), ada);
        late.elements = graph(9, None);
        let result = store.write_flow(acme.id, late).await;
        assert!(matches!(result, Err(StoreError::Moved(_))), "{result:?}");
        let mut again = write(flow.id, keeping(token, None), ada);
        again.elements = graph(2, None);
        store.write_flow(acme.id, again).await.unwrap();
        let mut beside = write(flow.id, keeping(token, None), bob);
        beside.elements = graph(2, Some(5));
        let beside = store.write_flow(acme.id, beside).await.unwrap();
        assert_eq!(beside.editing_token, token);

        let mut clash = write(flow.id, keeping(token, None), bob);
        clash.elements = graph(3, Some(5));
        let refused = store.write_flow(acme.id, clash).await;
        assert_conflict_naming(refused, &step.to_string());
        let now = store.flow(acme.id, flow.id).await.unwrap().unwrap();
        assert_ne!(now.editing_token, token, "the refusal renews the token");
        assert_eq!(now.version_id, beside.version_id, "and writes nothing else");
        let elements = store.flow_elements(acme.id, flow.id).await.unwrap();
        let kept = elements.iter().find(|e| e.id == step).unwrap();
        assert_eq!(
            (kept.document["x"].as_i64(), kept.who_modified.id),
            (Some(2), ada)
        );
        // Deleting it is a change too; under the new token, Bob's write passes.
        let renewed = now.editing_token;
        let mut back = write(flow.id, keeping(renewed, None), ada);
        back.elements = graph(4, Some(5));
        store.write_flow(acme.id, back).await.unwrap();
        let mut delete = write(flow.id, keeping(renewed, None), bob);
        delete.elements = graph(4, None).map(|mut e| {
            e.retain(|e| e.id != step);
            e
        });
        assert_conflict_naming(store.write_flow(acme.id, delete).await, &step.to_string());
        let renewed = store.flow(acme.id, flow.id).await.unwrap().unwrap();
        let mut fine = write(flow.id, keeping(renewed.editing_token, None), bob);
        fine.elements = graph(7, Some(5));
        store.write_flow(acme.id, fine).await.unwrap();
        // A write that renews the token stamps no token: another user's change with the new
        // one passes.
        let mut save = write(flow.id, update(None), ada);
        save.elements = graph(8, Some(5));
        let saved = store.write_flow(acme.id, save).await.unwrap();
        let mut after = write(flow.id, keeping(saved.editing_token, None), bob);
        after.elements = graph(9, Some(5));
        store.write_flow(acme.id, after).await.unwrap();
    })
    .await;
}

/// Two users write one element under one token at the same moment, each expecting only the
/// token (not the version): exactly one is taken, the other is Conflict naming the element.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn racing_element_writes_of_two_users_under_one_token_take_one() {
    each(|store| async move {
        let acme = tenant(store.as_ref(), "Acme").await;
        let ada = member(
            store.as_ref(),
            acme.id,
            "ada@example.com",
            Role::Administrator,
        )
        .await;
        let bob = member(store.as_ref(), acme.id, "bob@example.com", Role::Standard).await;
        let flow = store
            .create_flow(acme.id, &draft("Raced"), ada)
            .await
            .unwrap();
        let start = store.flow_elements(acme.id, flow.id).await.unwrap();
        let start = NewFlowElement {
            id: start[0].id,
            kind: FlowElementKind::Map,
            developer_name: start[0].developer_name.clone(),
            document: start[0].document.clone(),
        };
        for round in 0..10 {
            // A renewing write first: a token neither has written under.
            let token = store
                .write_flow(acme.id, write(flow.id, update(None), ada))
                .await
                .unwrap()
                .editing_token;
            let step = Uuid::new_v4();
            let writes = [(ada, 1), (bob, 2)].map(|(who, x)| {
                let store = store.clone();
                let mut change = write(flow.id, keeping(token, None), who);
                change.elements = Some(vec![
                    start.clone(),
                    graph_element(step, FlowElementKind::Map, "Step", x),
                ]);
                tokio::spawn(async move { store.write_flow(acme.id, change).await })
            });
            let results = futures_join(writes.into_iter()).await;
            let taken = results.iter().filter(|r| r.is_ok()).count();
            assert_eq!(taken, 1, "round {round}: {results:?}");
            let refused = results.into_iter().find(|r| r.is_err()).unwrap();
            assert_conflict_naming(refused, &step.to_string());
        }
    })
    .await;
}

/// Flow writes, batches, snapshots with images and element writes are announced once each, from
/// their own transaction (the cached reads of every instance show elements too); refused
/// writes are not.
#[tokio::test]
async fn flow_and_element_writes_are_announced_once_and_refused_writes_are_not() {
    each(|store| async move {
        let Some(mut listener) = store.listen().await.unwrap() else {
            return; // SQLite: no other instance to tell.
        };
        let store = store.as_ref();
        let acme = tenant(store, "Acme").await;
        let ada = member(store, acme.id, "ada@example.com", Role::Administrator).await;
        let before = store.change_counter().await.unwrap();

        let value = store
            .save_element(acme.id, element(ElementKind::Value, "Quiet", ada))
            .await
            .unwrap();
        let flow_id = FlowId::generate();
        let mut create = write(flow_id, GraphMode::Create, ada);
        create.header = Some(draft("Loud"));
        create.uses = uses(&[value.id]);
        let flow = store.write_flow(acme.id, create).await.unwrap();
        // Refused: nothing is announced.
        let stale = write(flow_id, update(Some(Uuid::new_v4())), ada);
        assert_conflict(store.write_flow(acme.id, stale).await);
        assert_conflict(
            store
                .delete_element(acme.id, ElementKind::Value, value.id)
                .await,
        );
        let (first, second) = (FlowId::generate(), FlowId::generate());
        let mut one = write(first, GraphMode::Create, ada);
        one.header = Some(draft("One"));
        let mut two = write(second, GraphMode::Create, ada);
        two.header = Some(draft("Two"));
        let batch = ElementBatch {
            elements: vec![element(ElementKind::Tag, "Batch", ada)],
            overwrite_existing: true,
            flows: vec![one, two],
        };
        store.apply_batch(acme.id, batch).await.unwrap();
        let image = FrozenImage {
            read_at: flow.version_id,
            json: "{}".into(),
        };
        store
            .snapshot_flow(acme.id, flow_id, None, Some(image))
            .await
            .unwrap();
        let unused = store
            .save_element(acme.id, element(ElementKind::Value, "Unused", ada))
            .await
            .unwrap();
        assert!(
            store
                .delete_element(acme.id, ElementKind::Value, unused.id)
                .await
                .unwrap()
        );

        let mut counter = before;
        // Two element saves, a flow, a batch, a snapshot, an element deleted.
        let mut i = 0;
        while i < 6 {
            let heard = tokio::time::timeout(Duration::from_secs(10), listener.next())
                .await
                .unwrap_or_else(|_| panic!("announcement {i} never came"))
                .unwrap();
            let Heard::Change(announcement) = heard else {
                panic!("announcement {i}: {heard:?}");
            };
            if announcement.counter <= before {
                continue; // the tenant and its member, made before
            }
            i += 1;
            assert_eq!(
                announcement.change,
                Change::Flows { tenant: acme.id },
                "announcement {i}"
            );
            counter += 1;
            assert_eq!(announcement.counter, counter, "announcement {i}");
        }
        assert_eq!(
            store.change_counter().await.unwrap(),
            counter,
            "nothing more"
        );
    })
    .await;
}
