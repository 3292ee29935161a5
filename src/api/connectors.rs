//! What keyflow refuses because it does not call connectors (services): `POST
//! /api/draw/1/element/service/install`, which in Boomi calls the connector's URL for its
//! description, answers 501 with a message saying so, until connectors exist. (Without this
//! route the path would match `…/element/service/{id}` and answer a puzzling 405.)

use utoipa::IntoResponses;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::api::doc::{AuthErrors, ErrorMessage};
use crate::http::Principal;
use crate::http::error::ApiError;
use crate::state::AppState;

pub(crate) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(install))
}

/// The refusal, word for word (tests and docs/API.md quote it).
pub const NO_CONNECTORS: &str = "keyflow does not call connectors, so it cannot install a \
     service from its URL: save the service element whole with POST /api/draw/1/element/service \
     (its actions and types as the connector described them)";

/// The 501 of an endpoint that would call a connector.
#[derive(IntoResponses)]
#[response(
    status = 501,
    description = "keyflow does not call connectors: this endpoint is refused, whatever the body"
)]
#[allow(dead_code)]
struct NotImplemented(ErrorMessage);

/// Boomi's "Install Service Element" asks the connector at the request's URL to describe
/// itself and answers the service element it makes of that. keyflow never calls out, so it
/// refuses with 501 Not Implemented: the server lacks the capability, whatever the request
/// holds. The credential is checked first, as on every API path (no credential: 401); the
/// body is not read.
#[utoipa::path(
    post,
    path = "/api/draw/1/element/service/install",
    tag = "Draw Element",
    request_body(content = Object, description = "Boomi's DescribeServiceInstallRequest; not read"),
    responses(NotImplemented, AuthErrors)
)]
async fn install(_principal: Principal) -> ApiError {
    ApiError::NotImplemented(NO_CONNECTORS.into())
}
