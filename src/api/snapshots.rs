//! Flow snapshots and activation: `…/flow/snap/{flow}[/{version}]`,
//! `…/flow/activation/{flow}/{version}/{isDefault}/{isActivated}`, `…/flow/deactivate/{flow}`,
//! `…/flow/revert/{flow}/{version}` (and `/api/draw/2/…/revert`), the paged list
//! `/api/draw/2/flow/snap/{flow}`, the differences `…/snap/{flow}/diff/{before}/{after}`, and
//! the activated flows under `…/flow/active`.

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::State;
use serde::{Deserialize, Serialize};
use utoipa::openapi::RefOr;
use utoipa::openapi::schema::{ObjectBuilder, Schema, SchemaType, Type};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::api::doc::{AuthErrors, BodyErrors, Conflict, ErrorMessage, NotFound};
use crate::api::flow_json::{ActiveFlow, FlowImage, FlowResponse};
use crate::api::flows::{ListQuery, PageQuery};
use crate::api::package_json::{PackageConflictResponse, PackageError};
use crate::domain::filter::{Field, Filter, FilterFields, Filterable};
use crate::domain::{FlowFilter, FlowId, PROSE_MAX_CHARS, Page, VersionId, prose};
use crate::http::Principal;
use crate::http::error::ApiError;
use crate::http::json::{OptionalJsonBody, Segment, TextQuery, path, path_bool};
use crate::rules::image_diff;
use crate::rules::images;
use crate::rules::packages::export_flow;
use crate::rules::snapshots::{self, Revert};
use crate::state::AppState;
use crate::store::Activation;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(snapshot, list_snapshots))
        .routes(routes!(load_snapshot))
        .routes(routes!(activate))
        .routes(routes!(deactivate))
        .routes(routes!(revert))
        .routes(routes!(revert_v2))
        .routes(routes!(list_snapshots_v2))
        .routes(routes!(diff))
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
    let snapshot =
        snapshots::take(&*state.store, principal.tenant_id, flow, comment.as_deref()).await?;
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

fn passes(filter: Option<&FlowFilter>, item: &impl Filterable) -> bool {
    filter.is_none_or(|filter| filter.matches(item))
}

/// One snapshot with its elements: the flow's elements and every tenant element it used, as
/// they were when the snapshot was taken (a snapshot from before keyflow kept images holds its
/// START element only).
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
    let (snapshot, image) =
        images::read_snapshot(&*state.store, principal.tenant_id, flow, version).await?;
    Ok(Json(FlowImage::new(
        snapshot,
        &image.flow_elements,
        &image.elements,
    )))
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

/// Makes a snapshot's content the flow being edited again (with a new `versionId`): its
/// header, elements and uses, and its tenant elements (overwriting the tenant's), in one write.
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
        NotFound, Conflict, AuthErrors,
    )
)]
async fn revert(
    State(state): State<AppState>,
    principal: Principal,
    Segment((flow, version)): Segment<(String, String)>,
) -> Result<(), PackageError> {
    let (flow, version) = (
        path(&flow, FlowId::parse)?,
        path(&version, VersionId::parse)?,
    );
    let revert = Revert {
        flow,
        version,
        author: principal.user_id,
        overwrite_existing: true,
        automatic_snapshot_comment: None,
    };
    snapshots::revert(&*state.store, principal.tenant_id, revert).await?;
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

/// The query of `POST /api/draw/2/flow/revert/…`.
#[derive(Deserialize, IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Query)]
struct RevertQuery {
    /// Replace the tenant's elements that differ from the snapshot's (default true); with
    /// `false`, such elements refuse the revert with a 409 `PackageConflictResponse`.
    #[param(value_type = Option<bool>)]
    overwrite_existing: Option<String>,
    /// When not blank, the current version is snapshotted first with this comment: at most
    /// 2000 characters, kept as written (line breaks and tabs are welcome, other control
    /// characters and invisible or direction-changing ones are not: 422).
    #[param(
        max_length = 2000,
        pattern = r"^[^\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f\u200b\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff\ufdd0-\ufdef\ufffe\uffff]*$"
    )]
    automatic_snapshot_comment: Option<String>,
}

/// Makes a snapshot the flow's current version, as `/api/draw/1/flow/revert/…`, and answers
/// the flow.
#[utoipa::path(
    post,
    path = "/api/draw/2/flow/revert/{flow}/{version}",
    tag = "Draw Flow Snapshot",
    params(
        ("flow" = uuid::Uuid, Path, description = "The flow"),
        ("version" = uuid::Uuid, Path, description = "The snapshot's versionId"),
        RevertQuery,
    ),
    responses(
        (status = 200, description = "The flow, reverted", body = FlowResponse),
        (status = 409, description = "Elements of the tenant differ from the snapshot's", body = PackageConflictResponse),
        (status = 422, description = "An automaticSnapshotComment that is too long or holds control or invisible characters", body = ErrorMessage),
        NotFound, AuthErrors,
    )
)]
async fn revert_v2(
    State(state): State<AppState>,
    principal: Principal,
    Segment((flow, version)): Segment<(String, String)>,
    TextQuery(query): TextQuery<RevertQuery>,
) -> Result<Json<FlowResponse>, PackageError> {
    let (flow, version) = (
        path(&flow, FlowId::parse)?,
        path(&version, VersionId::parse)?,
    );
    let overwrite_existing = match query.overwrite_existing.as_deref() {
        None => true,
        Some(text) => path_bool("overwriteExisting", text)?,
    };
    if let Some(comment) = &query.automatic_snapshot_comment {
        prose("automaticSnapshotComment", comment).map_err(ApiError::invalid)?;
    }
    let revert = Revert {
        flow,
        version,
        author: principal.user_id,
        overwrite_existing,
        automatic_snapshot_comment: query.automatic_snapshot_comment.as_deref(),
    };
    let flow = snapshots::revert(&*state.store, principal.tenant_id, revert).await?;
    Ok(Json(flow.into()))
}

/// `FlowResponseAPIItemCollectionResponse`: one page of snapshots.
#[derive(Serialize, ToSchema)]
#[schema(as = FlowResponseAPIItemCollectionResponse)]
struct SnapshotPage {
    /// `page`, `pageSize` and `total` (the number of snapshots passing the filter).
    #[schema(value_type = Object)]
    _meta: BTreeMap<&'static str, u64>,
    /// `self`, and `next` and `previous` where there are such pages.
    _links: BTreeMap<&'static str, String>,
    items: Vec<FlowResponse>,
}

/// The flow's snapshots, newest first, a page at a time (100 a page by default).
#[utoipa::path(
    get,
    path = "/api/draw/2/flow/snap/{flow}",
    tag = "Draw Flow Snapshot",
    params(("flow" = uuid::Uuid, Path, description = "The flow"), ListQuery, PageQuery),
    responses(
        (status = 200, description = "One page of snapshots", body = SnapshotPage),
        NotFound, AuthErrors,
    )
)]
async fn list_snapshots_v2(
    State(state): State<AppState>,
    principal: Principal,
    Segment(flow): Segment,
    TextQuery(query): TextQuery<ListQuery>,
    TextQuery(paging): TextQuery<PageQuery>,
) -> Result<Json<SnapshotPage>, ApiError> {
    let flow = path(&flow, FlowId::parse)?;
    let filter = query.filter()?;
    let page = Page::parse(paging.page.as_deref(), paging.page_size.as_deref())
        .map_err(|error| ApiError::BadRequest(error.0))?
        .unwrap_or(Page::first(100));
    let snapshots: Vec<_> = state
        .store
        .snapshots(principal.tenant_id, flow)
        .await?
        .into_iter()
        .filter(|s| passes(filter.as_ref(), s))
        .collect();
    let total = snapshots.len() as u64;
    let (number, size) = (page.number(), page.size());
    let link = |number: u32| format!("/api/draw/2/flow/snap/{flow}?page={number}&pageSize={size}");
    let mut links = BTreeMap::from([("self", link(number))]);
    if ((page.offset() + size) as u64) < total {
        links.insert("next", link(number + 1));
    }
    if number > 1 {
        links.insert("previous", link(number - 1));
    }
    let items = snapshots
        .into_iter()
        .skip(page.offset())
        .take(size)
        .map(FlowResponse::from)
        .collect();
    Ok(Json(SnapshotPage {
        _meta: BTreeMap::from([
            ("page", u64::from(number)),
            ("pageSize", size as u64),
            ("total", total),
        ]),
        _links: links,
        items,
    }))
}

/// `ElementDiff`: `before` and `after` are the values as JSON text.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
struct ElementDiff {
    operation_type: &'static str,
    path: Vec<String>,
    before: Option<String>,
    after: Option<String>,
}

/// `ElementChange`.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
struct ElementChange {
    id: uuid::Uuid,
    developer_name: String,
    element_type: String,
    last_modified_user_id: crate::domain::UserId,
    last_modified_date: crate::domain::Timestamp,
    diffs: Vec<ElementDiff>,
}

/// The elements added, removed and changed from one version of the flow to another. Each
/// version is a snapshot's `versionId` or the flow's current one (so `versionAfter` may be
/// what is being edited now).
#[utoipa::path(
    get,
    path = "/api/draw/1/flow/snap/{flow}/diff/{versionBefore}/{versionAfter}",
    tag = "Draw Flow Snapshot",
    params(
        ("flow" = uuid::Uuid, Path, description = "The flow"),
        ("versionBefore" = uuid::Uuid, Path, description = "A versionId"),
        ("versionAfter" = uuid::Uuid, Path, description = "A later versionId"),
        ListQuery,
    ),
    responses(
        (status = 200, description = "The changed elements", body = Vec<ElementChange>),
        NotFound, AuthErrors,
    )
)]
async fn diff(
    State(state): State<AppState>,
    principal: Principal,
    Segment((flow, before, after)): Segment<(String, String, String)>,
    TextQuery(query): TextQuery<ListQuery>,
) -> Result<Json<Vec<ElementChange>>, ApiError> {
    let flow = path(&flow, FlowId::parse)?;
    let before = path(&before, VersionId::parse)?;
    let after = path(&after, VersionId::parse)?;
    let filter = query.filter()?;
    let store = &*state.store;
    let tenant = principal.tenant_id;
    let (_, before) = export_flow(store, tenant, flow, Some(before)).await?;
    let (_, after) = export_flow(store, tenant, flow, Some(after)).await?;
    let text = |value: Option<serde_json::Value>| value.map(|value| value.to_string());
    Ok(Json(
        image_diff::diff(&before, &after)
            .into_iter()
            .filter(|change| {
                let fields = FilterFields {
                    developer_name: change.developer_name.clone(),
                    developer_summary: None,
                    id: change.id.to_string(),
                };
                passes(filter.as_ref(), &fields)
            })
            .map(|change| ElementChange {
                id: change.id,
                developer_name: change.developer_name,
                element_type: change.element_type,
                last_modified_user_id: change.last_modified_by.id,
                last_modified_date: change.last_modified,
                diffs: change
                    .diffs
                    .into_iter()
                    .map(|d| ElementDiff {
                        operation_type: d.operation,
                        path: d.path,
                        before: text(d.before),
                        after: text(d.after),
                    })
                    .collect(),
            })
            .collect(),
    ))
}
