//! Sign-in: `POST /api/draw/1/authentication` trades an email and password for a token;
//! `GET /api/draw/1/authentication/{tenantId}` trades a token for one in another tenant, which
//! inherits the first one's sign-in: its reach and its end (only a password starts a
//! lifetime); or an API key for a token bound to it, which can do no more than the key.

use axum::Json;
use axum::extract::State;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::api::doc::{
    AuthErrors, BadRequest, BodyErrors, Forbidden, Internal, SignInThrottled, Unauthorized,
};
use crate::domain::TenantId;
use crate::http::Principal;
use crate::http::error::ApiError;
use crate::http::extract::ClientAddress;
use crate::http::json::{JsonBody, Segment};
use crate::rules::sign_in as rules;
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(sign_in))
        .routes(routes!(token_for_tenant))
}

/// `{"username", "password"}`; `username` is the email.
#[derive(Deserialize, ToSchema)]
#[schema(as = AuthenticationCredentials)]
struct Credentials {
    /// The email address.
    username: String,
    #[schema(value_type = String, format = Password)]
    password: SecretString,
}

/// Signs in; the token is issued for the user's first tenant (`manywhotenant` picks another).
#[utoipa::path(
    post,
    path = "/api/draw/1/authentication",
    tag = "Authentication",
    security(()),
    request_body = Credentials,
    responses(
        (status = 200, description = "The token, a JSON string", body = String,
            content_type = "application/json"),
        BadRequest, Unauthorized, Forbidden, BodyErrors, SignInThrottled, Internal,
    )
)]
async fn sign_in(
    State(state): State<AppState>,
    ClientAddress(address): ClientAddress,
    JsonBody(credentials): JsonBody<Credentials>,
) -> Result<Json<String>, ApiError> {
    let sign_in = state.sign_in();
    let user = rules::check(
        &sign_in,
        address,
        &credentials.username,
        credentials.password,
    )
    .await?;
    let token = rules::first_token(&sign_in, user.id).await?;
    Ok(Json(token.expose_secret().to_string()))
}

/// A token for one of the user's tenants. With a token of a password sign-in: a token for
/// another of the user's tenants, carrying that sign-in over (it ends when the asking one
/// does, and reaches only the tenants it reaches, so a token can never renew or widen itself).
/// With an API key (or a token one obtained): a token bound to that key, for the key's own
/// tenant only, ending no later than the key, deleted with it, and refused whatever the key is
/// refused (key management among it), so a key never gains a right through its token.
#[utoipa::path(
    get,
    path = "/api/draw/1/authentication/{tenantId}",
    tag = "Authentication",
    params(("tenantId" = uuid::Uuid, Path, description = "One of the user's tenants; with an API key, the key's tenant")),
    responses(
        (status = 200, description = "A token for that tenant, a JSON string", body = String,
            content_type = "application/json"),
        Forbidden, AuthErrors,
    )
)]
async fn token_for_tenant(
    State(state): State<AppState>,
    principal: Principal,
    Segment(tenant): Segment,
) -> Result<Json<String>, ApiError> {
    let tenant = TenantId::parse(&tenant).map_err(|error| ApiError::BadRequest(error.0))?;
    let sign_in = state.sign_in();
    let token = match (principal.key(), principal.sign_in) {
        (Some(key), _) => {
            rules::token_for_key(
                &sign_in,
                principal.user_id,
                key,
                principal.tenant_id,
                tenant,
            )
            .await?
        }
        (None, Some(signed_in)) => {
            rules::token_for(&sign_in, principal.user_id, tenant, signed_in).await?
        }
        (None, None) => {
            return Err(ApiError::Internal(anyhow::anyhow!(
                "a token without its sign-in"
            )));
        }
    };
    Ok(Json(token.expose_secret().to_string()))
}
