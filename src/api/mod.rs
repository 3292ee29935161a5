//! The HTTP API: one module of thin handlers per area, each with its own `router()` of
//! documented routes; `doc` frames keyflow's OpenAPI description of them.

pub(crate) mod admin_users;
pub(crate) mod audit;
pub(crate) mod authentication;
pub mod cached_reads;
pub(crate) mod canvas_refs;
pub(crate) mod connectors;
pub(crate) mod cors;
pub(crate) mod doc;
pub mod element_json;
pub mod element_wire;
pub(crate) mod elements;
pub(crate) mod flow_element_json;
pub(crate) mod flow_elements;
pub mod flow_json;
pub mod flows;
pub(crate) mod graph;
pub(crate) mod graph_json;
pub(crate) mod health;
pub(crate) mod keys;
pub(crate) mod leaks;
pub(crate) mod package_json;
pub(crate) mod package_shares;
pub(crate) mod packages;
pub(crate) mod run;
pub(crate) mod run_admin;
pub(crate) mod run_history;
pub(crate) mod run_json;
pub(crate) mod snapshots;
pub(crate) mod tenant;
pub(crate) mod tenant_settings;
pub(crate) mod user_json;
pub(crate) mod users;

use axum::Router;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::http::error::{ApiError, message_response};
use crate::http::extract::{NO_CREDENTIAL, Presented, credentials};
use crate::state::AppState;

/// Every API route with its description.
pub(crate) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(doc::ApiDoc::openapi())
        .merge(authentication::router())
        .merge(users::router())
        .merge(keys::router())
        .merge(leaks::router())
        .merge(audit::router())
        .merge(admin_users::router())
        .merge(tenant::router())
        .merge(flows::router())
        .merge(elements::router())
        .merge(connectors::router())
        .merge(snapshots::router())
        .merge(packages::router())
        .merge(package_shares::router())
        .merge(flow_elements::router())
        .merge(graph::router())
        .merge(run::router())
        .merge(run_history::router())
        .merge(run_admin::router())
        .merge(health::router())
        .routes(routes!(doc::serve))
}

/// The route of the paths under `/api/` that are no endpoint (its template is their label in
/// the latency histogram, as axum's `MatchedPath` names them).
pub(crate) const UNKNOWN: &str = "/api/{*rest}";

/// Every API route, with the cached reads in front of each (`cached_reads`), and an answer for
/// the paths under `/api/` that are none.
pub(crate) fn router(state: AppState) -> Router<AppState> {
    routes()
        .split_for_parts()
        .0
        .route_layer(axum::middleware::from_fn_with_state(
            state,
            cached_reads::layer,
        ))
        .route(UNKNOWN, any(unknown))
}

/// A path under `/api/` that keyflow does not serve. Boomi's API needs a credential on every
/// path but sign-in (its description declares the `Authorization` scheme for the whole API),
/// so without one the answer is the same 401 as on a known path: a client that forgot its
/// key learns that, rather than that the path is wrong, and no one learns which paths exist
/// without a credential. With one (whether or not it is valid: nothing is looked up for a
/// path that does not exist) it is a 404.
async fn unknown(headers: HeaderMap) -> Response {
    match credentials(&headers) {
        Ok(read) if read.presented == Presented::Nothing => {
            ApiError::Unauthorized(NO_CREDENTIAL.into()).into_response()
        }
        _ => message_response(StatusCode::NOT_FOUND, "there is no such endpoint"),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use axum::http::Method;

    use super::*;
    use crate::http::route_scopes::{self, ROUTES};

    /// Every route the API serves, as (method, template), from the router's own description.
    fn served() -> BTreeSet<(String, String)> {
        let (_, description) = routes().split_for_parts();
        let mut served = BTreeSet::new();
        for (path, item) in description.paths.paths {
            let methods = [
                ("GET", item.get.is_some()),
                ("POST", item.post.is_some()),
                ("PUT", item.put.is_some()),
                ("DELETE", item.delete.is_some()),
                ("PATCH", item.patch.is_some()),
                ("HEAD", item.head.is_some()),
                ("OPTIONS", item.options.is_some()),
            ];
            for (method, present) in methods {
                if present {
                    served.insert((method.to_string(), path.clone()));
                }
            }
        }
        served
    }

    /// README, "Scopes": one table says which scope each route needs. A route added without
    /// its row fails here (a narrowed key would be refused it), and so does a row left behind.
    #[test]
    fn every_route_has_its_scope_in_the_table_and_every_row_is_a_route() {
        let served = served();
        assert!(served.len() > 100, "the routes were read: {}", served.len());
        for (method, path) in &served {
            let method = Method::from_bytes(method.as_bytes()).unwrap();
            assert!(
                route_scopes::needed(&method, path).is_some(),
                "{method} {path} has no row in http::route_scopes::ROUTES"
            );
        }
        for (method, path, _) in ROUTES {
            assert!(
                served.contains(&(method.to_string(), path.to_string())),
                "{method} {path} in http::route_scopes::ROUTES is no route"
            );
        }
    }
}
