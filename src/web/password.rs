//! The profile's password change: the current password is checked (spending the sign-in
//! failure budgets, the address's and the account's, when wrong), then the new one replaces
//! it and every other sign-in of the user (other sessions, tokens) ends.

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;
use axum::routing::post;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

use crate::app::AppState;
use crate::auth::extract::ClientAddress;
use crate::auth::password;
use crate::domain::Password;
use crate::error::ApiError;
use crate::web::csrf::CsrfForm;
use crate::web::page::{WebError, sentence};
use crate::web::settings::{Outcome, PasswordForm, render_settings};

pub fn router() -> Router<AppState> {
    Router::new().route("/settings/password", post(change))
}

/// The three passwords, kept secret (a missing field counts as empty).
#[derive(Deserialize)]
struct ChangeForm {
    current: Option<SecretString>,
    new: Option<SecretString>,
    confirm: Option<SecretString>,
}

fn or_empty(field: Option<SecretString>) -> SecretString {
    field.unwrap_or_else(|| SecretString::from(""))
}

async fn change(
    State(state): State<AppState>,
    ClientAddress(address): ClientAddress,
    CsrfForm { session, form }: CsrfForm<ChangeForm>,
) -> Result<Response, WebError> {
    let mut result = PasswordForm::default();
    let mut status = StatusCode::UNPROCESSABLE_ENTITY;
    let mut retry_after = None;
    let account = &state.account_throttle;
    let attempt = state
        .throttle
        .guard(address)
        .and_then(|()| account.begin(&session.user.email, address));
    let checked = match attempt {
        Err(error) => Err(error),
        Ok(attempt) => {
            let stored = session.user.password_hash.clone();
            if password::verify(stored, or_empty(form.current)).await? {
                account.succeeded(attempt);
                Ok(())
            } else {
                let wrong = ApiError::Unauthorized("wrong password".into());
                Err(state.throttle.failed(address, wrong))
            }
        }
    };
    let too_many = match checked {
        Ok(()) => None,
        Err(ApiError::TooManyRequests { retry_after_secs }) => {
            Some(("from your address", retry_after_secs))
        }
        Err(ApiError::AccountDelayed { retry_after_secs }) => {
            Some(("for your account", retry_after_secs))
        }
        Err(_) => {
            result.current_error = Some("This is not your current password.".into());
            None
        }
    };
    if let Some((whose, retry_after_secs)) = too_many {
        status = StatusCode::TOO_MANY_REQUESTS;
        retry_after = Some(retry_after_secs);
        result.current_error = Some(format!(
            "Too many failed attempts {whose}. Try again in {retry_after_secs} seconds."
        ));
    }
    let (new, confirm) = (or_empty(form.new), or_empty(form.confirm));
    let differ = new.expose_secret() != confirm.expose_secret();
    let new = Password::parse(new);
    if let Err(error) = &new {
        result.new_error = Some(sentence(&error.0));
    } else if differ {
        result.confirm_error = Some("The two new passwords differ.".into());
    }
    if let (None, Ok(new)) = (&result.current_error, &new)
        && result.confirm_error.is_none()
    {
        let hash = password::hash(new).await?;
        state
            .store
            .change_password(session.user.id, &hash, &session.digest)
            .await?;
        result.done = true;
        status = StatusCode::OK;
    }
    let outcome = Outcome {
        password: result,
        ..Outcome::default()
    };
    let mut response = render_settings(&state, &session, outcome, status).await?;
    if let Some(seconds) = retry_after {
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
    }
    Ok(response)
}
