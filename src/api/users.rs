//! The current user: `GET /api/admin/1/users/me` (`UserMeAPI`), and `PUT` to change their own
//! names (the one way a user of several tenants is renamed: no tenant's administrator may).

use axum::Json;
use axum::extract::State;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::api::doc::{AuthErrors, BodyErrors, Forbidden};
use crate::api::user_json::name;
use crate::domain::{Timestamp, UserId};
use crate::http::Principal;
use crate::http::error::ApiError;
use crate::http::json::JsonBody;
use crate::http::{ChangeAccount, Interactive};
use crate::rules::access;
use crate::state::AppState;
use crate::store::Membership;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(me, update_me))
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
    /// `UserTenantSettingsAPI`: always an object.
    #[schema(value_type = Object)]
    pub settings: serde_json::Value,
    /// keyflow has no organizations: null.
    #[schema(value_type = Option<Object>)]
    pub organization: Option<serde_json::Value>,
    pub role_id: i32,
    pub role: Option<String>,
    pub is_sso: bool,
    /// The tenant's `TenantSettingsAPI`, as `GET /api/admin/1/tenant` answers it.
    #[schema(value_type = Object)]
    pub tenant_settings: serde_json::Value,
}

impl From<Membership> for UserTenant {
    fn from(membership: Membership) -> Self {
        let tenant_settings = crate::api::tenant_settings::answered_for(&membership.tenant);
        Self {
            id: Some(membership.tenant.id.to_string()),
            parent_tenant_id: None,
            developer_name: Some(membership.tenant.name),
            developer_summary: membership.tenant.summary,
            expires_at: None,
            is_expired: false,
            last_logged_in_at: None,
            settings: crate::api::tenant_settings::member(),
            organization: None,
            role_id: membership.role.role_id(),
            role: Some(membership.role.wire_name().to_string()),
            is_sso: false,
            tenant_settings,
        }
    }
}

/// The signed-in user (or the key's owner) and their tenants with their roles (those the
/// credential reaches: a membership that began after a token's sign-in is not listed).
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
    user_me(&state, &principal).await.map(Json)
}

/// `UserMeUpdateRequest`: the names to set.
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = UserMeUpdateRequest)]
struct NamesIn {
    /// As in `UserUpdateRequestAPI`: checked where it is read.
    #[serde(default, deserialize_with = "crate::api::user_json::first_name")]
    #[schema(
        max_length = 100,
        pattern = r"^[\t-\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]*[^\u0000-\u001f\u007f-\u009f\u200b\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff\ufdd0-\ufdef\ufffe\uffff]*[\t-\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]*$"
    )]
    first_name: Option<String>,
    /// As `firstName`.
    #[serde(default, deserialize_with = "crate::api::user_json::last_name")]
    #[schema(
        max_length = 100,
        pattern = r"^[\t-\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]*[^\u0000-\u001f\u007f-\u009f\u200b\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff\ufdd0-\ufdef\ufffe\uffff]*[\t-\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]*$"
    )]
    last_name: Option<String>,
}

/// Changes the signed-in user's own names, the same in all their tenants: what is left out (or
/// null) stays, an empty name clears it. Only a signed-in user (a token) may: an API key is
/// refused with 403.
#[utoipa::path(
    put,
    path = "/api/admin/1/users/me",
    tag = "Admin Users",
    security(("token" = [])),
    request_body = NamesIn,
    responses(
        (status = 200, description = "The current user", body = UserMe),
        Forbidden, BodyErrors, AuthErrors,
    )
)]
async fn update_me(
    State(state): State<AppState>,
    Interactive(principal, _): Interactive<ChangeAccount>,
    JsonBody(request): JsonBody<NamesIn>,
) -> Result<Json<UserMe>, ApiError> {
    let user = state
        .store
        .user(principal.user_id)
        .await?
        .ok_or_else(|| ApiError::Unauthorized("your account no longer exists".into()))?;
    let first = request
        .first_name
        .map_or(user.first_name, |given| name(Some(given)));
    let last = request
        .last_name
        .map_or(user.last_name, |given| name(Some(given)));
    state
        .store
        .set_names(user.id, first.as_deref(), last.as_deref())
        .await?;
    user_me(&state, &principal).await.map(Json)
}

/// The principal's user and the tenants the credential reaches.
async fn user_me(state: &AppState, principal: &Principal) -> Result<UserMe, ApiError> {
    let user = state
        .store
        .user(principal.user_id)
        .await?
        .ok_or_else(|| ApiError::Unauthorized("your account no longer exists".into()))?;
    // The tenants this credential reaches: a token's sign-in covers only the memberships
    // that had begun by then.
    let tenants = access::tenants(&*state.store, user.id, principal.signed_in_at()).await?;
    Ok(UserMe {
        id: user.id,
        first_name: user.first_name,
        last_name: user.last_name,
        email: Some(user.email),
        created_at: Some(user.created_at),
        organizations: None,
        tenants: Some(tenants.into_iter().map(UserTenant::from).collect()),
    })
}
