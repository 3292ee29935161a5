//! The HTTP API: one module of thin handlers per area, each with its own `router()`.

pub mod authentication;
pub mod flow_cache;
pub mod flow_json;
pub mod flows;
pub mod health;
pub mod json;
pub mod keys;
pub mod users;

use axum::Router;

use crate::app::AppState;

/// Every API route.
pub fn router() -> Router<AppState> {
    Router::new()
        .merge(authentication::router())
        .merge(users::router())
        .merge(keys::router())
        .merge(flows::router())
        .merge(health::router())
}
