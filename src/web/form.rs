//! The form a signed-in user posts, its CSRF token checked against their session. It sits
//! above [`session`](super::session) (who is signed in, and their token) and
//! [`csrf`](super::csrf) (how a token is derived, compared and read), so that `session`
//! imports `csrf` and `csrf` imports neither: the extractor needs both, and was the reason the
//! two imported each other.

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use serde::de::DeserializeOwned;

use crate::http::error::ApiError;
use crate::state::AppState;
use crate::web::csrf::{CSRF_HEADER, REFUSED, field, matches};
use crate::web::page::WebError;
use crate::web::session::SignedIn;

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
