//! The running server: its shared state, the router with its middleware, and the lifecycle
//! (open the data directory, bind, serve, shut down gracefully).

use std::convert::Infallible;
use std::fs;
use std::net::SocketAddr;
use std::ops::Deref;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};

use anyhow::Context;
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::{HeaderName, HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::Response;
use tokio::net::TcpListener;
use tower::{Service, ServiceBuilder};
use tower_http::catch_panic::CatchPanicLayer;

use crate::api::flow_cache::FlowListCache;
use crate::auth::api_key::{Hasher, Sealer};
use crate::auth::extract::API_KEY_HEADER;
use crate::auth::throttle::FailureThrottle;
use crate::auth::verifier::KeyVerifier;
use crate::bootstrap::{self, Bootstrap};
use crate::config::{RevealPolicy, ServeConfig};
use crate::control;
use crate::data_dir;
use crate::error::{REQUEST_ID, message_response};
use crate::limits;
use crate::metrics::Metrics;
use crate::secrets::Secrets;
use crate::store::sqlite::SqliteStore;
use crate::store::{KeyStore, Store};

/// What every handler can reach. Cloning is one reference count.
#[derive(Clone)]
pub struct AppState(Arc<Shared>);

pub struct Shared {
    pub store: Arc<dyn Store>,
    pub verifier: KeyVerifier,
    pub throttle: FailureThrottle,
    pub sealer: Sealer,
    pub flow_lists: FlowListCache,
    pub in_flight: limits::InFlight,
    pub config: ServeConfig,
    pub metrics: Arc<Metrics>,
}

impl Deref for AppState {
    type Target = Shared;
    fn deref(&self) -> &Shared {
        &self.0
    }
}

impl AppState {
    /// The state over an opened store with loaded secrets.
    pub fn new(config: ServeConfig, store: Arc<dyn Store>, secrets: &Secrets) -> Self {
        let metrics = Arc::new(Metrics::default());
        let verifier = KeyVerifier::new(
            Hasher::new(&secrets.pepper),
            config.key_cache_capacity,
            store.clone(),
            metrics.clone(),
        );
        let throttle = FailureThrottle::new(
            config.auth_failure_burst,
            config.auth_failure_refill,
            metrics.clone(),
        );
        let sealer = Sealer::new(&secrets.master_key);
        let flow_lists = FlowListCache::new(config.flow_list_cache_bytes);
        let in_flight = limits::InFlight::new(config.max_in_flight);
        Self(Arc::new(Shared {
            store,
            verifier,
            throttle,
            sealer,
            flow_lists,
            in_flight,
            config,
            metrics,
        }))
    }
}

const REQUEST_ID_HEADER: HeaderName = HeaderName::from_static("x-request-id");

/// The whole HTTP surface with its middleware, as one service.
pub fn build_service(
    state: AppState,
) -> impl Service<Request, Response = Response, Error = Infallible, Future: Send>
+ Clone
+ Send
+ Sync
+ 'static {
    let routes = crate::api::router()
        .merge(crate::web::router())
        .fallback(|| async { message_response(StatusCode::NOT_FOUND, "there is no such endpoint") })
        .method_not_allowed_fallback(|| async {
            message_response(
                StatusCode::METHOD_NOT_ALLOWED,
                "that method is not allowed here",
            )
        })
        .with_state(state.clone());
    // The middleware wraps the router once rather than each of its routes, where a layer costs
    // every request one more clone and boxed future.
    ServiceBuilder::new()
        .layer(middleware::from_fn_with_state(
            state.clone(),
            request_context,
        ))
        .layer(CatchPanicLayer::custom(|_| {
            message_response(
                StatusCode::INTERNAL_SERVER_ERROR,
                "keyflow could not complete the request",
            )
        }))
        .layer(DefaultBodyLimit::max(state.config.body_limit_bytes))
        .service(routes)
}

/// Headers that carry secrets: marked sensitive, so no `Debug` of a request shows them.
const SENSITIVE: [HeaderName; 3] = [
    header::AUTHORIZATION,
    header::COOKIE,
    HeaderName::from_static(API_KEY_HEADER),
];

/// What every request goes through first, in one layer (each layer costs every request a
/// clone and a boxed future): it is named (`x-request-id`: the client's own when it sent a
/// short one, else a new one) and counted; beyond `--max-in-flight` requests at once it is
/// shed with a 503 there and then; a request with an oversized head is refused; its secrets
/// are marked sensitive, its id made known to [`crate::error::ApiError`], and it is traced
/// (a span and a line per request at debug level; a 5xx logged at error). After a request
/// that may have written, the cached flow lists are forgotten (see [`FlowListCache`]). The
/// answer carries the id.
async fn request_context(
    State(state): State<AppState>,
    mut request: Request,
    next: Next,
) -> Response {
    Metrics::bump(&state.metrics.http_requests);
    let id = match request.headers().get(&REQUEST_ID_HEADER) {
        Some(given) if given.len() <= 64 && given.to_str().is_ok() => given.clone(),
        _ => new_request_id(),
    };
    let Some(slot) = state.in_flight.enter() else {
        // Not logged: under a flood that would be a line per refused request.
        Metrics::bump(&state.metrics.shed);
        let mut shed = state.in_flight.shed();
        shed.headers_mut().insert(REQUEST_ID_HEADER, id);
        return shed;
    };
    let mut response = match limits::refuse_oversized_head(&request) {
        Some(refusal) => refusal,
        None => {
            for (name, value) in request.headers_mut().iter_mut() {
                if SENSITIVE.contains(name) {
                    value.set_sensitive(true);
                }
            }
            let may_write = !request.method().is_safe();
            let response = REQUEST_ID
                .scope(id.clone(), traced(&id, request, next))
                .await;
            if may_write {
                state.flow_lists.forget_all();
            }
            response
        }
    };
    drop(slot);
    if response.status().is_server_error() {
        let status = response.status().as_u16();
        let request_id = id.to_str().unwrap_or_default();
        tracing::error!(request_id, status, "request failed");
    }
    response.headers_mut().insert(REQUEST_ID_HEADER, id);
    response
}

/// Runs the request in a debug-level span, with a line for its answer. The path only: a query
/// string is the client's business, never the log's. (Off at the default level, where a span
/// per request would cost a tenth of the hot path; the lines logged at info and above name
/// their request id themselves.)
async fn traced(id: &HeaderValue, request: Request, next: Next) -> Response {
    use tracing::Instrument;
    if !tracing::enabled!(tracing::Level::DEBUG) {
        return next.run(request).await;
    }
    let id = id.to_str().unwrap_or_default();
    let span = tracing::debug_span!("request", id, method = %request.method(), path = request.uri().path());
    let started = std::time::Instant::now();
    let response = next.run(request).instrument(span.clone()).await;
    let _entered = span.enter();
    tracing::debug!(
        status = response.status().as_u16(),
        latency_us = started.elapsed().as_micros() as u64,
        "answered"
    );
    response
}

/// A new request id in the form of a UUID, unique within the process and made without a
/// system call: a random per-process half, and a counter scrambled by a bijective mix, so ids
/// never repeat and do not read as a count of requests.
fn new_request_id() -> HeaderValue {
    static KEY: OnceLock<(u64, u64)> = OnceLock::new();
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let (high, low) = *KEY.get_or_init(rand::random);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let id = uuid::Uuid::from_u64_pair(high, mix(n ^ low));
    let mut text = [0u8; uuid::fmt::Hyphenated::LENGTH];
    HeaderValue::from_str(id.hyphenated().encode_lower(&mut text)).expect("hex and hyphens")
}

/// The splitmix64 finalizer: a bijection of u64, so distinct counters give distinct ids.
fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// A server that has opened its data directory and bound its port, ready to [`Server::run`].
pub struct Server {
    listener: TcpListener,
    state: AppState,
    bootstrap: Option<Bootstrap>,
    sqlite: Arc<SqliteStore>,
    control: control::ControlSocket,
    _lock: fs::File,
}

impl Server {
    /// Opens the data directory (creating it), takes its lock, loads the secrets, brings the
    /// schema up to date and seeds an empty database. The listener is already bound, so a
    /// client may connect as soon as this returns.
    pub async fn start(config: ServeConfig, listener: TcpListener) -> anyhow::Result<Self> {
        let lock = data_dir::lock(&config.data_dir)?;
        let store = Arc::new(SqliteStore::open(&config.data_dir).await?);
        let secrets = Secrets::load(
            &config.data_dir,
            config.pepper.as_ref(),
            config.master_key.as_ref(),
            store.as_ref(),
        )
        .await?;
        if config.key_reveal == RevealPolicy::Never {
            let purged = store.purge_sealed().await?;
            if purged > 0 {
                tracing::info!(
                    purged,
                    "reveal policy `never`: forgot the sealed key values"
                );
            }
        }
        let bootstrap = bootstrap::seed_if_empty(store.as_ref(), &config).await?;
        let control = control::ControlSocket::bind(&config.data_dir);
        let state = AppState::new(config, store.clone(), &secrets);
        Ok(Self {
            listener,
            state,
            bootstrap,
            sqlite: store,
            control,
            _lock: lock,
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.listener
            .local_addr()
            .expect("a bound listener has an address")
    }

    /// What the first start created, if this was it.
    pub fn bootstrap(&self) -> Option<&Bootstrap> {
        self.bootstrap.as_ref()
    }

    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Serves until `shutdown` completes, then lets requests in flight finish and closes the
    /// database cleanly.
    pub async fn run(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let state = self.state.clone();
        let background = tokio::spawn(control::watch_revocations(state.clone()));
        let mut control = self.control;
        control.serve(state.clone());
        let app = build_service(state.clone());
        let served = axum::serve(
            self.listener,
            axum::ServiceExt::<Request>::into_make_service_with_connect_info::<SocketAddr>(app),
        )
        .with_graceful_shutdown(shutdown)
        .await;
        background.abort();
        drop(control);
        self.sqlite.close().await;
        served.context("the HTTP server failed")
    }
}
