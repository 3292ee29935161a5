//! Running flows: starting a state from a flow's activated snapshot (or the version asked
//! for, never the draft), invoking it on, and reading it back. Who may run a flow is its
//! `authorization`: `PUBLIC` anyone (no credential), `ALL_USERS` any member of the tenant,
//! `SPECIFIED` the users it lists; a flow without one is run by members only. The engine
//! itself ([`engine`]) is pure; this module loads what it runs and stores what it did. An
//! invoke is written only where the state still holds the token it read
//! (`RunStateStore::advance_state`): a stale token, or losing a race, is a conflict that
//! changes nothing. A state is read through `expiry::live_state`, which refuses an expired
//! one; `states` holds its history and its administration.

pub mod decision;
pub mod engine;
pub mod expiry;
pub mod operator;
pub mod page;
pub mod states;
pub mod values;

use crate::domain::filter::{Field, Filter};
use crate::domain::{FlowId, StateId, StateToken, TenantId, Timestamp, UserId, VersionId};
use crate::rules::RuleError;
use crate::rules::images;
use crate::store::{FlowRecord, RunState, StateAdvance, Store};
use engine::{Forward, HistoryEntry, Program, Run, Status, Stop};
use values::Values;

/// Who runs: a member of the tenant, or nobody signed in (a public flow).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Runner {
    Member(UserId),
    Anonymous,
}

/// Which flow to start.
#[derive(Debug, Clone)]
pub enum FlowPick {
    /// By id: its running version (default snapshot, else the last activated), or `version`,
    /// which must be one of its snapshots.
    Id(FlowId, Option<VersionId>),
    /// By name (ignoring case): its running version.
    Name(String),
}

/// A value given at start: by value id or by name, and its content.
#[derive(Debug, Clone)]
pub struct Input {
    /// The value's id or name; empty: none named (refused).
    pub value: String,
    pub content: Option<String>,
    /// Whether it carries object data (lists and objects: refused, not supported yet).
    pub object_data: bool,
}

/// What an invoke did: the state as stored, the engine's stop, and the version it runs.
#[derive(Debug, Clone)]
pub struct Ran {
    pub state: RunState,
    pub stop: Stop,
    pub flow: FlowRecord,
}

/// Whether `runner` may run the version `flow`: 401-worthy (`NotAllowed` for `Anonymous`) or
/// 403 otherwise.
pub async fn may_run(
    store: &dyn Store,
    flow: &FlowRecord,
    runner: Runner,
) -> Result<(), RuleError> {
    let authorization = flow.settings.authorization.clone().unwrap_or_default();
    let kind = authorization
        .global_authentication_type
        .as_deref()
        .unwrap_or("ALL_USERS")
        .to_ascii_uppercase();
    let user = match (kind.as_str(), runner) {
        ("PUBLIC", _) => return Ok(()),
        (_, Runner::Anonymous) => {
            return Err(RuleError::NotAllowed(
                "this flow is not public: present an API key or a token".into(),
            ));
        }
        ("ALL_USERS", Runner::Member(_)) => return Ok(()),
        ("SPECIFIED", Runner::Member(user)) => user,
        (other, _) => {
            return Err(RuleError::NotAllowed(format!(
                "the flow's authorization '{}' is not supported",
                crate::domain::shorten(other)
            )));
        }
    };
    let email = store
        .user(user)
        .await?
        .map(|u| u.email.to_lowercase())
        .unwrap_or_default();
    let listed = authorization.users.unwrap_or_default().iter().any(|entry| {
        ["authenticationId", "id", "email"].iter().any(|field| {
            entry.get(*field).and_then(|v| v.as_str()).is_some_and(|v| {
                v.eq_ignore_ascii_case(&user.to_string()) || v.eq_ignore_ascii_case(&email)
            })
        })
    });
    if listed {
        Ok(())
    } else {
        Err(RuleError::NotAllowed(
            "you are not among the users this flow may be run by".into(),
        ))
    }
}

/// The version to run and its program.
async fn load(
    store: &dyn Store,
    tenant: TenantId,
    flow: FlowId,
    version: VersionId,
) -> Result<(FlowRecord, Program), RuleError> {
    let (record, image) = images::read_snapshot(store, tenant, flow, version).await?;
    let program = Program::from_image(&image, record.start_map_element_id.as_deref());
    Ok((record, program))
}

/// The version a pick runs: never the draft.
async fn pick(
    store: &dyn Store,
    tenant: TenantId,
    pick: &FlowPick,
) -> Result<(FlowId, VersionId), RuleError> {
    match pick {
        FlowPick::Id(id, Some(version)) => Ok((*id, *version)),
        FlowPick::Id(id, None) => store
            .active_flows(tenant, Some(*id), None)
            .await?
            .into_iter()
            .next()
            .map(|f| (f.id, f.version_id))
            .ok_or_else(|| RuleError::Missing(format!("the flow {id} has no activated version"))),
        FlowPick::Name(name) => {
            let filter = Filter::equals(Field::DeveloperName, name);
            store
                .active_flows(tenant, None, Some(&filter))
                .await?
                .into_iter()
                .next()
                .map(|f| (f.id, f.version_id))
                .ok_or_else(|| {
                    RuleError::Missing(format!(
                        "no activated flow is named '{}'",
                        crate::domain::shorten(name)
                    ))
                })
        }
    }
}

/// Starts a state of the picked flow, with `inputs` set over the values' defaults, and runs
/// it to its first stop.
pub async fn start(
    store: &dyn Store,
    tenant: TenantId,
    runner: Runner,
    flow: &FlowPick,
    inputs: &[Input],
    now: Timestamp,
) -> Result<Ran, RuleError> {
    let (flow_id, version) = pick(store, tenant, flow).await?;
    let (record, program) = load(store, tenant, flow_id, version).await?;
    may_run(store, &record, runner).await?;
    let mut values = program.defs.defaults();
    set_inputs(&program, &mut values, inputs)?;
    let stop = engine::start(&program, values);
    let state = RunState {
        id: StateId::random(),
        tenant_id: tenant,
        flow_id,
        version_id: version,
        state_token: StateToken::random(),
        current_element: stop.run.at.clone(),
        status: stop.run.status.as_str().into(),
        state_values: to_json(&stop.run.values)?,
        history: to_json(&stop.run.history)?,
        created_by: match runner {
            Runner::Member(user) => Some(user),
            Runner::Anonymous => None,
        },
        created_at: now,
        updated_at: now,
        expires_at: expiry::expires_at(&record.settings, now, now),
    };
    store.insert_state(state.clone()).await?;
    Ok(Ran {
        state,
        stop,
        flow: record,
    })
}

/// Sets `inputs` over `values`: each names a simple value of the program (by id, else by name).
fn set_inputs(program: &Program, values: &mut Values, inputs: &[Input]) -> Result<(), RuleError> {
    for input in inputs {
        if input.value.is_empty() {
            return Err(RuleError::Invalid(
                "an input names no value: give valueElementId or developerName".into(),
            ));
        }
        if input.object_data {
            return Err(RuleError::Invalid(
                "inputs with objectData (lists and objects) are not supported yet".into(),
            ));
        }
        let def = program
            .defs
            .get(&input.value)
            .or_else(|| program.defs.by_name(&input.value))
            .ok_or_else(|| {
                RuleError::Invalid(format!(
                    "the flow has no value '{}' to set",
                    crate::domain::shorten(&input.value)
                ))
            })?;
        if !def.is_simple() {
            return Err(RuleError::Invalid(format!(
                "the value '{}' is a list or an object, which inputs cannot set yet",
                def.name
            )));
        }
        values.set(&def.id, input.content.clone());
    }
    Ok(())
}

/// Reads the tenant's state, as the runner may see it, and where it stands.
pub async fn read(
    store: &dyn Store,
    tenant: TenantId,
    runner: Runner,
    id: StateId,
) -> Result<Ran, RuleError> {
    let state = expiry::live_state(store, tenant, id, Timestamp::now()).await?;
    let (record, program) = load(store, tenant, state.flow_id, state.version_id).await?;
    may_run(store, &record, runner).await?;
    let run = run_of(&state)?;
    let view = engine::view(&program, &run);
    Ok(Ran {
        state,
        stop: Stop { run, view },
        flow: record,
    })
}

/// One value of a state, as read.
#[derive(Debug, Clone, PartialEq)]
pub struct StateValue {
    pub id: String,
    pub developer_name: String,
    pub content_type: String,
    pub content: Option<String>,
}

/// Which of a state's values to read.
#[derive(Debug, Clone)]
pub enum ValuePick {
    All,
    Id(String),
    Name(String),
}

/// The state's values (all, ordered by name, or the one named), for a member who may run its
/// flow: a caller with no credential is refused (as Boomi's values endpoints need one), even
/// for a public flow. Missing: no such state, or no such value in its flow.
pub async fn values(
    store: &dyn Store,
    tenant: TenantId,
    runner: Runner,
    id: StateId,
    pick: &ValuePick,
) -> Result<Vec<StateValue>, RuleError> {
    if runner == Runner::Anonymous {
        return Err(RuleError::NotAllowed(
            "a state's values need a credential: present an API key or a token".into(),
        ));
    }
    let state = expiry::live_state(store, tenant, id, Timestamp::now()).await?;
    let (record, program) = load(store, tenant, state.flow_id, state.version_id).await?;
    may_run(store, &record, runner).await?;
    let run = run_of(&state)?;
    let defs = match pick {
        ValuePick::All => {
            let mut all: Vec<_> = program.defs.iter().collect();
            all.sort_by(|a, b| {
                a.name
                    .to_lowercase()
                    .cmp(&b.name.to_lowercase())
                    .then(a.id.cmp(&b.id))
            });
            all
        }
        ValuePick::Id(value) => vec![program.defs.get(value).ok_or_else(|| {
            RuleError::Missing(format!(
                "the state's flow has no value {}",
                crate::domain::shorten(value)
            ))
        })?],
        ValuePick::Name(name) => vec![program.defs.by_name(name).ok_or_else(|| {
            RuleError::Missing(format!(
                "the state's flow has no value named '{}'",
                crate::domain::shorten(name)
            ))
        })?],
    };
    Ok(defs
        .into_iter()
        .map(|def| StateValue {
            id: def.id.clone(),
            developer_name: def.name.clone(),
            content_type: def.content_type.clone(),
            content: run.values.get(&def.id).map(str::to_string),
        })
        .collect())
}

/// Sets values of a state (a member who may run its flow; with no credential refused, as
/// reading them), written where the state still holds the token read here, which then changes
/// (an invoke with the earlier one is refused): 409 when another write came in between.
/// Answers the values set, as they now are.
pub async fn set_values(
    store: &dyn Store,
    tenant: TenantId,
    runner: Runner,
    id: StateId,
    inputs: &[Input],
    now: Timestamp,
) -> Result<Vec<StateValue>, RuleError> {
    if runner == Runner::Anonymous {
        return Err(RuleError::NotAllowed(
            "a state's values need a credential: present an API key or a token".into(),
        ));
    }
    let state = expiry::live_state(store, tenant, id, now).await?;
    let (record, program) = load(store, tenant, state.flow_id, state.version_id).await?;
    may_run(store, &record, runner).await?;
    let run = run_of(&state)?;
    if run.status == Status::Complete {
        return Err(RuleError::Invalid("this run is over".into()));
    }
    let mut values = run.values.clone();
    set_inputs(&program, &mut values, inputs)?;
    let advance = StateAdvance {
        state_token: StateToken::random(),
        current_element: state.current_element.clone(),
        status: state.status.clone(),
        state_values: to_json(&values)?,
        history: state.history.clone(),
        updated_at: now,
        expires_at: expiry::expires_at(&record.settings, state.created_at, now),
    };
    if !store
        .advance_state(tenant, id, state.state_token, &advance)
        .await?
    {
        return Err(stale());
    }
    Ok(inputs
        .iter()
        .filter_map(|input| {
            program
                .defs
                .get(&input.value)
                .or_else(|| program.defs.by_name(&input.value))
        })
        .map(|def| StateValue {
            id: def.id.clone(),
            developer_name: def.name.clone(),
            content_type: def.content_type.clone(),
            content: values.get(&def.id).map(str::to_string),
        })
        .collect())
}

/// Goes on with the state from the token the client read: refused (Conflict, changing
/// nothing) when the token is not the state's, or another invoke wins the write. `named` is
/// the state the request's body names, if it does: another than `id` is refused.
#[allow(clippy::too_many_arguments)]
pub async fn invoke(
    store: &dyn Store,
    tenant: TenantId,
    runner: Runner,
    id: StateId,
    named: Option<StateId>,
    token: StateToken,
    request: &Forward,
    now: Timestamp,
) -> Result<Ran, RuleError> {
    let state = expiry::live_state(store, tenant, id, now).await?;
    let (record, program) = load(store, tenant, state.flow_id, state.version_id).await?;
    may_run(store, &record, runner).await?;
    if named.is_some_and(|named| named != id) {
        return Err(RuleError::Invalid(
            "the body's stateId is not the path's".into(),
        ));
    }
    if state.state_token != token {
        return Err(stale());
    }
    let run = run_of(&state)?;
    let stop = engine::forward(&program, &run, request).map_err(RuleError::Invalid)?;
    let advance = StateAdvance {
        state_token: StateToken::random(),
        current_element: stop.run.at.clone(),
        status: stop.run.status.as_str().into(),
        state_values: to_json(&stop.run.values)?,
        history: to_json(&stop.run.history)?,
        updated_at: now,
        expires_at: expiry::expires_at(&record.settings, state.created_at, now),
    };
    if !store.advance_state(tenant, id, token, &advance).await? {
        return Err(stale());
    }
    let state = RunState {
        state_token: advance.state_token,
        current_element: advance.current_element,
        status: advance.status,
        state_values: advance.state_values,
        history: advance.history,
        updated_at: now,
        expires_at: advance.expires_at,
        ..state
    };
    Ok(Ran {
        state,
        stop,
        flow: record,
    })
}

fn stale() -> RuleError {
    RuleError::Conflict(
        "the stateToken is not the state's current one: another invoke moved it on; read the \
         state again"
            .into(),
    )
}

fn run_of(state: &RunState) -> Result<Run, RuleError> {
    let values: Values = serde_json::from_str(&state.state_values)
        .map_err(|e| RuleError::Internal(anyhow::anyhow!("a state's values are corrupt: {e}")))?;
    let history: Vec<HistoryEntry> = serde_json::from_str(&state.history)
        .map_err(|e| RuleError::Internal(anyhow::anyhow!("a state's history is corrupt: {e}")))?;
    Ok(Run {
        at: state.current_element.clone(),
        status: Status::parse(&state.status),
        values,
        history,
    })
}

fn to_json(value: &impl serde::Serialize) -> Result<String, RuleError> {
    serde_json::to_string(value).map_err(|e| RuleError::Internal(e.into()))
}
