//! Storage: the one place that knows SQL. A `Store` is the sum of one trait per area, so each
//! backend can keep one file per area; handlers and the CLI only ever see `dyn Store`, which
//! [`open`] makes from a [`StoreConfig`] and [`MetaStore::close`] closes. What every backend
//! must guarantee is checked by the contract suite, `tests/api/store_contract.rs`.

mod changes;
mod codec;
mod columns;
mod config;
mod filtering;
pub(crate) mod postgres;
mod records;
mod sql_errors;
pub(crate) mod sqlite;
pub mod transfer;

use std::sync::Arc;

use async_trait::async_trait;

pub use changes::*;
pub use config::StoreConfig;
pub use records::*;
pub use transfer::{Dump, Transfer};

use uuid::Uuid;

use crate::domain::Digest;
use crate::domain::element::ElementKind;
use crate::domain::flow::FlowDraft;
use crate::domain::{
    Email, FlowFilter, FlowId, KeyId, Page, Role, StateId, StateToken, TenantId, TenantName,
    Timestamp, UserId, VersionId,
};

/// Opens the configured backend (creating its database if needed) and brings its schema up
/// to date. Close it with [`MetaStore::close`] when done.
pub async fn open(config: &StoreConfig) -> anyhow::Result<Arc<dyn Store>> {
    match config {
        StoreConfig::Sqlite { data_dir } => {
            Ok(Arc::new(sqlite::SqliteStore::open(data_dir).await?))
        }
        StoreConfig::Postgres { url } => Ok(Arc::new(postgres::PgStore::open(url).await?)),
    }
}

/// What can go wrong in storage, as the layers above need to tell it apart.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A uniqueness rule was broken; the text names which, for the client.
    #[error("{0}")]
    Conflict(String),
    /// A row the write depends on does not exist; the text names which.
    #[error("{0}")]
    Missing(String),
    /// The flow changed between the read a write was computed from and the write
    /// ([`Edit::read_at`]): nothing was written; read again and redo it. Clients see it as a
    /// conflict when it persists.
    #[error("{0}")]
    Moved(String),
    /// Anything else: logged, never shown to a client.
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

pub type StoreResult<T> = Result<T, StoreError>;

#[async_trait]
pub trait TenantStore {
    async fn create_tenant(&self, name: &TenantName) -> StoreResult<Tenant>;
    async fn tenant(&self, id: TenantId) -> StoreResult<Option<Tenant>>;
    /// Sets the tenant's name, summary and settings (JSON text, stored as given); None when
    /// there is no such tenant.
    async fn update_tenant(
        &self,
        id: TenantId,
        name: &str,
        summary: Option<&str>,
        settings: Option<&str>,
    ) -> StoreResult<Option<Tenant>>;
    /// Sets the tenant's maximum key lifetime (`None`: none). With one set, every key of the
    /// tenant that would outlive `now + maximum` (no expiry, or a later one) is capped to it,
    /// and the change is announced so no cache keeps the longer grant. Returns how many keys
    /// were capped; Missing when there is no such tenant.
    async fn set_max_key_lifetime(
        &self,
        id: TenantId,
        seconds: Option<i64>,
        now: Timestamp,
    ) -> StoreResult<u64>;
    /// Sets the default and upper bound of the tenant's keys' rate limits (requests a second,
    /// burst; `None`: the server's default), announced as a change of its keys (their cached
    /// grants carry the limit). False when there is no such tenant.
    async fn set_key_rate_limit(
        &self,
        id: TenantId,
        limit: Option<(i64, i64)>,
    ) -> StoreResult<bool>;
}

#[async_trait]
pub trait UserStore {
    async fn count_users(&self) -> StoreResult<u64>;
    /// Creates the user as a member of `tenant`, both or neither. Conflict when the email is
    /// taken; Missing when the tenant does not exist.
    async fn create_user(&self, user: NewUser, tenant: TenantId, role: Role) -> StoreResult<()>;
    /// Invites the email to the tenant (creating its account, with no password, when there is
    /// none) and returns the pending member as the tenant's administrators see it. Conflict
    /// when the account is already a member or invited; Missing when the tenant does not exist.
    async fn invite(&self, invitation: NewInvitation) -> StoreResult<Member>;
    /// What an invitation link that has not expired by `now` leads to; None when it is
    /// unknown, used, expired or withdrawn.
    async fn invitation_by_link(
        &self,
        digest: &Digest,
        now: Timestamp,
    ) -> StoreResult<Option<InvitationGrant>>;
    /// Uses up the link and turns its invitation into a membership that begins `now`. With
    /// `new_password_hash` the account must still have no password: it gets this one and the
    /// invitation's names. Without, it must already have one. None when the link is unknown,
    /// used or expired; Conflict when the account's password state is not the one expected.
    async fn accept_invitation(
        &self,
        digest: &Digest,
        now: Timestamp,
        new_password_hash: Option<&str>,
    ) -> StoreResult<Option<(UserId, TenantId)>>;
    /// Changes a pending invitation's role and names. False when there is no such invitation.
    async fn update_invitation(
        &self,
        tenant: TenantId,
        id: UserId,
        role: Role,
        first: Option<&str>,
        last: Option<&str>,
    ) -> StoreResult<bool>;
    /// One page of the tenant's members and pending invitations, oldest first (a membership
    /// counts from its acceptance), and how many there are.
    async fn members(&self, tenant: TenantId, page: Page) -> StoreResult<(Vec<Member>, u64)>;
    /// The member or pending invitation the administrators see under `id`.
    async fn member(&self, tenant: TenantId, id: UserId) -> StoreResult<Option<Member>>;
    /// Changes a member's role. False when not a member; Conflict when it would leave the
    /// tenant without an administrator (checked in the same write, so it holds under races).
    async fn set_role(&self, user: UserId, tenant: TenantId, role: Role) -> StoreResult<bool>;
    /// Sets the user's names (the same in every tenant).
    async fn set_names(
        &self,
        user: UserId,
        first: Option<&str>,
        last: Option<&str>,
    ) -> StoreResult<()>;
    /// How many members the tenant has (pending invitations are not members).
    async fn member_count(&self, tenant: TenantId) -> StoreResult<u64>;
    async fn user(&self, id: UserId) -> StoreResult<Option<User>>;
    async fn user_by_email(&self, email: &Email) -> StoreResult<Option<User>>;
    /// A membership that begins now (the operator's command line: no invitation). A pending
    /// invitation of the user to the tenant is replaced. Conflict when already a member;
    /// Missing when the tenant does not exist.
    async fn add_membership(&self, user: UserId, tenant: TenantId, role: Role) -> StoreResult<()>;
    /// Removes the membership, or the pending invitation, and with it the user's keys and
    /// tokens for that tenant; raises the change counter ([`ChangeFeed`]). False when there was
    /// neither; Conflict when the user is the tenant's last administrator (checked in the same
    /// write, so it holds under races).
    async fn remove_membership(&self, user: UserId, tenant: TenantId) -> StoreResult<bool>;
    /// The user's tenants, oldest membership first (pending invitations are not among them).
    async fn memberships(&self, user: UserId) -> StoreResult<Vec<Membership>>;
    /// The user's role in the tenant: [`UserStore::role_since`] without the date, so a backend
    /// implements the lookup once.
    async fn role_in(&self, user: UserId, tenant: TenantId) -> StoreResult<Option<Role>> {
        Ok(self.role_since(user, tenant).await?.map(|(role, _)| role))
    }
    /// The user's role in the tenant and when the membership began.
    async fn role_since(
        &self,
        user: UserId,
        tenant: TenantId,
    ) -> StoreResult<Option<(Role, Timestamp)>>;
}

#[async_trait]
pub trait KeyStore {
    /// Conflict when the user already has a key of that name in that tenant (also when such
    /// keys are created at the same moment: one is stored); Missing when the user is not a
    /// member of the tenant.
    async fn insert_key(&self, key: NewKey) -> StoreResult<()>;
    /// Inserts many keys in one transaction (seeding and benchmarks): all or none, refused as
    /// `insert_key` refuses.
    async fn insert_keys(&self, keys: Vec<NewKey>) -> StoreResult<()>;
    /// The hot path's only query: the grant behind a digest, if the key exists.
    async fn key_by_digest(&self, digest: &Digest) -> StoreResult<Option<KeyGrant>>;
    /// The user's keys in every tenant, oldest first.
    async fn keys_of_user(&self, user: UserId) -> StoreResult<Vec<KeyRecord>>;
    /// Deletes one of the user's keys and raises the change counter. False when it was already
    /// gone (or is not the user's).
    async fn delete_key(&self, user: UserId, key: KeyId) -> StoreResult<bool>;
    /// Writes a batch of keys' last uses in one transaction (a key gone meanwhile is skipped;
    /// a use older than the one stored changes nothing). Not announced: no cache holds it.
    async fn record_key_usage(&self, uses: &[KeyUsage]) -> StoreResult<()>;
    /// Forgets every sealed value (the `never` reveal policy keeps none). Returns how many.
    async fn purge_sealed(&self) -> StoreResult<u64>;
    /// Gives one of the user's keys a new value: the old digest is kept, with its preview, as
    /// a superseded value until `valid_until` (a value superseded before keeps its own), the
    /// new sealed copy replaces the old one, and the change is announced. False when the key
    /// is gone (or is not the user's). Two rotations at once both land, one after the other
    /// (the key's row lock): each old value is kept.
    async fn rotate_key(&self, rotation: KeyRotation) -> StoreResult<bool>;
    /// Marks that `key.expired` is recorded for a key that expired by `now`: the key's name
    /// for the one caller that marks it, `None` for every other (already marked, not expired,
    /// or gone).
    async fn claim_expiry_record(&self, key: KeyId, now: Timestamp) -> StoreResult<Option<String>>;
}

/// The instances serving this database, each heartbeating, so each takes its share of a
/// key's rate limit.
#[async_trait]
pub trait InstanceStore {
    /// Marks `instance` alive at `now`, forgets instances unseen since `forget_before`, and
    /// counts those seen since `live_since` (this one included: at least 1).
    async fn heartbeat(
        &self,
        instance: uuid::Uuid,
        now: Timestamp,
        live_since: Timestamp,
        forget_before: Timestamp,
    ) -> StoreResult<u32>;
    /// Forgets `instance` (at a graceful stop), so the others take its share at once.
    async fn leave(&self, instance: uuid::Uuid) -> StoreResult<()>;
}

#[async_trait]
pub trait TokenStore {
    /// Stores a token (and sweeps expired ones). A token bound to a key that is gone (or
    /// goes at the same moment) is Missing, or deleted with the key.
    async fn insert_token(&self, token: NewToken) -> StoreResult<()>;
    /// The grant behind a digest. A key-bound token is `None` once its key is gone (deleting a
    /// key, or its owner's membership, deletes its tokens), and its `expires_at` is the key's
    /// when that comes first.
    async fn token_by_digest(&self, digest: &Digest) -> StoreResult<Option<TokenGrant>>;
}

/// Packages shared by token. Only the token's digest is stored; a share is not cached
/// anywhere, so none of these writes is announced.
#[async_trait]
pub trait ShareStore {
    /// Stores a share (and sweeps expired ones). Missing when the tenant has no such flow
    /// (deleted meanwhile: deleting a flow ends its shares).
    async fn insert_share(&self, share: NewShare) -> StoreResult<()>;
    /// The package behind a digest, unless it is unknown, revoked, or expired by `now`.
    async fn shared_package(
        &self,
        digest: &Digest,
        now: Timestamp,
    ) -> StoreResult<Option<SharedPackage>>;
    /// Deletes the share with this digest when it is one of this flow of this tenant (expired
    /// or not); with `None`, every share of the flow. Returns how many were deleted.
    async fn revoke_shares(
        &self,
        tenant: TenantId,
        flow: FlowId,
        digest: Option<&Digest>,
    ) -> StoreResult<u64>;
}

/// Web sign-in sessions and the password they are opened with.
#[async_trait]
pub trait SessionStore {
    /// Stores a new session (and sweeps expired ones).
    async fn insert_session(&self, session: NewSession) -> StoreResult<()>;
    async fn session_by_digest(&self, digest: &Digest) -> StoreResult<Option<SessionGrant>>;
    /// Signs one session out; nothing happens when it is already gone.
    async fn delete_session(&self, digest: &Digest) -> StoreResult<()>;
    /// Replaces the user's password hash and ends every other sign-in of the user: the other
    /// sessions and all tokens. `keep` is the session that made the change. Missing when the
    /// user is gone.
    async fn change_password(
        &self,
        user: UserId,
        password_hash: &str,
        keep: &Digest,
    ) -> StoreResult<()>;
}

#[async_trait]
pub trait FlowStore {
    /// The tenant's flows passing the filter, ordered by name.
    async fn list_flows(
        &self,
        tenant: TenantId,
        filter: Option<&FlowFilter>,
    ) -> StoreResult<Vec<FlowRecord>>;
    async fn flow(&self, tenant: TenantId, id: FlowId) -> StoreResult<Option<FlowRecord>>;
    async fn create_flow(
        &self,
        tenant: TenantId,
        draft: &FlowDraft,
        author: UserId,
    ) -> StoreResult<FlowRecord>;
    /// Replaces the flow's content with a new version; None when the tenant has no such flow.
    async fn update_flow(
        &self,
        tenant: TenantId,
        id: FlowId,
        draft: &FlowDraft,
        author: UserId,
    ) -> StoreResult<Option<FlowRecord>>;
    async fn delete_flow(&self, tenant: TenantId, id: FlowId) -> StoreResult<bool>;
    /// The flow's graph elements (map, group, navigation), oldest first; Missing when the
    /// tenant has no such flow.
    async fn flow_elements(
        &self,
        tenant: TenantId,
        id: FlowId,
    ) -> StoreResult<Vec<FlowElementRecord>>;
    /// The tenant elements the flow uses; Missing when the tenant has no such flow.
    async fn flow_uses(&self, tenant: TenantId, id: FlowId) -> StoreResult<Vec<FlowUse>>;
    /// Whether another tenant holds a flow with this id (flow ids are unique on one server, so
    /// an import keeps a package's flow id only when no other tenant has it).
    async fn flow_held_elsewhere(&self, tenant: TenantId, id: FlowId) -> StoreResult<bool>;
    /// The flows of the tenant that use the element, ordered by name.
    async fn flows_using(&self, tenant: TenantId, element: Uuid) -> StoreResult<Vec<FlowRecord>>;
    /// Writes one flow as [`FlowGraphWrite`] says, in one transaction, and returns it.
    /// Missing when `Update` names no flow of the tenant; Moved when the flow is no longer at
    /// [`Edit::read_at`]; Conflict for a stale editing token, a taken id, a use of an element
    /// the tenant does not have, or an element another user changed under the token sent
    /// ([`Edit::token`]: that refusal renews the flow's token, after the write is rolled back,
    /// and announces it). All of it holds under races (the flow's row lock). Announces
    /// [`Change::Flows`].
    async fn write_flow(&self, tenant: TenantId, write: FlowGraphWrite) -> StoreResult<FlowRecord>;
    /// Writes the batch's elements, then its flows, in one transaction: all or nothing, each
    /// refused as [`ElementStore::save_element`] and [`FlowStore::write_flow`] refuse. Returns
    /// the flows written, in order.
    async fn apply_batch(
        &self,
        tenant: TenantId,
        batch: ElementBatch,
    ) -> StoreResult<Vec<FlowRecord>>;
}

/// The tenant's elements (values, types, pages, services, macros, identity providers, tags,
/// custom page components), each stored as its document. Writes go through
/// [`FlowStore::apply_batch`], the one transaction that writes elements.
#[async_trait]
pub trait ElementStore: FlowStore {
    /// The tenant's elements of one kind (every kind with `None`), ordered by name.
    async fn elements(
        &self,
        tenant: TenantId,
        kind: Option<ElementKind>,
    ) -> StoreResult<Vec<ElementRecord>>;
    /// The tenant's element with this id, of any kind.
    async fn element(&self, tenant: TenantId, id: Uuid) -> StoreResult<Option<ElementRecord>>;
    /// The tenant's elements among these ids (unknown ids are left out).
    async fn elements_by_ids(
        &self,
        tenant: TenantId,
        ids: &[Uuid],
    ) -> StoreResult<Vec<ElementRecord>>;
    /// Inserts the element, or replaces the tenant's element with its id. Conflict, naming
    /// the clash, when another element of the kind has the name (ignoring case; enforced by
    /// the database, so it holds under races) or when the id is an element of another kind.
    async fn save_element(
        &self,
        tenant: TenantId,
        element: NewElement,
    ) -> StoreResult<ElementRecord>;
    /// Deletes the element. False when the tenant has no such element of that kind; Conflict
    /// naming the flows when a flow uses it (enforced by the database).
    async fn delete_element(
        &self,
        tenant: TenantId,
        kind: ElementKind,
        id: Uuid,
    ) -> StoreResult<bool>;
}

/// Snapshots and activation. Every call names the flow by tenant and id; an unknown flow or
/// version is `Missing`, with a message for the client.
#[async_trait]
pub trait SnapshotStore {
    /// Freezes the flow's current version as an inactive snapshot with `comment`; the flow
    /// being edited moves on to a new version id, so the snapshot never changes.
    async fn snapshot_flow(
        &self,
        tenant: TenantId,
        id: FlowId,
        comment: Option<&str>,
        image: Option<FrozenImage>,
    ) -> StoreResult<FlowRecord>;
    /// The frozen image of a snapshot; `None` for a snapshot taken before keyflow kept images
    /// (it holds the START element only). Missing as [`SnapshotStore::snapshot`].
    async fn snapshot_image(
        &self,
        tenant: TenantId,
        id: FlowId,
        version: VersionId,
    ) -> StoreResult<Option<String>>;
    /// The flow's snapshots, newest first.
    async fn snapshots(&self, tenant: TenantId, id: FlowId) -> StoreResult<Vec<FlowRecord>>;
    async fn snapshot(
        &self,
        tenant: TenantId,
        id: FlowId,
        version: VersionId,
    ) -> StoreResult<FlowRecord>;
    /// Sets whether one snapshot is activated and whether it is the default. Only an activated
    /// snapshot can be the default; a new default takes it from the flow's other snapshots.
    /// `by` is the activating builder's email.
    async fn activate(
        &self,
        tenant: TenantId,
        id: FlowId,
        version: VersionId,
        activation: Activation,
        by: Option<&str>,
    ) -> StoreResult<FlowRecord>;
    /// Deactivates every snapshot of the flow.
    async fn deactivate(&self, tenant: TenantId, id: FlowId) -> StoreResult<()>;
    /// The running version of each flow that has one, ordered by name: its default snapshot,
    /// else its most recently activated one. `flow` narrows it to one flow.
    async fn active_flows(
        &self,
        tenant: TenantId,
        flow: Option<FlowId>,
        filter: Option<&FlowFilter>,
    ) -> StoreResult<Vec<FlowRecord>>;
}

/// The states of running flows. Each is its tenant's: another tenant's id reads `None`.
#[async_trait]
pub trait RunStateStore {
    /// Stores a new state. Missing when the flow (or its tenant) is gone.
    async fn insert_state(&self, state: RunState) -> StoreResult<()>;
    /// The tenant's state with this id; `None` when there is none (or it is another's).
    async fn run_state(&self, tenant: TenantId, id: StateId) -> StoreResult<Option<RunState>>;
    /// Writes an invoke's result where the state still holds `expected`, the token the invoke
    /// read, in one conditional statement: true when it did; false, changing nothing, when
    /// the state moved on (another invoke won) or is gone. Of invokes racing with one token,
    /// exactly one gets true.
    async fn advance_state(
        &self,
        tenant: TenantId,
        id: StateId,
        expected: StateToken,
        advance: &StateAdvance,
    ) -> StoreResult<bool>;
    /// A page of the tenant's states `query` selects, newest first, and how many it selects
    /// in all.
    async fn list_states(
        &self,
        tenant: TenantId,
        query: &StateQuery,
    ) -> StoreResult<(Vec<RunState>, u64)>;
    /// Deletes those of `ids` that are the tenant's states, in one statement; returns the ids
    /// it deleted (another tenant's, or none by that id, are left out).
    async fn delete_states(&self, tenant: TenantId, ids: &[StateId]) -> StoreResult<Vec<StateId>>;
    /// Deletes at most `limit` states that expired at or before `now`, earliest expiry first;
    /// returns how many.
    async fn prune_states(&self, now: Timestamp, limit: u32) -> StoreResult<u64>;
}

#[async_trait]
pub trait MetaStore {
    async fn meta(&self, key: &str) -> StoreResult<Option<String>>;
    /// Sets `key` to `value` unless it is set already, and returns the value that holds: the
    /// one given, or the one another process set first (instances starting together on one
    /// database agree on one value).
    async fn claim_meta(&self, key: &str, value: &str) -> StoreResult<String>;
    async fn record_audit(&self, event: AuditEvent) -> StoreResult<()>;
    /// Answers when storage is reachable (the health check).
    async fn ping(&self) -> StoreResult<()>;
    /// Closes the store cleanly once nothing uses it any more: every write is where the next
    /// open finds it, with nothing left to recover (SQLite: no write-ahead log left behind).
    async fn close(&self);
}

/// The audit trail read back, pruned, and the leak reports that revoke keys.
#[async_trait]
pub trait AuditStore {
    /// The events `query` selects, a page of them, and how many match in all.
    async fn search_audit(&self, query: &AuditQuery) -> StoreResult<AuditPage>;
    /// Deletes at most `limit` events older than `before`, the oldest first, in one statement;
    /// returns how many. The caller repeats while a batch comes back full, so no statement
    /// holds the table long.
    async fn prune_audit(&self, before: Timestamp, limit: u32) -> StoreResult<u64>;
    /// Revokes (deletes) every key whose digest is among `digests`, records a leak report and
    /// a `key.reported_leaked` event for each, and announces `Change::Keys` for each tenant, in
    /// one transaction; returns the keys revoked (none for digests that match nothing). Two
    /// reports of one key at once revoke and record it once (the delete decides).
    async fn report_leaks(
        &self,
        digests: &[Digest],
        report: &LeakReport,
    ) -> StoreResult<Vec<LeakedKey>>;
    /// The leak reports of the user's keys, newest first.
    async fn leak_reports_of(&self, user: UserId) -> StoreResult<Vec<LeakedKey>>;
}

/// Declares [`Store`], everything a backend provides, and implements it for every type that
/// provides each of its parts, so the parts are listed once.
macro_rules! store {
    ($($part:ident),*) => {
        /// Everything a backend provides.
        pub trait Store: $($part +)* Send + Sync + 'static {}

        impl<T> Store for T where T: $($part +)* Send + Sync + 'static {}
    };
}

store!(
    TenantStore,
    UserStore,
    KeyStore,
    TokenStore,
    SessionStore,
    ShareStore,
    FlowStore,
    ElementStore,
    SnapshotStore,
    RunStateStore,
    MetaStore,
    AuditStore,
    InstanceStore,
    ChangeFeed,
    Transfer
);
