//! The settings objects of Boomi's tenant shapes (`TenantResponseAPI`, `UserTenantAPI`):
//! always objects, never null. keyflow keeps a tenant's `tenantSettings`
//! (`TenantSettingsAPI`) as the administrator set them, unknown fields included, and answers
//! them over their defaults, so every field of the description is there; the other settings
//! (security, state, observability, external storage, a member's own) are keyflow's fixed
//! answer, what an unconfigured Boomi tenant has.

use serde_json::{Map, Value, json};

use crate::api::keys::RateLimitWire;
use crate::http::error::ApiError;
use crate::rules::keys::RateLimit;
use crate::store::Tenant;

/// keyflow's extension of `TenantSettingsAPI`: the default and upper bound of the tenant's
/// keys' rate limits, kept in the tenant's own columns rather than in the settings' text.
const KEY_RATE_LIMIT: &str = "apiKeyRateLimit";

/// The fields of `TenantSettingsAPI` that are booleans.
const FLAGS: [&str; 5] = [
    "disableServiceInvokerLogging",
    "formatValues",
    "useRegionalRedirectUris",
    "environments",
    "themes",
];

/// `TenantSettingsAPI` as it is when nothing is set.
fn tenant_defaults() -> Map<String, Value> {
    let mut defaults: Map<String, Value> = FLAGS
        .iter()
        .map(|flag| (flag.to_string(), Value::Bool(false)))
        .collect();
    defaults.insert("releaseCycle".into(), json!(0));
    defaults.insert("integrationAccounts".into(), Value::Null);
    defaults
}

/// The tenant's `tenantSettings`: what was stored over the defaults. Stored text that does
/// not parse (it cannot: only [`accepted`] writes it) answers the defaults.
pub(crate) fn answered(stored: Option<&str>) -> Value {
    let mut settings = tenant_defaults();
    if let Some(Ok(Value::Object(kept))) = stored.map(serde_json::from_str::<Value>) {
        settings.extend(kept);
    }
    Value::Object(settings)
}

/// The `tenantSettings` of a request, checked, as the JSON text to store: an object whose
/// known fields have the description's types (a null one is left out, so its default
/// answers); unknown fields are kept as sent. Anything else is a 422.
pub(crate) fn accepted(sent: Value) -> Result<String, ApiError> {
    let wrong = |field: &str, wanted: &str| {
        ApiError::Unprocessable(format!(
            "invalid field: tenantSettings.{field} must be {wanted}"
        ))
    };
    let Value::Object(mut settings) = sent else {
        return Err(ApiError::Unprocessable(
            "invalid field: tenantSettings must be an object".into(),
        ));
    };
    settings.retain(|name, value| !(value.is_null() && name != "integrationAccounts"));
    for flag in FLAGS {
        if settings.get(flag).is_some_and(|value| !value.is_boolean()) {
            return Err(wrong(flag, "true or false"));
        }
    }
    if let Some(cycle) = settings.get("releaseCycle")
        && !matches!(cycle.as_u64(), Some(0 | 1))
    {
        return Err(wrong("releaseCycle", "0 or 1"));
    }
    if let Some(accounts) = settings.get("integrationAccounts")
        && !(accounts.is_null() || accounts.is_array())
    {
        return Err(wrong("integrationAccounts", "an array or null"));
    }
    serde_json::to_string(&settings).map_err(|error| ApiError::Internal(error.into()))
}

/// keyflow's extension of `TenantSettingsAPI`: the tenant's maximum key lifetime in days
/// (stored in its own column, not in the settings' text); null when there is none.
pub(crate) const MAX_KEY_LIFETIME: &str = "maxApiKeyLifetimeDays";

use crate::rules::keys::MAX_KEY_LIFETIME_DAYS;

/// Adds the tenant's maximum key lifetime to its answered `tenantSettings`.
pub(crate) fn with_key_lifetime(mut settings: Value, seconds: Option<i64>) -> Value {
    if let Value::Object(fields) = &mut settings {
        let days = seconds.map(|seconds| seconds / crate::rules::keys::DAY_SECONDS);
        fields.insert(MAX_KEY_LIFETIME.into(), json!(days));
    }
    settings
}

/// The tenant's `tenantSettings` as [`answered`], with its keys' rate limit
/// (`apiKeyRateLimit`: `{requestsPerSecond, burst}`, or null for the server's default).
pub(crate) fn answered_for(tenant: &Tenant) -> Value {
    let mut settings = with_key_lifetime(
        answered(tenant.settings.as_deref()),
        tenant.max_key_lifetime_seconds,
    );
    let limit = RateLimit::from_columns(tenant.key_rate_per_second, tenant.key_rate_burst)
        .map(|limit| json!(RateLimitWire::from(limit)));
    if let Value::Object(fields) = &mut settings {
        fields.insert(KEY_RATE_LIMIT.into(), limit.unwrap_or(Value::Null));
    }
    settings
}

/// What a request's `tenantSettings` says of the maximum key lifetime, taken out of it (it is
/// not kept in the settings' text): `None` when absent (left as it is), `Some(None)` for null
/// or 0 (no maximum), `Some(Some(days))` for 1 to 3650 days; anything else is a 422.
pub(crate) fn take_key_lifetime(sent: &mut Value) -> Result<Option<Option<i64>>, ApiError> {
    let Some(value) = sent
        .as_object_mut()
        .and_then(|s| s.remove(MAX_KEY_LIFETIME))
    else {
        return Ok(None);
    };
    if value.is_null() {
        return Ok(Some(None));
    }
    match value.as_i64() {
        Some(0) => Ok(Some(None)),
        Some(days @ 1..=MAX_KEY_LIFETIME_DAYS) => Ok(Some(Some(days))),
        _ => Err(ApiError::Unprocessable(format!(
            "invalid field: tenantSettings.{MAX_KEY_LIFETIME} must be a whole number of days \
             from 1 to {MAX_KEY_LIFETIME_DAYS}, or 0 or null for no maximum"
        ))),
    }
}

/// Takes `apiKeyRateLimit` out of the `tenantSettings` of a request (it is not kept with the
/// other settings): `None` when absent (the limit stays as it is), `Some(None)` when null
/// (back to the server's default), else the limit, within 1 to 1000000 each, else a 422.
pub(crate) fn take_key_rate_limit(sent: &mut Value) -> Result<Option<Option<RateLimit>>, ApiError> {
    let Some(value) = sent.as_object_mut().and_then(|s| s.remove(KEY_RATE_LIMIT)) else {
        return Ok(None);
    };
    if value.is_null() {
        return Ok(Some(None));
    }
    let field = "tenantSettings.apiKeyRateLimit";
    let wire: RateLimitWire = serde_json::from_value(value).map_err(|_| {
        ApiError::Unprocessable(format!(
            "invalid field: {field} must be {{\"requestsPerSecond\": n, \"burst\": n}} or null"
        ))
    })?;
    Ok(Some(Some(wire.parse(field)?)))
}

/// `SecuritySettingsAPI` of a tenant keyflow restricts nothing for.
pub(crate) fn security() -> Value {
    json!({
        "isAdminRestrictedByIPRange": false,
        "isPackagingRestrictedByIPRange": false,
        "isDrawRestrictedByIPRange": false,
        "isRunRestrictedByIPRange": false,
        "authorizedAdminIPRanges": null,
        "authorizedPackagingIPRanges": null,
        "authorizedDrawIPRanges": null,
        "authorizedRunIPRanges": null,
        "isSamlEnabled": false,
        "samlSettings": null,
    })
}

/// `StateSettingsAPI`: no state reporting.
pub(crate) fn state() -> Value {
    json!({
        "endpoint": null,
        "authentication": null,
        "username": null,
        "password": null,
        "tokenEndpoint": null,
    })
}

/// `ObservabilitySettingsAPI`: no export.
pub(crate) fn observability() -> Value {
    json!({
        "otlpEndpoint": null,
        "otlpProtocol": null,
        "otlpHeaders": null,
        "otlpSensitiveDataLogging": null,
    })
}

/// `ExternalStorageSettingsAPI`: none.
pub(crate) fn external_storage() -> Value {
    json!({ "enableReplication": false, "enableStates": false, "globalStoreId": null })
}

/// `UserTenantSettingsAPI` of a member: keyflow sends no notifications and has no SSO.
pub(crate) fn member() -> Value {
    json!({ "notifications": null, "enabledSSO": false, "apiKeys": null })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_is_kept_answers_over_the_defaults_with_unknown_fields() {
        let kept = accepted(
            json!({"themes": true, "releaseCycle": 1, "formatValues": null,
            "future": {"x": 1}}),
        )
        .unwrap();
        let answer = answered(Some(&kept));
        assert_eq!(answer["themes"], true);
        assert_eq!(answer["releaseCycle"], 1);
        assert_eq!(answer["formatValues"], false);
        assert_eq!(answer["future"], json!({"x": 1}));
        assert_eq!(answered(None), Value::Object(tenant_defaults()));
    }

    #[test]
    fn the_key_rate_limit_is_taken_out_of_the_sent_settings() {
        let mut sent =
            json!({"themes": true, "apiKeyRateLimit": {"requestsPerSecond": 5, "burst": 9}});
        let taken = take_key_rate_limit(&mut sent).unwrap();
        assert_eq!(
            taken,
            Some(Some(RateLimit {
                per_second: 5,
                burst: 9
            }))
        );
        assert_eq!(sent, json!({"themes": true}));
        let mut cleared = json!({"apiKeyRateLimit": null});
        assert_eq!(take_key_rate_limit(&mut cleared).unwrap(), Some(None));
        assert_eq!(take_key_rate_limit(&mut json!({})).unwrap(), None);
        for wrong in [
            json!({"apiKeyRateLimit": 5}),
            json!({"apiKeyRateLimit": {"requestsPerSecond": 0, "burst": 1}}),
            json!({"apiKeyRateLimit": {"requestsPerSecond": 1}}),
            json!({"apiKeyRateLimit": {"requestsPerSecond": 1, "burst": 2_000_000}}),
        ] {
            let mut wrong = wrong;
            assert!(matches!(
                take_key_rate_limit(&mut wrong),
                Err(ApiError::Unprocessable(_))
            ));
        }
    }

    #[test]
    fn a_known_field_of_the_wrong_type_or_a_non_object_is_unprocessable() {
        for wrong in [
            json!([]),
            json!("x"),
            json!({"themes": "yes"}),
            json!({"releaseCycle": 7}),
            json!({"integrationAccounts": {}}),
        ] {
            assert!(matches!(accepted(wrong), Err(ApiError::Unprocessable(_))));
        }
    }
}
