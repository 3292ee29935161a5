//! `GET /settings`, the User Settings page: the profile (name, user id, email, password
//! change) and the API keys (the Generate a new API key form and the API keys table). The
//! forms that post to it (keys.rs, password.rs) render it again through [`render_settings`].

use askama::Template;
use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;

use crate::auth::api_key::ApiKey;
use crate::config::RevealPolicy;
use crate::domain::{KeyName, Networks, Password, Scope, Timestamp};
use crate::rules::access;
use crate::rules::audit;
use crate::rules::keys::{self as key_management, KeyView};
use crate::rules::leaks;
use crate::state::AppState;
use crate::store::AuditRecord;
use crate::web::page::{Chrome, WebError, full_name, query_encode, render};
use crate::web::session::SignedIn;

pub fn router() -> Router<AppState> {
    Router::new().route("/settings", get(show))
}

/// What the Generate a new API key form shows: what was typed, and what was wrong with it.
#[derive(Default)]
pub struct KeyForm {
    pub name: String,
    pub tenant: String,
    pub name_error: Option<String>,
    pub tenant_error: Option<String>,
    /// The expiry chosen: `never`, `7`, `30`, `90` (days), `max` (the tenant's maximum) or
    /// `date` (then `expires_on`); empty: the page's default.
    pub expires: String,
    pub expires_on: String,
    pub expires_error: Option<String>,
    /// The scopes checked.
    pub scopes: Vec<&'static str>,
    /// The allowed networks as typed.
    pub networks: String,
    pub networks_error: Option<String>,
    /// The rate limit as typed: requests a second and burst, both empty for the tenant's
    /// default.
    pub rate_per_second: String,
    pub rate_burst: String,
    pub rate_error: Option<String>,
}

/// A key just generated: its value is on this page and nowhere else.
pub struct CreatedKey {
    pub name: String,
    pub tenant_name: String,
    pub value: String,
    /// For a rotation: until when the old value keeps working (`None`: a new key).
    pub rotated_old_until: Option<String>,
}

/// What the password change form shows after a try.
#[derive(Default)]
pub struct PasswordForm {
    pub current_error: Option<String>,
    pub new_error: Option<String>,
    pub confirm_error: Option<String>,
    pub done: bool,
}

/// What a form's handler has to say on the page it renders.
#[derive(Default)]
pub struct Outcome {
    pub key_form: KeyForm,
    pub created: Option<CreatedKey>,
    /// A sentence for the status area ("The key … was deleted.").
    pub notice: Option<String>,
    pub password: PasswordForm,
}

pub struct TenantOption {
    pub id: String,
    pub name: String,
    /// The tenant's maximum key lifetime, in days.
    pub max_days: Option<i64>,
}

/// One row of the API keys table.
pub struct KeyRow {
    pub index: usize,
    pub name: String,
    pub tenant_name: String,
    pub tenant_id: String,
    pub created_iso: String,
    pub created_text: String,
    /// The value, under the `list` policy only (shown by Show without another call).
    pub value: Option<String>,
    /// `kf_…abcd`, to tell keys apart while they are hidden.
    pub preview: Option<String>,
    pub delete_href: String,
    pub expires_iso: Option<String>,
    /// `Never`, or the moment in words.
    pub expires_text: String,
    /// Whether it expires within 7 days: the row says so in words.
    pub expires_soon: bool,
    /// The key's scopes (empty: not narrowed).
    pub scopes: Vec<&'static str>,
    /// The key's allowed networks (empty: anywhere).
    pub networks: Vec<String>,
    /// When it was last used (machine and human forms) and from which address.
    pub last_used: Option<(String, String, String)>,
    /// Its own rate limit, as text (`100/s, burst 200`); `None`: the tenant's default.
    pub rate_limit: Option<String>,
}

/// How near an expiry the page marks a key: 7 days.
const SOON: std::time::Duration = std::time::Duration::from_secs(7 * 24 * 60 * 60);

#[derive(Template)]
#[template(path = "settings.html")]
struct SettingsPage {
    page: Chrome,
    csrf: String,
    full_name: Option<String>,
    user_id: String,
    email: String,
    tenants: Vec<TenantOption>,
    key_name_max: usize,
    password_min: usize,
    policy: &'static str,
    keys: Vec<KeyRow>,
    outcome: Outcome,
    /// Whether any of the tenants sets a maximum key lifetime (the form offers it).
    has_maximum: bool,
    /// Every scope, for the form's checkboxes.
    all_scopes: Vec<&'static str>,
    networks_max: usize,
    /// The most requests a second, or burst, a key's rate limit may have.
    rate_max: u32,
    /// "Your key 'ci' (kf_…wxyz) was reported leaked at … on … and revoked."
    leaks: Vec<String>,
    /// The user's last key events, newest first, one readable line each.
    activity: Vec<String>,
}

/// How many key events "Recent activity" lists.
const RECENT_EVENTS: u32 = 20;

async fn show(State(state): State<AppState>, session: SignedIn) -> Result<Response, WebError> {
    render_settings(&state, &session, Outcome::default(), StatusCode::OK).await
}

/// The User Settings page for the signed-in user, as a form's outcome leaves it.
pub async fn render_settings(
    state: &AppState,
    session: &SignedIn,
    outcome: Outcome,
    status: StatusCode,
) -> Result<Response, WebError> {
    let user = &session.user;
    let tenants = access::tenants(&*state.store, user.id, session.reach())
        .await?
        .into_iter()
        .map(|membership| TenantOption {
            id: membership.tenant.id.to_string(),
            name: membership.tenant.name,
            max_days: membership
                .tenant
                .max_key_lifetime_seconds
                .map(|seconds| seconds / key_management::DAY_SECONDS),
        })
        .collect::<Vec<_>>();
    // With a maximum in any tenant, the form's default is that maximum (never is refused
    // there); else never.
    let mut outcome = outcome;
    if outcome.key_form.expires.is_empty() {
        let any_maximum = tenants.iter().any(|tenant| tenant.max_days.is_some());
        outcome.key_form.expires = if any_maximum { "max" } else { "never" }.into();
    }
    let has_maximum = tenants.iter().any(|tenant| tenant.max_days.is_some());
    let keys = key_management::list(&state.keys(), user.id, session.reach())
        .await?
        .into_iter()
        .enumerate()
        .map(|(index, view)| key_row(index, view, state.config.key_reveal, Timestamp::now()))
        .collect();
    // Only what the session reaches: a tenant joined after this sign-in stays out of it.
    let reached = access::tenant_ids(&*state.store, user.id, session.reach()).await?;
    let leaks = leaks::notices(&*state.store, user.id)
        .await?
        .into_iter()
        .filter(|leak| reached.contains(&leak.tenant_id))
        .map(|leak| {
            let place = leak.url.map(|url| format!(" at {url}")).unwrap_or_default();
            format!(
                "Your key '{}' ({}) was reported leaked{place} on {} and revoked.",
                leak.key_name,
                leak.preview,
                readable(leak.at)
            )
        })
        .collect();
    let activity = audit::recent_key_events(&*state.store, user.id, RECENT_EVENTS)
        .await?
        .events
        .into_iter()
        .filter(|event| {
            event
                .tenant_id
                .is_some_and(|tenant| reached.contains(&tenant))
        })
        .map(activity_line)
        .collect();
    let page = SettingsPage {
        page: Chrome::new("User Settings", "settings", Some(session.nav())),
        csrf: session.csrf.clone(),
        full_name: full_name(user.first_name.as_deref(), user.last_name.as_deref()),
        user_id: user.id.to_string(),
        email: user.email.clone(),
        tenants,
        key_name_max: KeyName::MAX_CHARS,
        password_min: Password::MIN_CHARS,
        policy: policy_name(state.config.key_reveal),
        keys,
        outcome,
        has_maximum,
        all_scopes: Scope::ALL.iter().map(|scope| scope.name()).collect(),
        networks_max: Networks::MAX,
        rate_max: key_management::MAX_RATE,
        leaks,
        activity,
    };
    Ok(render(status, &page))
}

fn key_row(index: usize, view: KeyView, policy: RevealPolicy, now: Timestamp) -> KeyRow {
    let (value, preview) = match policy {
        RevealPolicy::OnDemand => (None, view.value),
        RevealPolicy::List => {
            let preview = view
                .value
                .as_deref()
                .and_then(|value| ApiKey::parse(value).ok())
                .map(|key| key.preview());
            (view.value, preview)
        }
        RevealPolicy::Never => (None, None),
    };
    let scopes = view.scopes.names().collect();
    let networks = view.allowed_networks.entries().collect();
    KeyRow {
        index,
        scopes,
        networks,
        delete_href: format!(
            "/settings/keys/delete?name={}&tenant={}",
            query_encode(&view.name),
            view.tenant_id
        ),
        name: view.name,
        tenant_name: view.tenant_name,
        tenant_id: view.tenant_id.to_string(),
        created_iso: view.created_at.to_rfc3339(),
        created_text: readable(view.created_at),
        value,
        preview,
        expires_iso: view.expires_at.map(Timestamp::to_rfc3339),
        expires_text: view.expires_at.map_or_else(|| "Never".into(), readable),
        expires_soon: view.expires_at.is_some_and(|at| at <= now.plus(SOON)),
        last_used: view.last_used_at.map(|at| {
            let address = view.last_used_address.unwrap_or_default();
            (at.to_rfc3339(), readable(at), address)
        }),
        rate_limit: view
            .rate_limit
            .map(|limit| format!("{}/s, burst {}", limit.per_second, limit.burst)),
    }
}

/// "Key 'ci' created · 2026-12-07 17:00 UTC · from 10.0.0.1".
fn activity_line(event: AuditRecord) -> String {
    let what = event
        .action
        .strip_prefix("key.")
        .unwrap_or(&event.action)
        .replace('_', " ");
    let mut line = match &event.subject {
        Some(name) => format!("Key '{name}' {what}"),
        None => format!("Key {what}"),
    };
    line.push_str(" · ");
    line.push_str(&readable(event.at));
    if let Some(address) = &event.address {
        line.push_str(" · from ");
        line.push_str(address);
    }
    line
}

/// `2026-05-01 14:03 UTC`: the minute is enough to tell keys apart on a page.
pub fn readable(at: Timestamp) -> String {
    let text = at.to_rfc3339();
    format!("{} {} UTC", &text[..10], &text[11..16])
}

fn policy_name(policy: RevealPolicy) -> &'static str {
    match policy {
        RevealPolicy::OnDemand => "on-demand",
        RevealPolicy::List => "list",
        RevealPolicy::Never => "never",
    }
}
