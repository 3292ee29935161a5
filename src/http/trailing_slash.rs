//! A trailing slash on an API path: `GET /api/draw/1/element/value/` is served as
//! `/api/draw/1/element/value`, for every method, its query string kept. Tools build paths by
//! joining a base that ends in `/` with an empty last part; Boomi serves them, and the router
//! would not. Done once, in the request service, before anything reads the path (the early
//! answer from the caches included), rather than per route.

use axum::extract::Request;
use axum::http::Uri;
use axum::http::uri::PathAndQuery;

/// The prefix of the paths this applies to: the pages are not the Flow API, and keep their
/// own paths.
const API: &str = "/api/";

/// Takes the trailing slashes off the request's path when it is an API path longer than
/// `/api/` itself. Costs two comparisons when there is none (every request passes here).
pub(crate) fn strip(request: &mut Request) {
    let uri = request.uri();
    let path = uri.path();
    if !path.ends_with('/') || !path.starts_with(API) {
        return;
    }
    let trimmed = path.trim_end_matches('/');
    if trimmed.len() < API.len() {
        return;
    }
    let rewritten = match uri.query() {
        Some(query) => format!("{trimmed}?{query}"),
        None => trimmed.to_owned(),
    };
    // A path and query that parsed once parse again with less in them; should that ever fail,
    // the request keeps its path (and the router answers it as before).
    let Ok(path_and_query) = PathAndQuery::try_from(rewritten) else {
        return;
    };
    let mut parts = uri.clone().into_parts();
    parts.path_and_query = Some(path_and_query);
    if let Ok(uri) = Uri::from_parts(parts) {
        *request.uri_mut() = uri;
    }
}

#[cfg(test)]
mod tests {
    use axum::body::Body;

    use super::*;

    fn stripped(uri: &str) -> String {
        let mut request = Request::builder().uri(uri).body(Body::empty()).unwrap();
        strip(&mut request);
        request.uri().to_string()
    }

    #[test]
    fn an_api_path_loses_its_trailing_slashes_and_keeps_its_query() {
        assert_eq!(
            stripped("/api/draw/1/element/value/"),
            "/api/draw/1/element/value"
        );
        assert_eq!(
            stripped("/api/draw/1/flow/?filter=a%2Fb&x=/"),
            "/api/draw/1/flow?filter=a%2Fb&x=/"
        );
        assert_eq!(stripped("/api/draw/1/flow//"), "/api/draw/1/flow");
        assert_eq!(
            stripped("http://host:8080/api/draw/1/flow/?page=1"),
            "http://host:8080/api/draw/1/flow?page=1"
        );
    }

    #[test]
    fn other_paths_are_left_alone() {
        for uri in [
            "/api/draw/1/flow",
            "/api/draw/1/flow?x=/",
            "/api/",
            "/api//",
            "/settings/",
            "/",
        ] {
            assert_eq!(stripped(uri), uri);
        }
    }
}
