//! Cross-site request forgery: every form (and every call the page's script makes) carries a
//! token derived from the secret in the visitor's cookie, which another site can neither read
//! nor compute. A POST without the right token is refused with 403.
//!
//! Only the token itself lives here (derived, compared, read from a form), below the session
//! that derives its own from it; the extractor that checks a signed-in user's form against
//! their session is [`CsrfForm`](super::form::CsrfForm), above both.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Deserialize;
use subtle::ConstantTimeEq;

use crate::state::AppState;
use crate::web::page::WebError;

/// The header the page's script sends it in.
pub const CSRF_HEADER: &str = "x-csrf-token";

/// Why a form was refused, as a page shows it and as a script's 403 carries it.
pub const REFUSED: &str = "This form is missing its security token, or the token is not the one \
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
