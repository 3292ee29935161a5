//! The flow graph: `GET /api/draw/1/graph/flow/{flow}` and `POST /api/draw/1/graph/flow`
//! (header with whole map and group elements), `…/graph/flow/{flow}/elements/load|save`, and
//! the canvas of `/api/draw/2/graph/flow` (positions, names, outcomes, subflows, pages and
//! waits; deleting elements).
//! Every write checks the whole resulting graph as the element endpoints do
//! (`rules::graph_edit`) and gives the flow a new editingToken.

use std::collections::BTreeSet;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;
use serde_json::Value;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use crate::api::canvas_refs::Names;
use crate::api::doc::{AuthErrors, BodyErrors, Conflict, NotFound};
use crate::api::element_json::render_flow_element;
use crate::api::flow_element_json::elements_in;
use crate::api::flow_json::FlowRequest;
use crate::api::graph_json::{
    ElementIds, FlowGraph2, FlowGraphResponse, GraphElements, GraphGroupElement, GraphMapElement,
};
use crate::domain::FlowId;
use crate::domain::element::FlowElementKind;
use crate::http::Principal;
use crate::http::error::ApiError;
use crate::http::json::{JsonBody, Segment, path};
use crate::http::strict_json::Strict;
use crate::rules::graph_edit::{self, Changes, Editor, Layout, Target, Via};
use crate::state::AppState;
use crate::store::JsonObject;

pub(crate) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(load))
        .routes(routes!(save))
        .routes(routes!(load_elements))
        .routes(routes!(save_elements))
        .routes(routes!(load2))
        .routes(routes!(save2))
        .routes(routes!(delete2))
}

fn editor(principal: &Principal, flow: FlowId) -> Editor {
    Editor {
        tenant: principal.tenant_id,
        flow,
        author: principal.user_id,
    }
}

/// `FlowGraphRequestAPI` as described (keyflow reads it by hand, see [`save`]).
struct FlowGraphRequestAPI;

impl utoipa::PartialSchema for FlowGraphRequestAPI {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::schema::{AdditionalProperties, ObjectBuilder, SchemaType, Type};
        ObjectBuilder::new()
            .schema_type(SchemaType::Type(Type::Object))
            .description(Some(
                "Boomi's FlowGraphRequestAPI: the FlowRequestAPI fields (id.id names the flow; \
                 developerName, when given, updates the header), editingToken (a UUID or null), \
                 and mapElements and groupElements (arrays of elements, or null to keep them).",
            ))
            .additional_properties(Some(AdditionalProperties::FreeForm(true)))
            // `id.id` is required: a graph is saved into a flow that exists.
            .required("id")
            .property(
                "id",
                ObjectBuilder::new()
                    .schema_type(SchemaType::Type(Type::Object))
                    .additional_properties(Some(AdditionalProperties::FreeForm(true)))
                    .required("id")
                    .property(
                        "id",
                        ObjectBuilder::new()
                            .schema_type(SchemaType::Type(Type::String))
                            .format(Some(utoipa::openapi::schema::SchemaFormat::KnownFormat(
                                utoipa::openapi::schema::KnownFormat::Uuid,
                            ))),
                    ),
            )
            .into()
    }
}

impl utoipa::ToSchema for FlowGraphRequestAPI {}

/// The flow's graph: its header with every map and group element whole.
#[utoipa::path(
    get,
    path = "/api/draw/1/graph/flow/{flow}",
    tag = "Draw Flow Graph",
    params(("flow" = uuid::Uuid, Path, description = "The flow")),
    responses(
        (status = 200, description = "The graph", body = FlowGraphResponse),
        NotFound, AuthErrors,
    )
)]
async fn load(
    State(state): State<AppState>,
    principal: Principal,
    Segment(flow): Segment,
) -> Result<Json<FlowGraphResponse>, ApiError> {
    let flow = path(&flow, FlowId::parse)?;
    let graph = graph_edit::load(state.store.as_ref(), principal.tenant_id, flow).await?;
    Ok(Json(FlowGraphResponse::new(&graph, principal.tenant_id)))
}

/// Writes the flow's header and its map and group elements at once (one transaction).
///
/// `mapElements` and `groupElements` each replace that type's elements (null or absent keeps
/// them; navigation elements are kept): an element the flow has (by `id`) takes only
/// developerName, developerSummary, x, y, height and width from the request, as Boomi's
/// description says, and keeps every other field; a new one (no or an unknown `id`) is kept
/// whole; one left out is deleted, except the START map element, which stays. The header
/// changes when `developerName` is given. A stale `editingToken` is a 409, and so is a change
/// to an element another user changed under that token (named); a broken reference a 422
/// naming it. The flow gets a new editingToken.
#[utoipa::path(
    post,
    path = "/api/draw/1/graph/flow",
    tag = "Draw Flow Graph",
    request_body = FlowGraphRequestAPI,
    responses(
        (status = 200, description = "The graph as written", body = FlowGraphResponse),
        NotFound, Conflict, BodyErrors, AuthErrors,
    )
)]
async fn save(
    State(state): State<AppState>,
    principal: Principal,
    JsonBody(body): JsonBody<Value>,
) -> Result<Json<FlowGraphResponse>, ApiError> {
    let Value::Object(mut fields) = body else {
        return Err(ApiError::Unprocessable(
            "the flow graph must be a JSON object".into(),
        ));
    };
    let token =
        match fields.remove("editingToken") {
            None | Some(Value::Null) => None,
            Some(Value::String(text)) => Some(Uuid::try_parse(text.trim()).map_err(|_| {
                ApiError::Unprocessable("editingToken must be a UUID or null".into())
            })?),
            Some(_) => {
                return Err(ApiError::Unprocessable(
                    "editingToken must be a UUID or null".into(),
                ));
            }
        };
    let maps = elements_in("mapElements", fields.remove("mapElements"))?;
    let groups = elements_in("groupElements", fields.remove("groupElements"))?;
    let renames = fields
        .get("developerName")
        .is_some_and(|name| !name.is_null());
    let header = FlowRequest::deserialize(Strict(Value::Object(fields)))
        .map_err(|error| ApiError::Unprocessable(format!("invalid field: {error}")))?;
    let flow = header
        .target()
        .map_err(ApiError::invalid)?
        .ok_or_else(|| ApiError::Unprocessable("id.id must name the flow".into()))?;
    header.refuse_tenant_elements().map_err(ApiError::invalid)?;
    let draft = match renames {
        true => Some(header.into_draft().map_err(ApiError::invalid)?),
        false => None,
    };
    let store = state.store.as_ref();
    let editor = editor(&principal, flow);
    graph_edit::edit(store, editor, Via::Flow(token), |graph| {
        let mut elements = graph.current();
        for (kind, requested) in [
            (FlowElementKind::Map, &maps),
            (FlowElementKind::Group, &groups),
        ] {
            if let Some(requested) = requested {
                let requested = requested
                    .iter()
                    .map(|e| (e.id, e.document.clone()))
                    .collect();
                elements = graph_edit::replace_kind(graph, kind, requested, true, elements)?;
            }
        }
        let changes = Changes {
            header: draft.clone(),
            start: None,
        };
        Ok((elements, changes, ()))
    })
    .await?;
    let graph = graph_edit::load(store, principal.tenant_id, flow).await?;
    Ok(Json(FlowGraphResponse::new(&graph, principal.tenant_id)))
}

/// Whole map and group elements of the flow, by id. 404 naming an id the flow has no such
/// element of.
#[utoipa::path(
    post,
    path = "/api/draw/1/graph/flow/{flow}/elements/load",
    tag = "Draw Flow Graph",
    params(("flow" = uuid::Uuid, Path, description = "The flow")),
    request_body = ElementIds,
    responses(
        (status = 200, description = "The elements", body = GraphElements),
        NotFound, BodyErrors, AuthErrors,
    )
)]
async fn load_elements(
    State(state): State<AppState>,
    principal: Principal,
    Segment(flow): Segment,
    JsonBody(ids): JsonBody<ElementIds>,
) -> Result<Json<GraphElements>, ApiError> {
    let flow = path(&flow, FlowId::parse)?;
    let graph = graph_edit::load(state.store.as_ref(), principal.tenant_id, flow).await?;
    let pick = |kind: FlowElementKind, ids: Option<Vec<Uuid>>| -> Result<Vec<Value>, ApiError> {
        ids.unwrap_or_default()
            .into_iter()
            .map(|id| {
                graph
                    .find(kind, id)
                    .map(render_flow_element)
                    .ok_or_else(|| {
                        ApiError::NotFound(format!("the flow {flow} has no {} {id}", kind.noun()))
                    })
            })
            .collect()
    };
    Ok(Json(GraphElements {
        map_elements: pick(FlowElementKind::Map, ids.map_element_ids)?,
        group_elements: pick(FlowElementKind::Group, ids.group_element_ids)?,
    }))
}

/// `FlowGraphElementRequestAPI`, read by hand (each element is kept as its document).
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = FlowGraphElementRequestAPI)]
#[allow(dead_code)]
struct ElementsRequest {
    #[schema(value_type = Option<Vec<Object>>)]
    map_elements: Option<Vec<Value>>,
    #[schema(value_type = Option<Vec<Object>>)]
    group_elements: Option<Vec<Value>>,
}

/// Creates or updates whole map and group elements (each as the element endpoint does, by
/// `id` or, with `updateByName`, by name), in one write; the others stay.
#[utoipa::path(
    post,
    path = "/api/draw/1/graph/flow/{flow}/elements/save",
    tag = "Draw Flow Graph",
    params(("flow" = uuid::Uuid, Path, description = "The flow")),
    request_body = ElementsRequest,
    responses(
        (status = 204, description = "Saved"),
        NotFound, Conflict, BodyErrors, AuthErrors,
    )
)]
async fn save_elements(
    State(state): State<AppState>,
    principal: Principal,
    Segment(flow): Segment,
    JsonBody(body): JsonBody<ElementsRequest>,
) -> Result<StatusCode, ApiError> {
    let flow = path(&flow, FlowId::parse)?;
    let maps = elements_in("mapElements", body.map_elements.map(Value::Array))?;
    let groups = elements_in("groupElements", body.group_elements.map(Value::Array))?;
    let store = state.store.as_ref();
    graph_edit::edit(store, editor(&principal, flow), Via::Flow(None), |graph| {
        let mut elements = graph.current();
        // Groups first, so map elements may be placed in new groups.
        for (kind, requested) in [
            (FlowElementKind::Group, &groups),
            (FlowElementKind::Map, &maps),
        ] {
            for element in requested.iter().flatten() {
                let target = match (element.id, element.update_by_name) {
                    (Some(id), _) => Target::Id(id),
                    (None, true) => Target::ByName,
                    (None, false) => Target::New,
                };
                let document = element.document.clone();
                (elements, _) = graph_edit::upsert(graph, elements, kind, target, document)?;
            }
        }
        Ok((elements, Changes::default(), ()))
    })
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The flow's canvas: each map element's position, name, group and outcomes, and what it
/// refers to (`subflow`: the flow it calls; `page`; `wait`), each group element's position,
/// size, name and group.
#[utoipa::path(
    get,
    path = "/api/draw/2/graph/flow/{flow}",
    tag = "Draw Flow Graph",
    params(("flow" = uuid::Uuid, Path, description = "The flow")),
    responses(
        (status = 200, description = "The canvas", body = FlowGraph2),
        NotFound, AuthErrors,
    )
)]
async fn load2(
    State(state): State<AppState>,
    principal: Principal,
    Segment(flow): Segment,
) -> Result<Json<FlowGraph2>, ApiError> {
    let flow = path(&flow, FlowId::parse)?;
    let store = state.store.as_ref();
    let graph = graph_edit::load(store, principal.tenant_id, flow).await?;
    let names = Names::of(store, principal.tenant_id, &graph).await?;
    Ok(Json(FlowGraph2::new(&graph, &names)))
}

fn map_layout(element: GraphMapElement) -> Layout {
    let mut fields = JsonObject::new();
    let mut put = |field: &str, value: Option<Value>| {
        if let Some(value) = value {
            fields.insert(field.into(), value);
        }
    };
    put("x", element.x.map(Value::from));
    put("y", element.y.map(Value::from));
    put("developerName", element.developer_name.map(Value::from));
    put(
        "groupElementId",
        element
            .group_element_id
            .map(|group| group.map_or(Value::Null, |id| id.to_string().into())),
    );
    let outcomes = element.outcomes.map(|outcomes| {
        outcomes
            .into_iter()
            .map(|outcome| {
                let mut fields = JsonObject::new();
                if let Some(id) = outcome.id {
                    fields.insert("id".into(), id.to_string().into());
                }
                if let Some(name) = outcome.developer_name {
                    fields.insert("developerName".into(), name.into());
                }
                if let Some(next) = outcome.next_map_element_id {
                    fields.insert("nextMapElementId".into(), next.to_string().into());
                }
                if let Some(points) = outcome.control_points {
                    fields.insert("controlPoints".into(), Value::Array(points));
                }
                fields
            })
            .collect()
    });
    Layout {
        id: element.id,
        fields,
        outcomes,
    }
}

fn group_layout(element: GraphGroupElement) -> Layout {
    let mut fields = JsonObject::new();
    let mut put = |field: &str, value: Option<Value>| {
        if let Some(value) = value {
            fields.insert(field.into(), value);
        }
    };
    put("x", element.x.map(Value::from));
    put("y", element.y.map(Value::from));
    put("width", element.width.map(Value::from));
    put("height", element.height.map(Value::from));
    put("developerName", element.developer_name.map(Value::from));
    put(
        "groupElementId",
        element
            .group_element_id
            .map(|group| group.map_or(Value::Null, |id| id.to_string().into())),
    );
    Layout {
        id: element.id,
        fields,
        outcomes: None,
    }
}

/// Updates the canvas of the elements given (the others stay): a present field replaces the
/// stored one; `outcomes`, when given, become the element's outcomes, each keeping the
/// stored outcome's other fields (label, comparison, …) when their ids match. 422 for an
/// element the flow does not have or a broken reference.
#[utoipa::path(
    put,
    path = "/api/draw/2/graph/flow",
    tag = "Draw Flow Graph",
    request_body = FlowGraph2,
    responses(
        (status = 200, description = "Updated"),
        NotFound, Conflict, BodyErrors, AuthErrors,
    )
)]
async fn save2(
    State(state): State<AppState>,
    principal: Principal,
    JsonBody(body): JsonBody<FlowGraph2>,
) -> Result<(), ApiError> {
    let store = state.store.as_ref();
    let maps: Vec<Layout> = (body.map_elements.unwrap_or_default().into_iter())
        .map(map_layout)
        .collect();
    let groups: Vec<Layout> = (body.group_elements.unwrap_or_default().into_iter())
        .map(group_layout)
        .collect();
    let editor = editor(&principal, body.id);
    graph_edit::edit(store, editor, Via::Flow(None), |graph| {
        let elements = graph.current();
        let elements =
            graph_edit::apply_layouts(graph, FlowElementKind::Map, maps.clone(), elements)?;
        let elements =
            graph_edit::apply_layouts(graph, FlowElementKind::Group, groups.clone(), elements)?;
        Ok((elements, Changes::default(), ()))
    })
    .await?;
    Ok(())
}

/// Deletes map and group elements of the flow at once. 404 naming an id the flow has no such
/// element of; 409 for the START map element; 422 naming the outcomes (or group members) of
/// the elements that stay which would point at a deleted one.
#[utoipa::path(
    delete,
    path = "/api/draw/2/graph/flow/{flow}/elements/delete",
    tag = "Draw Flow Graph",
    params(("flow" = uuid::Uuid, Path, description = "The flow")),
    request_body = ElementIds,
    responses(
        (status = 204, description = "Deleted"),
        NotFound, Conflict, BodyErrors, AuthErrors,
    )
)]
async fn delete2(
    State(state): State<AppState>,
    principal: Principal,
    Segment(flow): Segment,
    JsonBody(ids): JsonBody<ElementIds>,
) -> Result<StatusCode, ApiError> {
    let flow = path(&flow, FlowId::parse)?;
    let store = state.store.as_ref();
    let maps: BTreeSet<Uuid> = ids
        .map_element_ids
        .unwrap_or_default()
        .into_iter()
        .collect();
    let groups: BTreeSet<Uuid> = ids
        .group_element_ids
        .unwrap_or_default()
        .into_iter()
        .collect();
    graph_edit::edit(store, editor(&principal, flow), Via::Flow(None), |graph| {
        let elements = graph_edit::without(graph, FlowElementKind::Map, &maps, graph.current())?;
        let elements = graph_edit::without(graph, FlowElementKind::Group, &groups, elements)?;
        Ok((elements, Changes::default(), ()))
    })
    .await?;
    Ok(StatusCode::NO_CONTENT)
}
