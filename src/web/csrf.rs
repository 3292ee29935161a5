//! Cross-site request forgery: every form (and every call the page's script makes) carries a
//! token derived from the secret in the visitor's cookie, which another site can neither read
//! nor compute. A POST without the right token is refused with 403.

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use subtle::ConstantTimeEq;

use crate::http::error::ApiError;
use crate::state::AppState;
use crate::web::page::WebError;
use crate::web::session::SignedIn;

/// The header the page's script sends it in.
pub const CSRF_HEADER: &str = "x-csrf-token";

const REFUSED: &str = "This form is missing its security token, or the token is not the one \
     of your session. Reload the page and try again.";

/// The CSRF token that goes with a cookie secret (a session token, or the sign-in form's
/// secret): a keyed digest, so it reveals nothing of the secret.
pub fn token_for(state: &AppState, secret: &str) -> String {
    let digest = state.hasher.digest(&format!("csrf\0{secret}"));
    URL_SAFE_NO_PAD.encode(digest)
}

/// Whether `presented` is the expected token, compared in constant time.
pub fn matches(expected: &str, presented: Option<&str>) -> bool {
    presented.is_some_and(|presented| bool::from(expected.as_bytes().ct_eq(presented.as_bytes())))
}

/// The token of a form body, if it has one.
pub fn field(body: &[u8]) -> Option<String> {
    #[derive(Deserialize)]
    struct Token {
        csrf: Option<String>,
    }
    serde_urlencoded::from_bytes::<Token>(body)
        .ok()
        .and_then(|token| token.csrf)
}

/// A form posted by a signed-in user, its CSRF token checked: the token comes in the
/// `csrf` field, or in the `x-csrf-token` header for the script's calls.
pub struct CsrfForm<T> {
    pub session: SignedIn,
    pub form: T,
}

impl<T: DeserializeOwned> FromRequest<AppState> for CsrfForm<T> {
    type Rejection = WebError;

    async fn from_request(request: Request, state: &AppState) -> Result<Self, WebError> {
        let (mut parts, body) = request.into_parts();
        let session = SignedIn::from_request_parts(&mut parts, state).await?;
        let from_script = parts.headers.contains_key(CSRF_HEADER);
        let request = Request::from_parts(parts, body);
        let header = request
            .headers()
            .get(CSRF_HEADER)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let bytes = Bytes::from_request(request, state)
            .await
            .map_err(|_| WebError::bad_request("The form could not be read."))?;
        let presented = header.or_else(|| field(&bytes));
        if !matches(&session.csrf, presented.as_deref()) {
            return Err(if from_script {
                WebError::Script(ApiError::Forbidden(REFUSED.into()))
            } else {
                WebError::forbidden(REFUSED)
            });
        }
        let form = serde_urlencoded::from_bytes(&bytes).map_err(|_| {
            let message = "The form is incomplete; reload the page and try again.";
            if from_script {
                WebError::Script(ApiError::BadRequest(message.into()))
            } else {
                WebError::bad_request(message)
            }
        })?;
        Ok(CsrfForm { session, form })
    }
}

/// The 403 a form without the right token gets, for the forms that check it themselves.
pub fn refused() -> WebError {
    WebError::forbidden(REFUSED)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_token_field_is_read_from_a_form_body() {
        assert_eq!(field(b"name=a&csrf=xyz").as_deref(), Some("xyz"));
        assert_eq!(field(b"name=a"), None);
        assert!(matches("abc", Some("abc")));
        assert!(!matches("abc", Some("abd")));
        assert!(!matches("abc", None));
        assert!(!matches("abc", Some("")));
    }
}
