//! What every request goes through first, as one tower service around the router: it is named
//! (`x-request-id`: the client's own when it sent a short one, else a new one) and counted;
//! beyond `--max-in-flight` requests at once it is shed with a 503 there and then; a request
//! with an oversized head is refused; an API path's trailing slash is taken off
//! ([`crate::http::trailing_slash`]); its body, if it has one, is read whole before it takes a
//! slot (`request_body`: within its deadline); its secrets are marked sensitive; its id and the client's
//! address are made known to the code serving it ([`crate::http::scope`]),
//! and it is traced (a span and a line per request at debug level; a 5xx logged at error).
//! Each answer is timed into the latency histogram under its route's template
//! ([`crate::http::route_labels`]) and its status class, the early answer's too.
//! An [`EarlyAnswer`] (the flows area's, injected by `app.rs`) may answer a request before
//! routing, and is told after each request that may have written. A handler that panics is
//! answered 500 like any internal fault. The answer carries the id, and
//! `Cache-Control: no-store` unless it set its own.
//!
//! A hand-written service rather than `axum::middleware::from_fn`: the work before the router
//! is synchronous, so the router is called directly and only one future is boxed, where
//! `from_fn` boxes the middleware's future, the next service and its future on every request.
//! [`crate::http::connections`] makes a copy of it for each connection that knows its peer, so
//! the address travels with the request id in one task-local value instead of an extension
//! (axum's `ConnectInfo`) allocated into every request.

use std::cell::Cell;
use std::convert::Infallible;
use std::net::{IpAddr, Ipv4Addr};
use std::panic::{self, AssertUnwindSafe};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;

use axum::extract::Request;
use axum::http::{HeaderName, HeaderValue, StatusCode, header};
use axum::response::Response;
use futures_util::FutureExt;
use tower::{Layer, Service};
use tracing::Instrument;

use crate::domain::Networks;
use crate::http::client_address;
use crate::http::error::message_response;
use crate::http::extract::API_KEY_HEADER;
use crate::http::limits::{self, InFlight};
use crate::http::rate_headers;
use crate::http::request_body::{self, BodyReader};
use crate::http::request_id;
use crate::http::route_labels::RouteLabels;
use crate::http::scope::{SCOPE, Scope};
use crate::http::trailing_slash;
use crate::metrics::Metrics;

/// The header that names a request. (The header names here are statics, not constants: a
/// constant would be built and dropped again at every use.)
pub static REQUEST_ID_HEADER: HeaderName = HeaderName::from_static("x-request-id");

/// Headers that carry secrets: marked sensitive, so no `Debug` of a request shows them.
static SENSITIVE: [HeaderName; 3] = [
    header::AUTHORIZATION,
    header::COOKIE,
    HeaderName::from_static(API_KEY_HEADER),
];

/// An answer given before routing, for a request the router need not see: decided from what
/// is at hand, without storage or waiting. The flows area implements it for its most frequent
/// call; the request service is generic over it, so the hot path calls it directly.
pub trait EarlyAnswer: Send + Sync + 'static {
    /// Whether this may answer `request`: a cheap look at its head. Only such a request takes
    /// an in-flight slot for [`EarlyAnswer::answer`].
    fn may_answer(&self, request: &Request) -> bool;
    /// The answer to a request `may_answer` chose, from the client at `client` (the peer, or
    /// what a trusted proxy says); `None` leaves it to the router.
    fn answer(&self, request: &Request, client: IpAddr) -> Option<Response>;
    /// Called after each request that may have written (a method other than GET, HEAD or
    /// OPTIONS) has been served, or has panicked: what was kept may be stale now.
    fn after_write(&self);
}

/// What the copies of the service (one per connection) share.
struct Edge<E> {
    early: E,
    in_flight: Arc<InFlight>,
    bodies: Arc<BodyReader>,
    metrics: Arc<Metrics>,
    /// `--trusted-proxies`: whose `X-Forwarded-For` names the client.
    trusted_proxies: Networks,
    /// The route templates, for the latency histogram's labels.
    routes: RouteLabels,
}

/// Wraps a service (the router) in [`RequestService`].
pub struct RequestServiceLayer<E> {
    state: Arc<Edge<E>>,
}

impl<E: EarlyAnswer> RequestServiceLayer<E> {
    /// The request service with its early answer, its bound on the requests in flight, how it
    /// reads bodies, the counters it bumps, the proxies whose `X-Forwarded-For` it believes,
    /// and the routes it times answers by (their histogram series are made here, once).
    pub fn new(
        early: E,
        in_flight: Arc<InFlight>,
        bodies: Arc<BodyReader>,
        metrics: Arc<Metrics>,
        trusted_proxies: Networks,
        routes: RouteLabels,
    ) -> Self {
        metrics.latency.set_routes(routes.names());
        let edge = Edge {
            early,
            in_flight,
            bodies,
            metrics,
            trusted_proxies,
            routes,
        };
        Self {
            state: Arc::new(edge),
        }
    }
}

impl<S, E> Layer<S> for RequestServiceLayer<E> {
    type Service = RequestService<S, E>;

    fn layer(&self, inner: S) -> RequestService<S, E> {
        RequestService {
            inner,
            state: self.state.clone(),
            peer: IpAddr::V4(Ipv4Addr::UNSPECIFIED),
        }
    }
}

/// The service every request enters first (see the module's description).
pub struct RequestService<S, E> {
    inner: S,
    state: Arc<Edge<E>>,
    peer: IpAddr,
}

impl<S: Clone, E> RequestService<S, E> {
    /// A copy for one connection, which knows the connection's peer.
    pub fn for_peer(&self, peer: IpAddr) -> Self {
        let mut service = self.clone();
        service.peer = peer;
        service
    }
}

impl<S: Clone, E> Clone for RequestService<S, E> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
            state: self.state.clone(),
            peer: self.peer,
        }
    }
}

type Answer = Pin<Box<dyn Future<Output = Result<Response, Infallible>> + Send>>;

impl<S, E> Service<Request> for RequestService<S, E>
where
    S: Service<Request, Response = Response, Error = Infallible> + Clone + Send + 'static,
    S::Future: Send + 'static,
    E: EarlyAnswer,
{
    type Response = Response;
    type Error = Infallible;
    type Future = Answer;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request) -> Answer {
        let started = Instant::now();
        let state = self.state.clone();
        Metrics::bump(&state.metrics.http_requests);
        // One pass over the headers: their size, the secrets among them, the client's id.
        let mut header_bytes = 0;
        let mut given_id = None;
        for (name, value) in request.headers_mut().iter_mut() {
            header_bytes += name.as_str().len() + value.len();
            if SENSITIVE.contains(name) {
                value.set_sensitive(true);
            } else if *name == REQUEST_ID_HEADER && given_id.is_none() {
                given_id = Some(&*value);
            }
        }
        let id = match given_id {
            Some(given) if given.len() <= 64 && given.to_str().is_ok() => given.clone(),
            _ => request_id::new(),
        };
        if let Some(refusal) = limits::refuse_oversized_head(request.uri(), header_bytes) {
            // Refused before its path is read: counted as unmatched.
            let timer = Timer { route: 0, started };
            let refused = timer.record(&state.metrics, refusal);
            return Box::pin(async move { Ok(finish(id, refused)) });
        }
        // Before anything reads the path: the early answer, the trace, the router.
        trailing_slash::strip(&mut request);
        // The client, once for the whole request (the throttle, a key's networks, the audit);
        // without trusted proxies, the peer, with no header read.
        let client = if state.trusted_proxies.is_empty() {
            self.peer
        } else {
            client_address::resolve(self.peer, request.headers(), &state.trusted_proxies)
        };
        let may_write = !request.method().is_safe();
        let span = tracing::enabled!(tracing::Level::DEBUG).then(|| {
            let id = id.to_str().unwrap_or_default();
            tracing::debug_span!("request", id, method = %request.method(), path = request.uri().path())
        });
        // The most frequent call, answered from the caches before routing when it can be (not
        // while every request is traced at debug level, so the trace shows one path). The head
        // bound above applies first, before any slot is taken.
        if span.is_none()
            && let Some(answer) = self.answer_from_cache(&request, client)
        {
            // Labelled after answering: a miss is labelled once, below.
            let timer = Timer {
                route: state.routes.of(request.uri().path()),
                started,
            };
            let answer = timer.record(&state.metrics, answer);
            return Box::pin(std::future::ready(Ok(finish(id, answer))));
        }
        // The route's label, for what the router answers.
        let timer = Timer {
            route: state.routes.of(request.uri().path()),
            started,
        };
        // A body is read whole before the request takes a slot (`request_body`), with the
        // router that `poll_ready` readied; a bodiless request is routed at once.
        if request_body::has_body(&request) {
            let clone = self.inner.clone();
            let mut ready = std::mem::replace(&mut self.inner, clone);
            return Box::pin(async move {
                match state.bodies.read_whole(request, &state.metrics).await {
                    Ok((request, charge)) => {
                        let answer = route(&mut ready, request, span);
                        let answered = in_slot(state, id, client, may_write, timer, answer).await;
                        // The body counts against the budget until its request is answered.
                        drop(charge);
                        answered
                    }
                    // Not logged: a 408, 413, 400 or a 503 under a flood of bodies.
                    Err(refusal) => Ok(named(id, timer.record(&state.metrics, refusal))),
                }
            });
        }
        let answer = route(&mut self.inner, request, span);
        Box::pin(in_slot(state, id, client, may_write, timer, answer))
    }
}

/// When a request began and which route's series its answer goes to.
#[derive(Clone, Copy)]
struct Timer {
    route: usize,
    started: Instant,
}

impl Timer {
    /// Counts the answer in the latency histogram, and passes it on.
    fn record(self, metrics: &Metrics, response: Response) -> Response {
        let status = response.status().as_u16();
        metrics
            .latency
            .observe(self.route, status, self.started.elapsed());
        response
    }
}

/// Calls the router, which only makes its future: nothing that reads the request id runs
/// until it is polled in [`in_slot`]. None if the router panicked while making it.
fn route<S>(
    inner: &mut S,
    request: Request,
    span: Option<tracing::Span>,
) -> Option<impl Future<Output = std::thread::Result<Result<Response, Infallible>>> + use<S>>
where
    S: Service<Request, Response = Response, Error = Infallible>,
{
    let called = panic::catch_unwind(AssertUnwindSafe(|| inner.call(request)));
    // The state a panic leaves behind is the request's own (its future is dropped); what is
    // shared is behind locks and atomics that a panic does not leave half-written.
    called
        .ok()
        .map(|answer| AssertUnwindSafe(traced(span, answer)).catch_unwind())
}

/// Runs the router's answer in an in-flight slot, or sheds the request when there is none.
async fn in_slot<E: EarlyAnswer, F>(
    state: Arc<Edge<E>>,
    id: HeaderValue,
    peer: IpAddr,
    may_write: bool,
    timer: Timer,
    answer: Option<F>,
) -> Result<Response, Infallible>
where
    F: Future<Output = std::thread::Result<Result<Response, Infallible>>>,
{
    let Some(answer) = answer else {
        if may_write {
            state.early.after_write();
        }
        return Ok(finish(id, timer.record(&state.metrics, panicked())));
    };
    let Some(slot) = state.in_flight.enter() else {
        // Not logged: under a flood that would be a line per refused request.
        Metrics::bump(&state.metrics.shed);
        let shed = timer.record(&state.metrics, state.in_flight.shed());
        return Ok(named(id, shed));
    };
    let scope = Scope {
        id,
        peer,
        quota: Cell::new(None),
        tenant: Cell::new(None),
        reads_settled: Cell::new(false),
    };
    let scoped = SCOPE.scope(scope, answer);
    let mut scoped = std::pin::pin!(scoped);
    let mut response = match scoped.as_mut().await {
        Ok(Ok(response)) => response,
        Err(_panic) => panicked(),
    };
    // The id moves back out of the scope rather than being cloned into it: a clone of a fresh
    // header value would allocate.
    let Scope {
        id,
        quota,
        reads_settled,
        ..
    } = scoped.take_value().expect("the scope ran to completion");
    // Every answer to a request with a key carries its limit, errors after authentication too.
    if let Some(quota) = quota.get() {
        rate_headers::apply(response.headers_mut(), &quota);
    }
    drop(slot);
    // A write the router's cached reads did not settle themselves (a page's, say) may have
    // changed anything.
    if may_write && !reads_settled.get() {
        state.early.after_write();
    }
    Ok(finish(id, timer.record(&state.metrics, response)))
}

impl<S, E: EarlyAnswer> RequestService<S, E> {
    /// [`EarlyAnswer::answer`] within a slot of its own: `None` when the router must answer
    /// (or shed the request). A panic there is answered 500 like a handler's.
    fn answer_from_cache(&self, request: &Request, client: IpAddr) -> Option<Response> {
        if !self.state.early.may_answer(request) {
            return None;
        }
        let slot = self.state.in_flight.enter()?;
        let answer = panic::catch_unwind(AssertUnwindSafe(|| {
            self.state.early.answer(request, client)
        }));
        drop(slot);
        answer.unwrap_or_else(|_panic| Some(panicked()))
    }
}

/// The answer to a request whose handler panicked (the panic itself is reported by the panic
/// hook; the 500 is logged with its id by [`finish`]).
fn panicked() -> Response {
    message_response(
        StatusCode::INTERNAL_SERVER_ERROR,
        "keyflow could not complete the request",
    )
}

/// Logs a 5xx with its request id and names the answer with the id. A 501 is not logged: it
/// is keyflow's answer to what it does not do (calling a connector), not a fault.
fn finish(id: HeaderValue, response: Response) -> Response {
    if response.status().is_server_error() && response.status() != StatusCode::NOT_IMPLEMENTED {
        let status = response.status().as_u16();
        let request_id = id.to_str().unwrap_or_default();
        tracing::error!(request_id, status, "request failed");
    }
    named(id, response)
}

/// `Cache-Control: no-store`, for every answer that does not say otherwise.
static NO_STORE: HeaderValue = HeaderValue::from_static("no-store");

/// The answer, named with the request id, and kept out of every cache unless it chose its own
/// `Cache-Control` (only the pages' assets do). Many API answers carry a secret — a token, a
/// key's value, a set-password link — and a browser's or a proxy's cache would keep it on
/// disk; doing it here, for every answer, covers the errors, the shed 503s, the early answer
/// from the caches and any endpoint added later, at the cost of one header per answer.
fn named(id: HeaderValue, mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.insert(&REQUEST_ID_HEADER, id);
    headers
        .entry(header::CACHE_CONTROL)
        .or_insert_with(|| NO_STORE.clone());
    response
}

/// Runs the request in its debug-level span, if it has one, with a line for its answer. The
/// path only: a query string is the client's business, never the log's. (Off at the default
/// level, where a span per request would cost a tenth of the hot path; the lines logged at
/// info and above name their request id themselves.)
async fn traced<F>(span: Option<tracing::Span>, answer: F) -> Result<Response, Infallible>
where
    F: Future<Output = Result<Response, Infallible>>,
{
    let Some(span) = span else {
        return answer.await;
    };
    let started = std::time::Instant::now();
    let response = answer.instrument(span.clone()).await;
    let _entered = span.enter();
    if let Ok(response) = &response {
        tracing::debug!(
            status = response.status().as_u16(),
            latency_us = started.elapsed().as_micros() as u64,
            "answered"
        );
    }
    response
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use axum::body::Body;

    use super::*;

    /// Answers nothing early; counts the writes it is told of.
    #[derive(Default)]
    struct Writes(AtomicUsize);

    impl EarlyAnswer for Arc<Writes> {
        fn may_answer(&self, _: &Request) -> bool {
            false
        }

        fn answer(&self, _: &Request, _: IpAddr) -> Option<Response> {
            None
        }

        fn after_write(&self) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    fn request(id: &str) -> Request {
        Request::builder()
            .method("POST")
            .uri("/")
            .header(&REQUEST_ID_HEADER, id)
            .body(Body::empty())
            .unwrap()
    }

    /// Panics while making its future (`call`) or while running it, as asked.
    #[derive(Clone)]
    struct Panicking {
        in_call: bool,
    }

    impl Service<Request> for Panicking {
        type Response = Response;
        type Error = Infallible;
        type Future = Pin<Box<dyn Future<Output = Result<Response, Infallible>> + Send>>;

        fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
            Poll::Ready(Ok(()))
        }

        fn call(&mut self, _: Request) -> Self::Future {
            assert!(!self.in_call, "a bug while routing");
            Box::pin(async { panic!("a bug in a handler") })
        }
    }

    #[tokio::test]
    async fn a_panic_is_answered_500_with_the_request_id_frees_its_slot_and_counts_as_a_write() {
        let writes = Arc::new(Writes::default());
        for in_call in [false, true] {
            let bodies = Arc::new(BodyReader {
                limit_bytes: 1024,
                anonymous_limit_bytes: 1024,
                timeout: std::time::Duration::from_secs(1),
                budget: request_body::BodyBudget::new(1024),
            });
            let in_flight = Arc::new(InFlight::new(1));
            let layer = RequestServiceLayer::new(
                writes.clone(),
                in_flight,
                bodies,
                Arc::default(),
                Networks::default(),
                RouteLabels::new([]),
            );
            let mut service = layer.layer(Panicking { in_call });
            // Twice with room for one request at a time: the first must have left its slot.
            for attempt in ["first", "second"] {
                let response = service.call(request(attempt)).await.unwrap();
                assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
                assert_eq!(response.headers()[&REQUEST_ID_HEADER], attempt);
            }
        }
        // What a panicking write may have changed is forgotten all the same.
        assert_eq!(writes.0.load(Ordering::SeqCst), 4);
    }
}
