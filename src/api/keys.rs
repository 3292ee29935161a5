//! The user's API keys: `GET`/`POST /api/admin/1/users/me/keys`,
//! `POST …/keys/{name}/reveal`, `DELETE …/keys/{name}` (`UserTenantAPIKey`). Only a signed-in
//! user (a token), never an API key, may call these.

use axum::extract::State;
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};

use crate::api::json::{JsonBody, Segment};
use crate::app::AppState;
use crate::auth::{Interactive, Principal};
use crate::domain::{KeyName, TenantId, Timestamp};
use crate::error::ApiError;
use crate::key_management::{self, KeyView};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/admin/1/users/me/keys", get(list).post(create))
        .route("/api/admin/1/users/me/keys/{name}", delete(remove))
        .route("/api/admin/1/users/me/keys/{name}/reveal", post(reveal))
}

/// `UserTenantAPIKey`.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct UserTenantApiKey {
    pub name: Option<String>,
    pub api_key: Option<String>,
    pub created_at: Timestamp,
    pub tenant_id: Option<TenantId>,
}

impl From<KeyView> for UserTenantApiKey {
    fn from(view: KeyView) -> Self {
        Self {
            name: Some(view.name),
            api_key: view.value,
            created_at: view.created_at,
            tenant_id: Some(view.tenant_id),
        }
    }
}

/// The create request: `{"name", "tenantId"}`; other `UserTenantAPIKey` fields are ignored.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct NewKeyRequest {
    name: Option<String>,
    tenant_id: Option<String>,
}

async fn list(
    State(state): State<AppState>,
    Interactive(principal): Interactive,
) -> Result<Json<Vec<UserTenantApiKey>>, ApiError> {
    let keys = key_management::list(&state, principal.user_id).await?;
    Ok(Json(keys.into_iter().map(UserTenantApiKey::from).collect()))
}

async fn create(
    State(state): State<AppState>,
    Interactive(principal): Interactive,
    JsonBody(request): JsonBody<NewKeyRequest>,
) -> Result<Json<UserTenantApiKey>, ApiError> {
    let name = KeyName::parse(request.name.as_deref().unwrap_or("")).map_err(ApiError::invalid)?;
    let tenant = request
        .tenant_id
        .as_deref()
        .ok_or_else(|| ApiError::Unprocessable("tenantId is required".into()))
        .and_then(|text| TenantId::parse(text).map_err(ApiError::invalid))?;
    let view = key_management::create(&state, principal.user_id, tenant, name).await?;
    Ok(Json(view.into()))
}

async fn reveal(
    State(state): State<AppState>,
    Interactive(principal): Interactive,
    Segment(name): Segment,
) -> Result<Json<UserTenantApiKey>, ApiError> {
    let tenant = header_tenant(&principal);
    let view = key_management::reveal(&state, principal.user_id, &name, tenant).await?;
    Ok(Json(view.into()))
}

async fn remove(
    State(state): State<AppState>,
    Interactive(principal): Interactive,
    Segment(name): Segment,
) -> Result<(), ApiError> {
    key_management::delete(&state, principal.user_id, &name, header_tenant(&principal)).await
}

/// The tenant `manywhotenant` named, if it did: it picks among same-named keys.
fn header_tenant(principal: &Principal) -> Option<TenantId> {
    principal.tenant_from_header.then_some(principal.tenant_id)
}
