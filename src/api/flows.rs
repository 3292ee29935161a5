//! Flows of the request's tenant: `GET`/`POST /api/draw/1/flow`, `GET`/`DELETE
//! /api/draw/1/flow/{id}`.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;

use crate::api::flow_json::{FlowRequest, FlowResponse};
use crate::api::json::{JsonBody, Segment, TextQuery};
use crate::app::AppState;
use crate::auth::Principal;
use crate::domain::{FlowFilter, FlowId, Page, TenantId};
use crate::error::ApiError;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/draw/1/flow", get(list).post(save))
        .route("/api/draw/1/flow/{id}", get(load).delete(remove))
}

#[derive(Deserialize)]
struct ListQuery {
    filter: Option<String>,
    page: Option<String>,
    #[serde(rename = "pageSize")]
    page_size: Option<String>,
}

/// The whole list comes from the tenant's cached answer; a filtered or paged one from storage.
async fn list(
    State(state): State<AppState>,
    principal: Principal,
    TextQuery(query): TextQuery<ListQuery>,
) -> Result<Response, ApiError> {
    let filter = FlowFilter::parse(query.filter.as_deref().unwrap_or(""))
        .map_err(|error| ApiError::BadRequest(error.0))?;
    let page = Page::parse(query.page.as_deref(), query.page_size.as_deref())
        .map_err(|error| ApiError::BadRequest(error.0))?;
    let tenant = principal.tenant_id;
    let body = match (filter, page) {
        (None, None) => {
            let load = || async { serialized(listed(&state, tenant, None, None).await?) };
            state.flow_lists.get_or_load(tenant, load).await?
        }
        (filter, page) => serialized(listed(&state, tenant, filter.as_ref(), page).await?)?,
    };
    Ok((
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        body,
    )
        .into_response())
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

/// Creates a flow, or replaces one when `id.id` names it.
async fn save(
    State(state): State<AppState>,
    principal: Principal,
    JsonBody(request): JsonBody<FlowRequest>,
) -> Result<Json<FlowResponse>, ApiError> {
    let target = request.target().map_err(ApiError::invalid)?;
    let draft = request.into_draft().map_err(ApiError::invalid)?;
    let (tenant, author) = (principal.tenant_id, principal.user_id);
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

async fn load(
    State(state): State<AppState>,
    principal: Principal,
    Segment(id): Segment,
) -> Result<Json<FlowResponse>, ApiError> {
    let id = flow_id(&id)?;
    let flow = state
        .store
        .flow(principal.tenant_id, id)
        .await?
        .ok_or_else(|| not_found(id))?;
    Ok(Json(flow.into()))
}

async fn remove(
    State(state): State<AppState>,
    principal: Principal,
    Segment(id): Segment,
) -> Result<(), ApiError> {
    let id = flow_id(&id)?;
    if state.store.delete_flow(principal.tenant_id, id).await? {
        Ok(())
    } else {
        Err(not_found(id))
    }
}

fn flow_id(text: &str) -> Result<FlowId, ApiError> {
    FlowId::parse(text).map_err(|error| ApiError::BadRequest(error.0))
}

fn not_found(id: FlowId) -> ApiError {
    ApiError::NotFound(format!("this tenant has no flow {id}"))
}
