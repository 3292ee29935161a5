//! The request's tenant: `GET`/`POST /api/admin/1/tenant` (`TenantResponseAPI`), for its
//! administrators.

use axum::Json;
use axum::extract::State;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::api::doc::{AuthErrors, BodyErrors, Forbidden, NotFound};
use crate::api::tenant_settings;
use crate::domain::{TenantDeveloperName, TenantId, Timestamp, prose};
use crate::http::Administrator;
use crate::http::error::ApiError;
use crate::http::json::{JsonBody, TextQuery};
use crate::rules::keys as key_management;
use crate::state::AppState;
use crate::store::Tenant;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(load, update))
}

/// `TenantResponseAPI`. Its settings are objects (`tenant_settings`): `tenantSettings` as
/// the administrators set it, the others fixed. keyflow has no subtenants, organizations,
/// parent tenants or feature flags: those fields are null (`subTenants` is an empty list when
/// asked for).
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = TenantResponseAPI)]
pub struct TenantResponse {
    pub developer_name: Option<String>,
    pub developer_summary: Option<String>,
    #[schema(value_type = Object)]
    pub security_settings: serde_json::Value,
    pub subdomain: Option<String>,
    #[schema(value_type = Object)]
    pub state_settings: serde_json::Value,
    #[schema(value_type = Object)]
    pub observability_settings: serde_json::Value,
    #[schema(value_type = Object)]
    pub tenant_settings: serde_json::Value,
    #[schema(value_type = Object)]
    pub external_storage_settings: serde_json::Value,
    #[schema(value_type = Option<Vec<Object>>)]
    pub feature_flags: Option<Vec<serde_json::Value>>,
    pub id: Option<TenantId>,
    pub expires_at: Option<Timestamp>,
    #[schema(no_recursion)]
    pub sub_tenants: Option<Vec<TenantResponse>>,
    #[schema(value_type = Option<Object>)]
    pub organization: Option<serde_json::Value>,
    #[schema(value_type = Option<Object>)]
    pub parent_tenant: Option<serde_json::Value>,
    pub has_mcr: bool,
}

impl TenantResponse {
    fn new(tenant: Tenant, with_subtenants: bool) -> Self {
        let settings = tenant_settings::answered_for(&tenant);
        Self {
            developer_name: Some(tenant.name),
            developer_summary: tenant.summary,
            security_settings: tenant_settings::security(),
            subdomain: None,
            state_settings: tenant_settings::state(),
            observability_settings: tenant_settings::observability(),
            tenant_settings: settings,
            external_storage_settings: tenant_settings::external_storage(),
            feature_flags: None,
            id: Some(tenant.id),
            expires_at: None,
            sub_tenants: with_subtenants.then(Vec::new),
            organization: None,
            parent_tenant: None,
            has_mcr: false,
        }
    }
}

#[derive(Deserialize, IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Query)]
struct LoadQuery {
    /// Whether to include the subtenants (keyflow has none: an empty list).
    include_sub_tenants: Option<bool>,
}

/// `TenantRequestAPI`: the fields keyflow sets; the others are accepted and ignored. A field
/// that is absent or null is left as it is.
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = TenantRequestAPI)]
struct TenantRequest {
    /// 3 to 100 characters, each an ASCII letter, a digit, `.` or `-`.
    #[schema(min_length = 3, max_length = 100, pattern = r"^[A-Za-z0-9.\-]{3,100}$")]
    developer_name: Option<String>,
    /// A blank summary clears it. At most 2000 characters, kept as written: line breaks and
    /// tabs are welcome, other control characters and invisible or direction-changing ones
    /// are not.
    #[schema(
        max_length = 2000,
        pattern = r"^[^\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f\u200b\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff\ufdd0-\ufdef\ufffe\uffff]*$"
    )]
    developer_summary: Option<String>,
    /// `TenantSettingsAPI`, kept as sent (unknown fields too) and answered over its defaults;
    /// it replaces what was set before. The known fields must have their types: booleans,
    /// `releaseCycle` 0 or 1, `integrationAccounts` an array.
    #[schema(value_type = Option<Object>)]
    tenant_settings: Option<serde_json::Value>,
}

/// The request's tenant.
#[utoipa::path(
    get,
    path = "/api/admin/1/tenant",
    tag = "Admin Tenant",
    params(LoadQuery),
    responses(
        (status = 200, description = "The tenant", body = TenantResponse),
        Forbidden, NotFound, AuthErrors,
    )
)]
async fn load(
    State(state): State<AppState>,
    Administrator(principal): Administrator,
    TextQuery(query): TextQuery<LoadQuery>,
) -> Result<Json<TenantResponse>, ApiError> {
    let tenant = existing(&state, principal.tenant_id).await?;
    let with_subtenants = query.include_sub_tenants.unwrap_or(false);
    Ok(Json(TenantResponse::new(tenant, with_subtenants)))
}

/// Renames the request's tenant and sets its summary and its `tenantSettings`.
#[utoipa::path(
    post,
    path = "/api/admin/1/tenant",
    tag = "Admin Tenant",
    request_body = TenantRequest,
    responses(
        (status = 200, description = "The tenant", body = TenantResponse),
        Forbidden, NotFound, BodyErrors, AuthErrors,
    )
)]
async fn update(
    State(state): State<AppState>,
    Administrator(principal): Administrator,
    JsonBody(request): JsonBody<TenantRequest>,
) -> Result<Json<TenantResponse>, ApiError> {
    let name = request
        .developer_name
        .as_deref()
        .map(TenantDeveloperName::parse)
        .transpose()
        .map_err(ApiError::invalid)?;
    let current = existing(&state, principal.tenant_id).await?;
    let name = name.map_or(current.name, |name| name.as_str().to_string());
    if let Some(summary) = &request.developer_summary {
        prose("developerSummary", summary).map_err(ApiError::invalid)?;
    }
    let summary = match request.developer_summary {
        Some(summary) => Some(summary).filter(|s| !s.trim().is_empty()),
        None => current.summary,
    };
    let mut sent_settings = request.tenant_settings;
    let (max_key_lifetime, key_rate_limit) = match sent_settings.as_mut() {
        Some(sent) => (
            tenant_settings::take_key_lifetime(sent)?,
            tenant_settings::take_key_rate_limit(sent)?,
        ),
        None => (None, None),
    };
    let settings = match sent_settings {
        Some(serde_json::Value::Null) | None => current.settings,
        Some(sent) => Some(tenant_settings::accepted(sent)?),
    };
    if let Some(days) = max_key_lifetime {
        let keys = state.keys();
        key_management::set_max_lifetime(keys.store, keys.revoker, principal.tenant_id, days)
            .await?;
    }
    // Everything is checked by now: the limit is set before the rest, so the answer reads it.
    if let Some(limit) = key_rate_limit {
        let keys = state.keys();
        key_management::set_tenant_rate_limit(keys.store, keys.revoker, principal.tenant_id, limit)
            .await?;
    }
    let tenant = state
        .store
        .update_tenant(
            principal.tenant_id,
            &name,
            summary.as_deref(),
            settings.as_deref(),
        )
        .await?
        .ok_or_else(|| gone(principal.tenant_id))?;
    Ok(Json(TenantResponse::new(tenant, false)))
}

async fn existing(state: &AppState, id: TenantId) -> Result<Tenant, ApiError> {
    state.store.tenant(id).await?.ok_or_else(|| gone(id))
}

fn gone(id: TenantId) -> ApiError {
    ApiError::NotFound(format!("there is no tenant {id}"))
}
