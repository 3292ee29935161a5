//! The store's statements, written once for both backends. This folder is compiled twice:
//! `sqlite/mod.rs` and `postgres/mod.rs` each include it (`#[path = "../sql/mod.rs"]`), with
//! their own meaning of the few names it takes from its parent:
//!
//! - `Store`, the backend's store (its `pool` field), on which these files implement the
//!   store traits;
//! - `Conn`, the backend's connection, for helpers that run inside a caller's transaction;
//! - `Db`, the backend's `sqlx::Database`, for what names it (rows, `QueryBuilder`);
//! - `Store::begin_write`, a transaction that holds what its decisions need (SQLite: the
//!   write lock from its first statement; PostgreSQL: the row locks it takes);
//! - `Store::announce`, which tells other instances of a change inside the write's
//!   transaction;
//! - `row_lock!`, the locking clause a read inside a write takes (empty on SQLite);
//! - `code_point_order!`, the collation that orders text by code point (SQLite's default);
//! - `uuids_in_json!`, the ids of a JSON array of UUIDs bound as text, as a subquery.
//! - `Store::begin_export`, `Store::begin_import` and `OWN_META_KEYS`, what `keyflow copy`
//!   does differently: its transactions, and the `meta` rows it never copies.
//!
//! Statements use `$1`, `$2`, … placeholders, which both drivers bind by number, and bind and
//! read domain values through `store::codec`. Each body is type-checked once per backend.

use super::{Conn, Db, OWN_META_KEYS, Store};

// Declared first: their statement macros are in scope in the files declared after them.
#[macro_use]
mod elements;
#[macro_use]
mod flows;
mod audit;
mod flow_lock;
mod graph;
mod graph_elements;
mod instances;
mod invitations;
mod keys;
mod memberships;
mod meta;
mod run_states;
mod sessions;
mod shares;
mod snapshots;
mod tenants;
mod transfer;
mod users;
