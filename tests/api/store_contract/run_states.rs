//! The store contract for the states of running flows: a state is read only within its
//! tenant, an advance writes only where the state still holds the token it expects, and of
//! advances racing with one token exactly one is written, whatever the backend; the
//! administrators' listing and deletion stay in the tenant, and pruning deletes only expired
//! states, a bounded batch at a time.

use keyflow::domain::{StateId, StateToken};
use keyflow::store::{RunState, StateAdvance, StateQuery};

use super::*;

fn advance(values: &str) -> StateAdvance {
    StateAdvance {
        state_token: StateToken::random(),
        current_element: Some("page".into()),
        status: "IN_PROGRESS".into(),
        state_values: values.into(),
        history: "[]".into(),
        updated_at: Timestamp::now(),
        expires_at: None,
    }
}

/// A state of `flow` started at `at`, expiring at `expires_at`.
fn state_at(
    tenant: TenantId,
    flow: &keyflow::store::FlowRecord,
    at: Timestamp,
    expires_at: Option<Timestamp>,
    status: &str,
) -> RunState {
    RunState {
        id: StateId::random(),
        tenant_id: tenant,
        flow_id: flow.id,
        version_id: flow.version_id,
        state_token: StateToken::random(),
        current_element: None,
        status: status.into(),
        state_values: "{}".into(),
        history: "[]".into(),
        created_by: None,
        created_at: at,
        updated_at: at,
        expires_at,
    }
}

#[tokio::test]
async fn a_state_advances_only_from_its_current_token_and_one_racer_wins() {
    each(|store| async move {
        let store = store.as_ref();
        let acme = tenant(store, "Acme").await;
        let other = tenant(store, "Other").await;
        let ada = member(store, acme.id, "ada@example.com", Role::Administrator).await;
        let flow = store
            .create_flow(acme.id, &draft("Run"), ada)
            .await
            .unwrap();
        let now = Timestamp::now();
        let state = RunState {
            id: StateId::random(),
            tenant_id: acme.id,
            flow_id: flow.id,
            version_id: flow.version_id,
            state_token: StateToken::random(),
            current_element: None,
            status: "IN_PROGRESS".into(),
            state_values: "{}".into(),
            history: "[]".into(),
            created_by: Some(ada),
            created_at: now,
            updated_at: now,
            expires_at: Some(now.plus(Duration::from_secs(3600))),
        };
        store.insert_state(state.clone()).await.unwrap();
        let read = store.run_state(acme.id, state.id).await.unwrap();
        assert_eq!(read.as_ref(), Some(&state));
        assert!(store.run_state(other.id, state.id).await.unwrap().is_none());
        // Another tenant, or a token that is not the state's, writes nothing.
        let first = advance(r#"{"a":"1"}"#);
        assert!(
            !store
                .advance_state(other.id, state.id, state.state_token, &first)
                .await
                .unwrap()
        );
        assert!(
            !store
                .advance_state(acme.id, state.id, StateToken::random(), &first)
                .await
                .unwrap()
        );
        assert_eq!(
            store.run_state(acme.id, state.id).await.unwrap().as_ref(),
            Some(&state)
        );
        assert!(
            store
                .advance_state(acme.id, state.id, state.state_token, &first)
                .await
                .unwrap()
        );
        let moved = store.run_state(acme.id, state.id).await.unwrap().unwrap();
        assert_eq!(
            (moved.state_token, moved.state_values.as_str()),
            (first.state_token, r#"{"a":"1"}"#)
        );
        assert_eq!(moved.expires_at, None, "an advance sets the expiry too");
        assert!(
            !store
                .advance_state(acme.id, state.id, state.state_token, &advance("{}"))
                .await
                .unwrap(),
            "stale"
        );

        // Eight advances from one token at once: exactly one is written, and it is the one read.
        for round in 0..20 {
            let from = store
                .run_state(acme.id, state.id)
                .await
                .unwrap()
                .unwrap()
                .state_token;
            let racers: Vec<StateAdvance> = (0..8)
                .map(|i| advance(&format!(r#"{{"r":"{round}-{i}"}}"#)))
                .collect();
            let results = futures_util::future::join_all(
                racers
                    .iter()
                    .map(|a| store.advance_state(acme.id, state.id, from, a)),
            )
            .await;
            let won: Vec<usize> = results
                .iter()
                .enumerate()
                .filter(|(_, r)| *r.as_ref().unwrap())
                .map(|(i, _)| i)
                .collect();
            assert_eq!(won.len(), 1, "round {round}: {results:?}");
            let now = store.run_state(acme.id, state.id).await.unwrap().unwrap();
            assert_eq!(now.state_token, racers[won[0]].state_token);
            assert_eq!(now.state_values, racers[won[0]].state_values);
        }
        // The flow deleted, its states go with it.
        assert!(store.delete_flow(acme.id, flow.id).await.unwrap());
        assert!(store.run_state(acme.id, state.id).await.unwrap().is_none());
    })
    .await;
}

#[tokio::test]
async fn pruning_deletes_only_expired_states_a_batch_at_a_time() {
    each(|store| async move {
        let store = store.as_ref();
        let acme = tenant(store, "Acme").await;
        let other = tenant(store, "Other").await;
        let ada = member(store, acme.id, "ada@example.com", Role::Administrator).await;
        let bob = member(store, other.id, "bob@example.com", Role::Administrator).await;
        let flow = store
            .create_flow(acme.id, &draft("Run"), ada)
            .await
            .unwrap();
        let elsewhere = store
            .create_flow(other.id, &draft("Run"), bob)
            .await
            .unwrap();
        let now = Timestamp::parse("2026-06-01T12:00:00Z").unwrap();
        let minutes = |m: u64| Duration::from_secs(60 * m);
        // Five expired (in both tenants, one exactly at `now`), two not yet, one never.
        let mut expired = Vec::new();
        for (i, owner) in [(1, &flow), (2, &elsewhere), (3, &flow), (4, &flow)] {
            let tenant = if owner.id == flow.id {
                acme.id
            } else {
                other.id
            };
            let state = state_at(
                tenant,
                owner,
                now.minus(minutes(60)),
                Some(now.minus(minutes(i))),
                "IN_PROGRESS",
            );
            store.insert_state(state.clone()).await.unwrap();
            expired.push(state);
        }
        let at_now = state_at(
            acme.id,
            &flow,
            now.minus(minutes(60)),
            Some(now),
            "COMPLETE",
        );
        store.insert_state(at_now.clone()).await.unwrap();
        expired.push(at_now);
        let mut kept = Vec::new();
        for expires in [
            Some(now.plus(Duration::from_micros(1))),
            Some(now.plus(minutes(5))),
            None,
        ] {
            let state = state_at(
                acme.id,
                &flow,
                now.minus(minutes(60)),
                expires,
                "IN_PROGRESS",
            );
            store.insert_state(state.clone()).await.unwrap();
            kept.push(state);
        }
        // Batches of two: full, full, then the last one, then nothing.
        assert_eq!(store.prune_states(now, 2).await.unwrap(), 2);
        assert_eq!(store.prune_states(now, 2).await.unwrap(), 2);
        assert_eq!(store.prune_states(now, 2).await.unwrap(), 1);
        assert_eq!(store.prune_states(now, 2).await.unwrap(), 0);
        for state in &expired {
            assert!(
                store
                    .run_state(state.tenant_id, state.id)
                    .await
                    .unwrap()
                    .is_none()
            );
        }
        for state in &kept {
            assert_eq!(
                store.run_state(acme.id, state.id).await.unwrap().as_ref(),
                Some(state)
            );
        }
    })
    .await;
}

#[tokio::test]
async fn the_listing_and_deletion_of_states_stay_in_the_tenant() {
    each(|store| async move {
        let store = store.as_ref();
        let acme = tenant(store, "Acme").await;
        let other = tenant(store, "Other").await;
        let ada = member(store, acme.id, "ada@example.com", Role::Administrator).await;
        let bob = member(store, other.id, "bob@example.com", Role::Administrator).await;
        let one = store
            .create_flow(acme.id, &draft("One"), ada)
            .await
            .unwrap();
        let two = store
            .create_flow(acme.id, &draft("Two"), ada)
            .await
            .unwrap();
        let theirs = store
            .create_flow(other.id, &draft("Theirs"), bob)
            .await
            .unwrap();
        let start = Timestamp::parse("2026-06-01T12:00:00Z").unwrap();
        let at = |m: u64| start.plus(Duration::from_secs(60 * m));
        let s1 = state_at(acme.id, &one, at(1), None, "IN_PROGRESS");
        let s2 = state_at(acme.id, &one, at(2), None, "COMPLETE");
        let s3 = state_at(acme.id, &two, at(3), None, "IN_PROGRESS");
        let s4 = state_at(other.id, &theirs, at(4), None, "IN_PROGRESS");
        for state in [&s1, &s2, &s3, &s4] {
            store.insert_state(state.clone()).await.unwrap();
        }
        let ids = |states: &[RunState]| states.iter().map(|s| s.id).collect::<Vec<_>>();
        let all = StateQuery {
            limit: 10,
            ..StateQuery::default()
        };
        let (listed, total) = store.list_states(acme.id, &all).await.unwrap();
        assert_eq!(
            (ids(&listed), total),
            (vec![s3.id, s2.id, s1.id], 3),
            "newest first"
        );
        let paged = StateQuery {
            limit: 2,
            offset: 2,
            ..StateQuery::default()
        };
        let (listed, total) = store.list_states(acme.id, &paged).await.unwrap();
        assert_eq!((ids(&listed), total), (vec![s1.id], 3));
        let of_one = StateQuery {
            flow: Some(one.id),
            version: Some(one.version_id),
            limit: 10,
            ..StateQuery::default()
        };
        assert_eq!(
            ids(&store.list_states(acme.id, &of_one).await.unwrap().0),
            vec![s2.id, s1.id]
        );
        let done = StateQuery {
            status: Some("COMPLETE".into()),
            limit: 10,
            ..StateQuery::default()
        };
        assert_eq!(
            ids(&store.list_states(acme.id, &done).await.unwrap().0),
            vec![s2.id]
        );
        let window = StateQuery {
            from: Some(at(2)),
            to: Some(at(3)),
            limit: 10,
            ..StateQuery::default()
        };
        assert_eq!(
            ids(&store.list_states(acme.id, &window).await.unwrap().0),
            vec![s2.id]
        );
        // Another tenant's state is neither listed nor deleted; an unknown id is left out.
        let deleted = store
            .delete_states(acme.id, &[s1.id, s4.id, StateId::random()])
            .await
            .unwrap();
        assert_eq!(deleted, vec![s1.id]);
        assert!(store.delete_states(acme.id, &[]).await.unwrap().is_empty());
        assert!(store.run_state(acme.id, s1.id).await.unwrap().is_none());
        assert!(store.run_state(other.id, s4.id).await.unwrap().is_some());
        assert_eq!(store.list_states(acme.id, &all).await.unwrap().1, 2);
    })
    .await;
}
