//! Sign-in: `POST /api/draw/1/authentication` trades an email and password for a token;
//! `GET /api/draw/1/authentication/{tenantId}` trades a token for one in another tenant.

use axum::Json;
use axum::extract::State;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::api::doc::{
    AuthErrors, BadRequest, BodyErrors, Forbidden, Internal, TooManyRequests, Unauthorized,
};
use crate::auth::token;
use crate::domain::{TenantId, Timestamp, UserId};
use crate::http::Interactive;
use crate::http::error::ApiError;
use crate::http::extract::ClientAddress;
use crate::http::json::{JsonBody, Segment};
use crate::state::AppState;
use crate::store::NewToken;

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
        BadRequest, Unauthorized, Forbidden, BodyErrors, TooManyRequests, Internal,
    )
)]
async fn sign_in(
    State(state): State<AppState>,
    ClientAddress(address): ClientAddress,
    JsonBody(credentials): JsonBody<Credentials>,
) -> Result<Json<String>, ApiError> {
    let user =
        crate::rules::sign_in::check(&state, address, &credentials.username, credentials.password)
            .await?;
    let Some(first) = state.store.memberships(user.id).await?.into_iter().next() else {
        return Err(ApiError::Forbidden(
            "your account is not a member of any tenant".into(),
        ));
    };
    issue(&state, user.id, first.tenant.id).await
}

/// A token for another of the signed-in user's tenants. Only a token may ask: a token can
/// manage keys, so an API key must never be able to mint one.
#[utoipa::path(
    get,
    path = "/api/draw/1/authentication/{tenantId}",
    tag = "Authentication",
    params(("tenantId" = uuid::Uuid, Path, description = "One of the user's tenants")),
    security(("token" = [])),
    responses(
        (status = 200, description = "A token for that tenant, a JSON string", body = String,
            content_type = "application/json"),
        Forbidden, AuthErrors,
    )
)]
async fn token_for_tenant(
    State(state): State<AppState>,
    Interactive(principal): Interactive,
    Segment(tenant): Segment,
) -> Result<Json<String>, ApiError> {
    let tenant = TenantId::parse(&tenant).map_err(|error| ApiError::BadRequest(error.0))?;
    if state
        .store
        .role_in(principal.user_id, tenant)
        .await?
        .is_none()
    {
        return Err(ApiError::Forbidden(format!(
            "you are not a member of the tenant {tenant}"
        )));
    }
    issue(&state, principal.user_id, tenant).await
}

/// Stores a new token's digest and returns the token.
async fn issue(state: &AppState, user: UserId, tenant: TenantId) -> Result<Json<String>, ApiError> {
    let value = token::generate();
    let now = Timestamp::now();
    state
        .store
        .insert_token(NewToken {
            digest: state.hasher.digest(value.expose_secret()),
            user_id: user,
            tenant_id: tenant,
            created_at: now,
            expires_at: now.plus(state.config.token_ttl),
        })
        .await?;
    Ok(Json(value.expose_secret().to_string()))
}
