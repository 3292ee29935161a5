//! Web sign-in sessions: an HttpOnly, SameSite=Lax cookie holding a random token that is stored
//! only as its peppered digest, with an expiry; and the [`SignedIn`] extractor pages ask for.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, Method, header};
use cookie::{Cookie, SameSite};
use secrecy::{ExposeSecret, SecretString};

use crate::auth::token;
use crate::domain::Digest;
use crate::domain::{Timestamp, UserId};
use crate::http::error::ApiError;
use crate::state::AppState;
use crate::store::{NewSession, User};
use crate::web::csrf::{self, CSRF_HEADER};
use crate::web::page::{Nav, WebError};

/// The cookie that holds the session token.
pub const SESSION_COOKIE: &str = "keyflow_session";

/// A signed-in user on a page, with the CSRF token of their session.
pub struct SignedIn {
    pub user: User,
    pub csrf: String,
    /// The session's digest: what signing out deletes and a password change keeps.
    pub digest: Digest,
    /// When the session was opened: it reaches only the memberships that had begun by then
    /// ([`crate::rules::access`]), so a user added back to a tenant signs in again.
    pub signed_in_at: Timestamp,
}

impl SignedIn {
    /// The session's sign-in moment, as [`crate::rules::access`] takes it.
    pub fn reach(&self) -> Option<Timestamp> {
        Some(self.signed_in_at)
    }

    /// The navigation's view of the user.
    pub fn nav(&self) -> Nav {
        Nav {
            email: self.user.email.clone(),
            csrf: self.csrf.clone(),
        }
    }
}

impl FromRequestParts<AppState> for SignedIn {
    type Rejection = WebError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, WebError> {
        match signed_in(&parts.headers, state).await {
            Ok(Some(signed_in)) => Ok(signed_in),
            Ok(None) if parts.headers.contains_key(CSRF_HEADER) => Err(WebError::Script(
                ApiError::Unauthorized("your session has ended: sign in again".into()),
            )),
            // Only a page that was being looked at is worth coming back to.
            Ok(None) => Err(WebError::SignIn {
                next: (parts.method == Method::GET).then(|| {
                    parts
                        .uri
                        .path_and_query()
                        .map_or("/settings".to_string(), |pq| pq.as_str().to_string())
                }),
            }),
            Err(error) => Err(error.into()),
        }
    }
}

/// The session the request's cookie names, if it is valid and its user still exists.
pub async fn signed_in(
    headers: &HeaderMap,
    state: &AppState,
) -> Result<Option<SignedIn>, ApiError> {
    let Some(token) = cookie(headers, SESSION_COOKIE) else {
        return Ok(None);
    };
    let digest = state.hasher.digest(token);
    // From the credential cache when it holds the session: a sign-out or a password change
    // is announced, and drops it on every instance.
    let credentials = state.verifier.credentials();
    let Some(grant) = credentials.session(digest, Timestamp::now()).await? else {
        return Ok(None);
    };
    let Some(user) = state.store.user(grant.user_id).await? else {
        return Ok(None);
    };
    Ok(Some(SignedIn {
        user,
        csrf: csrf::token_for(state, token),
        digest,
        signed_in_at: grant.created_at,
    }))
}

/// Opens a session for the user; returns the `Set-Cookie` value that carries it.
pub async fn open(
    state: &AppState,
    user: UserId,
    headers: &HeaderMap,
) -> Result<HeaderValue, ApiError> {
    let token = token::random_secret("kfs_");
    let now = Timestamp::now();
    let lifetime = state.config.token_ttl;
    state
        .store
        .insert_session(NewSession {
            digest: state.hasher.digest(token.expose_secret()),
            user_id: user,
            created_at: now,
            expires_at: now.plus(lifetime),
        })
        .await?;
    Ok(set_cookie(
        SESSION_COOKIE,
        &token,
        lifetime.as_secs(),
        secure(state, headers),
    ))
}

/// Ends the session the request carries, if any; returns the `Set-Cookie` value that clears it.
pub async fn close(
    state: &AppState,
    digest: &Digest,
    headers: &HeaderMap,
) -> Result<HeaderValue, ApiError> {
    state.store.delete_session(digest).await?;
    // This instance forgets it at once; the others when they hear the announcement.
    state.verifier.credentials().forget_session(digest);
    Ok(clear_cookie(SESSION_COOKIE, secure(state, headers)))
}

/// Whether cookies get `Secure`: by the operator's flag, or when the proxy in front says the
/// browser came over TLS (a forged header only makes the forger's own cookie stricter).
pub fn secure(state: &AppState, headers: &HeaderMap) -> bool {
    let forwarded_https = headers
        .get("x-forwarded-proto")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("https"));
    state.config.secure_cookies || forwarded_https
}

/// A cookie only this server's pages read: HttpOnly, SameSite=Lax, the whole site.
pub fn set_cookie(
    name: &str,
    value: &SecretString,
    max_age_secs: u64,
    secure: bool,
) -> HeaderValue {
    let max_age = cookie::time::Duration::seconds(i64::try_from(max_age_secs).unwrap_or(i64::MAX));
    header_value(page_cookie(name, value.expose_secret(), secure).max_age(max_age))
}

/// The `Set-Cookie` that makes the browser forget the cookie at once.
pub fn clear_cookie(name: &str, secure: bool) -> HeaderValue {
    header_value(page_cookie(name, "", secure).max_age(cookie::time::Duration::ZERO))
}

/// The attributes every cookie of the pages has.
fn page_cookie<'c>(name: &'c str, value: &'c str, secure: bool) -> cookie::CookieBuilder<'c> {
    Cookie::build((name, value))
        .path("/")
        .http_only(true)
        .same_site(SameSite::Lax)
        .secure(secure)
}

fn header_value(cookie: cookie::CookieBuilder<'_>) -> HeaderValue {
    HeaderValue::from_str(&cookie.build().to_string())
        .expect("cookie names and values are URL-safe base64")
}

/// The value of a request cookie (the first one of that name, when several are sent).
pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(Cookie::split_parse)
        .filter_map(Result::ok)
        .find(|cookie| cookie.name() == name)
        .and_then(|cookie| cookie.value_raw())
        .filter(|value| !value.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookies_are_found_among_others() {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::COOKIE,
            HeaderValue::from_static("a=1; keyflow_session=xyz; b=2"),
        );
        assert_eq!(cookie(&headers, SESSION_COOKIE), Some("xyz"));
        assert_eq!(cookie(&headers, "missing"), None);
        headers.insert(header::COOKIE, HeaderValue::from_static("keyflow_session="));
        assert_eq!(cookie(&headers, SESSION_COOKIE), None);
    }

    /// The attributes of a `Set-Cookie` value, in any order.
    fn attributes(value: &HeaderValue) -> std::collections::BTreeSet<String> {
        value
            .to_str()
            .unwrap()
            .split("; ")
            .map(str::to_string)
            .collect()
    }

    fn set(items: &[&str]) -> std::collections::BTreeSet<String> {
        items.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn a_session_cookie_is_http_only_and_lax() {
        let value = set_cookie("c", &SecretString::from("v"), 60, false);
        let page = ["c=v", "HttpOnly", "SameSite=Lax", "Path=/", "Max-Age=60"];
        assert_eq!(attributes(&value), set(&page));
        let secure = set_cookie("c", &SecretString::from("v"), 60, true);
        let mut secure_page = page.to_vec();
        secure_page.push("Secure");
        assert_eq!(attributes(&secure), set(&secure_page));
    }

    #[test]
    fn a_cleared_cookie_is_empty_and_expires_at_once() {
        let page = ["c=", "HttpOnly", "SameSite=Lax", "Path=/", "Max-Age=0"];
        assert_eq!(attributes(&clear_cookie("c", false)), set(&page));
        let mut secure_page = page.to_vec();
        secure_page.push("Secure");
        assert_eq!(attributes(&clear_cookie("c", true)), set(&secure_page));
    }
}
