//! Tenant elements: `GET`/`POST /api/draw/1/element/{type}`, `GET`/`DELETE
//! /api/draw/1/element/{type}/{id}` for every [`ElementKind`], and the paged lists `GET
//! /api/draw/2/element/{value|type|page|service}`. One set of handlers serves every kind; each
//! kind's paths are also declared literally (a small module per kind, made by `kind_routes!`)
//! so the OpenAPI description names Boomi's body of each. A `{type}` keyflow does not keep is
//! a 404 naming those it does.

use axum::Json;
use axum::extract::State;
use serde::Deserialize;
use serde_json::{Value, json};
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::api::doc::{AuthErrors, BodyErrors, Conflict, NotFound};
use crate::api::element_json::render_element;
use crate::api::element_wire::{self, *};
use crate::domain::element::ElementKind;
use crate::http::Principal;
use crate::http::error::ApiError;
use crate::http::json::{JsonBody, Segment, TextQuery};
use crate::rules::elements::{self as rules, ElementFilter, Paging};
use crate::state::AppState;
use crate::store::ElementRecord;

pub(crate) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(value::list, value::save))
        .routes(routes!(value::load, value::remove))
        .routes(routes!(value::collection))
        .routes(routes!(type_::list, type_::save))
        .routes(routes!(type_::load, type_::remove))
        .routes(routes!(type_::collection))
        .routes(routes!(page::list, page::save))
        .routes(routes!(page::load, page::remove))
        .routes(routes!(page::collection))
        .routes(routes!(service::list, service::save))
        .routes(routes!(service::load, service::remove))
        .routes(routes!(service::collection))
        .routes(routes!(macro_::list, macro_::save))
        .routes(routes!(macro_::load, macro_::remove))
        .routes(routes!(tag::list, tag::save))
        .routes(routes!(tag::load, tag::remove))
        .routes(routes!(identity_provider::list, identity_provider::save))
        .routes(routes!(identity_provider::load, identity_provider::remove))
        .routes(routes!(
            custom_page_component::list,
            custom_page_component::save
        ))
        .routes(routes!(
            custom_page_component::load,
            custom_page_component::remove
        ))
        // Any other spelling of a kind (`VALUE`), or a kind keyflow does not keep (a 404
        // naming those it does). Undocumented: the literal paths above describe them.
        .route(
            "/api/draw/1/element/{type}",
            axum::routing::get(any_list).post(any_save),
        )
        .route(
            "/api/draw/1/element/{type}/{id}",
            axum::routing::get(any_load).delete(any_remove),
        )
}

/// The query of a draw/1 list.
#[derive(Deserialize, IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Query)]
pub(crate) struct ListQuery {
    /// `developerName eq 'Name'` or `substringof(developerName,'part')`, ignoring case.
    pub filter: Option<String>,
    /// Only elements whose `contentType` is this one, ignoring case (values and tags).
    pub content_type: Option<String>,
}

/// The query of a paged list (`…ItemCollectionResponse`).
#[derive(Deserialize, IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Query)]
pub(crate) struct CollectionQuery {
    /// `developerName eq 'Name'` or `substringof(developerName,'part')`, ignoring case.
    pub filter: Option<String>,
    /// Only elements whose `contentType` is this one, ignoring case (values).
    pub content_type: Option<String>,
    /// The page, from 1 (default 1).
    #[param(value_type = Option<i64>, minimum = 1, maximum = 4294967295_i64)]
    pub page: Option<String>,
    /// Items per page (default 20); 0 is the whole list.
    #[param(value_type = Option<i64>, minimum = 0, maximum = 4294967295_i64)]
    pub limit: Option<String>,
    /// The same as `limit`, as some of Boomi's paged lists call it; `limit` wins when both are given.
    #[param(value_type = Option<i64>, minimum = 0, maximum = 4294967295_i64)]
    pub page_size: Option<String>,
    /// `developerName`, `dateModified` (default) or `dateCreated`.
    pub order_by: Option<String>,
    /// `ASC` or `DESC` (default).
    pub order_direction: Option<String>,
}

fn kind_of(segment: &str) -> Result<ElementKind, ApiError> {
    ElementKind::parse(segment).map_err(|error| ApiError::NotFound(error.0))
}

fn element_id(segment: &str) -> Result<uuid::Uuid, ApiError> {
    uuid::Uuid::try_parse(segment).map_err(|_| {
        ApiError::BadRequest(format!(
            "'{}' is not an element id (a UUID)",
            crate::domain::shorten(segment)
        ))
    })
}

fn not_found(kind: ElementKind, id: uuid::Uuid) -> ApiError {
    ApiError::NotFound(format!("this tenant has no {} {id}", kind.noun()))
}

/// The list's name filter, parsed; one keyflow cannot read is a 400.
fn filter_of(text: Option<&str>) -> Result<Option<ElementFilter>, ApiError> {
    ElementFilter::parse(text.unwrap_or("")).map_err(|error| ApiError::BadRequest(error.0))
}

/// The tenant's elements of the kind that pass the filter and content type, ordered by name.
async fn filtered(
    state: &AppState,
    principal: &Principal,
    kind: ElementKind,
    filter: Option<&str>,
    content_type: Option<&str>,
) -> Result<Vec<ElementRecord>, ApiError> {
    let filter = filter_of(filter)?;
    let content_type = content_type.map(str::trim).filter(|text| !text.is_empty());
    let mut elements = state
        .store
        .elements(principal.tenant_id, Some(kind))
        .await?;
    elements.retain(|element| {
        filter.as_ref().is_none_or(|f| rules::passes(f, element))
            && content_type.is_none_or(|c| rules::has_content_type(element, c))
    });
    Ok(elements)
}

async fn list(
    state: AppState,
    principal: Principal,
    kind: ElementKind,
    query: ListQuery,
) -> Result<Json<Value>, ApiError> {
    let elements = filtered(
        &state,
        &principal,
        kind,
        query.filter.as_deref(),
        query.content_type.as_deref(),
    )
    .await?;
    Ok(Json(Value::Array(
        elements.iter().map(render_element).collect(),
    )))
}

async fn collection(
    state: AppState,
    principal: Principal,
    kind: ElementKind,
    query: CollectionQuery,
) -> Result<Json<Value>, ApiError> {
    let paging = Paging::parse(
        query.order_by.as_deref(),
        query.order_direction.as_deref(),
        query.page.as_deref(),
        query.limit.as_deref(),
        query.page_size.as_deref(),
    )
    .map_err(|error| ApiError::BadRequest(error.0))?;
    let elements = filtered(
        &state,
        &principal,
        kind,
        query.filter.as_deref(),
        query.content_type.as_deref(),
    )
    .await?;
    let (items, total) = paging.apply(elements);
    Ok(Json(json!({
        "_meta": {"page": paging.page, "pageSize": paging.limit, "total": total},
        "_links": {},
        "items": items.iter().map(render_element).collect::<Vec<_>>(),
    })))
}

async fn save(
    state: AppState,
    principal: Principal,
    kind: ElementKind,
    body: Value,
) -> Result<Json<Value>, ApiError> {
    let request = element_wire::read_request(kind, body).map_err(ApiError::invalid)?;
    let element = rules::save(
        state.store.as_ref(),
        principal.tenant_id,
        principal.user_id,
        request,
    )
    .await?;
    Ok(Json(render_element(&element)))
}

/// The tenant's element of this kind; an id of another kind is as unknown as any other.
async fn found(
    state: &AppState,
    principal: &Principal,
    kind: ElementKind,
    id: &str,
) -> Result<ElementRecord, ApiError> {
    let id = element_id(id)?;
    state
        .store
        .element(principal.tenant_id, id)
        .await?
        .filter(|element| element.kind == kind)
        .ok_or_else(|| not_found(kind, id))
}

async fn load(
    state: AppState,
    principal: Principal,
    kind: ElementKind,
    id: String,
) -> Result<Json<Value>, ApiError> {
    let element = found(&state, &principal, kind, &id).await?;
    Ok(Json(render_element(&element)))
}

async fn remove(
    state: AppState,
    principal: Principal,
    kind: ElementKind,
    id: String,
) -> Result<(), ApiError> {
    let element = found(&state, &principal, kind, &id).await?;
    if rules::remove(state.store.as_ref(), principal.tenant_id, kind, element.id).await? {
        Ok(())
    } else {
        // Deleted by another request since it was read.
        Err(not_found(kind, element.id))
    }
}

async fn any_list(
    State(state): State<AppState>,
    principal: Principal,
    Segment(kind): Segment,
    TextQuery(query): TextQuery<CollectionQuery>,
) -> Result<Json<Value>, ApiError> {
    match kind_of(&kind)? {
        // These two answer a page even on draw/1, as Boomi describes them.
        kind @ (ElementKind::IdentityProvider | ElementKind::CustomPageComponent) => {
            collection(state, principal, kind, query).await
        }
        kind => {
            let query = ListQuery {
                filter: query.filter,
                content_type: query.content_type,
            };
            list(state, principal, kind, query).await
        }
    }
}

async fn any_save(
    State(state): State<AppState>,
    principal: Principal,
    Segment(kind): Segment,
    JsonBody(body): JsonBody<Value>,
) -> Result<Json<Value>, ApiError> {
    save(state, principal, kind_of(&kind)?, body).await
}

async fn any_load(
    State(state): State<AppState>,
    principal: Principal,
    Segment((kind, id)): Segment<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    load(state, principal, kind_of(&kind)?, id).await
}

async fn any_remove(
    State(state): State<AppState>,
    principal: Principal,
    Segment((kind, id)): Segment<(String, String)>,
) -> Result<(), ApiError> {
    remove(state, principal, kind_of(&kind)?, id).await
}

/// The documented routes of one kind: a module of handlers that call the shared ones with the
/// kind. `$list` is the draw/1 list's answer and query (a plain array, or a page for the two
/// kinds Boomi pages there).
macro_rules! kind_routes {
    (
        $module:ident, $kind:expr, $path:tt, $one:tt, $request:ty, $response:ty,
        list = ($list_fn:ident, $list_query:ty, $list_body:ty)
        $(, collection = ($collection_path:tt, $collection_body:ty))?
    ) => {
        mod $module {
            use super::*;

            /// The tenant's elements of this kind.
            #[utoipa::path(
                get,
                path = $path,
                tag = "Draw Element",
                params($list_query),
                responses(
                    (status = 200, description = "The elements", body = $list_body),
                    AuthErrors,
                )
            )]
            pub(super) async fn list(
                State(state): State<AppState>,
                principal: Principal,
                TextQuery(query): TextQuery<$list_query>,
            ) -> Result<Json<Value>, ApiError> {
                super::$list_fn(state, principal, $kind, query).await
            }

            /// Creates the element, or replaces the one its `id` (or, with `updateByName`,
            /// its `developerName`) names. An `id` of no element of the tenant creates one
            /// with that id.
            #[utoipa::path(
                post,
                path = $path,
                tag = "Draw Element",
                request_body = $request,
                responses(
                    (status = 200, description = "The saved element", body = $response),
                    Conflict, BodyErrors, AuthErrors,
                )
            )]
            pub(super) async fn save(
                State(state): State<AppState>,
                principal: Principal,
                JsonBody(body): JsonBody<Value>,
            ) -> Result<Json<Value>, ApiError> {
                super::save(state, principal, $kind, body).await
            }

            /// One element.
            #[utoipa::path(
                get,
                path = $one,
                tag = "Draw Element",
                params(("id" = uuid::Uuid, Path, description = "The element")),
                responses(
                    (status = 200, description = "The element", body = $response),
                    NotFound, AuthErrors,
                )
            )]
            pub(super) async fn load(
                State(state): State<AppState>,
                principal: Principal,
                Segment(id): Segment,
            ) -> Result<Json<Value>, ApiError> {
                super::load(state, principal, $kind, id).await
            }

            /// Deletes the element; refused while a flow uses it.
            #[utoipa::path(
                delete,
                path = $one,
                tag = "Draw Element",
                params(("id" = uuid::Uuid, Path, description = "The element")),
                responses(
                    (status = 200, description = "Deleted"),
                    NotFound, Conflict, AuthErrors,
                )
            )]
            pub(super) async fn remove(
                State(state): State<AppState>,
                principal: Principal,
                Segment(id): Segment,
            ) -> Result<(), ApiError> {
                super::remove(state, principal, $kind, id).await
            }

            $(
                /// One page of the tenant's elements of this kind.
                #[utoipa::path(
                    get,
                    path = $collection_path,
                    tag = "Draw Element",
                    params(CollectionQuery),
                    responses(
                        (status = 200, description = "A page of the elements",
                            body = $collection_body),
                        AuthErrors,
                    )
                )]
                pub(super) async fn collection(
                    State(state): State<AppState>,
                    principal: Principal,
                    TextQuery(query): TextQuery<CollectionQuery>,
                ) -> Result<Json<Value>, ApiError> {
                    super::collection(state, principal, $kind, query).await
                }
            )?
        }
    };
}

kind_routes!(
    value, ElementKind::Value,
    "/api/draw/1/element/value", "/api/draw/1/element/value/{id}",
    ValueRequest, ValueResponse,
    list = (list, ListQuery, Vec<ValueResponse>),
    collection = ("/api/draw/2/element/value", ValueCollection)
);
kind_routes!(
    type_, ElementKind::Type,
    "/api/draw/1/element/type", "/api/draw/1/element/type/{id}",
    TypeRequest, TypeResponse,
    list = (list, ListQuery, Vec<TypeResponse>),
    collection = ("/api/draw/2/element/type", TypeCollection)
);
kind_routes!(
    page, ElementKind::Page,
    "/api/draw/1/element/page", "/api/draw/1/element/page/{id}",
    PageRequest, PageResponse,
    list = (list, ListQuery, Vec<PageResponse>),
    collection = ("/api/draw/2/element/page", PageCollection)
);
kind_routes!(
    service, ElementKind::Service,
    "/api/draw/1/element/service", "/api/draw/1/element/service/{id}",
    ServiceRequest, ServiceResponse,
    list = (list, ListQuery, Vec<ServiceResponse>),
    collection = ("/api/draw/2/element/service", ServiceCollection)
);
kind_routes!(
    macro_, ElementKind::Macro,
    "/api/draw/1/element/macro", "/api/draw/1/element/macro/{id}",
    MacroRequest, MacroResponse,
    list = (list, ListQuery, Vec<MacroResponse>)
);
kind_routes!(
    tag, ElementKind::Tag,
    "/api/draw/1/element/tag", "/api/draw/1/element/tag/{id}",
    TagRequest, TagResponse,
    list = (list, ListQuery, Vec<TagResponse>)
);
kind_routes!(
    identity_provider,
    ElementKind::IdentityProvider,
    "/api/draw/1/element/identityprovider",
    "/api/draw/1/element/identityprovider/{id}",
    IdentityProvider,
    IdentityProvider,
    list = (collection, CollectionQuery, IdentityProviderCollection)
);
kind_routes!(
    custom_page_component,
    ElementKind::CustomPageComponent,
    "/api/draw/1/element/customPageComponent",
    "/api/draw/1/element/customPageComponent/{id}",
    CustomPageComponent,
    CustomPageComponent,
    list = (collection, CollectionQuery, CustomPageComponentCollection)
);
