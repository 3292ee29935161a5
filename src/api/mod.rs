//! The HTTP API: one module of thin handlers per area, each with its own `router()` of
//! documented routes; `doc` frames keyflow's OpenAPI description of them.

pub(crate) mod admin_users;
pub(crate) mod authentication;
pub(crate) mod doc;
pub mod element_json;
pub(crate) mod flow_element_json;
pub(crate) mod flow_elements;
pub mod flow_json;
pub mod flows;
pub(crate) mod graph;
pub(crate) mod graph_json;
pub(crate) mod health;
pub(crate) mod keys;
pub(crate) mod snapshots;
pub(crate) mod tenant;
pub(crate) mod user_json;
pub(crate) mod users;

use axum::Router;
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::state::AppState;

/// Every API route with its description.
pub(crate) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(doc::ApiDoc::openapi())
        .merge(authentication::router())
        .merge(users::router())
        .merge(keys::router())
        .merge(admin_users::router())
        .merge(tenant::router())
        .merge(flows::router())
        .merge(snapshots::router())
        .merge(flow_elements::router())
        .merge(graph::router())
        .merge(health::router())
        .routes(routes!(doc::serve))
}

/// Every API route.
pub(crate) fn router() -> Router<AppState> {
    routes().split_for_parts().0
}
