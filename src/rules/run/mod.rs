//! Running flows: starting a state from a flow's activated snapshot (or the version asked
//! for, never the draft), invoking it on, and reading it back. Who may run a flow is its
//! `authorization`: `PUBLIC` anyone (no credential), `ALL_USERS` any member of the tenant,
//! `SPECIFIED` the users it lists; a flow without one is run by members only. The engine
//! itself ([`engine`]) is pure; this module loads what it runs and stores what it did. An
//! invoke is written only where the state still holds the token it read
//! (`RunStateStore::advance_state`): a stale token, or losing a race, is a conflict that
//! changes nothing. A state is read through `expiry::live_state`, which refuses an expired
//! one; `states` holds its history and its administration.
//!
//! A run's subflows run in its own state (as Boomi's: no new state): `load` reads the state's
//! version and the running version of every flow its SUBFLOW elements call, at each invoke
//! (so a subflow re-activated between two invokes runs its new version from its next entry),
//! and the frames of the subflows the run is inside are stored with its values.

pub mod decision;
pub mod engine;
pub mod expiry;
pub mod navigation;
pub mod operator;
pub mod page;
pub mod refused;
pub mod states;
pub mod values;

use crate::domain::filter::{Field, Filter};
use crate::domain::{FlowId, StateId, StateToken, TenantId, Timestamp, UserId, VersionId};
use crate::rules::RuleError;
use crate::rules::images;
use crate::store::{FlowRecord, JsonObject, RunState, StateAdvance, Store};
use engine::{Forward, Frame, HistoryEntry, Library, Program, Run, Status, Stop};
use navigation::NavigationView;
use values::{Content, ValueDef, Values};

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
    /// Its object data, for a list or an object (`None`: none sent).
    pub object_data: Option<Vec<JsonObject>>,
}

/// What an invoke did: the state as stored, the engine's stop, and the version it runs.
#[derive(Debug, Clone)]
pub struct Ran {
    pub state: RunState,
    pub stop: Stop,
    pub flow: FlowRecord,
    /// The navigation elements of the flow the run is in.
    pub navigation: Vec<NavigationView>,
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

/// The version to run and its programs: its own, and those of the flows its subflows call
/// (their running versions; a flow with none is left out, and faults where it is called).
async fn load(
    store: &dyn Store,
    tenant: TenantId,
    flow: FlowId,
    version: VersionId,
) -> Result<(FlowRecord, Library), RuleError> {
    let (record, image) = images::read_snapshot(store, tenant, flow, version).await?;
    let root = Program::from_image(&image, record.start_map_element_id.as_deref());
    let mut waiting = root.subflows();
    let mut library = Library::new(root);
    while let Some(id) = waiting.pop() {
        if library.has(&id) {
            continue;
        }
        let Ok(flow) = FlowId::parse(&id) else {
            continue;
        };
        let Some(active) = store
            .active_flows(tenant, Some(flow), None)
            .await?
            .into_iter()
            .next()
        else {
            continue;
        };
        let (sub, image) = images::read_snapshot(store, tenant, flow, active.version_id).await?;
        let program = Program::from_image(&image, sub.start_map_element_id.as_deref());
        waiting.extend(program.subflows());
        library.add(&id, program);
    }
    Ok((record, library))
}

/// A state of the tenant, its version's programs and its run, for a runner who may run it.
async fn open(
    store: &dyn Store,
    tenant: TenantId,
    runner: Runner,
    id: StateId,
    now: Timestamp,
) -> Result<(RunState, FlowRecord, Library, Run), RuleError> {
    let state = expiry::live_state(store, tenant, id, now).await?;
    let (record, library) = load(store, tenant, state.flow_id, state.version_id).await?;
    may_run(store, &record, runner).await?;
    let run = run_of(&state)?;
    Ok((state, record, library, run))
}

/// The refusal of a state's values to nobody ([`refused`] tells it from the others).
pub(crate) const NEEDS_CREDENTIAL: &str =
    "a state's values need a credential: present an API key or a token";

/// A state's values need a credential, as Boomi's values endpoints do, even for a public flow.
fn needs_credential(runner: Runner) -> Result<(), RuleError> {
    if runner == Runner::Anonymous {
        return Err(RuleError::NotAllowed(NEEDS_CREDENTIAL.into()));
    }
    Ok(())
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
    let (record, library) = load(store, tenant, flow_id, version).await?;
    may_run(store, &record, runner).await?;
    let mut values = library.root().defs.defaults();
    set_inputs(library.root(), &mut values, inputs)?;
    let stop = engine::start(&library, values);
    let state = RunState {
        id: StateId::random(),
        tenant_id: tenant,
        flow_id,
        version_id: version,
        state_token: StateToken::random(),
        current_element: stop.run.at.clone(),
        status: stop.run.status.as_str().into(),
        state_values: stored_values(&stop.run)?,
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
    Ok(ran(state, stop, record, &library))
}

fn ran(state: RunState, stop: Stop, flow: FlowRecord, library: &Library) -> Ran {
    let navigation = engine::navigations(library, &stop.run);
    Ran {
        state,
        stop,
        flow,
        navigation,
    }
}

/// The value an input names (by id, else by name).
fn named<'a>(program: &'a Program, input: &Input) -> Option<&'a ValueDef> {
    program
        .defs
        .get(&input.value)
        .or_else(|| program.defs.by_name(&input.value))
}

/// Sets `inputs` over `values`: each names a value of the program (by id, else by name); a list
/// or an object takes `objectData`, any other value `contentValue`.
fn set_inputs(program: &Program, values: &mut Values, inputs: &[Input]) -> Result<(), RuleError> {
    for input in inputs {
        if input.value.is_empty() {
            return Err(RuleError::Invalid(
                "an input names no value: give valueElementId or developerName".into(),
            ));
        }
        let def = named(program, input).ok_or_else(|| {
            RuleError::Invalid(format!(
                "the flow has no value '{}' to set",
                crate::domain::shorten(&input.value)
            ))
        })?;
        let objects = input.object_data.clone().filter(|o| !o.is_empty());
        if def.is_simple() {
            if objects.is_some() {
                return Err(RuleError::Invalid(format!(
                    "the value '{}' is {}: send its contentValue, not objectData",
                    def.name, def.content_type
                )));
            }
            values.set(&def.id, input.content.clone());
        } else {
            if input.content.as_deref().is_some_and(|c| !c.is_empty()) {
                return Err(RuleError::Invalid(format!(
                    "the value '{}' is {}: send its objectData, not a contentValue",
                    def.name, def.content_type
                )));
            }
            values.set_content(&def.id, Content::Objects(objects.unwrap_or_default()));
        }
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
    let (state, record, library, run) = open(store, tenant, runner, id, Timestamp::now()).await?;
    let view = engine::view(&library, &run);
    Ok(ran(state, Stop { run, view }, record, &library))
}

/// One value of a state, as read. A hidden value's (a password's) content is never answered.
#[derive(Debug, Clone, PartialEq)]
pub struct StateValue {
    pub id: String,
    pub developer_name: String,
    pub content_type: String,
    pub content: Option<String>,
    /// A list's or an object's object data (`None` for the other values).
    pub object_data: Option<Vec<JsonObject>>,
}

impl StateValue {
    fn of(def: &ValueDef, values: &Values) -> StateValue {
        let (content, object_data) = if def.is_simple() {
            let content = values.get(&def.id).filter(|_| !def.hidden);
            (content.map(str::to_string), None)
        } else {
            let objects = values.objects(&def.id).unwrap_or_default();
            (None, Some(objects.to_vec()))
        };
        StateValue {
            id: def.id.clone(),
            developer_name: def.name.clone(),
            content_type: def.content_type.clone(),
            content,
            object_data,
        }
    }
}

/// Which of a state's values to read.
#[derive(Debug, Clone)]
pub enum ValuePick {
    All,
    Id(String),
    Name(String),
}

/// The state's values (all, ordered by name, or the one named) of the state's own flow, for a
/// member who may run its flow: a caller with no credential is refused (as Boomi's values
/// endpoints need one), even for a public flow. Missing: no such state, or no such value in
/// its flow.
pub async fn values(
    store: &dyn Store,
    tenant: TenantId,
    runner: Runner,
    id: StateId,
    pick: &ValuePick,
) -> Result<Vec<StateValue>, RuleError> {
    needs_credential(runner)?;
    let (_, _, library, run) = open(store, tenant, runner, id, Timestamp::now()).await?;
    let defs = &library.root().defs;
    let defs = match pick {
        ValuePick::All => {
            let mut all: Vec<_> = defs.iter().collect();
            all.sort_by(|a, b| {
                a.name
                    .to_lowercase()
                    .cmp(&b.name.to_lowercase())
                    .then(a.id.cmp(&b.id))
            });
            all
        }
        ValuePick::Id(value) => vec![defs.get(value).ok_or_else(|| {
            RuleError::Missing(format!(
                "the state's flow has no value {}",
                crate::domain::shorten(value)
            ))
        })?],
        ValuePick::Name(name) => vec![defs.by_name(name).ok_or_else(|| {
            RuleError::Missing(format!(
                "the state's flow has no value named '{}'",
                crate::domain::shorten(name)
            ))
        })?],
    };
    Ok(defs
        .into_iter()
        .map(|def| StateValue::of(def, &run.values))
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
    needs_credential(runner)?;
    let (state, record, library, run) = open(store, tenant, runner, id, now).await?;
    if run.status == Status::Complete {
        return Err(RuleError::Invalid("this run is over".into()));
    }
    let program = library.root();
    let mut after = run.clone();
    set_inputs(program, &mut after.values, inputs)?;
    let advance = StateAdvance {
        state_token: StateToken::random(),
        current_element: state.current_element.clone(),
        status: state.status.clone(),
        state_values: stored_values(&after)?,
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
        .filter_map(|input| named(program, input))
        .map(|def| StateValue::of(def, &after.values))
        .collect())
}

/// What an invoke asks of the run.
#[derive(Debug, Clone)]
pub enum Move {
    /// Answers, then maybe an outcome (`FORWARD`, `SYNC`).
    Forward(Forward),
    /// To where the item of a navigation points (`NAVIGATE`).
    Navigate { navigation: String, item: String },
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
    request: &Move,
    now: Timestamp,
) -> Result<Ran, RuleError> {
    let (state, record, library, run) = open(store, tenant, runner, id, now).await?;
    if named.is_some_and(|named| named != id) {
        return Err(RuleError::Invalid(
            "the body's stateId is not the path's".into(),
        ));
    }
    if state.state_token != token {
        return Err(stale());
    }
    let stop = match request {
        Move::Forward(forward) => engine::forward(&library, &run, forward),
        Move::Navigate { navigation, item } => engine::navigate(&library, &run, navigation, item),
    }
    .map_err(RuleError::Invalid)?;
    let advance = StateAdvance {
        state_token: StateToken::random(),
        current_element: stop.run.at.clone(),
        status: stop.run.status.as_str().into(),
        state_values: stored_values(&stop.run)?,
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
    Ok(ran(state, stop, record, &library))
}

/// A navigation element of the flow the state is in, with the item it is at marked
/// (`POST /api/run/1/navigation/{stateId}`): a read, which changes nothing.
pub async fn navigation(
    store: &dyn Store,
    tenant: TenantId,
    runner: Runner,
    id: StateId,
    navigation: &str,
) -> Result<NavigationView, RuleError> {
    let (_, _, library, run) = open(store, tenant, runner, id, Timestamp::now()).await?;
    engine::navigation(&library, &run, navigation).map_err(RuleError::Missing)
}

fn stale() -> RuleError {
    RuleError::Conflict(
        "the stateToken is not the state's current one: another invoke moved it on; read the \
         state again"
            .into(),
    )
}

/// The `state_values` a stored state keeps: each value's content by id, and under `$frames`
/// the subflows the run is inside (absent when none, so a state of a flow without subflows
/// reads as a plain map of values).
#[derive(serde::Serialize, serde::Deserialize)]
struct Stored {
    #[serde(flatten)]
    values: Values,
    #[serde(rename = "$frames", default, skip_serializing_if = "Vec::is_empty")]
    frames: Vec<Frame>,
}

fn stored_values(run: &Run) -> Result<String, RuleError> {
    to_json(&Stored {
        values: run.values.clone(),
        frames: run.frames.clone(),
    })
}

fn run_of(state: &RunState) -> Result<Run, RuleError> {
    let stored: Stored = serde_json::from_str(&state.state_values)
        .map_err(|e| RuleError::Internal(anyhow::anyhow!("a state's values are corrupt: {e}")))?;
    let history: Vec<HistoryEntry> = serde_json::from_str(&state.history)
        .map_err(|e| RuleError::Internal(anyhow::anyhow!("a state's history is corrupt: {e}")))?;
    Ok(Run {
        at: state.current_element.clone(),
        status: Status::parse(&state.status),
        values: stored.values,
        history,
        frames: stored.frames,
    })
}

fn to_json(value: &impl serde::Serialize) -> Result<String, RuleError> {
    serde_json::to_string(value).map_err(|e| RuleError::Internal(e.into()))
}
