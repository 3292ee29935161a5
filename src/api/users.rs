//! The current user: `GET /api/admin/1/users/me` (`UserMeAPI`).

use axum::Json;
use axum::extract::State;
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::api::doc::AuthErrors;
use crate::domain::{Timestamp, UserId};
use crate::http::Principal;
use crate::http::error::ApiError;
use crate::state::AppState;
use crate::store::Membership;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(me))
}

/// `UserMeAPI`.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = UserMeAPI)]
pub struct UserMe {
    pub id: UserId,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub email: Option<String>,
    pub created_at: Option<Timestamp>,
    #[schema(value_type = Option<Vec<Object>>)]
    pub organizations: Option<Vec<serde_json::Value>>,
    pub tenants: Option<Vec<UserTenant>>,
}

/// `UserTenantAPI`: one of the user's tenants and the user's role there.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = UserTenantAPI)]
pub struct UserTenant {
    pub id: Option<String>,
    pub parent_tenant_id: Option<String>,
    pub developer_name: Option<String>,
    pub developer_summary: Option<String>,
    pub expires_at: Option<Timestamp>,
    pub is_expired: bool,
    pub last_logged_in_at: Option<Timestamp>,
    #[schema(value_type = Option<Object>)]
    pub settings: Option<serde_json::Value>,
    #[schema(value_type = Option<Object>)]
    pub organization: Option<serde_json::Value>,
    pub role_id: i32,
    pub role: Option<String>,
    pub is_sso: bool,
    #[schema(value_type = Option<Object>)]
    pub tenant_settings: Option<serde_json::Value>,
}

impl From<Membership> for UserTenant {
    fn from(membership: Membership) -> Self {
        Self {
            id: Some(membership.tenant.id.to_string()),
            parent_tenant_id: None,
            developer_name: Some(membership.tenant.name),
            developer_summary: membership.tenant.summary,
            expires_at: None,
            is_expired: false,
            last_logged_in_at: None,
            settings: None,
            organization: None,
            role_id: membership.role.role_id(),
            role: Some(membership.role.wire_name().to_string()),
            is_sso: false,
            tenant_settings: None,
        }
    }
}

/// The signed-in user (or the key's owner) and their tenants with their roles.
#[utoipa::path(
    get,
    path = "/api/admin/1/users/me",
    tag = "Admin Users",
    responses(
        (status = 200, description = "The current user", body = UserMe),
        AuthErrors,
    )
)]
async fn me(State(state): State<AppState>, principal: Principal) -> Result<Json<UserMe>, ApiError> {
    let user = state
        .store
        .user(principal.user_id)
        .await?
        .ok_or_else(|| ApiError::Unauthorized("your account no longer exists".into()))?;
    let tenants = state.store.memberships(user.id).await?;
    Ok(Json(UserMe {
        id: user.id,
        first_name: user.first_name,
        last_name: user.last_name,
        email: Some(user.email),
        created_at: Some(user.created_at),
        organizations: None,
        tenants: Some(tenants.into_iter().map(UserTenant::from).collect()),
    }))
}
