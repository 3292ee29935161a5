//! Flows of the request's tenant: `GET`/`POST /api/draw/1/flow`, `GET`/`DELETE
//! /api/draw/1/flow/{id}`.

use axum::extract::{Query, State};
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;

use crate::api::flow_json::{FlowRequest, FlowResponse};
use crate::api::json::{JsonBody, Segment};
use crate::app::AppState;
use crate::auth::Principal;
use crate::domain::{FlowFilter, FlowId};
use crate::error::ApiError;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/draw/1/flow", get(list).post(save))
        .route("/api/draw/1/flow/{id}", get(load).delete(remove))
}

#[derive(Deserialize)]
struct ListQuery {
    filter: Option<String>,
}

async fn list(
    State(state): State<AppState>,
    principal: Principal,
    query: Result<Query<ListQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<Vec<FlowResponse>>, ApiError> {
    let Query(query) =
        query.map_err(|_| ApiError::BadRequest("the query string cannot be read".into()))?;
    let filter = FlowFilter::parse(query.filter.as_deref().unwrap_or(""))
        .map_err(|error| ApiError::BadRequest(error.0))?;
    let flows = state
        .store
        .list_flows(principal.tenant_id, filter.as_ref())
        .await?;
    Ok(Json(flows.into_iter().map(FlowResponse::from).collect()))
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
