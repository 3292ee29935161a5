//! Sign-in: `POST /api/draw/1/authentication` trades an email and password for a token;
//! `GET /api/draw/1/authentication/{tenantId}` trades a token for one in another tenant, which
//! inherits the first one's sign-in: its reach and its end. Only a password starts a lifetime.

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
use crate::api::json::{JsonBody, Segment};
use crate::app::AppState;
use crate::auth::Interactive;
use crate::auth::access::{self, SignIn};
use crate::auth::extract::ClientAddress;
use crate::auth::token;
use crate::domain::{TenantId, Timestamp, UserId};
use crate::error::ApiError;
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
        BadRequest, Unauthorized, Forbidden, BodyErrors, SignInThrottled, Internal,
    )
)]
async fn sign_in(
    State(state): State<AppState>,
    ClientAddress(address): ClientAddress,
    JsonBody(credentials): JsonBody<Credentials>,
) -> Result<Json<String>, ApiError> {
    let user =
        crate::auth::sign_in::check(&state, address, &credentials.username, credentials.password)
            .await?;
    let Some(first) = state.store.memberships(user.id).await?.into_iter().next() else {
        return Err(ApiError::Forbidden(
            "your account is not a member of any tenant".into(),
        ));
    };
    let now = Timestamp::now();
    let sign_in = SignIn {
        at: now,
        until: now.plus(state.config.token_ttl),
    };
    issue(&state, user.id, first.tenant.id, sign_in).await
}

/// A token for another of the signed-in user's tenants. Only a token may ask: a token can
/// manage keys, so an API key must never be able to mint one. The new token is the asking
/// token's sign-in carried over: it ends when that one does, and reaches only the tenants that
/// one reaches, so a token can never renew or widen itself.
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
    let sign_in = principal
        .sign_in
        .ok_or_else(|| ApiError::Internal(anyhow::anyhow!("a token without its sign-in")))?;
    if access::role(&state, principal.user_id, tenant, Some(sign_in.at))
        .await?
        .is_none()
    {
        return Err(ApiError::Forbidden(format!(
            "you are not a member of the tenant {tenant}, or became one after this token's \
             sign-in: sign in again"
        )));
    }
    issue(&state, principal.user_id, tenant, sign_in).await
}

/// Stores a new token's digest and returns the token. It lives `--token-ttl-minutes`, and
/// never past the end of its sign-in's lifetime.
async fn issue(
    state: &AppState,
    user: UserId,
    tenant: TenantId,
    sign_in: SignIn,
) -> Result<Json<String>, ApiError> {
    let value = token::generate();
    let now = Timestamp::now();
    state
        .store
        .insert_token(NewToken {
            digest: state.verifier.hasher().digest(value.expose_secret()),
            user_id: user,
            tenant_id: tenant,
            signed_in_at: sign_in.at,
            created_at: now,
            expires_at: now.plus(state.config.token_ttl).min(sign_in.until),
        })
        .await?;
    Ok(Json(value.expose_secret().to_string()))
}
