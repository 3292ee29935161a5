//! keyflow: a self-hosted server for the Flow platform API — tenants, users, flows and the
//! API keys that authenticate scripts against them.
//!
//! The crate in a few lines:
//! - [`cli`] parses the command line; [`admin`] carries out the administration commands.
//! - [`app`] builds the router and runs the server; [`config`] holds its settings;
//!   [`request_context`] is what every request goes through first (its id in [`request_id`],
//!   the early answer from the caches); [`limits`] bounds request heads and requests in flight;
//!   [`bootstrap`] seeds an empty database; [`secrets`] loads or creates the pepper and master key.
//! - [`api`] has one module of thin handlers per area; [`error`] turns every failure into a
//!   JSON-string answer with the right status code.
//! - [`auth`] owns credentials: the key codec and its crypto, tokens, passwords, the verifier
//!   with its cache, the failure throttle, and the extractor handlers ask for a principal.
//! - [`domain`] holds the values that are parsed at the edge and valid inside.
//! - [`store`] is the only place that knows SQL: a `Store` trait and its SQLite backend.
//! - [`key_management`] and [`user_admin`] hold the rules for keys and for a tenant's users.
//! - [`control`] lets the command line tell a running server to drop its key cache, and runs
//!   the background tasks (revocation poll, the caches' [`coarse_clock`]).
//! - [`web`] serves the pages: sign-in, User Settings (API keys) and Flows.
#![forbid(unsafe_code)]

pub(crate) mod admin;
pub mod api;
pub mod app;
pub mod auth;
pub mod bootstrap;
pub mod cli;
pub(crate) mod coarse_clock;
pub mod config;
pub(crate) mod control;
pub mod data_dir;
pub mod domain;
pub(crate) mod flow_cache;
pub mod http;
pub mod metrics;
pub(crate) mod rules;
pub mod secrets;
pub mod state;
pub mod store;
pub(crate) mod web;
