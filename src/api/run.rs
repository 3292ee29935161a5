//! Running flows, Boomi's runtime API: `POST /api/run/1` (start a state),
//! `POST /api/run/1/state` (start one and run it to its first stop), `POST` and `GET
//! /api/run/1/state/{stateId}` (invoke it on, read it), `POST /api/run/1/navigation/{stateId}`
//! (a navigation of the state's flow), and the runnable flows under `/api/run/1/flow`. A public flow is run without a credential, naming the tenant in
//! `manywhotenant`; the others need a member's key or token (a narrowed key needs
//! `flows:run`). The rules are in `rules::run`; these handlers parse and shape.

use axum::Json;
use axum::extract::State;
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::api::doc::{AuthErrors, BodyErrors, Conflict, ErrorMessage, NotFound};
use crate::api::flow_json::ActiveFlow;
use crate::api::flows::ListQuery;
use crate::api::run_json::{
    EngineValueIn, EngineValueOut, InitializationRequest, InitializationResponse, InvokeRequest,
    InvokeResponse, InvokeType, NavigationRequest, NavigationResponse, SimpleRequest,
};
use crate::domain::filter::{Field, Filter};
use crate::domain::{FlowId, StateId, Timestamp};
use crate::http::error::ApiError;
use crate::http::extract::RunCaller;
use crate::http::json::{JsonBody, Segment, TextQuery, path};
use crate::http::scope::{client_address, current_request_id};
use crate::rules::RuleError;
use crate::rules::run::engine::Forward;
use crate::rules::run::page::Answer;
use crate::rules::run::refused::Refused;
use crate::rules::run::{self, FlowPick, Input, Move, Runner, ValuePick};
use crate::state::AppState;
use crate::store::FlowRecord;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(initialize))
        .routes(routes!(start_simple))
        .routes(routes!(invoke, read_state))
        .routes(routes!(state_values, set_state_values))
        .routes(routes!(state_value))
        .routes(routes!(state_value_by_name))
        .routes(routes!(runnable_flows))
        .routes(routes!(runnable_flow))
        .routes(routes!(runnable_flow_by_name))
        .routes(routes!(navigation))
}

/// The 403 of the run API.
#[derive(utoipa::IntoResponses)]
#[response(
    status = 403,
    description = "The flow's authorization does not include the caller, or the API key lacks \
        flows:run"
)]
#[allow(dead_code)]
pub(crate) struct RunForbidden(ErrorMessage);

pub(crate) fn runner(caller: &RunCaller) -> Runner {
    match caller.principal {
        Some(principal) => Runner::Member(principal.user_id),
        None => Runner::Anonymous,
    }
}

/// A refusal of the rules; for a caller with no credential, "not allowed" is "sign in" (401).
/// A refusal of who runs is counted for the audit trail (`run.refused`), here for every
/// handler of the run API.
pub(crate) fn refused<'a>(
    state: &'a AppState,
    caller: &'a RunCaller,
) -> impl Fn(RuleError) -> ApiError + 'a {
    move |error| {
        let who = Refused {
            runner: runner(caller),
            tenant: caller.tenant_id,
            address: client_address(),
            preview: caller.preview.as_deref().map(str::to_owned),
            request_id: current_request_id(),
        };
        run::refused::note(&state.refusals, &error, who);
        match error {
            RuleError::NotAllowed(message) if caller.principal.is_none() => {
                ApiError::Unauthorized(message)
            }
            other => other.into(),
        }
    }
}

fn inputs(sent: Option<&[EngineValueIn]>) -> Vec<Input> {
    sent.unwrap_or_default()
        .iter()
        .map(|input| input.to_input())
        .collect()
}

/// A run started without a credential spends one cell of its address's budget
/// (`--anonymous-run-start-burst`, one more a second): a public flow lets anyone write states,
/// and this bounds how fast one address can.
pub(crate) fn anonymous_start(state: &AppState, address: std::net::IpAddr) -> Result<(), ApiError> {
    state
        .anonymous_starts
        .spend(address)
        .map_err(|throttled| ApiError::StartsLimited {
            retry_after_secs: throttled.retry_after_secs,
        })
}

/// Starts a state of the flow `pick` names for the caller, with the inputs sent: what both
/// ways of starting share.
async fn start(
    state: &AppState,
    caller: &RunCaller,
    pick: &FlowPick,
    sent: Option<&[EngineValueIn]>,
) -> Result<run::Ran, ApiError> {
    if caller.principal.is_none() {
        anonymous_start(state, crate::http::scope::client_address())?;
    }
    let inputs = inputs(sent);
    run::start(
        &*state.store,
        caller.tenant_id,
        runner(caller),
        pick,
        &inputs,
        Timestamp::now(),
    )
    .await
    .map_err(refused(state, caller))
}

/// Starts a state of the flow's running version (or the snapshot `flowId.versionId` names;
/// never the version being edited), with `inputs` over its values' defaults, and runs it to
/// its first page or step: `currentMapElementId` is where it waits. Invoke it with the
/// `stateToken` answered.
#[utoipa::path(
    post,
    path = "/api/run/1",
    tag = "Run",
    security((), ("apiKey" = []), ("token" = [])),
    request_body = InitializationRequest,
    responses(
        (status = 200, description = "The new state", body = InitializationResponse),
        NotFound, RunForbidden, BodyErrors, AuthErrors,
    )
)]
async fn initialize(
    State(state): State<AppState>,
    caller: RunCaller,
    JsonBody(request): JsonBody<InitializationRequest>,
) -> Result<Json<InitializationResponse>, ApiError> {
    let pick = FlowPick::Id(request.flow_id.id, request.flow_id.version_id);
    let ran = start(&state, &caller, &pick, request.inputs.as_deref()).await?;
    Ok(Json(InitializationResponse::from(&ran)))
}

/// Starts a state of a flow named by `id` (and `versionId`) or by `developerName`, and answers
/// it as an invoke does: the first page or step it waits at. `username` and `password` (a
/// sign-in through the flow's identity provider) are not supported: 422.
#[utoipa::path(
    post,
    path = "/api/run/1/state",
    tag = "Run",
    security((), ("apiKey" = []), ("token" = [])),
    request_body = SimpleRequest,
    responses(
        (status = 200, description = "The new state, where it waits", body = InvokeResponse),
        NotFound, RunForbidden, BodyErrors, AuthErrors,
    )
)]
async fn start_simple(
    State(state): State<AppState>,
    caller: RunCaller,
    JsonBody(request): JsonBody<SimpleRequest>,
) -> Result<Json<InvokeResponse>, ApiError> {
    if request.username.is_some() || request.password.is_some() {
        return Err(ApiError::Unprocessable(
            "keyflow does not sign in through a flow's identity provider: send an API key or a \
             token instead of username and password"
                .into(),
        ));
    }
    let pick = match (request.id, request.developer_name) {
        (Some(id), _) => FlowPick::Id(id, request.version_id),
        (None, Some(name)) if !name.trim().is_empty() => FlowPick::Name(name),
        _ => {
            return Err(ApiError::Unprocessable(
                "name the flow to run: id (and versionId) or developerName".into(),
            ));
        }
    };
    let ran = start(&state, &caller, &pick, request.inputs.as_deref()).await?;
    Ok(Json(InvokeResponse::from(&ran)))
}

/// Moves the state on. `FORWARD` takes the page's answers
/// (`mapElementInvokeRequest.pageRequest`) and then the selected outcome (none: the page again,
/// answers kept; a required answer missing: the page again, marked); `SYNC` takes the answers
/// only; `JOIN` answers the state as it is; `NAVIGATE` moves it to the map element the item
/// `selectedNavigationItemId` of the navigation `navigationElementId` points to, and runs on
/// from there (the navigations are in `navigationElementReferences`). The `stateToken`
/// must be the state's current one, else 409 and nothing changes; of two invokes sent with one
/// token, one wins and the other is 409. The answer carries the next token.
#[utoipa::path(
    post,
    path = "/api/run/1/state/{stateId}",
    tag = "Run",
    security((), ("apiKey" = []), ("token" = [])),
    params(("stateId" = uuid::Uuid, Path, description = "The state")),
    request_body = InvokeRequest,
    responses(
        (status = 200, description = "Where the state stands now", body = InvokeResponse),
        NotFound, Conflict, RunForbidden, BodyErrors, AuthErrors,
    )
)]
async fn invoke(
    State(state): State<AppState>,
    caller: RunCaller,
    Segment(id): Segment,
    JsonBody(request): JsonBody<InvokeRequest>,
) -> Result<Json<InvokeResponse>, ApiError> {
    let id = path(&id, StateId::parse)?;
    let runner = runner(&caller);
    if request.invoke_type == InvokeType::Join {
        let ran = run::read(&*state.store, caller.tenant_id, runner, id)
            .await
            .map_err(refused(&state, &caller))?;
        return Ok(Json(InvokeResponse::from(&ran)));
    }
    let element = request.map_element_invoke_request.unwrap_or_default();
    let answers = element
        .page_request
        .and_then(|page| page.page_component_input_responses)
        .unwrap_or_default()
        .into_iter()
        .map(|answer| Answer {
            object_data: answer.object_data.as_ref().is_some_and(|d| !d.is_empty()),
            component: answer.page_component_id,
            content: answer.content_value,
        })
        .collect();
    let request_move = match request.invoke_type {
        InvokeType::Navigate => match (
            request
                .navigation_element_id
                .filter(|n| !n.trim().is_empty()),
            request
                .selected_navigation_item_id
                .filter(|i| !i.trim().is_empty()),
        ) {
            (Some(navigation), Some(item)) => Move::Navigate { navigation, item },
            _ => {
                return Err(ApiError::Unprocessable(
                    "NAVIGATE needs navigationElementId and selectedNavigationItemId".into(),
                ));
            }
        },
        kind => Move::Forward(Forward {
            selected_outcome: match kind {
                InvokeType::Sync => None,
                _ => element.selected_outcome_id.filter(|o| !o.is_empty()),
            },
            answers,
        }),
    };
    let ran = run::invoke(
        &*state.store,
        caller.tenant_id,
        runner,
        id,
        request.state_id,
        request.state_token,
        &request_move,
        Timestamp::now(),
    )
    .await
    .map_err(refused(&state, &caller))?;
    Ok(Json(InvokeResponse::from(&ran)))
}

/// The query of `GET /api/run/1/state/{stateId}`.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
struct JoinQuery {
    /// Boomi's join mode; keyflow reads the state the same whatever it says.
    mode: Option<String>,
}

/// The state as it stands (as `JOIN`): where it waits, what it shows, and its token.
#[utoipa::path(
    get,
    path = "/api/run/1/state/{stateId}",
    tag = "Run",
    security((), ("apiKey" = []), ("token" = [])),
    params(("stateId" = uuid::Uuid, Path, description = "The state"), JoinQuery),
    responses(
        (status = 200, description = "The state", body = InvokeResponse),
        NotFound, RunForbidden, AuthErrors,
    )
)]
async fn read_state(
    State(state): State<AppState>,
    caller: RunCaller,
    Segment(id): Segment,
    TextQuery(_query): TextQuery<JoinQuery>,
) -> Result<Json<InvokeResponse>, ApiError> {
    let id = path(&id, StateId::parse)?;
    let ran = run::read(&*state.store, caller.tenant_id, runner(&caller), id)
        .await
        .map_err(refused(&state, &caller))?;
    Ok(Json(InvokeResponse::from(&ran)))
}

async fn read_values(
    state: &AppState,
    caller: &RunCaller,
    id: &str,
    pick: ValuePick,
) -> Result<Vec<EngineValueOut>, ApiError> {
    let id = path(id, StateId::parse)?;
    let values = run::values(&*state.store, caller.tenant_id, runner(caller), id, &pick)
        .await
        .map_err(refused(state, caller))?;
    Ok(values.into_iter().map(EngineValueOut::from).collect())
}

/// The state's values, ordered by name: every value of its flow, with its content now
/// (`objectData` for a list or an object; a password's `contentValue` is null, never answered
/// in clear). Needs a credential, even for a public flow.
#[utoipa::path(
    get,
    path = "/api/run/1/state/{stateId}/values",
    tag = "Run",
    params(("stateId" = uuid::Uuid, Path, description = "The state")),
    responses(
        (status = 200, description = "The state's values", body = Vec<EngineValueOut>),
        NotFound, RunForbidden, AuthErrors,
    )
)]
async fn state_values(
    State(state): State<AppState>,
    caller: RunCaller,
    Segment(id): Segment,
) -> Result<Json<Vec<EngineValueOut>>, ApiError> {
    Ok(Json(
        read_values(&state, &caller, &id, ValuePick::All).await?,
    ))
}

/// Sets values of the state (`EngineValueAPI[]`, each by `valueElementId` or `developerName`,
/// with its `contentValue`, or its `objectData` for a list or an object) and answers them as they now are. The state's `stateToken`
/// changes: read the state again before the next invoke. Needs a credential, even for a
/// public flow.
#[utoipa::path(
    post,
    path = "/api/run/1/state/{stateId}/values",
    tag = "Run",
    params(("stateId" = uuid::Uuid, Path, description = "The state")),
    request_body = Vec<EngineValueIn>,
    responses(
        (status = 200, description = "The values set", body = Vec<EngineValueOut>),
        NotFound, Conflict, RunForbidden, BodyErrors, AuthErrors,
    )
)]
async fn set_state_values(
    State(state): State<AppState>,
    caller: RunCaller,
    Segment(id): Segment,
    JsonBody(sent): JsonBody<Vec<EngineValueIn>>,
) -> Result<Json<Vec<EngineValueOut>>, ApiError> {
    let id = path(&id, StateId::parse)?;
    let inputs = inputs(Some(&sent));
    let set = run::set_values(
        &*state.store,
        caller.tenant_id,
        runner(&caller),
        id,
        &inputs,
        Timestamp::now(),
    )
    .await
    .map_err(refused(&state, &caller))?;
    Ok(Json(set.into_iter().map(EngineValueOut::from).collect()))
}

/// One value of the state, by the value's id.
#[utoipa::path(
    get,
    path = "/api/run/1/state/{stateId}/values/{id}",
    tag = "Run",
    params(
        ("stateId" = uuid::Uuid, Path, description = "The state"),
        ("id" = uuid::Uuid, Path, description = "The value element"),
    ),
    responses(
        (status = 200, description = "The value", body = EngineValueOut),
        NotFound, RunForbidden, AuthErrors,
    )
)]
async fn state_value(
    State(state): State<AppState>,
    caller: RunCaller,
    Segment((id, value)): Segment<(String, String)>,
) -> Result<Json<EngineValueOut>, ApiError> {
    let value = path(&value, |text| {
        uuid::Uuid::parse_str(text.trim()).map_err(|_| {
            crate::domain::Invalid::new(format!(
                "'{}' is not a valid value id (a UUID)",
                crate::domain::shorten(text)
            ))
        })
    })?;
    let found = read_values(&state, &caller, &id, ValuePick::Id(value.to_string())).await?;
    found
        .into_iter()
        .next()
        .map(Json)
        .ok_or_else(|| ApiError::NotFound(format!("the state's flow has no value {value}")))
}

/// One value of the state, by the value's name (ignoring case).
#[utoipa::path(
    get,
    path = "/api/run/1/state/{stateId}/values/name/{name}",
    tag = "Run",
    params(
        ("stateId" = uuid::Uuid, Path, description = "The state"),
        ("name" = String, Path, description = "The value's developerName"),
    ),
    responses(
        (status = 200, description = "The value", body = EngineValueOut),
        NotFound, RunForbidden, AuthErrors,
    )
)]
async fn state_value_by_name(
    State(state): State<AppState>,
    caller: RunCaller,
    Segment((id, name)): Segment<(String, String)>,
) -> Result<Json<EngineValueOut>, ApiError> {
    let found = read_values(&state, &caller, &id, ValuePick::Name(name.clone())).await?;
    found.into_iter().next().map(Json).ok_or_else(|| {
        ApiError::NotFound(format!(
            "the state's flow has no value named '{}'",
            crate::domain::shorten(&name)
        ))
    })
}

/// Whether the caller may see the flow among the runnable ones: a member sees every activated
/// flow, a caller with no credential the public ones.
fn visible(caller: &RunCaller, flow: &FlowRecord) -> bool {
    caller.principal.is_some()
        || flow
            .settings
            .authorization
            .as_ref()
            .and_then(|a| a.global_authentication_type.as_deref())
            .is_some_and(|kind| kind.eq_ignore_ascii_case("PUBLIC"))
}

async fn runnable(
    state: &AppState,
    caller: &RunCaller,
    flow: Option<FlowId>,
    filter: Option<&Filter>,
) -> Result<Vec<ActiveFlow>, ApiError> {
    let flows = state
        .store
        .active_flows(caller.tenant_id, flow, filter)
        .await?;
    Ok(flows
        .into_iter()
        .filter(|flow| visible(caller, flow))
        .map(ActiveFlow::from)
        .collect())
}

/// The tenant's runnable flows (their running versions), ordered by name; without a
/// credential, its public ones.
#[utoipa::path(
    get,
    path = "/api/run/1/flow",
    tag = "Run",
    security((), ("apiKey" = []), ("token" = [])),
    params(ListQuery),
    responses(
        (status = 200, description = "The runnable flows", body = Vec<ActiveFlow>),
        RunForbidden, AuthErrors,
    )
)]
async fn runnable_flows(
    State(state): State<AppState>,
    caller: RunCaller,
    TextQuery(query): TextQuery<ListQuery>,
) -> Result<Json<Vec<ActiveFlow>>, ApiError> {
    let filter = query.filter()?;
    Ok(Json(
        runnable(&state, &caller, None, filter.as_ref()).await?,
    ))
}

/// One runnable flow's running version.
#[utoipa::path(
    get,
    path = "/api/run/1/flow/{id}",
    tag = "Run",
    security((), ("apiKey" = []), ("token" = [])),
    params(("id" = uuid::Uuid, Path, description = "The flow")),
    responses(
        (status = 200, description = "The flow's running version", body = ActiveFlow),
        NotFound, RunForbidden, AuthErrors,
    )
)]
async fn runnable_flow(
    State(state): State<AppState>,
    caller: RunCaller,
    Segment(id): Segment,
) -> Result<Json<ActiveFlow>, ApiError> {
    let id = path(&id, FlowId::parse)?;
    runnable(&state, &caller, Some(id), None)
        .await?
        .into_iter()
        .next()
        .map(Json)
        .ok_or_else(|| ApiError::NotFound(format!("no runnable flow {id}")))
}

/// The runnable flow with this name (ignoring case).
#[utoipa::path(
    get,
    path = "/api/run/1/flow/name/{name}",
    tag = "Run",
    security((), ("apiKey" = []), ("token" = [])),
    params(("name" = String, Path, description = "The flow's developerName")),
    responses(
        (status = 200, description = "The flow's running version", body = ActiveFlow),
        NotFound, RunForbidden, AuthErrors,
    )
)]
async fn runnable_flow_by_name(
    State(state): State<AppState>,
    caller: RunCaller,
    Segment(name): Segment,
) -> Result<Json<ActiveFlow>, ApiError> {
    let filter = Filter::equals(Field::DeveloperName, &name);
    runnable(&state, &caller, None, Some(&filter))
        .await?
        .into_iter()
        .next()
        .map(Json)
        .ok_or_else(|| {
            ApiError::NotFound(format!(
                "no runnable flow is named '{}'",
                crate::domain::shorten(&name)
            ))
        })
}

/// A navigation element of the flow the state is in (`navigationElementId`, one of the
/// invoke answer's `navigationElementReferences`), its items and the one the state is at
/// (`isCurrent`, and `isActive` up to it). A read: nothing changes. Go to an item with an
/// invoke of type `NAVIGATE`.
#[utoipa::path(
    post,
    path = "/api/run/1/navigation/{stateId}",
    tag = "Run",
    security((), ("apiKey" = []), ("token" = [])),
    params(("stateId" = uuid::Uuid, Path, description = "The state")),
    request_body = NavigationRequest,
    responses(
        (status = 200, description = "The navigation", body = NavigationResponse),
        NotFound, RunForbidden, BodyErrors, AuthErrors,
    )
)]
async fn navigation(
    State(state): State<AppState>,
    caller: RunCaller,
    Segment(id): Segment,
    JsonBody(request): JsonBody<NavigationRequest>,
) -> Result<Json<NavigationResponse>, ApiError> {
    let id = path(&id, StateId::parse)?;
    if request.state_id.is_some_and(|named| named != id) {
        return Err(ApiError::Unprocessable(
            "the body's stateId is not the path's".into(),
        ));
    }
    let found = run::navigation(
        &*state.store,
        caller.tenant_id,
        runner(&caller),
        id,
        &request.navigation_element_id,
    )
    .await
    .map_err(refused(&state, &caller))?;
    Ok(Json(NavigationResponse::new(id, &found)))
}
