//! A flow's own elements, `/api/draw/1/flow/{flow}/{editingToken}/element/{map|group|navigation}`,
//! and the tenant elements imported into a flow, `/api/draw/1/element/flow/{flow}/{type}`.
//! One set of handlers serves every type; each type's paths are also declared literally (a
//! small module per type, made by `kind_routes!`) so the OpenAPI description has Boomi's
//! paths and names Boomi's body of each.
//!
//! The flow's path segment is named `{id}` (the element's `{elementId}`) because the router
//! needs one name per position and `/api/draw/1/flow/{id}` came first. The `editingToken` must
//! be a UUID (else 400). Writes need the flow's current one (else 409: load the flow again)
//! and keep it, as Boomi's builders expect: they read it once and go on writing with it (see
//! `rules::graph_edit::Via`); a write to an element another user changed under the same token
//! is 409, naming it. Reads answer whatever the token, as Boomi's reads do, since the token
//! guards against lost updates and a read loses nothing.

use std::collections::BTreeSet;

use axum::Json;
use axum::extract::State;
use serde_json::Value;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use crate::api::doc::{AuthErrors, BodyErrors, Conflict, NotFound};
use crate::api::element_json::{render_element, render_flow_element};
use crate::api::flow_element_json::{
    ElementAPI, GroupElementRequestAPI, GroupElementResponseAPI, MapElementRequestAPI,
    MapElementResponseAPI, NavigationElementRequestAPI, NavigationElementResponseAPI, element_in,
};
use crate::api::flows::ListQuery;
use crate::domain::element::{ElementKind, FlowElementKind};
use crate::domain::{FlowFilter, FlowId, Invalid};
use crate::http::Principal;
use crate::http::error::ApiError;
use crate::http::json::{JsonBody, Segment, TextQuery, path};
use crate::rules::graph_edit::{self, Changes, Editor, Target, Via};
use crate::state::AppState;

pub(crate) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(map::list, map::save))
        .routes(routes!(map::load, map::remove))
        .routes(routes!(group::list, group::save))
        .routes(routes!(group::load, group::remove))
        .routes(routes!(navigation::list, navigation::save))
        .routes(routes!(navigation::load, navigation::remove))
        .routes(routes!(used))
        .routes(routes!(import, unimport))
        // Any other spelling of a type (`MAP`), or an unknown one (a 400 naming those there
        // are). Undocumented: the literal paths above describe them.
        .route(
            "/api/draw/1/flow/{id}/{editingToken}/element/{elementType}",
            axum::routing::get(any_list).post(any_save),
        )
        .route(
            "/api/draw/1/flow/{id}/{editingToken}/element/{elementType}/{elementId}",
            axum::routing::get(any_load).delete(any_remove),
        )
}

fn token(text: &str) -> Result<Uuid, Invalid> {
    Uuid::try_parse(text.trim())
        .map_err(|_| Invalid::new("the editingToken must be a UUID (the flow's editingToken)"))
}

/// Whether an element passes the list's filter.
fn passes(filter: Option<&FlowFilter>, element: &crate::store::FlowElementRecord) -> bool {
    filter.is_none_or(|filter| filter.matches(element))
}

fn editor(principal: &Principal, flow: FlowId) -> Editor {
    Editor {
        tenant: principal.tenant_id,
        flow,
        author: principal.user_id,
    }
}

/// The flow's elements of one type (`map`, `group` or `navigation`), oldest first, passing
/// the filter. The editingToken is not checked: reads answer whatever it is.
async fn list(
    state: AppState,
    principal: Principal,
    (flow, editing_token, kind): (String, String, String),
    query: ListQuery,
) -> Result<Json<Vec<Value>>, ApiError> {
    let flow = path(&flow, FlowId::parse)?;
    path(&editing_token, token)?;
    let kind = path(&kind, FlowElementKind::parse)?;
    let filter = query.filter()?;
    let graph = graph_edit::load(state.store.as_ref(), principal.tenant_id, flow).await?;
    Ok(Json(
        graph
            .of_kind(kind)
            .filter(|element| passes(filter.as_ref(), element))
            .map(render_flow_element)
            .collect(),
    ))
}

/// Creates an element, or updates one: the one with the body's `id` (created with that id when
/// the flow has none), else with `updateByName` the one of the type named `developerName`
/// (ignoring case). The body is kept as the element's document. The flow keeps its
/// editingToken.
async fn save(
    state: AppState,
    principal: Principal,
    (flow, editing_token, kind): (String, String, String),
    body: Value,
) -> Result<Json<Value>, ApiError> {
    let flow = path(&flow, FlowId::parse)?;
    let editing_token = path(&editing_token, token)?;
    let kind = path(&kind, FlowElementKind::parse)?;
    let element = element_in("", body)?;
    let target = match (element.id, element.update_by_name) {
        (Some(id), _) => Target::Id(id),
        (None, true) => Target::ByName,
        (None, false) => Target::New,
    };
    let editor = editor(&principal, flow);
    let via = Via::Element(editing_token);
    let (_, id) = graph_edit::edit(state.store.as_ref(), editor, via, |graph| {
        let document = element.document.clone();
        let (elements, id) = graph_edit::upsert(graph, graph.current(), kind, target, document)?;
        Ok((elements, Changes::default(), id))
    })
    .await?;
    saved(&state, editor, kind, id).await.map(Json)
}

/// The element as stored after a write.
async fn saved(
    state: &AppState,
    editor: Editor,
    kind: FlowElementKind,
    id: Uuid,
) -> Result<Value, ApiError> {
    let elements = state
        .store
        .flow_elements(editor.tenant, editor.flow)
        .await?;
    elements
        .iter()
        .find(|element| element.kind == kind && element.id == id)
        .map(render_flow_element)
        .ok_or_else(|| ApiError::Internal(anyhow::anyhow!("a saved flow element vanished")))
}

/// One element of the flow. The editingToken is not checked: reads answer whatever it is.
async fn load(
    state: AppState,
    principal: Principal,
    (flow, editing_token, kind, id): (String, String, String, String),
) -> Result<Json<Value>, ApiError> {
    let flow = path(&flow, FlowId::parse)?;
    path(&editing_token, token)?;
    let kind = path(&kind, FlowElementKind::parse)?;
    let id = path(&id, element_id)?;
    let graph = graph_edit::load(state.store.as_ref(), principal.tenant_id, flow).await?;
    graph
        .find(kind, id)
        .map(|element| Json(render_flow_element(element)))
        .ok_or_else(|| ApiError::NotFound(format!("the flow {flow} has no {} {id}", kind.noun())))
}

fn element_id(text: &str) -> Result<Uuid, Invalid> {
    Uuid::try_parse(text.trim()).map_err(|_| Invalid::new("the element id must be a UUID"))
}

/// Deletes an element of the flow. The flow keeps its editingToken.
async fn remove(
    state: AppState,
    principal: Principal,
    (flow, editing_token, kind, id): (String, String, String, String),
) -> Result<(), ApiError> {
    let flow = path(&flow, FlowId::parse)?;
    let editing_token = path(&editing_token, token)?;
    let kind = path(&kind, FlowElementKind::parse)?;
    let id = path(&id, element_id)?;
    let editor = editor(&principal, flow);
    let via = Via::Element(editing_token);
    graph_edit::edit(state.store.as_ref(), editor, via, |graph| {
        let elements = graph_edit::without(graph, kind, &BTreeSet::from([id]), graph.current())?;
        Ok((elements, Changes::default(), ()))
    })
    .await?;
    Ok(())
}

async fn any_list(
    State(state): State<AppState>,
    principal: Principal,
    Segment(segments): Segment<(String, String, String)>,
    TextQuery(query): TextQuery<ListQuery>,
) -> Result<Json<Vec<Value>>, ApiError> {
    list(state, principal, segments, query).await
}

async fn any_save(
    State(state): State<AppState>,
    principal: Principal,
    Segment(segments): Segment<(String, String, String)>,
    JsonBody(body): JsonBody<Value>,
) -> Result<Json<Value>, ApiError> {
    save(state, principal, segments, body).await
}

async fn any_load(
    State(state): State<AppState>,
    principal: Principal,
    Segment(segments): Segment<(String, String, String, String)>,
) -> Result<Json<Value>, ApiError> {
    load(state, principal, segments).await
}

async fn any_remove(
    State(state): State<AppState>,
    principal: Principal,
    Segment(segments): Segment<(String, String, String, String)>,
) -> Result<(), ApiError> {
    remove(state, principal, segments).await
}

/// The documented routes of one flow element type, at Boomi's literal paths: a module of
/// handlers that call the shared ones with the type, so the description names Boomi's body
/// of each.
macro_rules! kind_routes {
    ($module:ident, $kind:literal, $path:literal, $one:literal, $request:ty, $response:ty) => {
        mod $module {
            use super::*;

            /// The flow's elements of this type, oldest first, passing the filter. The
            /// editingToken is not checked: reads answer whatever it is.
            #[utoipa::path(
                get,
                path = $path,
                tag = "Draw Flow Element",
                params(
                    ("id" = uuid::Uuid, Path, description = "The flow"),
                    ("editingToken" = uuid::Uuid, Path, description = "The flow's editing token"),
                    ListQuery,
                ),
                responses(
                    (status = 200, description = "The elements", body = Vec<$response>),
                    NotFound, AuthErrors,
                )
            )]
            pub(super) async fn list(
                State(state): State<AppState>,
                principal: Principal,
                Segment((flow, editing_token)): Segment<(String, String)>,
                TextQuery(query): TextQuery<ListQuery>,
            ) -> Result<Json<Vec<Value>>, ApiError> {
                super::list(state, principal, (flow, editing_token, $kind.into()), query).await
            }

            /// Creates an element, or updates one: the one with the body's `id` (created
            /// with that id when the flow has none), else with `updateByName` the one of the
            /// type named `developerName` (ignoring case). The body is kept as the element's
            /// document. Refused (422, naming them) when an outcome points at no map element
            /// of the flow or a `groupElementId` at no group element, or when the START map
            /// element would change its `elementType`; 409 for a stale editingToken (load the
            /// flow again), an element another user changed under the same editingToken since
            /// (named; the flow then gets a new editingToken: load it again), or an id of
            /// another type's element. The flow keeps its editingToken: further element writes
            /// and imports may use it.
            #[utoipa::path(
                post,
                path = $path,
                tag = "Draw Flow Element",
                params(
                    ("id" = uuid::Uuid, Path, description = "The flow"),
                    ("editingToken" = uuid::Uuid, Path, description = "The flow's current editing token"),
                ),
                request_body = $request,
                responses(
                    (status = 200, description = "The saved element", body = $response),
                    NotFound, Conflict, BodyErrors, AuthErrors,
                )
            )]
            pub(super) async fn save(
                State(state): State<AppState>,
                principal: Principal,
                Segment((flow, editing_token)): Segment<(String, String)>,
                JsonBody(body): JsonBody<Value>,
            ) -> Result<Json<Value>, ApiError> {
                super::save(state, principal, (flow, editing_token, $kind.into()), body).await
            }

            /// One element of the flow. The editingToken is not checked: reads answer
            /// whatever it is.
            #[utoipa::path(
                get,
                path = $one,
                tag = "Draw Flow Element",
                params(
                    ("id" = uuid::Uuid, Path, description = "The flow"),
                    ("editingToken" = uuid::Uuid, Path, description = "The flow's editing token"),
                    ("elementId" = uuid::Uuid, Path, description = "The element"),
                ),
                responses(
                    (status = 200, description = "The element", body = $response),
                    NotFound, AuthErrors,
                )
            )]
            pub(super) async fn load(
                State(state): State<AppState>,
                principal: Principal,
                Segment((flow, editing_token, id)): Segment<(String, String, String)>,
            ) -> Result<Json<Value>, ApiError> {
                super::load(state, principal, (flow, editing_token, $kind.into(), id)).await
            }

            /// Deletes an element of the flow. 409 for the START map element (every flow
            /// begins with it) or a stale editingToken; 422, naming them, when outcomes of
            /// other map elements point at it (or, for a group, elements are in it): change
            /// those first; 409 too, as for a save, when another user changed it under the
            /// same editingToken. The flow keeps its editingToken.
            #[utoipa::path(
                delete,
                path = $one,
                tag = "Draw Flow Element",
                params(
                    ("id" = uuid::Uuid, Path, description = "The flow"),
                    ("editingToken" = uuid::Uuid, Path, description = "The flow's current editing token"),
                    ("elementId" = uuid::Uuid, Path, description = "The element"),
                ),
                responses(
                    (status = 200, description = "Deleted"),
                    (status = 422, description = "Other elements still point at it: they are named"),
                    NotFound, Conflict, AuthErrors,
                )
            )]
            pub(super) async fn remove(
                State(state): State<AppState>,
                principal: Principal,
                Segment((flow, editing_token, id)): Segment<(String, String, String)>,
            ) -> Result<(), ApiError> {
                super::remove(state, principal, (flow, editing_token, $kind.into(), id)).await
            }
        }
    };
}

kind_routes!(
    map,
    "map",
    "/api/draw/1/flow/{id}/{editingToken}/element/map",
    "/api/draw/1/flow/{id}/{editingToken}/element/map/{elementId}",
    MapElementRequestAPI,
    MapElementResponseAPI
);
kind_routes!(
    group,
    "group",
    "/api/draw/1/flow/{id}/{editingToken}/element/group",
    "/api/draw/1/flow/{id}/{editingToken}/element/group/{elementId}",
    GroupElementRequestAPI,
    GroupElementResponseAPI
);
kind_routes!(
    navigation,
    "navigation",
    "/api/draw/1/flow/{id}/{editingToken}/element/navigation",
    "/api/draw/1/flow/{id}/{editingToken}/element/navigation/{elementId}",
    NavigationElementRequestAPI,
    NavigationElementResponseAPI
);

/// The tenant elements of one type the flow uses: those its elements mention and those
/// imported into it, ordered by name.
#[utoipa::path(
    get,
    path = "/api/draw/1/element/flow/{flow}/{elementType}",
    tag = "Draw Flow Element",
    params(
        ("flow" = uuid::Uuid, Path, description = "The flow"),
        ("elementType" = inline(ElementTypePath), Path, description = "value, type, page, service, macro, identityprovider, tag or customPageComponent"),
    ),
    responses(
        (status = 200, description = "The elements", body = Vec<ElementAPI>),
        NotFound, AuthErrors,
    )
)]
async fn used(
    State(state): State<AppState>,
    principal: Principal,
    Segment((flow, kind)): Segment<(String, String)>,
) -> Result<Json<Vec<Value>>, ApiError> {
    let flow = path(&flow, FlowId::parse)?;
    let kind = path(&kind, ElementKind::parse)?;
    let tenant = principal.tenant_id;
    let ids: Vec<Uuid> = state
        .store
        .flow_uses(tenant, flow)
        .await?
        .into_iter()
        .map(|used| used.element)
        .collect();
    let mut elements = state.store.elements_by_ids(tenant, &ids).await?;
    elements.retain(|element| element.kind == kind);
    elements.sort_by_key(|element| (element.developer_name.to_lowercase(), element.id));
    Ok(Json(elements.iter().map(render_element).collect()))
}

/// Imports a tenant element into the flow: the flow uses it (its snapshots and packages carry
/// it) even when none of its elements mentions it. 404 when the tenant has no such element of
/// that type. The flow keeps its editingToken.
#[utoipa::path(
    post,
    path = "/api/draw/1/element/flow/{flow}/{elementType}/{id}",
    tag = "Draw Flow Element",
    params(
        ("flow" = uuid::Uuid, Path, description = "The flow"),
        ("elementType" = inline(ElementTypePath), Path, description = "The element's type (value, page, …)"),
        ("id" = uuid::Uuid, Path, description = "The tenant element"),
    ),
    responses(
        (status = 200, description = "Imported"),
        NotFound, AuthErrors,
    )
)]
async fn import(
    State(state): State<AppState>,
    principal: Principal,
    Segment((flow, kind, id)): Segment<(String, String, String)>,
) -> Result<(), ApiError> {
    let flow = path(&flow, FlowId::parse)?;
    let kind = path(&kind, ElementKind::parse)?;
    let id = path(&id, element_id)?;
    graph_edit::import(state.store.as_ref(), editor(&principal, flow), kind, id).await?;
    Ok(())
}

/// Removes an import. An element the flow's elements still mention stays used (and listed):
/// only the import is removed. 404 when it was not imported. The flow keeps its editingToken.
#[utoipa::path(
    delete,
    path = "/api/draw/1/element/flow/{flow}/{elementType}/{id}",
    tag = "Draw Flow Element",
    params(
        ("flow" = uuid::Uuid, Path, description = "The flow"),
        ("elementType" = inline(ElementTypePath), Path, description = "The element's type (value, page, …)"),
        ("id" = uuid::Uuid, Path, description = "The tenant element"),
    ),
    responses(
        (status = 200, description = "No longer imported"),
        NotFound, AuthErrors,
    )
)]
async fn unimport(
    State(state): State<AppState>,
    principal: Principal,
    Segment((flow, kind, id)): Segment<(String, String, String)>,
) -> Result<(), ApiError> {
    let flow = path(&flow, FlowId::parse)?;
    let kind = path(&kind, ElementKind::parse)?;
    let id = path(&id, element_id)?;
    graph_edit::remove_import(state.store.as_ref(), editor(&principal, flow), kind, id).await?;
    Ok(())
}

/// The tenant element types as a path names them (any case is read; these are documented).
#[derive(utoipa::ToSchema)]
#[allow(dead_code)] // describes the path parameter only: the handlers parse the text
enum ElementTypePath {
    #[schema(rename = "value")]
    Value,
    #[schema(rename = "type")]
    Type,
    #[schema(rename = "page")]
    Page,
    #[schema(rename = "service")]
    Service,
    #[schema(rename = "macro")]
    Macro,
    #[schema(rename = "identityprovider")]
    IdentityProvider,
    #[schema(rename = "tag")]
    Tag,
    #[schema(rename = "customPageComponent")]
    CustomPageComponent,
}
