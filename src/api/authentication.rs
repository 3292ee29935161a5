//! Sign-in: `POST /api/draw/1/authentication` trades an email and password for a token.

use axum::extract::State;
use axum::routing::post;
use axum::{Json, Router};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

use crate::api::json::JsonBody;
use crate::app::AppState;
use crate::auth::extract::ClientAddress;
use crate::auth::{password, token};
use crate::domain::{Email, Timestamp};
use crate::error::ApiError;
use crate::store::NewToken;

pub fn router() -> Router<AppState> {
    Router::new().route("/api/draw/1/authentication", post(sign_in))
}

/// `{"username", "password"}`; `username` is the email.
#[derive(Deserialize)]
struct Credentials {
    username: String,
    password: SecretString,
}

async fn sign_in(
    State(state): State<AppState>,
    ClientAddress(address): ClientAddress,
    JsonBody(credentials): JsonBody<Credentials>,
) -> Result<Json<String>, ApiError> {
    state.throttle.guard(address)?;
    let user = match Email::parse(&credentials.username) {
        Ok(email) => state.store.user_by_email(&email).await?,
        Err(_) => None,
    };
    let stored_hash = user.as_ref().map(|user| user.password_hash.clone());
    let matches = password::verify(stored_hash, credentials.password).await?;
    let Some(user) = user.filter(|_| matches) else {
        let refused = ApiError::Unauthorized("wrong email or password".into());
        return Err(state.throttle.failed(address, refused));
    };
    // The token is issued for the user's first tenant; manywhotenant can pick another.
    let Some(first) = state.store.memberships(user.id).await?.into_iter().next() else {
        return Err(ApiError::Forbidden(
            "your account is not a member of any tenant".into(),
        ));
    };
    let value = token::generate();
    let now = Timestamp::now();
    state
        .store
        .insert_token(NewToken {
            digest: state.verifier.hasher().digest(value.expose_secret()),
            user_id: user.id,
            tenant_id: first.tenant.id,
            created_at: now,
            expires_at: now.plus(state.config.token_ttl),
        })
        .await?;
    Ok(Json(value.expose_secret().to_string()))
}
