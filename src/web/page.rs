//! What every page shares: the frame around it (title, navigation, the sign-out form), the
//! rendering of a template into an answer, and the errors a page can end in.

use askama::Template;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};

use crate::http::error::ApiError;
use crate::web::assets;

/// The signed-in user as the navigation shows them, with the token the sign-out form needs.
pub struct Nav {
    pub email: String,
    pub csrf: String,
}

/// The frame of a page (templates/base.html).
pub struct Chrome {
    pub title: &'static str,
    /// Which navigation entry is the current page: "settings", "flows" or "".
    pub current: &'static str,
    pub nav: Option<Nav>,
    /// Appended to asset URLs, so a new build is never served an old cached file.
    pub asset_version: &'static str,
}

impl Chrome {
    pub fn new(title: &'static str, current: &'static str, nav: Option<Nav>) -> Self {
        Self {
            title,
            current,
            nav,
            asset_version: assets::version(),
        }
    }
}

/// Renders a template as an HTML answer with `status`. A template that fails to render (it
/// cannot, short of a bug) is logged and answered with a plain 500, never another template.
pub fn render(status: StatusCode, template: &impl Template) -> Response {
    match template.render() {
        Ok(html) => (status, Html(html)).into_response(),
        Err(error) => {
            let message = ApiError::Internal(anyhow::Error::new(error)).client_message();
            (StatusCode::INTERNAL_SERVER_ERROR, message).into_response()
        }
    }
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage<'a> {
    page: Chrome,
    heading: &'a str,
    message: &'a str,
}

/// How a page request can fail.
#[derive(Debug)]
pub enum WebError {
    /// Not signed in (or the session ended): to the sign-in page, then back to `next`.
    SignIn { next: Option<String> },
    /// An error page with this status and message.
    Page { status: StatusCode, message: String },
    /// A call from the page's script: answered as the API answers, a JSON string.
    Script(ApiError),
}

impl WebError {
    pub fn forbidden(message: impl Into<String>) -> Self {
        WebError::Page {
            status: StatusCode::FORBIDDEN,
            message: message.into(),
        }
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        WebError::Page {
            status: StatusCode::BAD_REQUEST,
            message: message.into(),
        }
    }
}

impl From<ApiError> for WebError {
    fn from(error: ApiError) -> Self {
        WebError::Page {
            status: error.status(),
            message: error.client_message(),
        }
    }
}

impl From<crate::rules::RuleError> for WebError {
    fn from(error: crate::rules::RuleError) -> Self {
        ApiError::from(error).into()
    }
}

impl From<crate::store::StoreError> for WebError {
    fn from(error: crate::store::StoreError) -> Self {
        ApiError::from(error).into()
    }
}

impl From<anyhow::Error> for WebError {
    fn from(error: anyhow::Error) -> Self {
        ApiError::Internal(error).into()
    }
}

impl IntoResponse for WebError {
    fn into_response(self) -> Response {
        match self {
            WebError::SignIn { next } => {
                let target = match next {
                    Some(next) => format!("/login?next={}", query_encode(&next)),
                    None => "/login".to_string(),
                };
                Redirect::to(&target).into_response()
            }
            WebError::Page { status, message } => {
                let heading = status.canonical_reason().unwrap_or("Error");
                let page = ErrorPage {
                    page: Chrome::new("Error", "", None),
                    heading,
                    message: &message,
                };
                render(status, &page)
            }
            WebError::Script(error) => error.into_response(),
        }
    }
}

/// What [`query_encode`] escapes: everything but the unreserved characters and `/`.
const QUERY_VALUE: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~')
    .remove(b'/');

/// Percent-encodes a query value (everything but the unreserved characters and `/`).
pub fn query_encode(text: &str) -> String {
    percent_encoding::utf8_percent_encode(text, QUERY_VALUE).to_string()
}

/// An API message as a sentence on the page: capitalised, with a full stop.
pub fn sentence(message: &str) -> String {
    let mut chars = message.chars();
    let mut text: String = chars
        .next()
        .map(|first| first.to_uppercase().chain(chars).collect())
        .unwrap_or_default();
    if !text.ends_with('.') {
        text.push('.');
    }
    text
}

/// "First Last", or whichever part there is; None when there is neither.
pub fn full_name(first: Option<&str>, last: Option<&str>) -> Option<String> {
    let name = [first, last]
        .into_iter()
        .flatten()
        .map(str::trim)
        .filter(|part| !part.is_empty())
        .collect::<Vec<_>>()
        .join(" ");
    (!name.is_empty()).then_some(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_query_value_keeps_only_unreserved_characters_and_slashes() {
        assert_eq!(query_encode("/settings"), "/settings");
        assert_eq!(query_encode("a-b_c.d~e"), "a-b_c.d~e");
        assert_eq!(
            query_encode("/flows?tenant=x&y #ü"),
            "/flows%3Ftenant%3Dx%26y%20%23%C3%BC"
        );
    }
}
