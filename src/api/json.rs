//! Extractors with Flow's error convention. A JSON body that does not parse is 400, one that
//! parses but holds a wrong field is 422, one over the limit is 413 — each a JSON string. Any
//! content type is read as JSON, as Boomi does (`text/json`, `application/*+json`, none). A
//! path segment or a query string that does not decode to text is 400.

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Path, Request};
use axum::http::request::Parts;
use serde::de::DeserializeOwned;

use crate::app::AppState;
use crate::error::ApiError;

/// A request body parsed as `T`.
pub struct JsonBody<T>(pub T);

impl<T: DeserializeOwned> FromRequest<AppState> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &AppState) -> Result<Self, ApiError> {
        let limit_bytes = state.config.body_limit_bytes;
        let bytes = Bytes::from_request(request, state)
            .await
            .map_err(|rejection| {
                if rejection.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
                    ApiError::PayloadTooLarge { limit_bytes }
                } else {
                    ApiError::BadRequest("the request body could not be read".into())
                }
            })?;
        parse(&bytes).map(JsonBody)
    }
}

/// One path segment as text; a segment that does not decode is a 400 in the Flow convention.
pub struct Segment(pub String);

impl<S: Send + Sync> FromRequestParts<S> for Segment {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        Path::<String>::from_request_parts(parts, state)
            .await
            .map(|Path(text)| Segment(text))
            .map_err(|_| ApiError::BadRequest("a path segment cannot be read as text".into()))
    }
}

/// The query string parsed as `T`. Percent-escapes that decode to bytes that are not UTF-8
/// are refused rather than silently replaced, so a value is always exactly what was sent.
pub struct TextQuery<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for TextQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        let query = parts.uri.query().unwrap_or("");
        let unreadable = || ApiError::BadRequest("the query string cannot be read as text".into());
        if percent_encoding::percent_decode_str(query)
            .decode_utf8()
            .is_err()
        {
            return Err(unreadable());
        }
        serde_urlencoded::from_str(query)
            .map(TextQuery)
            .map_err(|_| unreadable())
    }
}

/// Parses a body, telling syntax errors (400) from wrong fields (422). The body is read as a
/// JSON value first: that bounds the nesting depth (128) for every field, ignored ones too.
pub fn parse<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::BadRequest("the request needs a JSON body".into()));
    }
    let value: serde_json::Value = serde_json::from_slice(bytes)
        .map_err(|error| ApiError::BadRequest(format!("the body is not valid JSON: {error}")))?;
    serde_json::from_value(value)
        .map_err(|error| ApiError::Unprocessable(format!("invalid field: {error}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    struct Named {
        #[allow(dead_code)]
        name: String,
    }

    #[test]
    fn syntax_is_400_and_a_wrong_field_is_422() {
        assert!(matches!(parse::<Named>(b"{"), Err(ApiError::BadRequest(_))));
        assert!(matches!(parse::<Named>(b""), Err(ApiError::BadRequest(_))));
        assert!(matches!(
            parse::<Named>(b"{\"name\": 3}"),
            Err(ApiError::Unprocessable(_))
        ));
        let deep = "[".repeat(10_000);
        assert!(matches!(
            parse::<serde_json::Value>(deep.as_bytes()),
            Err(ApiError::BadRequest(_))
        ));
    }
}
