//! The User Settings page's key actions, each through `rules::keys` like the API's:
//! Generate Key (with its expiry), Rotate, Delete (with its confirmation), and the Show/Copy
//! call of the page's script,
//! which answers `UserTenantAPIKey` as JSON — a POST, so a value never travels in a URL.

use std::collections::HashMap;

use askama::Template;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;

use crate::api::keys::UserTenantApiKey;
use std::time::Duration;

use crate::domain::{Invalid, KeyName, Networks, Scopes, TenantId, Timestamp};
use crate::http::error::ApiError;
use crate::rules::keys as key_management;
use crate::state::AppState;
use crate::web::form::CsrfForm;
use crate::web::page::{Chrome, WebError, render, sentence};
use crate::web::session::SignedIn;
use crate::web::settings::{CreatedKey, KeyForm, Outcome, readable, render_settings};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/settings/keys", post(generate))
        .route("/settings/keys/delete", get(confirm).post(delete))
        .route("/settings/keys/reveal", post(reveal))
        .route("/settings/keys/rotate", post(rotate))
}

/// The overlaps the Rotate form offers, in seconds: none, 1 hour, 1 day, 7 days.
const OVERLAPS: [u64; 4] = [0, 60 * 60, 24 * 60 * 60, 7 * 24 * 60 * 60];

/// The Rotate form of a key's row.
#[derive(Deserialize)]
struct RotateForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    tenant: String,
    #[serde(default)]
    overlap: String,
}

/// The Generate a new API key form.
#[derive(Deserialize)]
struct GenerateForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    tenant: String,
    /// `never`, `7`, `30`, `90`, `max` or `date`.
    #[serde(default)]
    expires: String,
    /// The date (`YYYY-MM-DD`) when `expires` is `date`: the key stops at its start, UTC.
    #[serde(default)]
    expires_on: String,
    /// Allowed networks, separated by commas or new lines.
    #[serde(default)]
    networks: String,
    /// The key's own rate limit: requests a second and burst, both or neither (the tenant's
    /// default).
    #[serde(default)]
    rate_per_second: String,
    #[serde(default)]
    rate_burst: String,
    /// The rest: the checked scopes' boxes are named `scope:<scope>` (a form sends a checked
    /// box only), and the CSRF token.
    #[serde(flatten)]
    fields: HashMap<String, String>,
}

impl GenerateForm {
    /// The scopes checked, in [`Scope::ALL`]'s order; a box for no scope is refused.
    fn scopes(&self) -> Result<Scopes, Invalid> {
        Scopes::parse(
            self.fields
                .keys()
                .filter_map(|field| field.strip_prefix("scope:")),
        )
    }
}

/// The rate limit the form's two fields give: none when both are empty, else both whole
/// numbers from 1 to [`key_management::MAX_RATE`]. The rules then check it against the tenant.
fn rate_limit(per_second: &str, burst: &str) -> Result<Option<key_management::RateLimit>, String> {
    let max = key_management::MAX_RATE;
    let figure = |text: &str| {
        text.parse::<u32>()
            .ok()
            .filter(|n| (1..=max).contains(n))
            .ok_or_else(|| {
                format!(
                    "The requests a second and the burst must each be a whole number from 1 \
                     to {max}."
                )
            })
    };
    match (per_second.trim(), burst.trim()) {
        ("", "") => Ok(None),
        ("", _) | (_, "") => Err(
            "Give both the requests a second and the burst, or leave both empty for the \
             tenant’s default."
                .to_string(),
        ),
        (per_second, burst) => Ok(Some(key_management::RateLimit {
            per_second: figure(per_second)?,
            burst: figure(burst)?,
        })),
    }
}

/// One key, named as the table names it: by name and tenant.
#[derive(Deserialize)]
struct KeyRef {
    #[serde(default)]
    name: String,
    #[serde(default)]
    tenant: String,
}

#[derive(Template)]
#[template(path = "confirm_delete.html")]
struct ConfirmPage {
    page: Chrome,
    csrf: String,
    name: String,
    tenant_id: String,
    tenant_name: String,
}

async fn generate(
    State(state): State<AppState>,
    CsrfForm { session, form }: CsrfForm<GenerateForm>,
) -> Result<Response, WebError> {
    // A box for no scope is not something the page sends: the form's, not the user's, fault.
    let scopes = form
        .scopes()
        .map_err(|error| WebError::bad_request(error.0))?;
    let mut key_form = KeyForm {
        name: form.name.clone(),
        tenant: form.tenant.clone(),
        expires: form.expires.clone(),
        expires_on: form.expires_on.clone(),
        scopes: scopes.names().collect(),
        networks: form.networks.clone(),
        rate_per_second: form.rate_per_second.clone(),
        rate_burst: form.rate_burst.clone(),
        ..KeyForm::default()
    };
    let name = KeyName::parse(&form.name);
    let tenant = TenantId::parse(&form.tenant);
    let networks = Networks::parse_limited(Networks::split(&form.networks));
    let rate_limit = rate_limit(&form.rate_per_second, &form.rate_burst);
    let (name, tenant, networks, rate_limit) = match (name, tenant, networks, rate_limit) {
        (Ok(name), Ok(tenant), Ok(networks), Ok(rate_limit)) => {
            (name, tenant, networks, rate_limit)
        }
        (name, tenant, networks, rate_limit) => {
            key_form.name_error = name.err().map(|e| sentence(&e.0));
            key_form.tenant_error = tenant.err().map(|_| "Choose one of your tenants.".into());
            key_form.networks_error = networks.err().map(|e| sentence(&e.0));
            key_form.rate_error = rate_limit.err();
            return refused(&state, &session, key_form, StatusCode::UNPROCESSABLE_ENTITY).await;
        }
    };
    let expires_at = match expiry(&state, tenant, &form.expires, &form.expires_on).await {
        Ok(at) => at,
        Err(message) => {
            key_form.expires_error = Some(message);
            return refused(&state, &session, key_form, StatusCode::UNPROCESSABLE_ENTITY).await;
        }
    };
    let created = key_management::create(
        &state.keys(),
        session.user.id,
        session.reach(),
        tenant,
        name,
        key_management::KeySettings {
            expires_at,
            scopes,
            allowed_networks: networks,
            rate_limit,
        },
    )
    .await;
    match created.map_err(ApiError::from) {
        Ok(view) => {
            let outcome = Outcome {
                created: Some(CreatedKey {
                    name: view.name,
                    tenant_name: view.tenant_name,
                    value: view.value.unwrap_or_default(),
                    rotated_old_until: None,
                }),
                ..Outcome::default()
            };
            render_settings(&state, &session, outcome, StatusCode::OK).await
        }
        Err(error @ ApiError::Conflict(_)) => {
            key_form.name_error = Some(sentence(&error.client_message()));
            refused(&state, &session, key_form, error.status()).await
        }
        Err(error @ ApiError::Forbidden(_)) => {
            key_form.tenant_error = Some(sentence(&error.client_message()));
            refused(&state, &session, key_form, error.status()).await
        }
        Err(error @ ApiError::Unprocessable(_)) => {
            // The rules refuse a limit above the tenant's bound, or an expiry past its maximum.
            let message = error.client_message();
            match message.strip_prefix("invalid field: rateLimit ") {
                Some(rest) => {
                    key_form.rate_error = Some(sentence(&format!("the rate limit {rest}")))
                }
                None => key_form.expires_error = Some(sentence(&message)),
            }
            refused(&state, &session, key_form, error.status()).await
        }
        Err(other) => Err(other.into()),
    }
}

/// The moment the form's expiry choice names; the rules then check it against the tenant.
async fn expiry(
    state: &AppState,
    tenant: TenantId,
    choice: &str,
    date: &str,
) -> Result<Option<Timestamp>, String> {
    let now = Timestamp::now();
    let days = |days: u64| Some(now.plus(Duration::from_secs(days * 24 * 60 * 60)));
    match choice {
        "" | "never" => Ok(None),
        "7" => Ok(days(7)),
        "30" => Ok(days(30)),
        "90" => Ok(days(90)),
        "max" => {
            let maximum = state
                .store
                .tenant(tenant)
                .await
                .map_err(|_| "The tenant could not be read; try again.".to_string())?
                .and_then(|tenant| tenant.max_key_lifetime_seconds);
            Ok(maximum.map(|seconds| now.plus(Duration::from_secs(seconds.unsigned_abs()))))
        }
        "date" => Timestamp::parse(&format!("{}T00:00:00Z", date.trim()))
            .map(Some)
            .map_err(|_| "Choose the date the key expires on.".to_string()),
        _ => Err("Choose when the key expires.".to_string()),
    }
}

/// Rotate: a new value under the same name and settings, shown once on the page with Copy.
async fn rotate(
    State(state): State<AppState>,
    CsrfForm { session, form }: CsrfForm<RotateForm>,
) -> Result<Response, WebError> {
    let tenant = tenant(&form.tenant)?;
    let overlap = form
        .overlap
        .trim()
        .parse::<u64>()
        .ok()
        .filter(|seconds| OVERLAPS.contains(seconds))
        .ok_or_else(|| WebError::bad_request("Choose how long the old value keeps working."))?;
    let view = key_management::rotate(
        &state.keys(),
        session.user.id,
        session.reach(),
        &form.name,
        Some(tenant),
        Duration::from_secs(overlap),
    )
    .await?;
    let old_until = view
        .rotated_at
        .unwrap_or_else(Timestamp::now)
        .plus(Duration::from_secs(overlap));
    let outcome = Outcome {
        created: Some(CreatedKey {
            name: view.name,
            tenant_name: view.tenant_name,
            value: view.value.unwrap_or_default(),
            rotated_old_until: Some(if overlap == 0 {
                "now".into()
            } else {
                readable(old_until)
            }),
        }),
        ..Outcome::default()
    };
    render_settings(&state, &session, outcome, StatusCode::OK).await
}

/// The page again, the form keeping what was typed, with its errors beside the fields.
async fn refused(
    state: &AppState,
    session: &SignedIn,
    key_form: KeyForm,
    status: StatusCode,
) -> Result<Response, WebError> {
    let outcome = Outcome {
        key_form,
        ..Outcome::default()
    };
    render_settings(state, session, outcome, status).await
}

/// The confirmation as a page of its own, for a browser that runs no script.
async fn confirm(
    State(state): State<AppState>,
    session: SignedIn,
    Query(key): Query<KeyRef>,
) -> Result<Response, WebError> {
    let tenant = tenant(&key.tenant)?;
    let listed = key_management::list(&state.keys(), session.user.id, session.reach()).await?;
    let view = listed
        .into_iter()
        .find(|view| view.name == key.name && view.tenant_id == tenant)
        .ok_or_else(|| ApiError::NotFound(format!("you have no key named '{}'", key.name)))?;
    let page = ConfirmPage {
        page: Chrome::new("Remove key", "settings", Some(session.nav())),
        csrf: session.csrf.clone(),
        name: view.name,
        tenant_id: view.tenant_id.to_string(),
        tenant_name: view.tenant_name,
    };
    Ok(render(StatusCode::OK, &page))
}

async fn delete(
    State(state): State<AppState>,
    CsrfForm { session, form }: CsrfForm<KeyRef>,
) -> Result<Response, WebError> {
    let tenant = tenant(&form.tenant)?;
    key_management::delete(
        &state.keys(),
        session.user.id,
        session.reach(),
        &form.name,
        Some(tenant),
    )
    .await?;
    let outcome = Outcome {
        notice: Some(format!("The API key “{}” was deleted.", form.name.trim())),
        ..Outcome::default()
    };
    render_settings(&state, &session, outcome, StatusCode::OK).await
}

/// Show and Copy: the key's value, as the reveal policy allows, audited.
async fn reveal(
    State(state): State<AppState>,
    CsrfForm { session, form }: CsrfForm<KeyRef>,
) -> Result<Json<UserTenantApiKey>, WebError> {
    let tenant = tenant(&form.tenant).map_err(|_| {
        WebError::Script(ApiError::BadRequest("the tenant is not a tenant id".into()))
    })?;
    key_management::reveal(
        &state.keys(),
        session.user.id,
        session.reach(),
        &form.name,
        Some(tenant),
    )
    .await
    .map(|view| Json(view.into()))
    .map_err(|error| WebError::Script(error.into()))
}

fn tenant(text: &str) -> Result<TenantId, WebError> {
    TenantId::parse(text).map_err(|error| WebError::bad_request(error.0))
}
