//! `/login` and `/logout`. Signing in checks the password as the API does, spends the same
//! per-address and per-account failure budgets, and opens a session; a refused attempt shows the form again
//! with the email kept. The sign-in form's CSRF token comes from a short-lived cookie of its
//! own, since there is no session yet.

use askama::Template;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

use crate::auth::token;
use crate::http::error::ApiError;
use crate::http::extract::ClientAddress;
use crate::rules::sign_in as rules;
use crate::state::AppState;
use crate::web::csrf;
use crate::web::form::CsrfForm;
use crate::web::page::{Chrome, WebError, render};
use crate::web::session;

/// The cookie whose secret the sign-in form's CSRF token is derived from.
const LOGIN_COOKIE: &str = "keyflow_login";
const LOGIN_COOKIE_SECS: u64 = 60 * 60;
/// Where a sign-in lands when it was not sent from a page.
const HOME: &str = "/settings";

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/login", get(show).post(sign_in))
        .route("/logout", post(sign_out))
}

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage<'a> {
    page: Chrome,
    csrf: String,
    next: &'a str,
    email: &'a str,
    error: Option<String>,
}

#[derive(Deserialize)]
struct NextQuery {
    next: Option<String>,
}

#[derive(Deserialize)]
struct Credentials {
    #[serde(default)]
    email: String,
    password: Option<SecretString>,
    #[serde(default)]
    next: String,
    csrf: Option<String>,
}

/// `next` when it is a path on this server, else the settings page: never a way off-site.
pub fn local_next(next: Option<&str>) -> &str {
    match next {
        Some(path)
            if path.starts_with('/')
                && !path.starts_with("//")
                && path.len() <= 2048
                && !path.chars().any(|c| c == '\\' || c.is_control()) =>
        {
            path
        }
        _ => HOME,
    }
}

async fn show(
    State(state): State<AppState>,
    headers: HeaderMap,
    query: Result<Query<NextQuery>, QueryRejection>,
) -> Result<Response, WebError> {
    let next = local_next(query.as_ref().ok().and_then(|q| q.next.as_deref())).to_string();
    if session::signed_in(&headers, &state).await?.is_some() {
        return Ok(Redirect::to(&next).into_response());
    }
    Ok(form_page(&state, &headers, StatusCode::OK, &next, "", None))
}

/// The sign-in form, reusing the visitor's form secret or giving them one.
fn form_page(
    state: &AppState,
    headers: &HeaderMap,
    status: StatusCode,
    next: &str,
    email: &str,
    error: Option<String>,
) -> Response {
    let (secret, new_cookie) = match session::cookie(headers, LOGIN_COOKIE) {
        Some(secret) => (secret.to_string(), None),
        None => {
            let secret = token::random_secret("kfl_");
            let cookie = session::set_cookie(
                LOGIN_COOKIE,
                &secret,
                LOGIN_COOKIE_SECS,
                session::secure(state, headers),
            );
            (secret.expose_secret().to_string(), Some(cookie))
        }
    };
    let page = LoginPage {
        page: Chrome::new("Sign in", "", None),
        csrf: csrf::token_for(state, &secret),
        next,
        email,
        error,
    };
    let mut response = render(status, &page);
    if let Some(cookie) = new_cookie {
        response.headers_mut().append(header::SET_COOKIE, cookie);
    }
    response
}

async fn sign_in(
    State(state): State<AppState>,
    ClientAddress(address): ClientAddress,
    headers: HeaderMap,
    form: Result<Form<Credentials>, axum::extract::rejection::FormRejection>,
) -> Result<Response, WebError> {
    let Ok(Form(credentials)) = form else {
        return Err(csrf::refused());
    };
    let expected =
        session::cookie(&headers, LOGIN_COOKIE).map(|secret| csrf::token_for(&state, secret));
    if !expected.is_some_and(|expected| csrf::matches(&expected, credentials.csrf.as_deref())) {
        return Err(csrf::refused());
    }
    let next = local_next(Some(&credentials.next)).to_string();
    let refuse = |status: StatusCode, message: String| {
        form_page(
            &state,
            &headers,
            status,
            &next,
            &credentials.email,
            Some(message),
        )
    };
    let candidate = credentials
        .password
        .clone()
        .unwrap_or_else(|| SecretString::from(""));
    let checked = rules::check(&state.sign_in(), address, &credentials.email, candidate).await;
    let user = match checked.map_err(ApiError::from) {
        Ok(user) => user,
        Err(error @ (ApiError::TooManyRequests { .. } | ApiError::AccountDelayed { .. })) => {
            return Ok(too_many(refuse, error));
        }
        Err(ApiError::Unauthorized(_)) => {
            return Ok(refuse(
                StatusCode::UNPROCESSABLE_ENTITY,
                "Wrong email or password. Check both and try again.".into(),
            ));
        }
        Err(other) => return Err(other.into()),
    };
    let cookie = session::open(&state, user.id, &headers).await?;
    let mut response = Redirect::to(&next).into_response();
    let headers_out = response.headers_mut();
    headers_out.append(header::SET_COOKIE, cookie);
    headers_out.append(
        header::SET_COOKIE,
        session::clear_cookie(LOGIN_COOKIE, session::secure(&state, &headers)),
    );
    Ok(response)
}

/// The form again with a 429, saying when to try again.
fn too_many(refuse: impl Fn(StatusCode, String) -> Response, error: ApiError) -> Response {
    let (whose, retry_after_secs) = match error {
        ApiError::TooManyRequests { retry_after_secs } => ("from your address", retry_after_secs),
        ApiError::AccountDelayed { retry_after_secs } => ("for this account", retry_after_secs),
        other => return WebError::from(other).into_response(),
    };
    let mut response = refuse(
        StatusCode::TOO_MANY_REQUESTS,
        format!("Too many failed sign-ins {whose}. Try again in {retry_after_secs} seconds."),
    );
    response
        .headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from(retry_after_secs));
    response
}

#[derive(Deserialize)]
struct Nothing {}

async fn sign_out(
    State(state): State<AppState>,
    headers: HeaderMap,
    CsrfForm { session, .. }: CsrfForm<Nothing>,
) -> Result<Response, WebError> {
    let cookie = session::close(&state, &session.digest, &headers).await?;
    let mut response = Redirect::to("/login").into_response();
    response.headers_mut().append(header::SET_COOKIE, cookie);
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_stays_on_this_server() {
        assert_eq!(local_next(Some("/flows?tenant=x")), "/flows?tenant=x");
        for bad in [
            "//evil.example",
            "https://evil.example",
            "/\\evil",
            "",
            "settings",
            "/a\nb",
        ] {
            assert_eq!(local_next(Some(bad)), HOME, "{bad:?}");
        }
        assert_eq!(local_next(None), HOME);
    }
}
