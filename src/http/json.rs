//! Extractors with Flow's error convention. A JSON body that does not parse is 400, one that
//! parses but holds a wrong field is 422, one over the limit is 413 — each a JSON string. Any
//! content type is read as JSON, as Boomi does (`text/json`, `application/*+json`, none). A
//! path segment or a query string that does not decode to text is 400.

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Path, Request};
use axum::http::request::Parts;
use serde::Deserialize;
use serde::de::DeserializeOwned;

use crate::domain::Invalid;
use crate::http::error::ApiError;
use crate::http::strict_json::Strict;

/// What the body readers need of the server's state (the server's state provides it).
pub(crate) trait BodyLimit: Send + Sync {
    /// The largest body accepted, in bytes.
    fn body_limit_bytes(&self) -> usize;
}

/// A request body parsed as `T`.
pub(crate) struct JsonBody<T>(pub(crate) T);

impl<S: BodyLimit, T: DeserializeOwned> FromRequest<S> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, ApiError> {
        let bytes = read_body(request, state).await?;
        parse(&bytes).map(JsonBody)
    }
}

/// The whole body, within `--body-limit`. (Read with the limit here rather than through
/// axum's `DefaultBodyLimit` layer, which would cost every API request, bodiless GETs
/// included, an entry in its extensions.)
async fn read_body(request: Request, state: &impl BodyLimit) -> Result<Bytes, ApiError> {
    let limit_bytes = state.body_limit_bytes();
    axum::body::to_bytes(request.into_body(), limit_bytes)
        .await
        .map_err(|error| {
            if error.into_inner().is::<http_body_util::LengthLimitError>() {
                ApiError::PayloadTooLarge { limit_bytes }
            } else {
                ApiError::BadRequest("the request body could not be read".into())
            }
        })
}

/// The path segments as text (one `String`, or a tuple of them); a segment that does not
/// decode is a 400 in the Flow convention. Handlers parse the text into domain values.
pub(crate) struct Segment<T = String>(pub(crate) T);

impl<S: Send + Sync, T: DeserializeOwned + Send> FromRequestParts<S> for Segment<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        Path::<T>::from_request_parts(parts, state)
            .await
            .map(|Path(text)| Segment(text))
            .map_err(|_| ApiError::BadRequest("a path segment cannot be read as text".into()))
    }
}

/// Reads an optional integer field that may arrive as an integral float (`2.0` is an integer in
/// JSON Schema); anything else, or a value out of `T`'s range, is a wrong field (422).
pub(crate) fn integral<'de, D, T>(deserializer: D) -> Result<Option<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: TryFrom<i64>,
{
    use serde::de::Error;
    let Some(number) = Option::<serde_json::Number>::deserialize(deserializer)? else {
        return Ok(None);
    };
    let whole = number.as_i64().or_else(|| {
        number
            .as_f64()
            .filter(|f| f.fract() == 0.0 && f.abs() < 9.0e15)
            .map(|f| f as i64)
    });
    whole
        .and_then(|n| T::try_from(n).ok())
        .map(Some)
        .ok_or_else(|| D::Error::custom(format!("{number} is not an integer in range")))
}

/// A required whole number, written with or without a zero fraction (`840` or `840.0`): JSON
/// Schema's `integer` admits both, so a client may send either.
pub(crate) fn whole<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: serde::Deserializer<'de>,
    T: TryFrom<i64>,
{
    use serde::de::Error;
    integral(deserializer)?.ok_or_else(|| D::Error::custom("a whole number is required"))
}

/// A request body that may be empty (then `None`), else JSON parsed as `T`.
pub(crate) struct OptionalJsonBody<T>(pub(crate) Option<T>);

impl<S: BodyLimit, T: DeserializeOwned> FromRequest<S> for OptionalJsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, ApiError> {
        let bytes = read_body(request, state).await?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(OptionalJsonBody(None));
        }
        parse(&bytes).map(|value| OptionalJsonBody(Some(value)))
    }
}

/// A path segment parsed into a domain value; a segment that does not parse is a 400.
pub(crate) fn path<T>(
    text: &str,
    parse: impl FnOnce(&str) -> Result<T, Invalid>,
) -> Result<T, ApiError> {
    parse(text).map_err(|error| ApiError::BadRequest(error.0))
}

/// A `true`/`false` path segment, spelled exactly so: `TRUE` or `True` is a 400, so a flag
/// means one thing to keyflow and to whatever sits in front of it (a proxy rule, a log
/// search, a cache key) that compares the path as text.
pub(crate) fn path_bool(name: &str, text: &str) -> Result<bool, ApiError> {
    match text {
        "true" => Ok(true),
        "false" => Ok(false),
        _ => Err(ApiError::BadRequest(format!(
            "{name} must be true or false, not '{}'",
            crate::domain::shorten(text)
        ))),
    }
}

/// The query string parsed as `T`, its names matched to `T`'s fields ignoring case
/// ([`crate::http::query`]). Percent-escapes that decode to bytes that are not UTF-8 are
/// refused rather than silently replaced, so a value is always exactly what was sent.
pub(crate) struct TextQuery<T>(pub(crate) T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for TextQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        let query = parts.uri.query().unwrap_or("");
        let unreadable = || ApiError::BadRequest("the query string cannot be read as text".into());
        if !query.is_empty()
            && percent_encoding::percent_decode_str(query)
                .decode_utf8()
                .is_err()
        {
            return Err(unreadable());
        }
        let query = crate::http::query::canonical::<T>(query)?;
        serde_urlencoded::from_str(&query)
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
    T::deserialize(Strict(value))
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
    fn an_array_is_not_an_object() {
        assert!(matches!(
            parse::<Named>(b"[\"x\"]"),
            Err(ApiError::Unprocessable(_))
        ));
    }

    #[test]
    fn a_path_flag_is_exactly_true_or_false() {
        assert!(path_bool("f", "true").unwrap());
        assert!(!path_bool("f", "false").unwrap());
        for other in ["TRUE", "True", "FALSE", "1", "yes", "", " true", "true "] {
            assert!(
                matches!(path_bool("f", other), Err(ApiError::BadRequest(_))),
                "{other:?}"
            );
        }
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
