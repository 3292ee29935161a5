//! The User Settings page's key actions, each through `rules::keys` like the API's:
//! Generate Key, Delete (with its confirmation), and the Show/Copy call of the page's script,
//! which answers `UserTenantAPIKey` as JSON — a POST, so a value never travels in a URL.

use askama::Template;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;

use crate::api::keys::UserTenantApiKey;
use crate::domain::{KeyName, TenantId};
use crate::http::error::ApiError;
use crate::rules::keys as key_management;
use crate::state::AppState;
use crate::web::form::CsrfForm;
use crate::web::page::{Chrome, WebError, render, sentence};
use crate::web::session::SignedIn;
use crate::web::settings::{CreatedKey, KeyForm, Outcome, render_settings};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/settings/keys", post(generate))
        .route("/settings/keys/delete", get(confirm).post(delete))
        .route("/settings/keys/reveal", post(reveal))
}

/// The Generate a new API key form.
#[derive(Deserialize)]
struct GenerateForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    tenant: String,
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
    let mut key_form = KeyForm {
        name: form.name.clone(),
        tenant: form.tenant.clone(),
        ..KeyForm::default()
    };
    let name = KeyName::parse(&form.name);
    let tenant = TenantId::parse(&form.tenant);
    let (name, tenant) = match (name, tenant) {
        (Ok(name), Ok(tenant)) => (name, tenant),
        (name, tenant) => {
            key_form.name_error = name.err().map(|e| sentence(&e.0));
            key_form.tenant_error = tenant.err().map(|_| "Choose one of your tenants.".into());
            return refused(&state, &session, key_form, StatusCode::UNPROCESSABLE_ENTITY).await;
        }
    };
    let created = key_management::create(
        &state.keys(),
        session.user.id,
        session.reach(),
        tenant,
        name,
        None,
    )
    .await;
    match created.map_err(ApiError::from) {
        Ok(view) => {
            let outcome = Outcome {
                created: Some(CreatedKey {
                    name: view.name,
                    tenant_name: view.tenant_name,
                    value: view.value.unwrap_or_default(),
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
        Err(other) => Err(other.into()),
    }
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
