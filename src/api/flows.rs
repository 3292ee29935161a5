//! Flows of the request's tenant: `GET`/`POST /api/draw/1/flow`, `GET`/`DELETE
//! /api/draw/1/flow/{id}`.

use axum::Json;
use axum::extract::{Query, State};
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::api::doc::{AuthErrors, BodyErrors, NotFound};
use crate::api::flow_json::{FlowRequest, FlowResponse};
use crate::api::json::{JsonBody, Segment, path};
use crate::app::AppState;
use crate::auth::Principal;
use crate::domain::{FlowFilter, FlowId};
use crate::error::ApiError;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list, save))
        .routes(routes!(load, remove))
}

/// The `filter` of a flow list.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// `developerName eq 'Name'` or `substringof(developerName,'part')`, case-insensitive;
    /// `''` stands for a quote inside the value.
    #[param(
        pattern = r"^\s*(?:[dD][eE][vV][eE][lL][oO][pP][eE][rR][nN][aA][mM][eE]\s+[eE][qQ]\s+'(?:[^']|'')*'|[sS][uU][bB][sS][tT][rR][iI][nN][gG][oO][fF]\s*\(\s*[dD][eE][vV][eE][lL][oO][pP][eE][rR][nN][aA][mM][eE]\s*,\s*'(?:[^']|'')*'\s*\))?\s*$"
    )]
    pub filter: Option<String>,
}

impl ListQuery {
    /// The query's filter, parsed; an unreadable query or filter is a 400.
    pub fn parse(
        query: Result<Query<ListQuery>, axum::extract::rejection::QueryRejection>,
    ) -> Result<Option<FlowFilter>, ApiError> {
        let Query(query) =
            query.map_err(|_| ApiError::BadRequest("the query string cannot be read".into()))?;
        FlowFilter::parse(query.filter.as_deref().unwrap_or(""))
            .map_err(|error| ApiError::BadRequest(error.0))
    }
}

/// The tenant's flows (the versions being edited), ordered by name.
#[utoipa::path(
    get,
    path = "/api/draw/1/flow",
    tag = "Draw Flow",
    params(ListQuery),
    responses(
        (status = 200, description = "The flows", body = Vec<FlowResponse>),
        AuthErrors,
    )
)]
async fn list(
    State(state): State<AppState>,
    principal: Principal,
    query: Result<Query<ListQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<Vec<FlowResponse>>, ApiError> {
    let filter = ListQuery::parse(query)?;
    let flows = state
        .store
        .list_flows(principal.tenant_id, filter.as_ref())
        .await?;
    Ok(Json(flows.into_iter().map(FlowResponse::from).collect()))
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

fn not_found(id: FlowId) -> ApiError {
    ApiError::NotFound(format!("this tenant has no flow {id}"))
}
