//! The composition root: it wires the HTTP edge, the areas (API and pages) and the store
//! together into the running server, with its lifecycle (open the data directory, bind,
//! serve, shut down gracefully). The state they share is in [`crate::state`].

use std::fs;
use std::net::SocketAddr;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::StatusCode;
use tokio::net::TcpListener;
use tower::Layer;

use crate::api::cached_reads::EarlyReads;
use crate::auth::usage::{self, UsageReceiver};
use crate::bootstrap::{self, Bootstrap};
use crate::change_watch;
use crate::config::{RevealPolicy, ServeConfig};
use crate::control;
use crate::data_dir;
use crate::http::connections::{self, ConnectionRules};
use crate::http::error::message_response;
use crate::http::request_service::{RequestService, RequestServiceLayer};
use crate::http::route_labels::RouteLabels;
use crate::http::route_scopes;
use crate::secrets::Secrets;
use crate::state::AppState;
use crate::store;

/// The whole HTTP surface with its middleware, as one service.
pub(crate) fn build_service(state: AppState) -> RequestService<Router, EarlyReads> {
    // The pages' forms are read by axum's extractors, which take their limit from this layer;
    // the API reads its bodies with the limit itself (`http::json`).
    let pages = crate::web::router().layer(DefaultBodyLimit::max(state.config.body_limit_bytes));
    // CORS on the API's routes only (with its unknown paths): the pages keep their strict
    // policy, and the layer answers a preflight before any credential is asked for.
    let cors = crate::api::cors::layer(state.config.cors_origins.as_deref());
    // The early answer adds what the layer adds to a request without `Origin` itself.
    let early = EarlyReads::new(state.clone(), &cors);
    // The API's 405 is set before the layer, so it is layered too: a preflight (`OPTIONS`) on
    // a route without that method reaches the layer rather than an unlayered 405.
    let routes = crate::api::router(state.clone())
        .method_not_allowed_fallback(not_allowed)
        .layer(cors)
        .merge(pages)
        .fallback(|| async { message_response(StatusCode::NOT_FOUND, "there is no such endpoint") })
        .method_not_allowed_fallback(not_allowed)
        .with_state(state.clone());
    // The middleware wraps the router once rather than each of its routes, where a layer costs
    // every request one more clone and boxed future. The cached reads answer early.
    let in_flight = state.in_flight.clone();
    let bodies = state.bodies.clone();
    let metrics = state.metrics.clone();
    let trusted_proxies = state.config.trusted_proxies.clone();
    RequestServiceLayer::new(
        early,
        in_flight,
        bodies,
        metrics,
        trusted_proxies,
        route_labels(),
    )
    .layer(routes)
}

/// The templates of every route the router serves, the latency histogram's labels: the API's
/// (its table of scopes lists each), its answer to unknown paths, and the pages.
fn route_labels() -> RouteLabels {
    let api = route_scopes::ROUTES
        .iter()
        .map(|&(_, template, _)| template);
    let unknown = std::iter::once(crate::api::UNKNOWN);
    RouteLabels::new(api.chain(unknown).chain(crate::web::PAGES.iter().copied()))
}

async fn not_allowed() -> axum::response::Response {
    message_response(
        StatusCode::METHOD_NOT_ALLOWED,
        "that method is not allowed here",
    )
}

/// A server that has opened its data directory and bound its port, ready to [`Server::run`].
pub struct Server {
    listener: TcpListener,
    state: AppState,
    bootstrap: Option<Bootstrap>,
    control: control::ControlSocket,
    /// The change counter before anything was cached: the watch starts from it.
    counter_at_start: i64,
    /// The keys' uses, for the usage writer `run` starts.
    usage: UsageReceiver,
    _lock: fs::File,
}

impl Server {
    /// Opens the data directory (creating it), takes its lock, loads the secrets, brings the
    /// schema up to date and seeds an empty database. The listener is already bound, so a
    /// client may connect as soon as this returns.
    pub async fn start(config: ServeConfig, listener: TcpListener) -> anyhow::Result<Self> {
        let lock = data_dir::lock(&config.data_dir)?;
        let store = store::open(&config.store()).await?;
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
        let counter_at_start = store.change_counter().await?;
        let (state, usage) = AppState::new(config, store.clone(), &secrets);
        Ok(Self {
            listener,
            state,
            usage,
            bootstrap,
            control,
            counter_at_start,
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
        let watch = change_watch::Watch::from(self.counter_at_start);
        // Each key's rate limit is shared among the instances on the database: the first
        // heartbeat comes before the first request is served.
        if let Err(error) = state.verifier.heartbeat().await {
            tracing::warn!(%error, "first heartbeat failed");
        }
        let background = [
            tokio::spawn(change_watch::listen(state.clone(), watch.clone())),
            tokio::spawn(change_watch::poll(state.clone(), watch)),
            tokio::spawn(control::age_caches(state.clone())),
            tokio::spawn(control::audit_upkeep(state.clone())),
            tokio::spawn(control::state_upkeep(state.clone())),
            tokio::spawn(control::heartbeat(state.clone())),
        ];
        let (stop_usage, usage_stopped) = tokio::sync::oneshot::channel();
        let written = {
            let state = state.clone();
            move || state.reads.forget_key_use()
        };
        let usage_writer = tokio::spawn(usage::write(
            state.store.clone(),
            self.usage,
            state.metrics.clone(),
            usage_stopped,
            written,
        ));
        let mut control = self.control;
        control.serve(state.clone());
        let app = build_service(state.clone());
        let rules = ConnectionRules {
            max_per_address: state.config.max_connections_per_address,
            head_timeout: state.config.header_timeout,
        };
        connections::serve(self.listener, app, rules, &state.metrics, shutdown).await;
        // Each task is aborted and then awaited, so a query it was making has given its
        // connection back before the pool closes: a connection still out when the process
        // exits would leave the write-ahead log behind.
        for task in background {
            task.abort();
            let _ = task.await;
        }
        // The keys' last uses still queued are written before the store closes.
        let _ = stop_usage.send(());
        let _ = usage_writer.await;
        if let Err(error) = state.verifier.leave().await {
            tracing::warn!(%error, "could not leave the instances' count");
        }
        drop(control);
        control::flush_refusals(&state).await;
        state.store.close().await;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    /// Every template the router serves has a label of its own (none was refused by the
    /// matcher, which would time its answers as unmatched), and a path is labelled as axum's
    /// `MatchedPath` names it: the unknown API paths by their catch-all, pages by theirs.
    #[test]
    fn every_route_has_its_own_latency_label() {
        let labels = route_labels();
        let api = route_scopes::ROUTES
            .iter()
            .map(|&(_, template, _)| template);
        let templates: BTreeSet<&str> = api
            .chain([crate::api::UNKNOWN])
            .chain(crate::web::PAGES.iter().copied())
            .collect();
        let names = labels.names();
        assert_eq!(
            names.len(),
            templates.len() + 1,
            "one label each, and unmatched"
        );
        let name = |path: &str| names[labels.of(path)];
        assert_eq!(name("/api/no/such/thing"), crate::api::UNKNOWN);
        assert_eq!(name("/api/draw/1/flow"), "/api/draw/1/flow");
        assert_eq!(name("/assets/keyflow.css"), "/assets/{file}");
        assert_eq!(name("/"), "/");
        assert_eq!(name("/no/such/page"), names[0], "unmatched");
    }
}
