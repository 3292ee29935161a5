//! keyflow: a self-hosted server for the Flow platform API — tenants, users, flows and the
//! API keys that authenticate scripts against them.
//!
//! The crate in layers, each importing only those below it (docs/ARCHITECTURE.md has the
//! table, and where each kind of change goes):
//! - [`cli`] parses the command line; `admin` carries out the administration commands through
//!   the same rules as the API; [`copy`] moves all data between two stores (`keyflow copy`).
//! - [`app`] is the composition root: it wires the edge, the areas and the store into the
//!   running server. [`state`] is what the areas share; [`config`] holds the settings;
//!   [`bootstrap`] seeds an empty database; [`secrets`] loads or creates the pepper and master
//!   key; `control` answers the command line's revocations over the data directory's socket;
//!   `change_watch` keeps the caches in step with writes announced by other instances (or
//!   seen in the change counter).
//! - The areas: [`api`] has one module of thin handlers per area of the API; `web` serves the
//!   pages (sign-in, User Settings, Flows).
//! - [`http`] is the edge every request crosses: the connections (a head deadline, a bound
//!   per address), the request service (ids, limits, the body read within its deadline before
//!   a slot, the early answer an area injects), the extractors for principals and bodies, and
//!   the one error type with its status codes.
//! - `rules` says what keys, memberships, users and sign-in may do, on narrow dependencies and
//!   with its own error (and which tenants a sign-in reaches, `rules::access`); it knows no HTTP.
//! - [`auth`] owns credentials: the key codec and its crypto, tokens, passwords, the verifier
//!   with its cache, the failure throttles (per address, per account).
//! - [`store`] is the only place that knows SQL: the `Store` traits, opened from a
//!   `StoreConfig`, with two backends: the embedded SQLite and a shared PostgreSQL.
//! - [`domain`] holds the values that are parsed at the edge and valid inside.
//! - Leaves: [`metrics`], `coarse_clock` (the caches' clock), `read_cache` (the answers to reads),
//!   `page_bodies` (large answers in the page cache, sent with `sendfile`), [`data_dir`].
#![forbid(unsafe_code)]

pub(crate) mod admin;
pub mod api;
pub mod app;
pub mod auth;
pub mod bootstrap;
pub(crate) mod change_watch;
pub mod cli;
pub(crate) mod coarse_clock;
pub mod config;
pub(crate) mod control;
pub mod copy;
pub mod data_dir;
pub mod domain;
pub mod http;
pub mod metrics;
#[cfg(target_os = "linux")]
pub(crate) mod page_bodies;
#[cfg(not(target_os = "linux"))]
#[path = "page_bodies_elsewhere.rs"]
pub(crate) mod page_bodies;
pub(crate) mod read_cache;
pub(crate) mod rules;
pub mod secrets;
pub mod state;
pub mod store;
pub(crate) mod web;
