//! What is read and done to states beside running them: a state's history for whoever may run
//! it, and the administration of a tenant's states (listing, loading, deleting: the edge lets
//! only the tenant's administrators in). Each deletion is recorded in the audit trail as
//! `state.deleted` (subject: the state).

use std::collections::HashMap;

use serde_json::json;

use super::engine::HistoryEntry;
use super::{Runner, expiry, may_run};
use crate::domain::element::FlowElementKind;
use crate::domain::{FlowId, StateId, TenantId, Timestamp};
use crate::rules::audit::{self as trail, Origin};
use crate::rules::{Actor, RuleError, images};
use crate::store::{AuditEvent, RunState, StateQuery, Store};

/// The map element types a user sees (Boomi's "UI map elements").
const UI_TYPES: [&str; 3] = ["STEP", "INPUT", "PAGE"];

/// One map element a state passed.
#[derive(Debug, Clone, PartialEq)]
pub struct Visited {
    pub flow_id: FlowId,
    pub map_element_id: String,
    pub name: String,
    /// Stands for Boomi's state entry (keyflow keeps none): the same for the same state and
    /// place in its history, at every read.
    pub entry_id: uuid::Uuid,
}

/// A stable id for the `index`th entry of the state's history: a digest of both, shaped as a
/// UUID.
fn entry_id(state: StateId, index: usize) -> uuid::Uuid {
    use sha2::Digest as _;
    let digest = sha2::Sha256::new()
        .chain_update(state.to_string().as_bytes())
        .chain_update((index as u64).to_be_bytes())
        .finalize();
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    uuid::Builder::from_random_bytes(bytes).into_uuid()
}

/// The map elements the state passed, in order, the one it waits at left out (for whoever may
/// read the state, as `run::read`); with `only_ui`, only steps and pages.
pub async fn history(
    store: &dyn Store,
    tenant: TenantId,
    runner: Runner,
    id: StateId,
    only_ui: bool,
) -> Result<Vec<Visited>, RuleError> {
    let state = expiry::live_state(store, tenant, id, Timestamp::now()).await?;
    let (record, image) =
        images::read_snapshot(store, tenant, state.flow_id, state.version_id).await?;
    may_run(store, &record, runner).await?;
    let passed: Vec<HistoryEntry> = serde_json::from_str(&state.history)
        .map_err(|e| RuleError::Internal(anyhow::anyhow!("a state's history is corrupt: {e}")))?;
    let types: HashMap<String, String> = image
        .flow_elements
        .iter()
        .filter(|e| e.kind == FlowElementKind::Map)
        .map(|e| {
            let kind = e
                .document
                .get("elementType")
                .and_then(|v| v.as_str())
                .unwrap_or_default()
                .to_ascii_uppercase();
            (e.id.to_string(), kind)
        })
        .collect();
    Ok(passed
        .into_iter()
        .enumerate()
        .filter(|(_, entry)| {
            !only_ui
                || types
                    .get(&entry.map_element_id.to_lowercase())
                    .is_some_and(|kind| UI_TYPES.contains(&kind.as_str()))
        })
        .map(|(index, entry)| Visited {
            flow_id: state.flow_id,
            map_element_id: entry.map_element_id,
            name: entry.developer_name,
            entry_id: entry_id(state.id, index),
        })
        .collect())
}

/// A state as its tenant's administrators see it: the row, its flow's name now (empty when
/// the flow is gone), and whether it has expired.
#[derive(Debug, Clone)]
pub struct Administered {
    pub state: RunState,
    pub flow_name: String,
    pub expired: bool,
}

/// The names of the flows `states` run, each looked up once.
async fn flow_names(
    store: &dyn Store,
    tenant: TenantId,
    states: &[RunState],
) -> Result<HashMap<FlowId, String>, RuleError> {
    let mut names = HashMap::new();
    for state in states {
        if let std::collections::hash_map::Entry::Vacant(entry) = names.entry(state.flow_id) {
            let name = store
                .flow(tenant, state.flow_id)
                .await?
                .map(|flow| flow.developer_name)
                .unwrap_or_default();
            entry.insert(name);
        }
    }
    Ok(names)
}

fn administered(
    states: Vec<RunState>,
    names: &HashMap<FlowId, String>,
    now: Timestamp,
) -> Vec<Administered> {
    states
        .into_iter()
        .map(|state| Administered {
            flow_name: names.get(&state.flow_id).cloned().unwrap_or_default(),
            expired: expiry::expired(&state, now),
            state,
        })
        .collect()
}

/// A page of the tenant's states `query` selects (expired ones not yet pruned included, marked),
/// newest first, and how many it selects in all.
pub async fn list(
    store: &dyn Store,
    tenant: TenantId,
    query: &StateQuery,
    now: Timestamp,
) -> Result<(Vec<Administered>, u64), RuleError> {
    let (states, total) = store.list_states(tenant, query).await?;
    let names = flow_names(store, tenant, &states).await?;
    Ok((administered(states, &names, now), total))
}

/// The tenant's state `id`, expired or not.
pub async fn load(
    store: &dyn Store,
    tenant: TenantId,
    id: StateId,
    now: Timestamp,
) -> Result<Administered, RuleError> {
    let state = expiry::any_state(store, tenant, id).await?;
    let names = flow_names(store, tenant, std::slice::from_ref(&state)).await?;
    Ok(administered(vec![state], &names, now).remove(0))
}

/// The most states one deletion names.
pub const MAX_DELETE: usize = 1_000;

/// Deletes those of `ids` that are the tenant's states (the others are left out, not refused:
/// a state may expire and be pruned meanwhile), records a `state.deleted` event for each, and
/// answers the ids deleted.
pub async fn delete(
    store: &dyn Store,
    origin: &Origin,
    actor: Actor,
    tenant: TenantId,
    ids: &[StateId],
) -> Result<Vec<StateId>, RuleError> {
    if ids.len() > MAX_DELETE {
        return Err(RuleError::Invalid(format!(
            "name at most {MAX_DELETE} states in one deletion, not {}",
            ids.len()
        )));
    }
    let deleted = store.delete_states(tenant, ids).await?;
    for id in &deleted {
        let event = AuditEvent {
            actor: actor.id(),
            tenant: Some(tenant),
            action: "state.deleted",
            subject: Some(id.to_string()),
            data: Some(json!({ "state": id.to_string() })),
            ..AuditEvent::default()
        };
        trail::record(store, origin, event).await?;
    }
    Ok(deleted)
}
