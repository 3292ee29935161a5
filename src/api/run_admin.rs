//! The administration of a tenant's states, for its administrators (a narrowed key needs
//! `admin:read` to read, `admin:write` to delete): `GET /api/admin/1/states` (a page, newest
//! first, filtered by `status`, `from`, `to`), `…/states/flow/{id}` and
//! `…/states/flow/{id}/{version}` (the same, of one flow or one snapshot), `GET`/`DELETE
//! /api/admin/1/states/{id}`, and `DELETE /api/admin/1/states` (the states whose ids the body
//! lists). Shapes are Boomi's `StateAPI` and `StateAPIItemCollectionResponse`; the rules are
//! `rules::run::states`.

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::State;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::api::doc::{AuthErrors, BodyErrors, Forbidden, NotFound};
use crate::domain::{FlowId, Page, StateId, Timestamp, VersionId};
use crate::http::Administrator;
use crate::http::error::ApiError;
use crate::http::json::{JsonBody, Segment, TextQuery, path};
use crate::rules::Actor;
use crate::rules::run::engine::Status;
use crate::rules::run::states::{self, Administered};
use crate::state::AppState;
use crate::store::StateQuery;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list, delete_many))
        .routes(routes!(load, delete_one))
        .routes(routes!(list_for_flow))
        .routes(routes!(list_for_version))
}

/// States per page when `pageSize` is not given (Boomi's default).
const STATES_PER_PAGE: u32 = 10;

/// The statuses a state may have, as `status` filters them.
const STATUSES: [Status; 3] = [Status::InProgress, Status::Complete, Status::Fault];

#[derive(Deserialize, IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Query)]
struct StatesQuery {
    /// The page, from 1.
    #[param(value_type = Option<i64>, minimum = 1, maximum = 4294967295_i64)]
    page: Option<String>,
    /// States per page, 1 to 1000 (10 by default).
    #[param(value_type = Option<i64>, minimum = 1, maximum = 1000)]
    page_size: Option<String>,
    /// Only states with this status: `IN_PROGRESS`, `COMPLETE` or `FAULT` (ignoring case).
    #[param(inline, value_type = Option<StatusFilter>)]
    status: Option<String>,
    /// Only states started at or after this moment (RFC 3339).
    #[param(value_type = Option<String>, format = DateTime)]
    from: Option<String>,
    /// Only states started before this moment (RFC 3339).
    #[param(value_type = Option<String>, format = DateTime)]
    to: Option<String>,
}

/// A state's status (read ignoring case; another word is a 400 naming these three).
#[derive(ToSchema)]
#[schema(rename_all = "SCREAMING_SNAKE_CASE")]
#[allow(dead_code)]
enum StatusFilter {
    InProgress,
    Complete,
    Fault,
}

/// `FlowIdAPI`: the flow and the snapshot a state runs.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = StateFlowIdAPI)]
pub struct StateFlowId {
    pub id: FlowId,
    pub version_id: VersionId,
}

/// `StateAPI`: a state as its administrators see it. Of Boomi's fields keyflow fills those it
/// keeps; the others (entries, frames, annotations, the running user's email and names, …)
/// are null, and `authorizationHeader` is never sent.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = StateAPI)]
pub struct StateOut {
    pub id: StateId,
    pub parent_id: Option<String>,
    pub date_created: Timestamp,
    pub date_modified: Timestamp,
    /// When it expires (the flow's `stateExpirationLength` and `idleStateExpirationLength`);
    /// null: never.
    pub expires_at: Option<Timestamp>,
    pub current_flow_id: StateFlowId,
    /// The flow's name now (empty when the flow is gone).
    pub current_flow_developer_name: String,
    /// The map element it waits at; null once over.
    pub current_map_element_id: Option<String>,
    /// Who started it; null for an anonymous run of a public flow.
    pub current_running_user_id: Option<String>,
    pub manywho_tenant_id: String,
    /// Over (`status=COMPLETE` lists these).
    pub is_done: bool,
    pub is_expired: bool,
    /// Whether the last invoke faulted (`status=FAULT` lists these).
    pub has_root_faults: bool,
}

impl From<Administered> for StateOut {
    fn from(a: Administered) -> Self {
        let state = a.state;
        let status = Status::parse(&state.status);
        Self {
            id: state.id,
            parent_id: None,
            date_created: state.created_at,
            date_modified: state.updated_at,
            expires_at: state.expires_at,
            current_flow_id: StateFlowId {
                id: state.flow_id,
                version_id: state.version_id,
            },
            current_flow_developer_name: a.flow_name,
            current_map_element_id: state.current_element,
            current_running_user_id: state.created_by.map(|u| u.to_string()),
            manywho_tenant_id: state.tenant_id.to_string(),
            is_done: status == Status::Complete,
            is_expired: a.expired,
            has_root_faults: status == Status::Fault,
        }
    }
}

/// `StateAPIItemCollectionResponse`: one page of states.
#[derive(Serialize, ToSchema)]
#[schema(as = StateAPIItemCollectionResponse)]
struct StatePage {
    /// `page`, `pageSize` and `total` (the number of states the filters select).
    #[schema(value_type = Object)]
    _meta: BTreeMap<&'static str, u64>,
    /// `self`, and `next` and `previous` where there are such pages.
    _links: BTreeMap<&'static str, String>,
    items: Vec<StateOut>,
}

/// Reads the query: 400 naming what is wrong.
fn filters(query: &StatesQuery) -> Result<(Page, StateQuery, String), ApiError> {
    let page = Page::parse(query.page.as_deref(), query.page_size.as_deref())
        .map_err(|error| ApiError::BadRequest(error.0))?
        .unwrap_or(Page::first(STATES_PER_PAGE));
    let mut echo = form_urlencoded::Serializer::new(String::new());
    // Given empty, a filter is a 400 as any other word it cannot read (the description calls
    // it a date-time or one of three words), not read as absent.
    let status = match query.status.as_deref().map(str::trim) {
        None => None,
        Some(text) => {
            let status = STATUSES
                .iter()
                .map(|s| s.as_str())
                .find(|s| s.eq_ignore_ascii_case(text))
                .ok_or_else(|| {
                    ApiError::BadRequest(format!(
                        "status must be IN_PROGRESS, COMPLETE or FAULT, not '{}'",
                        crate::domain::shorten(text)
                    ))
                })?;
            echo.append_pair("status", status);
            Some(status.to_string())
        }
    };
    let mut moment = |name: &str, text: Option<&str>| -> Result<Option<Timestamp>, ApiError> {
        match text.map(str::trim) {
            None => Ok(None),
            Some(text) => {
                let at = Timestamp::parse(text).map_err(|_| {
                    ApiError::BadRequest(format!(
                        "{name} must be an ISO 8601 date-time (2026-01-31T12:00:00Z), not '{}'",
                        crate::domain::shorten(text)
                    ))
                })?;
                echo.append_pair(name, &at.to_rfc3339());
                Ok(Some(at))
            }
        }
    };
    let from = moment("from", query.from.as_deref())?;
    let to = moment("to", query.to.as_deref())?;
    let query = StateQuery {
        status,
        from,
        to,
        offset: page.offset() as u64,
        limit: page.size() as u32,
        ..StateQuery::default()
    };
    Ok((page, query, echo.finish()))
}

/// One page of the states `query` selects, with links under `base`.
async fn page_of(
    state: &AppState,
    principal: &crate::http::Principal,
    base: &str,
    query: &StatesQuery,
    narrow: impl FnOnce(&mut StateQuery),
) -> Result<Json<StatePage>, ApiError> {
    let (page, mut selected, echo) = filters(query)?;
    narrow(&mut selected);
    let (items, total) = states::list(
        &*state.store,
        principal.tenant_id,
        &selected,
        Timestamp::now(),
    )
    .await?;
    let (number, size) = (page.number(), page.size());
    let link = |number: u32| {
        let mut link = format!("{base}?page={number}&pageSize={size}");
        if !echo.is_empty() {
            link.push('&');
            link.push_str(&echo);
        }
        link
    };
    let mut links = BTreeMap::from([("self", link(number))]);
    if ((page.offset() + size) as u64) < total {
        links.insert("next", link(number + 1));
    }
    if number > 1 {
        links.insert("previous", link(number - 1));
    }
    Ok(Json(StatePage {
        _meta: BTreeMap::from([
            ("page", u64::from(number)),
            ("pageSize", size as u64),
            ("total", total),
        ]),
        _links: links,
        items: items.into_iter().map(StateOut::from).collect(),
    }))
}

/// The tenant's states, newest first (expired ones not yet pruned included: `isExpired`).
/// 400 a `page`, `pageSize`, `status`, `from` or `to` keyflow cannot read.
#[utoipa::path(
    get,
    path = "/api/admin/1/states",
    tag = "Admin States",
    params(StatesQuery),
    responses(
        (status = 200, description = "One page of states", body = StatePage),
        Forbidden, AuthErrors,
    )
)]
async fn list(
    State(state): State<AppState>,
    Administrator(principal): Administrator,
    TextQuery(query): TextQuery<StatesQuery>,
) -> Result<Json<StatePage>, ApiError> {
    page_of(&state, &principal, "/api/admin/1/states", &query, |_| {}).await
}

/// The states of one flow (any of its versions), as the list.
#[utoipa::path(
    get,
    path = "/api/admin/1/states/flow/{id}",
    tag = "Admin States",
    params(("id" = uuid::Uuid, Path, description = "The flow"), StatesQuery),
    responses(
        (status = 200, description = "One page of the flow's states", body = StatePage),
        Forbidden, AuthErrors,
    )
)]
async fn list_for_flow(
    State(state): State<AppState>,
    Administrator(principal): Administrator,
    Segment(id): Segment,
    TextQuery(query): TextQuery<StatesQuery>,
) -> Result<Json<StatePage>, ApiError> {
    let flow = path(&id, FlowId::parse)?;
    let base = format!("/api/admin/1/states/flow/{flow}");
    page_of(&state, &principal, &base, &query, |q| q.flow = Some(flow)).await
}

/// The states of one snapshot of a flow, as the list.
#[utoipa::path(
    get,
    path = "/api/admin/1/states/flow/{id}/{version}",
    tag = "Admin States",
    params(
        ("id" = uuid::Uuid, Path, description = "The flow"),
        ("version" = uuid::Uuid, Path, description = "The flow's version (a snapshot)"),
        StatesQuery,
    ),
    responses(
        (status = 200, description = "One page of the version's states", body = StatePage),
        Forbidden, AuthErrors,
    )
)]
async fn list_for_version(
    State(state): State<AppState>,
    Administrator(principal): Administrator,
    Segment((id, version)): Segment<(String, String)>,
    TextQuery(query): TextQuery<StatesQuery>,
) -> Result<Json<StatePage>, ApiError> {
    let flow = path(&id, FlowId::parse)?;
    let version = path(&version, VersionId::parse)?;
    let base = format!("/api/admin/1/states/flow/{flow}/{version}");
    page_of(&state, &principal, &base, &query, |q| {
        q.flow = Some(flow);
        q.version = Some(version);
    })
    .await
}

/// One state of the tenant (an expired one too, until it is pruned).
#[utoipa::path(
    get,
    path = "/api/admin/1/states/{id}",
    tag = "Admin States",
    params(("id" = uuid::Uuid, Path, description = "The state")),
    responses(
        (status = 200, description = "The state", body = StateOut),
        Forbidden, NotFound, AuthErrors,
    )
)]
async fn load(
    State(state): State<AppState>,
    Administrator(principal): Administrator,
    Segment(id): Segment,
) -> Result<Json<StateOut>, ApiError> {
    let id = path(&id, StateId::parse)?;
    let found = states::load(&*state.store, principal.tenant_id, id, Timestamp::now()).await?;
    Ok(Json(found.into()))
}

/// Deletes a state of the tenant: it can no longer be read or invoked (404). Recorded as
/// `state.deleted`.
#[utoipa::path(
    delete,
    path = "/api/admin/1/states/{id}",
    tag = "Admin States",
    params(("id" = uuid::Uuid, Path, description = "The state")),
    responses(
        (status = 200, description = "Deleted"),
        Forbidden, NotFound, AuthErrors,
    )
)]
async fn delete_one(
    State(state): State<AppState>,
    Administrator(principal): Administrator,
    Segment(id): Segment,
) -> Result<(), ApiError> {
    let id = path(&id, StateId::parse)?;
    let actor = Actor::User(principal.user_id);
    let deleted = states::delete(
        &*state.store,
        &state.origin(),
        actor,
        principal.tenant_id,
        &[id],
    )
    .await?;
    if deleted.is_empty() {
        return Err(ApiError::NotFound(format!("this tenant has no state {id}")));
    }
    Ok(())
}

/// Deletes the tenant's states whose ids the body lists (a JSON array of state ids, at most
/// 1,000); ids that name no state of the tenant are left out. Each deletion is recorded as
/// `state.deleted`.
#[utoipa::path(
    delete,
    path = "/api/admin/1/states",
    tag = "Admin States",
    request_body(content = Vec<uuid::Uuid>, description = "The ids of the states to delete"),
    responses(
        (status = 200, description = "Deleted"),
        Forbidden, BodyErrors, AuthErrors,
    )
)]
async fn delete_many(
    State(state): State<AppState>,
    Administrator(principal): Administrator,
    JsonBody(ids): JsonBody<Vec<StateId>>,
) -> Result<(), ApiError> {
    let actor = Actor::User(principal.user_id);
    states::delete(
        &*state.store,
        &state.origin(),
        actor,
        principal.tenant_id,
        &ids,
    )
    .await?;
    Ok(())
}
