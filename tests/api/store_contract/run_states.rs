//! The store contract for the states of running flows: a state is read only within its
//! tenant, an advance writes only where the state still holds the token it expects, and of
//! advances racing with one token exactly one is written, whatever the backend.

use keyflow::domain::{StateId, StateToken};
use keyflow::store::{RunState, StateAdvance};

use super::*;

fn advance(values: &str) -> StateAdvance {
    StateAdvance {
        state_token: StateToken::random(),
        current_element: Some("page".into()),
        status: "IN_PROGRESS".into(),
        state_values: values.into(),
        history: "[]".into(),
        updated_at: Timestamp::now(),
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
