//! Flow snapshots and activation: `…/flow/snap/{flow}[/{version}]`,
//! `…/flow/activation/{flow}/{version}/{isDefault}/{isActivated}`, `…/flow/deactivate/{flow}`,
//! `…/flow/revert/{flow}/{version}`, and the activated flows under `…/flow/active`.

use axum::Json;
use axum::extract::State;
use utoipa::openapi::RefOr;
use utoipa::openapi::schema::{ObjectBuilder, Schema, SchemaType, Type};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::api::doc::{AuthErrors, BodyErrors, NotFound};
use crate::api::flow_json::{ActiveFlow, FlowImage, FlowResponse};
use crate::api::flows::ListQuery;
use crate::domain::filter::{Field, Filter};
use crate::domain::{FlowId, PROSE_MAX_CHARS, VersionId, prose};
use crate::http::Principal;
use crate::http::error::ApiError;
use crate::http::json::{OptionalJsonBody, Segment, TextQuery, path, path_bool};
use crate::state::AppState;
use crate::store::Activation;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(snapshot, list_snapshots))
        .routes(routes!(load_snapshot))
        .routes(routes!(activate))
        .routes(routes!(deactivate))
        .routes(routes!(revert))
        .routes(routes!(active))
        .routes(routes!(active_by_id))
        .routes(routes!(active_by_name))
}

/// Freezes the flow's current version as an inactive snapshot; the body is the comment (a
/// JSON string, or null). The flow being edited moves on to a new `versionId`.
#[utoipa::path(
    post,
    path = "/api/draw/1/flow/snap/{flow}",
    tag = "Draw Flow Snapshot",
    params(("flow" = uuid::Uuid, Path, description = "The flow")),
    request_body(content = inline(Option<Comment>), description = "The snapshot's comment (optional)",
        content_type = "application/json"),
    responses(
        (status = 200, description = "The snapshot", body = FlowResponse),
        NotFound, BodyErrors, AuthErrors,
    )
)]
async fn snapshot(
    State(state): State<AppState>,
    principal: Principal,
    Segment(flow): Segment,
    OptionalJsonBody(comment): OptionalJsonBody<Option<String>>,
) -> Result<Json<FlowResponse>, ApiError> {
    let flow = path(&flow, FlowId::parse)?;
    let comment = comment.flatten();
    if let Some(comment) = &comment {
        prose("The snapshot's comment", comment).map_err(ApiError::invalid)?;
    }
    let comment = comment.filter(|text| !text.trim().is_empty());
    let snapshot = state
        .store
        .snapshot_flow(principal.tenant_id, flow, comment.as_deref(), None)
        .await?;
    Ok(Json(snapshot.into()))
}

/// A snapshot's comment as the description gives it: a JSON string or null, at most 2000
/// characters, kept as written: line breaks and tabs are welcome, other control characters and
/// invisible or direction-changing ones are not (`domain::prose`). Written out by hand because
/// utoipa's attributes give no length to a request body that is a bare string.
struct Comment;

impl utoipa::PartialSchema for Comment {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(SchemaType::Type(Type::String))
            .description(Some(
                "At most 2000 characters, kept as written (blank is none): line breaks and \
                 tabs are welcome, other control characters and invisible or \
                 direction-changing ones are not.",
            ))
            .max_length(Some(PROSE_MAX_CHARS))
            .pattern(Some(r"^[^\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f\u200b\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff\ufdd0-\ufdef\ufffe\uffff]*$"))
            .into()
    }
}

impl utoipa::ToSchema for Comment {}

/// The flow's snapshots, newest first.
#[utoipa::path(
    get,
    path = "/api/draw/1/flow/snap/{flow}",
    tag = "Draw Flow Snapshot",
    params(("flow" = uuid::Uuid, Path, description = "The flow"), ListQuery),
    responses(
        (status = 200, description = "The snapshots", body = Vec<FlowResponse>),
        NotFound, AuthErrors,
    )
)]
async fn list_snapshots(
    State(state): State<AppState>,
    principal: Principal,
    Segment(flow): Segment,
    TextQuery(query): TextQuery<ListQuery>,
) -> Result<Json<Vec<FlowResponse>>, ApiError> {
    let flow = path(&flow, FlowId::parse)?;
    let filter = query.filter()?;
    let snapshots = state.store.snapshots(principal.tenant_id, flow).await?;
    Ok(Json(
        snapshots
            .into_iter()
            .filter(|s| filter.as_ref().is_none_or(|filter| filter.matches(s)))
            .map(FlowResponse::from)
            .collect(),
    ))
}

/// One snapshot with its elements.
#[utoipa::path(
    get,
    path = "/api/draw/1/flow/snap/{flow}/{version}",
    tag = "Draw Flow Snapshot",
    params(
        ("flow" = uuid::Uuid, Path, description = "The flow"),
        ("version" = uuid::Uuid, Path, description = "The snapshot's versionId"),
    ),
    responses(
        (status = 200, description = "The snapshot", body = FlowImage),
        NotFound, AuthErrors,
    )
)]
async fn load_snapshot(
    State(state): State<AppState>,
    principal: Principal,
    Segment((flow, version)): Segment<(String, String)>,
) -> Result<Json<FlowImage>, ApiError> {
    let (flow, version) = (
        path(&flow, FlowId::parse)?,
        path(&version, VersionId::parse)?,
    );
    let tenant = principal.tenant_id;
    let snapshot = state.store.snapshot(tenant, flow, version).await?;
    let elements = state.store.flow_elements(tenant, flow).await?;
    Ok(Json(FlowImage::new(snapshot, &elements, &[])))
}

/// Activates or deactivates a snapshot and makes it the default or not. Only an activated
/// snapshot can be the default; a new default takes it from the flow's other snapshots.
#[utoipa::path(
    post,
    path = "/api/draw/1/flow/activation/{flow}/{version}/{isDefault}/{isActivated}",
    tag = "Draw Flow Snapshot",
    params(
        ("flow" = uuid::Uuid, Path, description = "The flow"),
        ("version" = uuid::Uuid, Path, description = "The snapshot's versionId"),
        ("isDefault" = bool, Path, description = "Whether it is the version running users get"),
        ("isActivated" = bool, Path, description = "Whether running users may run it"),
    ),
    responses(
        (status = 200, description = "The snapshot", body = FlowResponse),
        NotFound, AuthErrors,
    )
)]
async fn activate(
    State(state): State<AppState>,
    principal: Principal,
    Segment((flow, version, is_default, is_active)): Segment<(String, String, String, String)>,
) -> Result<Json<FlowResponse>, ApiError> {
    let flow = path(&flow, FlowId::parse)?;
    let version = path(&version, VersionId::parse)?;
    let activation = Activation {
        is_default: path_bool("isDefault", &is_default)?,
        is_active: path_bool("isActivated", &is_active)?,
    };
    let by = state.store.user(principal.user_id).await?.map(|u| u.email);
    let snapshot = state
        .store
        .activate(
            principal.tenant_id,
            flow,
            version,
            activation,
            by.as_deref(),
        )
        .await?;
    Ok(Json(snapshot.into()))
}

/// Deactivates every snapshot of the flow.
#[utoipa::path(
    post,
    path = "/api/draw/1/flow/deactivate/{flow}",
    tag = "Draw Flow Snapshot",
    params(("flow" = uuid::Uuid, Path, description = "The flow")),
    responses(
        (status = 200, description = "Deactivated"),
        NotFound, AuthErrors,
    )
)]
async fn deactivate(
    State(state): State<AppState>,
    principal: Principal,
    Segment(flow): Segment,
) -> Result<(), ApiError> {
    let flow = path(&flow, FlowId::parse)?;
    Ok(state.store.deactivate(principal.tenant_id, flow).await?)
}

/// Makes a snapshot's content the flow being edited again (with a new `versionId`).
#[utoipa::path(
    post,
    path = "/api/draw/1/flow/revert/{flow}/{version}",
    tag = "Draw Flow Snapshot",
    params(
        ("flow" = uuid::Uuid, Path, description = "The flow"),
        ("version" = uuid::Uuid, Path, description = "The snapshot's versionId"),
    ),
    responses(
        (status = 200, description = "Reverted"),
        NotFound, AuthErrors,
    )
)]
async fn revert(
    State(state): State<AppState>,
    principal: Principal,
    Segment((flow, version)): Segment<(String, String)>,
) -> Result<(), ApiError> {
    let (flow, version) = (
        path(&flow, FlowId::parse)?,
        path(&version, VersionId::parse)?,
    );
    state
        .store
        .revert(principal.tenant_id, flow, version, principal.user_id)
        .await?;
    Ok(())
}

/// The running version of each activated flow, ordered by name: its default snapshot, else
/// its most recently activated one.
#[utoipa::path(
    get,
    path = "/api/draw/1/flow/active",
    tag = "Draw Flow",
    params(ListQuery),
    responses(
        (status = 200, description = "The activated flows", body = Vec<ActiveFlow>),
        AuthErrors,
    )
)]
async fn active(
    State(state): State<AppState>,
    principal: Principal,
    TextQuery(query): TextQuery<ListQuery>,
) -> Result<Json<Vec<ActiveFlow>>, ApiError> {
    let filter = query.filter()?;
    let flows = state
        .store
        .active_flows(principal.tenant_id, None, filter.as_ref())
        .await?;
    Ok(Json(flows.into_iter().map(ActiveFlow::from).collect()))
}

/// The running version of one flow.
#[utoipa::path(
    get,
    path = "/api/draw/1/flow/active/{id}",
    tag = "Draw Flow",
    params(("id" = uuid::Uuid, Path, description = "The flow")),
    responses(
        (status = 200, description = "The flow's running version", body = ActiveFlow),
        NotFound, AuthErrors,
    )
)]
async fn active_by_id(
    State(state): State<AppState>,
    principal: Principal,
    Segment(id): Segment,
) -> Result<Json<ActiveFlow>, ApiError> {
    let id = path(&id, FlowId::parse)?;
    let found = state
        .store
        .active_flows(principal.tenant_id, Some(id), None)
        .await?;
    first_active(found, || format!("the flow {id} has no activated version"))
}

/// The running version of the flow with this name (ignoring case).
#[utoipa::path(
    get,
    path = "/api/draw/1/flow/active/name/{name}",
    tag = "Draw Flow",
    params(("name" = String, Path, description = "The flow's developerName")),
    responses(
        (status = 200, description = "The flow's running version", body = ActiveFlow),
        NotFound, AuthErrors,
    )
)]
async fn active_by_name(
    State(state): State<AppState>,
    principal: Principal,
    Segment(name): Segment,
) -> Result<Json<ActiveFlow>, ApiError> {
    let filter = Filter::equals(Field::DeveloperName, &name);
    let found = state
        .store
        .active_flows(principal.tenant_id, None, Some(&filter))
        .await?;
    first_active(found, || {
        format!(
            "no activated flow is named '{}'",
            crate::domain::shorten(&name)
        )
    })
}

fn first_active(
    found: Vec<crate::store::FlowRecord>,
    missing: impl FnOnce() -> String,
) -> Result<Json<ActiveFlow>, ApiError> {
    found
        .into_iter()
        .next()
        .map(|flow| Json(flow.into()))
        .ok_or_else(|| ApiError::NotFound(missing()))
}
