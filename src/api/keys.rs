//! The user's API keys: `GET`/`POST /api/admin/1/users/me/keys`,
//! `POST …/keys/{name}/reveal`, `POST …/keys/{name}/rotate`, `DELETE …/keys/{name}`
//! (`UserTenantAPIKey`). Only a signed-in user (a token), never an API key, may call these.

use axum::Json;
use axum::extract::State;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::api::doc::{AuthErrors, BodyErrors, Conflict, Forbidden, NotFound};
use crate::domain::{KeyName, Networks, Scopes, TenantId, Timestamp};
use crate::http::error::ApiError;
use crate::http::json::{JsonBody, OptionalJsonBody, Segment, integral, whole};
use crate::http::{Interactive, Principal};
use crate::rules::keys::{self as key_management, KeyView, MAX_RATE, RateLimit};
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list, create))
        .routes(routes!(remove))
        .routes(routes!(reveal))
        .routes(routes!(rotate))
}

/// `UserTenantAPIKey`.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = UserTenantAPIKey)]
pub struct UserTenantApiKey {
    pub name: Option<String>,
    pub api_key: Option<String>,
    pub created_at: Timestamp,
    pub tenant_id: Option<TenantId>,
    /// keyflow's extension: when the key stops working; null: never.
    pub expires_at: Option<Timestamp>,
    /// keyflow's extension: when a rotation last gave the key a new value; null: never.
    pub rotated_at: Option<Timestamp>,
    /// keyflow's extension: the scopes the key is narrowed to; empty when it is not (it has
    /// what its owner's role allows).
    #[schema(example = json!(["flows:read"]))]
    pub scopes: Vec<String>,
    /// keyflow's extension: the address ranges the key may be used from (a single address
    /// shows without its prefix); empty: anywhere.
    #[schema(example = json!(["203.0.113.0/24"]))]
    pub allowed_networks: Vec<String>,
    /// keyflow's extension: when the key was last used, to the minute (recorded behind the
    /// hot path, at most once a minute); null until it is.
    pub last_used_at: Option<Timestamp>,
    /// keyflow's extension: the client address of that use.
    pub last_used_address: Option<String>,
    /// keyflow's extension: the key's own rate limit; null: its tenant's default
    /// (`tenantSettings.apiKeyRateLimit`), else the server's.
    pub rate_limit: Option<RateLimitWire>,
}

/// A key's rate limit: requests a second, and how many may come at once.
#[derive(Serialize, Deserialize, ToSchema, Clone, Copy)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schema(as = ApiKeyRateLimit)]
pub struct RateLimitWire {
    #[schema(minimum = 1, maximum = 1000000)]
    #[serde(deserialize_with = "whole")]
    pub requests_per_second: u32,
    #[schema(minimum = 1, maximum = 1000000)]
    #[serde(deserialize_with = "whole")]
    pub burst: u32,
}

impl RateLimitWire {
    /// The limit, within the bounds every limit has (1 to 1000000 each), else a 422 naming
    /// `field`.
    pub fn parse(self, field: &str) -> Result<RateLimit, ApiError> {
        let limit = RateLimit {
            per_second: self.requests_per_second,
            burst: self.burst,
        };
        let within = |n: u32| (1..=MAX_RATE).contains(&n);
        if within(limit.per_second) && within(limit.burst) {
            Ok(limit)
        } else {
            Err(ApiError::Unprocessable(format!(
                "invalid field: {field}.requestsPerSecond and {field}.burst must each be \
                 1 to {MAX_RATE}"
            )))
        }
    }
}

impl From<RateLimit> for RateLimitWire {
    fn from(limit: RateLimit) -> Self {
        Self {
            requests_per_second: limit.per_second,
            burst: limit.burst,
        }
    }
}

impl From<KeyView> for UserTenantApiKey {
    fn from(view: KeyView) -> Self {
        Self {
            name: Some(view.name),
            api_key: view.value,
            created_at: view.created_at,
            tenant_id: Some(view.tenant_id),
            expires_at: view.expires_at,
            rotated_at: view.rotated_at,
            scopes: view.scopes.names().map(str::to_string).collect(),
            allowed_networks: view.allowed_networks.entries().collect(),
            last_used_at: view.last_used_at,
            last_used_address: view.last_used_address,
            rate_limit: view.rate_limit.map(RateLimitWire::from),
        }
    }
}

/// The create request: `{"name", "tenantId"}`, and keyflow's optional `scopes` and
/// `allowedNetworks`; other `UserTenantAPIKey` fields are ignored.
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = NewApiKeyRequest)]
struct NewKeyRequest {
    /// 1 to 100 characters, not blank, with no control character, no invisible or
    /// direction-changing one, no `/` or `\`, and not `.` or `..` (a key's name is a segment of
    /// its URL); trimmed; unique for this user and tenant. (The pattern: the white space
    /// keyflow trims, then the name, which is not one or two dots, then white space again.)
    #[schema(
        required,
        value_type = String,
        min_length = 1,
        max_length = 100,
        pattern = r"^[\t-\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]*(?:[^\u0000-\u001f\u007f-\u009f\u200b\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff\ufdd0-\ufdef\ufffe\uffff/\\\t-\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000.](?:[^\u0000-\u001f\u007f-\u009f\u200b\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff\ufdd0-\ufdef\ufffe\uffff/\\]*[^\u0000-\u001f\u007f-\u009f\u200b\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff\ufdd0-\ufdef\ufffe\uffff/\\\t-\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000])?|\.[^\u0000-\u001f\u007f-\u009f\u200b\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff\ufdd0-\ufdef\ufffe\uffff/\\]+[^\u0000-\u001f\u007f-\u009f\u200b\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff\ufdd0-\ufdef\ufffe\uffff/\\\t-\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]|\.[^\u0000-\u001f\u007f-\u009f\u200b\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff\ufdd0-\ufdef\ufffe\uffff/\\\t-\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000.])[\t-\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]*$"
    )]
    name: Option<String>,
    /// One of the user's tenants; when absent, the tenant in `manywhotenant` (else 422).
    #[schema(value_type = String, format = Uuid)]
    tenant_id: Option<String>,
    /// When the key stops working (RFC 3339), in the future and within the tenant's maximum
    /// key lifetime; absent, null or empty: never, which a tenant with a maximum refuses (422).
    #[schema(value_type = Option<String>, format = DateTime)]
    expires_at: Option<String>,
    /// The scopes to narrow the key to: `flows:read`, `flows:write`, `elements:read`,
    /// `elements:write`, `packages:read`, `packages:write`, `admin:read`, `admin:write`,
    /// `flows:run`.
    /// Missing or empty: not narrowed (what the owner's role allows). An unknown one is 422.
    /// A scope never grants more than the owner's role.
    #[schema(value_type = Option<Vec<ScopeName>>, example = json!(["flows:read", "flows:write"]))]
    scopes: Option<Vec<String>>,
    /// At most 20 address ranges (CIDR, IPv4 or IPv6; a bare address is a range of one) the
    /// key may be used from; a request from elsewhere is 403 and audited. Missing or empty:
    /// anywhere. A malformed entry is 422, naming it.
    #[schema(value_type = Option<Vec<AddressRange>>, max_items = 20,
        example = json!(["203.0.113.0/24", "2001:db8::/32"]))]
    allowed_networks: Option<Vec<String>>,
    /// keyflow's extension: the key's own rate limit, within its tenant's bound
    /// (`tenantSettings.apiKeyRateLimit`, else the server's default), else 422. Absent: the
    /// tenant's default applies.
    rate_limit: Option<RateLimitWire>,
}

/// A scope's name, for the description only: the request's `scopes` are read as text and
/// parsed by `domain::Scopes`, whose list this repeats (a test compares them).
#[derive(Serialize, ToSchema)]
#[allow(dead_code)]
pub(crate) enum ScopeName {
    #[serde(rename = "flows:read")]
    FlowsRead,
    #[serde(rename = "flows:write")]
    FlowsWrite,
    #[serde(rename = "elements:read")]
    ElementsRead,
    #[serde(rename = "elements:write")]
    ElementsWrite,
    #[serde(rename = "packages:read")]
    PackagesRead,
    #[serde(rename = "packages:write")]
    PackagesWrite,
    #[serde(rename = "admin:read")]
    AdminRead,
    #[serde(rename = "admin:write")]
    AdminWrite,
    #[serde(rename = "flows:run")]
    FlowsRun,
}

/// An allowed network, for the description only: an IPv4 or IPv6 address, with an optional
/// prefix length. The pattern admits only what `domain::Networks` reads (IPv4-mapped and
/// embedded-IPv4 forms, which it also reads, are left out of the pattern).
#[derive(ToSchema)]
#[schema(value_type = String, pattern = r"^(((25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])\.){3}(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])(/(3[0-2]|[12]?[0-9]))?|(([0-9a-fA-F]{1,4}:){7}[0-9a-fA-F]{1,4}|([0-9a-fA-F]{1,4}:){1,7}:|([0-9a-fA-F]{1,4}:){1,6}:[0-9a-fA-F]{1,4}|([0-9a-fA-F]{1,4}:){1,5}(:[0-9a-fA-F]{1,4}){1,2}|([0-9a-fA-F]{1,4}:){1,4}(:[0-9a-fA-F]{1,4}){1,3}|([0-9a-fA-F]{1,4}:){1,3}(:[0-9a-fA-F]{1,4}){1,4}|([0-9a-fA-F]{1,4}:){1,2}(:[0-9a-fA-F]{1,4}){1,5}|[0-9a-fA-F]{1,4}:(:[0-9a-fA-F]{1,4}){1,6}|:((:[0-9a-fA-F]{1,4}){1,7}|:))(/(12[0-8]|1[01][0-9]|[1-9]?[0-9]))?)$")]
#[allow(dead_code)]
pub(crate) struct AddressRange(String);

/// The rotate request.
#[derive(Deserialize, ToSchema, Default)]
#[serde(rename_all = "camelCase")]
#[schema(as = RotateApiKeyRequest)]
struct RotateRequest {
    /// How long the old value keeps working, in seconds: 0 (the default) to 2592000 (30
    /// days); never past the key's expiry.
    #[schema(minimum = 0, maximum = 2592000)]
    #[serde(default, deserialize_with = "integral")]
    overlap_seconds: Option<i64>,
}

/// The user's keys in every tenant, oldest first; `apiKey` follows the reveal policy.
#[utoipa::path(
    get,
    path = "/api/admin/1/users/me/keys",
    tag = "Admin Users",
    security(("token" = [])),
    responses(
        (status = 200, description = "The keys", body = Vec<UserTenantApiKey>),
        Forbidden, AuthErrors,
    )
)]
async fn list(
    State(state): State<AppState>,
    Interactive(principal, _): Interactive,
) -> Result<Json<Vec<UserTenantApiKey>>, ApiError> {
    let keys =
        key_management::list(&state.keys(), principal.user_id, principal.signed_in_at()).await?;
    Ok(Json(keys.into_iter().map(UserTenantApiKey::from).collect()))
}

/// A new key for one of the user's tenants; `apiKey` holds its value.
#[utoipa::path(
    post,
    path = "/api/admin/1/users/me/keys",
    tag = "Admin Users",
    security(("token" = [])),
    request_body = NewKeyRequest,
    responses(
        (status = 200, description = "The new key, with its value", body = UserTenantApiKey),
        Forbidden, Conflict, BodyErrors, AuthErrors,
    )
)]
async fn create(
    State(state): State<AppState>,
    Interactive(principal, _): Interactive,
    JsonBody(request): JsonBody<NewKeyRequest>,
) -> Result<Json<UserTenantApiKey>, ApiError> {
    let name = KeyName::parse(request.name.as_deref().unwrap_or("")).map_err(ApiError::invalid)?;
    // Without `tenantId` the key is for the tenant `manywhotenant` named, as clients that
    // send the header on every call expect; with neither, there is no tenant to choose.
    let tenant = match request.tenant_id.as_deref() {
        Some(text) => TenantId::parse(text).map_err(ApiError::invalid)?,
        None => header_tenant(&principal).ok_or_else(|| {
            ApiError::Unprocessable(
                "tenantId is required (or name the tenant in the manywhotenant header)".into(),
            )
        })?,
    };
    // Blank reads as absent (never), as tools that send every field empty mean it.
    let expires_at = request
        .expires_at
        .as_deref()
        .map(str::trim)
        .filter(|text| !text.is_empty())
        .map(|text| {
            Timestamp::parse(text.trim()).map_err(|error| {
                ApiError::Unprocessable(format!("invalid field: expiresAt: {}", error.0))
            })
        })
        .transpose()?;
    let scopes = request.scopes.unwrap_or_default();
    let scopes = Scopes::parse(scopes.iter().map(String::as_str)).map_err(ApiError::invalid)?;
    let networks = request.allowed_networks.unwrap_or_default();
    let networks =
        Networks::parse_limited(networks.iter().map(String::as_str)).map_err(ApiError::invalid)?;
    let rate_limit = request
        .rate_limit
        .map(|limit| limit.parse("rateLimit"))
        .transpose()?;
    let view = key_management::create(
        &state.keys(),
        principal.user_id,
        principal.signed_in_at(),
        tenant,
        name,
        key_management::KeySettings {
            expires_at,
            scopes,
            allowed_networks: networks,
            rate_limit,
        },
    )
    .await?;
    Ok(Json(view.into()))
}

/// A new value for a key, under the same name and settings, shown once; the old value keeps
/// working for `overlapSeconds`, then answers 401 saying it was rotated (keyflow's extension).
#[utoipa::path(
    post,
    path = "/api/admin/1/users/me/keys/{name}/rotate",
    tag = "Admin Users",
    params(("name" = String, Path, description = "The key's name")),
    security(("token" = [])),
    request_body = RotateRequest,
    responses(
        (status = 200, description = "The key, with its new value", body = UserTenantApiKey),
        Forbidden, NotFound, Conflict, BodyErrors, AuthErrors,
    )
)]
async fn rotate(
    State(state): State<AppState>,
    Interactive(principal, _): Interactive,
    Segment(name): Segment,
    OptionalJsonBody(request): OptionalJsonBody<RotateRequest>,
) -> Result<Json<UserTenantApiKey>, ApiError> {
    let overlap = overlap(request.unwrap_or_default().overlap_seconds)?;
    let view = key_management::rotate(
        &state.keys(),
        principal.user_id,
        principal.signed_in_at(),
        &name,
        header_tenant(&principal),
        overlap,
    )
    .await?;
    Ok(Json(view.into()))
}

/// `overlapSeconds`, 0 when absent; out of 0..=30 days is a 422.
fn overlap(seconds: Option<i64>) -> Result<std::time::Duration, ApiError> {
    let seconds = seconds.unwrap_or(0);
    u64::try_from(seconds)
        .ok()
        .filter(|seconds| *seconds <= key_management::MAX_ROTATION_OVERLAP_SECONDS)
        .map(std::time::Duration::from_secs)
        .ok_or_else(|| {
            ApiError::Unprocessable(format!(
                "invalid field: overlapSeconds must be from 0 to {} (30 days); {seconds} is not",
                key_management::MAX_ROTATION_OVERLAP_SECONDS
            ))
        })
}

/// A key's value, recorded in the audit log (keyflow's extension: Boomi lists values instead).
#[utoipa::path(
    post,
    path = "/api/admin/1/users/me/keys/{name}/reveal",
    tag = "Admin Users",
    params(("name" = String, Path, description = "The key's name")),
    security(("token" = [])),
    responses(
        (status = 200, description = "The key, with its value", body = UserTenantApiKey),
        Forbidden, NotFound, Conflict, AuthErrors,
    )
)]
async fn reveal(
    State(state): State<AppState>,
    Interactive(principal, _): Interactive,
    Segment(name): Segment,
) -> Result<Json<UserTenantApiKey>, ApiError> {
    let tenant = header_tenant(&principal);
    let view = key_management::reveal(
        &state.keys(),
        principal.user_id,
        principal.signed_in_at(),
        &name,
        tenant,
    )
    .await?;
    Ok(Json(view.into()))
}

/// Deletes a key; it fails on the very next request.
#[utoipa::path(
    delete,
    path = "/api/admin/1/users/me/keys/{name}",
    tag = "Admin Users",
    params(("name" = String, Path, description = "The key's name")),
    security(("token" = [])),
    responses(
        (status = 200, description = "Deleted"),
        Forbidden, NotFound, Conflict, AuthErrors,
    )
)]
async fn remove(
    State(state): State<AppState>,
    Interactive(principal, _): Interactive,
    Segment(name): Segment,
) -> Result<(), ApiError> {
    key_management::delete(
        &state.keys(),
        principal.user_id,
        principal.signed_in_at(),
        &name,
        header_tenant(&principal),
    )
    .await?;
    Ok(())
}

/// The tenant `manywhotenant` named, if it did: it picks among same-named keys.
fn header_tenant(principal: &Principal) -> Option<TenantId> {
    principal.tenant_from_header.then_some(principal.tenant_id)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Scope;
    use utoipa::PartialSchema;

    /// JSON Schema's `integer` admits `840.0`: a rate limit written so is read as 840; a
    /// fraction is refused.
    #[test]
    fn a_rate_limit_may_be_written_with_a_zero_fraction() {
        let read: RateLimitWire =
            serde_json::from_value(serde_json::json!({"requestsPerSecond": 840.0, "burst": 2}))
                .unwrap();
        assert_eq!((read.requests_per_second, read.burst), (840, 2));
        let half = serde_json::json!({"requestsPerSecond": 840.5, "burst": 2});
        assert!(serde_json::from_value::<RateLimitWire>(half).is_err());
    }

    /// The description's list of scopes is the list keyflow reads.
    #[test]
    fn the_described_scope_names_are_the_scopes() {
        let schema = serde_json::to_value(ScopeName::schema()).unwrap();
        let described: Vec<&str> = schema["enum"]
            .as_array()
            .expect("an enum of names")
            .iter()
            .map(|name| name.as_str().unwrap())
            .collect();
        let read: Vec<&str> = Scope::ALL.iter().map(|scope| scope.name()).collect();
        assert_eq!(described, read);
    }
}
