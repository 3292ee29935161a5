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

use crate::auth::account_throttle::AccountDelayed;
use crate::auth::throttle::Throttled;
use crate::domain::Password;
use crate::http::extract::ClientAddress;
use crate::rules::RuleError;
use crate::rules::sign_in as rules;
use crate::state::AppState;
use crate::web::form::CsrfForm;
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
    let sign_in = state.sign_in();
    let current = or_empty(form.current);
    let too_many = match rules::check_current(&sign_in, address, &session.user, current).await {
        Ok(()) => None,
        Err(RuleError::Throttled(Throttled { retry_after_secs })) => {
            Some(("from your address", retry_after_secs))
        }
        Err(RuleError::AccountDelayed(AccountDelayed { retry_after_secs })) => {
            Some(("for your account", retry_after_secs))
        }
        Err(RuleError::WrongCredentials(_)) => {
            result.current_error = Some("This is not your current password.".into());
            None
        }
        Err(other) => return Err(other.into()),
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
        rules::change_password(&sign_in, session.user.id, new, &session.digest).await?;
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
