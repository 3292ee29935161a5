//! Flows of the request's tenant: `GET`/`POST /api/draw/1/flow`, `GET`/`DELETE
//! /api/draw/1/flow/{id}`.

use std::net::IpAddr;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::api::doc::{AuthErrors, BodyErrors, NotFound};
use crate::api::flow_element_json::elements_in;
use crate::api::flow_json::{FlowRequest, FlowResponse};
use crate::domain::element::FlowElementKind;
use crate::domain::flow::FlowDraft;
use crate::domain::{FlowFilter, FlowId, Page, Scope, TenantId};
use crate::http::Principal;
use crate::http::error::ApiError;
use crate::http::extract::charge_cached;
use crate::http::json::{JsonBody, Segment, TextQuery, path};
use crate::http::rate_headers;
use crate::http::request_service::EarlyAnswer;
use crate::rules::graph_edit::{self, Changes, Editor, Requested, Via};
use crate::state::AppState;
use crate::store::FlowRecord;

/// The path of [`list`] (spelled out again in its `utoipa::path`, which needs the literal).
pub(crate) const LIST_PATH: &str = "/api/draw/1/flow";

pub(crate) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list, save))
        .routes(routes!(load, remove))
}

/// The `filter` of a flow list.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct ListQuery {
    /// OData, as Boomi's tools send it: `developerName`, `developerSummary` or `id` with `eq`
    /// or `ne` and a quoted value (`developerName eq 'Name'`), `substringof(field,'part')`,
    /// `startswith(field,'start')`, joined with `and` (binding tighter) and `or`, grouped with
    /// parentheses (at most 16 deep); keywords in any case, values compared ignoring case, `''`
    /// for a quote inside a value; at most 2000 characters. Anything else is a 400 naming these
    /// forms. (No pattern can spell out nested parentheses, so the pattern only excludes the
    /// characters the parser refuses: controls other than white space, invisible and
    /// direction-changing ones.)
    #[param(
        max_length = 2000,
        pattern = r"^[^\x00-\x08\x0e-\x1f\x7f-\x84\x86-\x9f\u200b\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff\ufdd0-\ufdef\ufffe\uffff]*$"
    )]
    pub filter: Option<String>,
}

impl ListQuery {
    /// The query's filter, parsed; a filter keyflow cannot read is a 400.
    pub fn filter(&self) -> Result<Option<FlowFilter>, ApiError> {
        FlowFilter::parse(self.filter.as_deref().unwrap_or(""))
            .map_err(|error| ApiError::BadRequest(error.0))
    }
}

/// The paging of the flow list: both optional; without either the list is whole.
#[derive(Deserialize, IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Query)]
pub(crate) struct PageQuery {
    /// The page, from 1.
    #[param(value_type = Option<i64>, minimum = 1, maximum = 4294967295_i64)]
    pub page: Option<String>,
    /// Flows per page, 1 to 1000 (100 when only `page` is given).
    #[param(value_type = Option<i64>, minimum = 1, maximum = 1000)]
    pub page_size: Option<String>,
}

/// The tenant's flows (the versions being edited), ordered by name.
///
/// The whole list comes from the tenant's cached answer; a filtered or paged one from storage.
#[utoipa::path(
    get,
    path = "/api/draw/1/flow",
    tag = "Draw Flow",
    params(ListQuery, PageQuery),
    responses(
        (status = 200, description = "The flows", body = Vec<FlowResponse>),
        AuthErrors,
    )
)]
async fn list(
    State(state): State<AppState>,
    principal: Principal,
    TextQuery(query): TextQuery<ListQuery>,
    TextQuery(paging): TextQuery<PageQuery>,
) -> Result<Response, ApiError> {
    let filter = query.filter()?;
    let page = Page::parse(paging.page.as_deref(), paging.page_size.as_deref())
        .map_err(|error| ApiError::BadRequest(error.0))?;
    let tenant = principal.tenant_id;
    let body = match (filter, page) {
        (None, None) => {
            let load = || async { serialized(listed(&state, tenant, None, None).await?) };
            state.flow_lists.get_or_load(tenant, load).await?
        }
        (filter, page) => serialized(listed(&state, tenant, filter.as_ref(), page).await?)?,
    };
    Ok(list_response(body))
}

/// The answer carrying a serialized list.
fn list_response(body: Bytes) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        body,
    )
        .into_response()
}

/// Whether the request is `GET /api/draw/1/flow` without a query: the whole list.
pub(crate) fn is_whole_list(request: &Request) -> bool {
    request.method() == Method::GET
        && request.uri().path() == LIST_PATH
        && request.uri().query().is_none()
}

/// Whether the early answer may take the request: the whole list, from a client that is not a
/// browser page of another origin (no `Origin`). A page's request goes through the router,
/// whose CORS layer (`api::cors`) adds what the browser needs; `list` still answers it from
/// the cached list, so the early answer keeps one way of doing CORS and its hot path none.
fn early(request: &Request) -> bool {
    is_whole_list(request) && !request.headers().contains_key(header::ORIGIN)
}

/// The answer to the most frequent call, `GET /api/draw/1/flow` without a query, when
/// everything it needs is cached — the key's grant and the tenant's list — decided without
/// storage or waiting. The request middleware asks this before routing: for this call axum's
/// router, extractors and boxed futures cost more than the answer itself. `None` for anything
/// else (a query, a refusal, a miss), which `list` answers through the router, the same way.
pub fn answer_from_cache(state: &AppState, request: &Request, client: IpAddr) -> Option<Response> {
    if !early(request) {
        return None;
    }
    let (principal, grant) =
        Principal::from_cache(request.headers(), client, Scope::FlowsRead, state)?;
    let body = state.flow_lists.cached(principal.tenant_id)?;
    state.verifier.count_cache_hit();
    // Charged only now, when this answers: a miss above leaves the request to the router,
    // which charges it there.
    let Some(quota) = charge_cached(&grant, client, state) else {
        return Some(list_response(body));
    };
    let mut response = match quota.retry_after_secs {
        Some(secs) => ApiError::RateLimited {
            retry_after_secs: u64::from(secs),
        }
        .into_response(),
        None => list_response(body),
    };
    rate_headers::apply(response.headers_mut(), &quota);
    Some(response)
}

/// The flows area's early answer, which `app.rs` gives the request service: the whole list
/// from the caches ([`answer_from_cache`]); after a request that may have written, every
/// cached list is forgotten (see [`crate::flow_cache::FlowListCache`]).
pub(crate) struct WholeList(pub(crate) AppState);

impl EarlyAnswer for WholeList {
    const ROUTE: &'static str = LIST_PATH;

    fn may_answer(&self, request: &Request) -> bool {
        early(request)
    }

    fn answer(&self, request: &Request, peer: IpAddr) -> Option<Response> {
        answer_from_cache(&self.0, request, peer)
    }

    fn after_write(&self) {
        self.0.flow_lists.forget_all();
    }
}

async fn listed(
    state: &AppState,
    tenant: TenantId,
    filter: Option<&FlowFilter>,
    page: Option<Page>,
) -> Result<Vec<FlowResponse>, ApiError> {
    let flows = state.store.list_flows(tenant, filter).await?;
    let flows = match page {
        Some(page) => page.of(flows),
        None => flows,
    };
    Ok(flows.into_iter().map(FlowResponse::from).collect())
}

fn serialized(flows: Vec<FlowResponse>) -> Result<Bytes, ApiError> {
    serde_json::to_vec(&flows)
        .map(Bytes::from)
        .map_err(|error| ApiError::Internal(error.into()))
}

/// Creates a flow (with its START map element), or replaces one when `id.id` names it: same
/// `id.id`, new `id.versionId`.
#[utoipa::path(
    post,
    path = "/api/draw/1/flow",
    tag = "Draw Flow",
    request_body = FlowRequest,
    responses(
        (status = 200, description = "The saved flow", body = FlowResponse),
        NotFound, BodyErrors, AuthErrors,
    )
)]
async fn save(
    State(state): State<AppState>,
    principal: Principal,
    JsonBody(mut request): JsonBody<FlowRequest>,
) -> Result<Json<FlowResponse>, ApiError> {
    let target = request.target().map_err(ApiError::invalid)?;
    request
        .refuse_tenant_elements()
        .map_err(ApiError::invalid)?;
    let arrays = [
        (FlowElementKind::Map, request.map_elements.take()),
        (FlowElementKind::Group, request.group_elements.take()),
        (
            FlowElementKind::Navigation,
            request.navigation_elements.take(),
        ),
    ];
    let mut requested = Vec::new();
    for (kind, value) in arrays {
        if let Some(elements) = elements_in(kind.image_field(), value)? {
            let elements = elements.into_iter().map(|e| (e.id, e.document)).collect();
            requested.push((kind, elements));
        }
    }
    let draft = request.into_draft().map_err(ApiError::invalid)?;
    let (tenant, author) = (principal.tenant_id, principal.user_id);
    if !requested.is_empty() {
        return save_with_elements(&state, &principal, target, draft, requested)
            .await
            .map(|flow| Json(flow.into()));
    }
    let flow = match target {
        None => state.store.create_flow(tenant, &draft, author).await?,
        Some(id) => state
            .store
            .update_flow(tenant, id, &draft, author)
            .await?
            .ok_or_else(|| not_found(id))?,
    };
    Ok(Json(flow.into()))
}

/// One flow (the version being edited).
#[utoipa::path(
    get,
    path = "/api/draw/1/flow/{id}",
    tag = "Draw Flow",
    params(("id" = uuid::Uuid, Path, description = "The flow")),
    responses(
        (status = 200, description = "The flow", body = FlowResponse),
        NotFound, AuthErrors,
    )
)]
async fn load(
    State(state): State<AppState>,
    principal: Principal,
    Segment(id): Segment,
) -> Result<Json<FlowResponse>, ApiError> {
    let id = path(&id, FlowId::parse)?;
    let flow = state
        .store
        .flow(principal.tenant_id, id)
        .await?
        .ok_or_else(|| not_found(id))?;
    Ok(Json(flow.into()))
}

/// Deletes a flow with its snapshots.
#[utoipa::path(
    delete,
    path = "/api/draw/1/flow/{id}",
    tag = "Draw Flow",
    params(("id" = uuid::Uuid, Path, description = "The flow")),
    responses(
        (status = 200, description = "Deleted"),
        NotFound, AuthErrors,
    )
)]
async fn remove(
    State(state): State<AppState>,
    principal: Principal,
    Segment(id): Segment,
) -> Result<(), ApiError> {
    let id = path(&id, FlowId::parse)?;
    if state.store.delete_flow(principal.tenant_id, id).await? {
        Ok(())
    } else {
        Err(not_found(id))
    }
}

/// A flow posted with element arrays: each array given replaces that type's elements, written
/// with the header in one transaction and checked as every graph write is.
async fn save_with_elements(
    state: &AppState,
    principal: &Principal,
    target: Option<FlowId>,
    draft: FlowDraft,
    requested: Vec<(FlowElementKind, Vec<Requested>)>,
) -> Result<FlowRecord, ApiError> {
    let store = state.store.as_ref();
    let (tenant, author) = (principal.tenant_id, principal.user_id);
    let Some(id) = target else {
        let mut elements = Vec::new();
        for (kind, requested) in requested {
            elements.extend(graph_edit::new_elements(kind, requested)?);
        }
        return Ok(graph_edit::create_with_elements(store, tenant, author, draft, elements).await?);
    };
    let editor = Editor {
        tenant,
        flow: id,
        author,
    };
    // The flow's save is Boomi's whole overwrite: it sends no token, and renews it.
    let (written, ()) = graph_edit::edit(store, editor, Via::Flow(None), |graph| {
        let mut elements = graph.current();
        for (kind, requested) in requested.iter().cloned() {
            elements = graph_edit::replace_kind(graph, kind, requested, false, elements)?;
        }
        let changes = Changes {
            header: Some(draft.clone()),
            start: None,
        };
        Ok((elements, changes, ()))
    })
    .await?;
    Ok(written)
}

fn not_found(id: FlowId) -> ApiError {
    ApiError::NotFound(format!("this tenant has no flow {id}"))
}
