//! The running server: its shared state, the router with its middleware, and the lifecycle
//! (open the data directory, bind, serve, shut down gracefully).

use std::fs;
use std::net::SocketAddr;
use std::ops::Deref;
use std::sync::Arc;

use anyhow::Context;
use axum::Router;
use axum::extract::{DefaultBodyLimit, Request};
use axum::http::{HeaderName, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::Response;
use tokio::net::TcpListener;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::request_id::{
    MakeRequestUuid, PropagateRequestIdLayer, RequestId, SetRequestIdLayer,
};
use tower_http::sensitive_headers::SetSensitiveRequestHeadersLayer;
use tower_http::trace::TraceLayer;

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
        Self(Arc::new(Shared {
            store,
            verifier,
            throttle,
            sealer,
            flow_lists,
            config,
            metrics,
        }))
    }
}

const REQUEST_ID_HEADER: HeaderName = HeaderName::from_static("x-request-id");

/// The whole HTTP surface with its middleware.
pub fn build_router(state: AppState) -> Router {
    let body_limit = state.config.body_limit_bytes;
    let router = crate::api::router()
        .merge(crate::web::router())
        .fallback(|| async { message_response(StatusCode::NOT_FOUND, "there is no such endpoint") })
        .method_not_allowed_fallback(|| async {
            message_response(StatusCode::METHOD_NOT_ALLOWED, "that method is not allowed here")
        })
        .layer(DefaultBodyLimit::max(body_limit))
        .layer(middleware::from_fn_with_state(state.clone(), count_and_scope))
        .layer(CatchPanicLayer::custom(|_| {
            message_response(StatusCode::INTERNAL_SERVER_ERROR, "keyflow could not complete the request")
        }))
        .layer(TraceLayer::new_for_http().make_span_with(|request: &Request| {
            let id = request
                .headers()
                .get(&REQUEST_ID_HEADER)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("");
            // The path only: a query string is the client's business, never the log's.
            tracing::info_span!("request", id, method = %request.method(), path = request.uri().path())
        }))
        .layer(middleware::from_fn(limits::bound_head));
    // Shedding comes before everything but the request id, so a shed request costs little.
    limits::shed_overload(router, state.config.max_in_flight, state.metrics.clone())
        .layer(SetSensitiveRequestHeadersLayer::new([
            header::AUTHORIZATION,
            header::COOKIE,
            HeaderName::from_static(API_KEY_HEADER),
        ]))
        .layer(PropagateRequestIdLayer::new(REQUEST_ID_HEADER))
        .layer(SetRequestIdLayer::new(REQUEST_ID_HEADER, MakeRequestUuid))
        .with_state(state)
}

/// Counts the request and makes its id known to [`crate::error::ApiError`]. After a request
/// that may have written, the cached flow lists are forgotten (see [`FlowListCache`]).
async fn count_and_scope(
    axum::extract::State(state): axum::extract::State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    Metrics::bump(&state.metrics.http_requests);
    let id = request
        .extensions()
        .get::<RequestId>()
        .and_then(|id| id.header_value().to_str().ok())
        .unwrap_or("")
        .to_string();
    let may_write = !request.method().is_safe();
    let response = REQUEST_ID.scope(id, next.run(request)).await;
    if may_write {
        state.flow_lists.forget_all();
    }
    response
}

/// A server that has opened its data directory and bound its port, ready to [`Server::run`].
pub struct Server {
    listener: TcpListener,
    state: AppState,
    bootstrap: Option<Bootstrap>,
    sqlite: Arc<SqliteStore>,
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
        let state = AppState::new(config, store.clone(), &secrets);
        Ok(Self {
            listener,
            state,
            bootstrap,
            sqlite: store,
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
        let control = control::serve(state.clone());
        let app = build_router(state.clone());
        let served = axum::serve(
            self.listener,
            app.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .with_graceful_shutdown(shutdown)
        .await;
        background.abort();
        drop(control);
        self.sqlite.close().await;
        served.context("the HTTP server failed")
    }
}
