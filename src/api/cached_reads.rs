//! Authenticated reads answered from memory while what they read is unchanged
//! ([`crate::read_cache`]), and what a write makes stale there.
//!
//! One layer around every API route (a `route_layer`, so the route axum matched is known):
//!
//! - A `GET` of a route listed in [`CACHED`] is authenticated here first, exactly as its
//!   handler would (`Principal`: the credential, the tenant, the key's scopes for this route,
//!   its allowed networks, its rate limit, all on every request), and answered from the cache
//!   when a good answer is there. Otherwise the handler runs, reusing that principal rather
//!   than authenticating again, and its 200 is kept: headers and body, as it made them. Only
//!   the store's read and the encoding are skipped; the answer's headers are the handler's.
//! - A route not listed is never cached: a new route is not cached by accident.
//! - After any other method, the request's writes are forgotten: only its tenant's answers
//!   for a route that writes one tenant's flows, elements or packages, none for one that
//!   writes nothing a cached read shows (sign-in), every answer otherwise ([`writes`]). A handler that panics is settled by
//!   the request service, which forgets everything.
//!
//! Writes from elsewhere — the command line, other instances — reach the cache through the
//! control socket and the change announcements ([`crate::change_watch`]).
//!
//! Before routing, the request service asks [`EarlyReads`] first: a `GET` with an API key or a
//! token whose grant the caches hold (and, for a sign-in's token, the membership) and whose
//! answer this cache holds is answered there and then, with the same checks (networks, scope,
//! rate limit) and the same answer.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, LazyLock};

use axum::body::{Body, HttpBody};
use axum::extract::{FromRequestParts, MatchedPath, Request, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use tower_http::cors::CorsLayer;

use crate::domain::Scope;
use crate::http::Principal;
use crate::http::error::ApiError;
use crate::http::extract::API_KEY;
use crate::http::rate_headers;
use crate::http::request_service::EarlyAnswer;
use crate::http::route_scopes::{self, Need};
use crate::http::scope;
use crate::metrics::Metrics;
use crate::read_cache::{Answer, Depends, ReadKeyRef, Viewer};
use crate::state::AppState;

use Depends::{Tenant, Viewer as Who, ViewerKeyUse};

/// Every cached read (a `GET` route template, as axum matches it) and what its answer
/// depends on beyond the tenant's data. A route whose handler asks for an `Administrator` or an
/// `Interactive` principal, or reads anything of the caller but its tenant, depends on who
/// asks: its answers are kept per viewer, so one filled by a caller who passed the check is
/// never served to one who would not (a demotion moves the generations too).
///
/// Not cached: the audit trail (searches of a growing log), `/metrics`, health and the
/// description, sign-in's token, and `POST …/elements/load` (a read, but a POST).
pub(crate) const CACHED: &[(&str, Depends)] = &[
    // Administration: only administrators, or the caller's own account and keys.
    ("/api/admin/1/tenant", Who),
    ("/api/admin/1/users", Who),
    ("/api/admin/1/users/me", Who),
    ("/api/admin/1/users/me/keys", ViewerKeyUse),
    ("/api/admin/1/users/{id}", Who),
    // The tenant's elements.
    ("/api/draw/1/element/customPageComponent", Tenant),
    ("/api/draw/1/element/customPageComponent/{id}", Tenant),
    ("/api/draw/1/element/identityprovider", Tenant),
    ("/api/draw/1/element/identityprovider/{id}", Tenant),
    ("/api/draw/1/element/macro", Tenant),
    ("/api/draw/1/element/macro/{id}", Tenant),
    ("/api/draw/1/element/page", Tenant),
    ("/api/draw/1/element/page/{id}", Tenant),
    ("/api/draw/1/element/service", Tenant),
    ("/api/draw/1/element/service/{id}", Tenant),
    ("/api/draw/1/element/tag", Tenant),
    ("/api/draw/1/element/tag/{id}", Tenant),
    ("/api/draw/1/element/type", Tenant),
    ("/api/draw/1/element/type/{id}", Tenant),
    ("/api/draw/1/element/value", Tenant),
    ("/api/draw/1/element/value/{id}", Tenant),
    ("/api/draw/2/element/page", Tenant),
    ("/api/draw/2/element/service", Tenant),
    ("/api/draw/2/element/type", Tenant),
    ("/api/draw/2/element/value", Tenant),
    // Flows, their elements, graphs, snapshots and active versions.
    ("/api/draw/1/element/flow/{flow}/{elementType}", Tenant),
    ("/api/draw/1/flow", Tenant),
    ("/api/draw/1/flow/active", Tenant),
    ("/api/draw/1/flow/active/name/{name}", Tenant),
    ("/api/draw/1/flow/active/{id}", Tenant),
    ("/api/draw/1/flow/snap/{flow}", Tenant),
    (
        "/api/draw/1/flow/snap/{flow}/diff/{versionBefore}/{versionAfter}",
        Tenant,
    ),
    ("/api/draw/1/flow/snap/{flow}/{version}", Tenant),
    ("/api/draw/1/flow/{id}", Tenant),
    ("/api/draw/1/flow/{id}/{editingToken}/element/group", Tenant),
    (
        "/api/draw/1/flow/{id}/{editingToken}/element/group/{elementId}",
        Tenant,
    ),
    ("/api/draw/1/flow/{id}/{editingToken}/element/map", Tenant),
    (
        "/api/draw/1/flow/{id}/{editingToken}/element/map/{elementId}",
        Tenant,
    ),
    (
        "/api/draw/1/flow/{id}/{editingToken}/element/navigation",
        Tenant,
    ),
    (
        "/api/draw/1/flow/{id}/{editingToken}/element/navigation/{elementId}",
        Tenant,
    ),
    ("/api/draw/1/graph/flow/{flow}", Tenant),
    ("/api/draw/2/flow/snap/{flow}", Tenant),
    ("/api/draw/2/graph/flow/{flow}", Tenant),
    // Packages: a flow's (its current version or a snapshot), and the tenant's whole, which
    // only administrators may export.
    ("/api/package/1/flow/{id}", Tenant),
    ("/api/package/1/flow/{id}/{version}", Tenant),
    ("/api/package/1/tenant", Who),
];

/// The cached reads' route templates, for the tests that every one is covered.
pub fn routes() -> impl Iterator<Item = &'static str> {
    CACHED.iter().map(|(route, _)| *route)
}

static TABLE: LazyLock<HashMap<&'static str, Depends>> =
    LazyLock::new(|| CACHED.iter().copied().collect());

/// What a `GET` of `route` depends on, if it is cached.
pub(crate) fn cached(route: &str) -> Option<Depends> {
    TABLE.get(route).copied()
}

/// What a request other than a read through `route` may change among the cached reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Writes {
    /// Nothing a cached read shows: sign-in (a token), revealing a key (an audit event), the
    /// `POST` that loads elements, a package's sharing tokens.
    Nothing,
    /// Only its tenant's flows, elements, snapshots or packages: nothing of people, names or
    /// keys, and nothing another tenant's reads show.
    Tenant,
    /// Anything (people, keys, names, passwords, the tenant, other tenants).
    Anything,
}

fn writes(route: &str) -> Writes {
    match route {
        "/api/draw/1/authentication"
        | "/api/admin/1/users/me/keys/{name}/reveal"
        | "/api/draw/1/graph/flow/{flow}/elements/load"
        | "/api/package/1/flow/{id}/share"
        | "/api/package/1/flow/{id}/shares"
        | "/api/package/1/flow/{id}/{version}/share" => Writes::Nothing,
        // A run writes its state only, which no cached read shows (and no run read is cached:
        // a state moves at every invoke).
        _ if route.starts_with("/api/run/") => Writes::Nothing,
        // Deleting states (the administrators' endpoints) likewise touches no cached read.
        _ if route.starts_with("/api/admin/1/states") => Writes::Nothing,
        _ if route.starts_with("/api/draw/") || route.starts_with("/api/package/") => {
            Writes::Tenant
        }
        _ => Writes::Anything,
    }
}

/// The layer (see the module's description).
pub(crate) async fn layer(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|matched| matched.as_str());
    let Some(route) = route else {
        return next.run(request).await;
    };
    let method = request.method();
    if *method == Method::GET {
        return match cached(route) {
            Some(depends) if state.reads.enabled() => {
                let scope = match route_scopes::needed(method, route) {
                    Some(Need::Scope(scope)) => Some(scope),
                    _ => None,
                };
                read(state, depends, scope, request, next).await
            }
            _ => next.run(request).await,
        };
    }
    if method.is_safe() {
        return next.run(request).await;
    }
    let writes = writes(route);
    let response = next.run(request).await;
    match (writes, scope::tenant()) {
        (Writes::Nothing, _) => {}
        (Writes::Tenant, Some(tenant)) => state.reads.forget_tenant(tenant),
        // Refused before any principal: these routes write nothing without one (so a flood
        // of unauthenticated writes empties no cache).
        (Writes::Tenant, None) => {}
        (Writes::Anything, _) => state.reads.forget_all(),
    }
    scope::settle_reads();
    response
}

/// A cached read: authenticated here, then answered from the cache or by the handler.
async fn read(
    state: AppState,
    depends: Depends,
    scope: Option<Scope>,
    request: Request,
    next: Next,
) -> Response {
    let (mut parts, body) = request.into_parts();
    let principal = match Principal::from_request_parts(&mut parts, &state).await {
        Ok(principal) => principal,
        Err(refusal) => return refusal.into_response(),
    };
    parts.extensions.insert(principal);
    let tenant = principal.tenant_id;
    let viewer = (depends != Tenant).then_some(Viewer {
        user: principal.user_id,
        signed_in_at: principal.signed_in_at(),
        key: principal.key(),
    });
    let target = parts
        .uri
        .path_and_query()
        .map_or_else(|| parts.uri.path(), |whole| whole.as_str());
    let key = ReadKeyRef {
        tenant,
        viewer,
        target,
    };
    if let Some(answer) = state.reads.get(key) {
        Metrics::bump(&state.metrics.read_cache_hits);
        return answer_from(&answer);
    }
    let key = key.to_owned();
    // Before the store is read: a write committing meanwhile moves past this stamp.
    let stamp = state.reads.stamp(tenant);
    let response = next.run(Request::from_parts(parts, body)).await;
    if response.status() != StatusCode::OK || response.headers().contains_key(header::SET_COOKIE) {
        return response;
    }
    let (parts, body) = response.into_parts();
    // Only an answer whose length is known and within the cache's bound is read whole here;
    // any other goes out as it is, untouched.
    let fits = body
        .size_hint()
        .exact()
        .is_some_and(|length| length <= state.reads.max_answer_bytes());
    if !fits {
        return Response::from_parts(parts, body);
    }
    let Ok(bytes) = axum::body::to_bytes(body, usize::MAX).await else {
        // A body already in memory cannot fail to be read; should it, the answer is lost.
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    };
    let answer = Arc::new(Answer::new(parts.headers.clone(), bytes.clone(), scope));
    state.reads.put(key, stamp, depends, answer);
    Response::from_parts(parts, Body::from(bytes))
}

/// Whether the early answer may take the request: a `GET` of the API with an API key or an
/// `Authorization` (a token), from a client that is not a browser page of another origin (no
/// `Origin`). A page's request goes through the router, whose CORS layer (`api::cors`) adds
/// what the browser needs; the layer still answers it from the cache, so the early answer
/// keeps one way of doing CORS and its hot path none.
fn early(request: &Request) -> bool {
    request.method() == Method::GET
        && request.uri().path().starts_with("/api/")
        && (request.headers().contains_key(&API_KEY)
            || request.headers().contains_key(header::AUTHORIZATION))
        && !request.headers().contains_key(header::ORIGIN)
}

/// A cached read answered before routing, when everything it needs is cached — the
/// credential's grant (a key's, or a token's and its membership) and the answer — decided
/// without storage or waiting: for a cached answer, axum's router, extractors and boxed
/// futures cost more than the answer itself. The answer is looked up as the layer keeps it:
/// under the tenant, or (for a route that depends on who asks) under the viewer the layer
/// names (the user, the sign-in, the key); the scope its route needs is kept with it and
/// checked here, as the key's networks are. `None` for anything else (a web session, a
/// refusal, a miss, a scope the key lacks), which the router answers, the same way.
pub fn answer_from_cache(state: &AppState, request: &Request, client: IpAddr) -> Option<Response> {
    if !early(request) {
        return None;
    }
    answer_early(state, request, client, answer_from)
}

/// [`answer_from_cache`] for a request [`early`] has admitted, the answer made by `respond`.
fn answer_early(
    state: &AppState,
    request: &Request,
    client: IpAddr,
    respond: impl FnOnce(&Answer) -> Response,
) -> Option<Response> {
    let (principal, credential) = Principal::from_cache(request.headers(), client, state)?;
    let target = request
        .uri()
        .path_and_query()
        .map_or_else(|| request.uri().path(), |whole| whole.as_str());
    let tenant_wide = ReadKeyRef {
        tenant: principal.tenant_id,
        viewer: None,
        target,
    };
    let answer = state.reads.get(tenant_wide).or_else(|| {
        let viewer = Viewer {
            user: principal.user_id,
            signed_in_at: principal.signed_in_at(),
            key: principal.key(),
        };
        state.reads.get(ReadKeyRef {
            viewer: Some(viewer),
            ..tenant_wide
        })
    })?;
    if answer
        .scope
        .is_some_and(|scope| !principal.scopes.permits(scope))
    {
        return None;
    }
    credential.count_hits(state);
    // Charged only now, when this answers: a miss above leaves the request to the router,
    // which charges it there.
    let Some(quota) = credential.charge(client, state) else {
        Metrics::bump(&state.metrics.read_cache_hits);
        return Some(respond(&answer));
    };
    let mut response = match quota.retry_after_secs {
        Some(secs) => ApiError::RateLimited {
            retry_after_secs: u64::from(secs),
        }
        .into_response(),
        None => {
            Metrics::bump(&state.metrics.read_cache_hits);
            respond(&answer)
        }
    };
    rate_headers::apply(response.headers_mut(), &quota);
    Some(response)
}

/// The cached reads' early answer, which `app.rs` gives the request service
/// ([`answer_from_cache`]), with the headers the API's CORS layer adds to a request without
/// `Origin` (which it does not wrap); after a request that may have written and that the
/// layer did not settle (a page's, a panic), every cached read is forgotten.
pub(crate) struct EarlyReads {
    state: AppState,
    cors: HeaderMap,
}

impl EarlyReads {
    pub(crate) fn new(state: AppState, cors: &CorsLayer) -> Self {
        Self {
            state,
            cors: crate::api::cors::headers_without_origin(cors),
        }
    }
}

impl EarlyAnswer for EarlyReads {
    fn may_answer(&self, request: &Request) -> bool {
        early(request)
    }

    /// Called once [`EarlyAnswer::may_answer`] has admitted the request (not asked again).
    fn answer(&self, request: &Request, peer: IpAddr) -> Option<Response> {
        let mut response = answer_early(&self.state, request, peer, |answer| {
            // The answer's headers with the CORS layer's, merged once per cached answer.
            let headers = answer.early_headers.get_or_init(|| {
                let mut headers = answer.headers.clone();
                for (name, value) in &self.cors {
                    headers.append(name, value.clone());
                }
                headers
            });
            let mut response = Response::new(Body::from(answer.body.clone()));
            *response.headers_mut() = headers.clone();
            response
        })?;
        // A refusal (the key's rate limit) is made here, without them.
        if response.status() != StatusCode::OK {
            let headers = response.headers_mut();
            for (name, value) in &self.cors {
                headers.append(name, value.clone());
            }
        }
        Some(response)
    }

    fn after_write(&self) {
        self.state.reads.forget_all();
    }
}

/// A cached answer as a response: a 200 with its headers and body.
pub(crate) fn answer_from(answer: &Answer) -> Response {
    let mut response = Response::new(Body::from(answer.body.clone()));
    *response.headers_mut() = answer.headers.clone();
    response
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::route_scopes::ROUTES;

    /// Every cached read is a `GET` route; every route is in the table once.
    #[test]
    fn every_cached_read_is_a_get_route() {
        assert_eq!(TABLE.len(), CACHED.len(), "a route listed twice");
        for (route, _) in CACHED {
            assert!(
                ROUTES
                    .iter()
                    .any(|(method, path, _)| *method == "GET" && path == route),
                "{route} is no GET route"
            );
        }
    }

    /// The audit trail and the service's own routes are never cached.
    #[test]
    fn the_audit_trail_and_metrics_are_not_cached() {
        for route in [
            "/api/audit/1/search",
            "/api/audit/1/csv",
            "/metrics",
            "/health",
        ] {
            assert_eq!(cached(route), None, "{route}");
        }
    }

    #[test]
    fn writes_to_people_or_keys_are_not_confined_to_a_tenant() {
        assert_eq!(writes("/api/draw/1/flow"), Writes::Tenant);
        assert_eq!(writes("/api/package/1/tenant"), Writes::Tenant);
        assert_eq!(writes("/api/package/1/shared/flow"), Writes::Tenant);
        assert_eq!(writes("/api/draw/1/authentication"), Writes::Nothing);
        assert_eq!(writes("/api/run/1/state/{stateId}"), Writes::Nothing);
        assert_eq!(writes("/api/run/1"), Writes::Nothing);
        assert_eq!(writes("/api/admin/1/states/{id}"), Writes::Nothing);
        assert_eq!(writes("/api/admin/1/states"), Writes::Nothing);
        assert_eq!(writes("/api/admin/1/users/me"), Writes::Anything);
        assert_eq!(writes("/api/admin/1/users/me/keys"), Writes::Anything);
        assert_eq!(writes("/api/keys/report-leak"), Writes::Anything);
    }

    /// Every route named in `writes` is a route that is not a GET.
    #[test]
    fn the_writes_named_are_routes() {
        for route in [
            "/api/draw/1/authentication",
            "/api/admin/1/users/me/keys/{name}/reveal",
            "/api/draw/1/graph/flow/{flow}/elements/load",
            "/api/package/1/flow/{id}/share",
            "/api/package/1/flow/{id}/shares",
            "/api/package/1/flow/{id}/{version}/share",
        ] {
            assert!(
                ROUTES
                    .iter()
                    .any(|(method, path, _)| *method != "GET" && path == &route),
                "{route}"
            );
        }
    }
}
