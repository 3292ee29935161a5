//! The HTTP API: one module of thin handlers per area, each with its own `router()` of
//! documented routes; [`doc`] frames keyflow's OpenAPI description of them.

pub mod admin_users;
pub mod authentication;
pub mod doc;
pub mod flow_cache;
pub mod flow_json;
pub mod flows;
pub mod health;
pub mod keys;
pub mod snapshots;
pub mod tenant;
pub mod user_json;
pub mod users;

use axum::Router;
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::state::AppState;

/// Every API route with its description.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(doc::ApiDoc::openapi())
        .merge(authentication::router())
        .merge(users::router())
        .merge(keys::router())
        .merge(admin_users::router())
        .merge(tenant::router())
        .merge(flows::router())
        .merge(snapshots::router())
        .merge(health::router())
        .routes(routes!(doc::serve))
}

/// Every API route.
pub fn router() -> Router<AppState> {
    routes().split_for_parts().0
}
