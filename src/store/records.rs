//! The rows the store reads and writes, in domain types.

use uuid::Uuid;

use super::codec::DbUuid;

use crate::domain::Digest;
use crate::domain::element::{ElementKind, ElementName, FlowElementKind};
use crate::domain::flow::FlowDraft;
use crate::domain::{
    Email, FlowId, KeyId, KeyName, Networks, Role, Scopes, StateId, StateToken, TenantId,
    Timestamp, UserId, VersionId, flow::FlowSettings,
};

/// A JSON object as Boomi's tools send it, kept field for field.
pub type JsonObject = serde_json::Map<String, serde_json::Value>;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Tenant {
    pub id: TenantId,
    pub name: String,
    pub summary: Option<String>,
    pub created_at: Timestamp,
    /// The tenant's settings (`TenantSettingsAPI`) as the JSON text they were last set with;
    /// `None` until they are.
    pub settings: Option<String>,
    /// The longest a key of the tenant may live, in seconds (`maxApiKeyLifetimeDays`); `None`:
    /// no maximum.
    pub max_key_lifetime_seconds: Option<i64>,
    /// The default and upper bound of its keys' rate limits (requests a second, burst);
    /// `None`: the server's default.
    pub key_rate_per_second: Option<i64>,
    pub key_rate_burst: Option<i64>,
}

/// A user to create; the password is already hashed. `None`: no usable password yet (an
/// account an administrator added, waiting for its password link to be used).
#[derive(Debug, Clone)]
pub struct NewUser {
    pub id: UserId,
    pub email: Email,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub password_hash: Option<String>,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct User {
    pub id: UserId,
    pub email: String,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    /// `None` until the account has a usable password.
    pub password_hash: Option<String>,
    pub created_at: Timestamp,
}

/// A member of a tenant, or an email invited to be one, as its administrators see it.
///
/// While an invitation is pending, everything shown comes from the invitation (its id, the
/// names the inviting administrator gave, when it was made), never from the account: the
/// account's id, names or age would tell whether the email had an account elsewhere.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Member {
    /// The account. For a pending invitation this is for keyflow's own use only.
    pub account: UserId,
    /// The id the administrators see: the account's once accepted, the invitation's before
    /// (the same for an account the invitation created).
    pub id: UserId,
    pub email: String,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub created_at: Timestamp,
    pub role: Role,
    /// Whether the member has yet to accept through the invitation's link.
    pub pending: bool,
}

/// An administrator's invitation of an email to a tenant, with its one-time link (stored as
/// its digest). The store creates the account, with no password, when the email has none.
#[derive(Debug, Clone)]
pub struct NewInvitation {
    /// The invitation's id; also the new account's when the invitation creates one.
    pub id: UserId,
    pub email: Email,
    pub tenant: TenantId,
    pub role: Role,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub link_digest: Digest,
    pub created_at: Timestamp,
    pub expires_at: Timestamp,
}

/// What an unexpired invitation link leads to: the account, the tenant, and the account's
/// password hash (`None`: no password yet, so using the link sets one).
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct InvitationGrant {
    pub user_id: UserId,
    pub tenant_id: TenantId,
    pub password_hash: Option<String>,
}

/// One of a user's tenants, with the user's role there.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Membership {
    #[sqlx(flatten)]
    pub tenant: Tenant,
    pub role: Role,
    /// When the membership began (was accepted): a sign-in from before does not cover it.
    pub since: Timestamp,
}

/// A key to store: never its value, only the digest, the preview and (maybe) the sealed copy.
#[derive(Debug, Clone)]
pub struct NewKey {
    pub id: KeyId,
    pub user_id: UserId,
    pub tenant_id: TenantId,
    pub name: KeyName,
    pub digest: Digest,
    pub preview: String,
    pub sealed: Option<Vec<u8>>,
    pub created_at: Timestamp,
    pub expires_at: Option<Timestamp>,
    /// What the key is narrowed to (unscoped: what its owner's role allows).
    pub scopes: Scopes,
    /// Where the key may be used from (empty: anywhere).
    pub allowed_networks: Networks,
    /// The key's own rate limit (requests a second, burst; both or neither); `None`: its
    /// tenant's, else the server's default.
    pub rate_per_second: Option<i64>,
    pub rate_burst: Option<i64>,
}

/// What a valid key grants: who, in which tenant, until when, for what and from where. Cached
/// by the verifier: cheap to clone (the networks are one shared slice).
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct KeyGrant {
    pub key_id: KeyId,
    pub user_id: UserId,
    pub tenant_id: TenantId,
    /// When the presented value stops working: the key's expiry, or for a value a rotation
    /// superseded the end of its overlap when that comes first.
    pub expires_at: Option<Timestamp>,
    /// The presented value's preview (`kf_…last4`), for a refusal to name it. Shared, so a
    /// cache hit's clone does not allocate.
    #[sqlx(try_from = "String")]
    pub preview: std::sync::Arc<str>,
    /// For a value a rotation superseded, the end of its overlap: past it, the value answers
    /// that it was rotated. `None` for the key's current value.
    pub rotated_until: Option<Timestamp>,
    #[sqlx(try_from = "String")]
    pub scopes: Scopes,
    #[sqlx(try_from = "String")]
    pub allowed_networks: Networks,
    /// The key's rate limit: its own, else its tenant's default (both `None`: the server's).
    pub rate_per_second: Option<i64>,
    pub rate_burst: Option<i64>,
}

impl KeyGrant {
    /// Whether the presented value ends with its rotation's overlap rather than with the key's
    /// expiry (a superseded value whose overlap ends first).
    pub fn ends_by_rotation(&self) -> bool {
        self.rotated_until
            .is_some_and(|until| self.expires_at.is_none_or(|at| until <= at))
    }
}

/// A key as its owner's list shows it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct KeyRecord {
    pub id: KeyId,
    pub tenant_id: TenantId,
    pub tenant_name: String,
    pub name: String,
    pub preview: String,
    pub sealed: Option<Vec<u8>>,
    pub created_at: Timestamp,
    pub expires_at: Option<Timestamp>,
    /// When a rotation last replaced its value.
    pub rotated_at: Option<Timestamp>,
    #[sqlx(try_from = "String")]
    pub scopes: Scopes,
    #[sqlx(try_from = "String")]
    pub allowed_networks: Networks,
    /// When the key was last used (to the minute), and from which address.
    pub last_used_at: Option<Timestamp>,
    pub last_used_address: Option<String>,
    /// The key's own rate limit; `None`: its tenant's, else the server's default.
    pub rate_per_second: Option<i64>,
    pub rate_burst: Option<i64>,
}

/// A new value for an existing key ([`crate::store::KeyStore::rotate_key`]): the old one is
/// kept as a superseded value until `valid_until`.
#[derive(Debug, Clone)]
pub struct KeyRotation {
    pub key_id: KeyId,
    pub user_id: UserId,
    pub digest: Digest,
    pub preview: String,
    /// The new value's sealed copy, which replaces the old one's; `None` under `never`.
    pub sealed: Option<Vec<u8>>,
    pub rotated_at: Timestamp,
    /// When the old value stops working (`rotated_at` for no overlap).
    pub valid_until: Timestamp,
}

/// A key's use, as the usage writer records it (at most once a minute per key).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyUsage {
    pub key_id: KeyId,
    pub at: Timestamp,
    pub address: String,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct NewToken {
    pub digest: Digest,
    pub user_id: UserId,
    pub tenant_id: TenantId,
    /// The password sign-in the token comes from (a token minted from a token inherits it).
    pub signed_in_at: Timestamp,
    pub created_at: Timestamp,
    pub expires_at: Timestamp,
    /// The API key that obtained the token, if one did: the token dies with the key, and may
    /// do no more than it.
    pub key_id: Option<KeyId>,
}

/// What a token grants: its user and the tenant it was issued for.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct TokenGrant {
    pub user_id: UserId,
    pub tenant_id: TenantId,
    pub signed_in_at: Timestamp,
    /// The token's own expiry, or its key's when that comes first.
    pub expires_at: Timestamp,
    /// The API key the token is bound to (`None`: a password sign-in's token).
    pub key_id: Option<KeyId>,
    /// The scopes of the key the token is bound to (unscoped for a password sign-in's).
    #[sqlx(try_from = "String")]
    pub scopes: Scopes,
    /// The networks of the key the token is bound to (empty for a password sign-in's).
    #[sqlx(try_from = "String")]
    pub allowed_networks: Networks,
    /// A key-bound token's key's rate limit, as [`KeyGrant`] has it.
    pub rate_per_second: Option<i64>,
    pub rate_burst: Option<i64>,
}

/// A package shared by token, to store: only the digest of the token.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct NewShare {
    pub digest: Digest,
    pub tenant_id: TenantId,
    pub flow_id: FlowId,
    /// The version the package holds.
    pub version_id: VersionId,
    /// The package's JSON text, frozen at issue (passwords already blanked when asked).
    pub package: String,
    pub created_by: UserId,
    pub created_at: Timestamp,
    pub expires_at: Timestamp,
}

/// What a live sharing token leads to.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct SharedPackage {
    /// The tenant that shared it.
    pub tenant_id: TenantId,
    pub flow_id: FlowId,
    pub version_id: VersionId,
    pub package: String,
    pub expires_at: Timestamp,
}

/// A web session to store: only the digest of the cookie's value.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct NewSession {
    pub digest: Digest,
    pub user_id: UserId,
    pub created_at: Timestamp,
    pub expires_at: Timestamp,
}

/// Whose session a cookie holds, since when, until when.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct SessionGrant {
    pub user_id: UserId,
    /// The sign-in that opened it.
    pub created_at: Timestamp,
    pub expires_at: Timestamp,
}

/// A builder as flows name them (`BuilderWhoAPI`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Who {
    pub id: UserId,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub email: Option<String>,
}

/// One version of a flow: the one being edited, or a snapshot (then `snapshot` is set).
#[derive(Debug, Clone)]
pub struct FlowRecord {
    pub id: FlowId,
    pub version_id: VersionId,
    pub editing_token: uuid::Uuid,
    pub developer_name: String,
    pub developer_summary: Option<String>,
    pub start_map_element_id: Option<String>,
    pub settings: FlowSettings,
    pub date_created: Timestamp,
    pub date_modified: Timestamp,
    pub who_created: Who,
    pub who_modified: Who,
    pub who_owner: Who,
    pub snapshot: Option<SnapshotState>,
}

/// What a snapshot adds to its version: the comment and whether (and how) it is activated.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SnapshotState {
    pub comment: Option<String>,
    pub is_active: bool,
    pub is_default: bool,
    /// The email of the builder who activated it (`alertEmail`).
    pub activated_by: Option<String>,
}

/// A tenant element as stored (`K` = [`ElementKind`]): the document its request carried
/// (every field as sent, less those keyflow owns: `id`, the dates and the builders), with what
/// keyflow keeps beside it. A flow element has the same shape ([`FlowElementRecord`]).
#[derive(Debug, Clone)]
pub struct ElementRecord<K = ElementKind> {
    pub id: Uuid,
    pub kind: K,
    pub developer_name: String,
    pub document: JsonObject,
    pub date_created: Timestamp,
    pub date_modified: Timestamp,
    pub who_created: Who,
    pub who_modified: Who,
}

/// A tenant element to write: inserted, or replacing the one with its id.
#[derive(Debug, Clone)]
pub struct NewElement {
    pub id: Uuid,
    pub kind: ElementKind,
    pub name: ElementName,
    pub document: JsonObject,
    pub author: UserId,
}

/// An element of a flow's graph (map, group or navigation), stored as its document.
pub type FlowElementRecord = ElementRecord<FlowElementKind>;

/// A flow element to write as part of a whole graph.
#[derive(Debug, Clone)]
pub struct NewFlowElement {
    pub id: Uuid,
    pub kind: FlowElementKind,
    /// May be empty: Boomi's map elements do not require one.
    pub developer_name: String,
    pub document: JsonObject,
}

/// A tenant element a flow uses: referenced from one of its elements, or imported into it
/// explicitly (`POST /api/draw/1/element/flow/{flow}/{type}/{id}`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, sqlx::FromRow)]
pub struct FlowUse {
    #[sqlx(rename = "element_id", try_from = "DbUuid")]
    pub element: Uuid,
    pub imported: bool,
}

/// How [`FlowGraphWrite`] treats the flow's row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GraphMode {
    /// A new flow with this id; Conflict when the id is taken.
    Create,
    /// An existing flow of the tenant (Missing otherwise), written as [`Edit`] says.
    Update(Edit),
    /// The tenant's flow with this id is created or overwritten (a package import). Conflict
    /// when another tenant holds the id.
    Replace,
}

/// What an update of an existing flow was based on, and what it does to the editing token.
/// `Edit::default()` expects nothing and gives the flow a new editing token (a revert, a
/// header saved on its own).
///
/// Two stamps, two jobs: the version id moves at every write, so `read_at` tells whether
/// anything at all changed since the graph was read (the write was computed from it, so it
/// must be redone); the editing token is what a client holds, and it moves only at the writes
/// that renew it, so several element writes of one builder can follow each other with it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Edit {
    /// The version the write was computed from: `StoreError::Moved` unless
    /// the flow is still at it (read the flow again and redo the write).
    pub read_at: Option<VersionId>,
    /// The editing token the client sent: Conflict unless it is the flow's current one. With
    /// it, each element the write changes or deletes is also refused (Conflict naming it) when
    /// it was last changed under this same token by another user — someone else changed it
    /// after the client read it — and that refusal gives the flow a new editing token (so the
    /// client's reload brings one under which its write passes).
    pub token: Option<Uuid>,
    /// Whether the flow keeps its editing token (an element write, an import) or gets a new
    /// one. Either way it gets a new version id.
    pub keep_token: bool,
}

/// One write of a flow: its header and, when given, its whole graph (every flow element, and
/// the tenant elements it uses), in one transaction. The flow gets a new version id and, unless
/// [`Edit::keep_token`] says otherwise, a new editing token.
#[derive(Debug, Clone)]
pub struct FlowGraphWrite {
    pub id: FlowId,
    pub mode: GraphMode,
    /// The new header; required to create. `None` keeps the flow's.
    pub header: Option<FlowDraft>,
    /// The START map element's id, when it changes (`None` keeps it).
    pub start_map_element_id: Option<String>,
    /// The flow's elements, replacing all of them; `None` keeps them.
    pub elements: Option<Vec<NewFlowElement>>,
    /// The tenant elements it uses, replacing the list; `None` keeps it.
    pub uses: Option<Vec<FlowUse>>,
    pub author: UserId,
}

/// Tenant elements and flows written together, all or nothing (a package import, a revert).
#[derive(Debug, Clone, Default)]
pub struct ElementBatch {
    pub elements: Vec<NewElement>,
    /// Whether an element that already exists (by id) is replaced; if not, it is kept as it is.
    pub overwrite_existing: bool,
    pub flows: Vec<FlowGraphWrite>,
}

/// Something worth an audit trail: reveals, key creation and deletion, membership changes,
/// sign-ins, refused credentials. Append-only: the store never changes an event, and deletes
/// one only when it is older than the retention ([`AuditStore::prune_audit`]). Where it came
/// from (`address`, `request_id`) is filled by whoever knows it (the edge puts it in the rules'
/// context structs; the command line leaves it `None`); nothing secret goes in any field.
#[derive(Debug, Clone, Default)]
pub struct AuditEvent {
    pub actor: Option<UserId>,
    pub tenant: Option<TenantId>,
    pub action: &'static str,
    pub subject: Option<String>,
    /// The client's address.
    pub address: Option<String>,
    /// The request's id (`x-request-id`).
    pub request_id: Option<String>,
    /// What else the event says, a JSON object (a refusal's reason and count, a URL).
    pub data: Option<serde_json::Value>,
    /// When it happened; `None` is now (an aggregate of refusals names its window's start).
    pub at: Option<Timestamp>,
}

/// Which events a search reads: one tenant's (an administrator's view) or one user's own,
/// narrowed by the filters, a page at a time.
#[derive(Debug, Clone, Default)]
pub struct AuditQuery {
    /// Only events of this tenant (with `actor` too: of this tenant, or by that user).
    pub tenant: Option<TenantId>,
    /// Only events this user did (with `tenant` too: or of that tenant).
    pub actor: Option<UserId>,
    /// Only these actions (empty: all).
    pub types: Vec<String>,
    /// Only actions starting with this (the settings page's key events: `key.`).
    pub type_prefix: Option<String>,
    /// Only events done by one of these users (empty: all).
    pub users: Vec<UserId>,
    /// Only events at or after this moment.
    pub from: Option<Timestamp>,
    /// Only events before this moment.
    pub to: Option<Timestamp>,
    pub order: AuditOrder,
    pub descending: bool,
    pub offset: u64,
    pub limit: u32,
}

/// What a search sorts by (then by id, so pages are stable).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum AuditOrder {
    #[default]
    OccurredAt,
    Type,
    User,
}

/// One stored audit event, with its actor's details when the actor still exists.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct AuditRecord {
    #[sqlx(try_from = "super::codec::DbUuid")]
    pub id: uuid::Uuid,
    pub at: Timestamp,
    pub actor_id: Option<UserId>,
    pub tenant_id: Option<TenantId>,
    pub action: String,
    pub subject: Option<String>,
    pub address: Option<String>,
    pub request_id: Option<String>,
    /// The JSON object's text, as stored.
    pub data: Option<String>,
    pub email: Option<String>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
}

/// A page of a search, and how many events match in all.
#[derive(Debug, Clone)]
pub struct AuditPage {
    pub events: Vec<AuditRecord>,
    pub total: u64,
}

/// Who reported keys leaked, and where they were found.
#[derive(Debug, Clone)]
pub struct LeakReport {
    pub url: Option<String>,
    pub address: Option<String>,
    pub request_id: Option<String>,
    pub at: Timestamp,
}

/// A key a leak report revoked, or the notice its owner reads.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct LeakedKey {
    pub user_id: UserId,
    pub tenant_id: TenantId,
    pub key_name: String,
    pub preview: String,
    pub url: Option<String>,
    pub at: Timestamp,
}

/// A snapshot's frozen image: the flow's elements and the tenant elements it used, as JSON
/// written by the layers above; the store keeps it as text and never reads into it.
#[derive(Debug, Clone)]
pub struct FrozenImage {
    /// The flow's version the image was read at: the snapshot is refused
    /// ([`StoreError::Moved`](super::StoreError::Moved)) when the flow has changed since (every write moves the version,
    /// also those that keep the editing token).
    pub read_at: VersionId,
    pub json: String,
}

/// What `POST /api/draw/1/flow/activation/…` asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Activation {
    pub is_default: bool,
    pub is_active: bool,
}

/// A running flow's state as stored (`flow_states`): the same row for an insert, a read and
/// `keyflow copy`. `state_values` and `history` are the engine's JSON, kept as text.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct RunState {
    pub id: StateId,
    pub tenant_id: TenantId,
    pub flow_id: FlowId,
    /// The snapshot it runs: fixed at start, whatever is activated later.
    pub version_id: VersionId,
    pub state_token: StateToken,
    /// The map element it waits at; `None` once the run is over.
    pub current_element: Option<String>,
    pub status: String,
    pub state_values: String,
    pub history: String,
    /// Who started it; `None` for an anonymous run of a public flow.
    pub created_by: Option<UserId>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    /// When it expires (refused, then pruned); `None`: never.
    pub expires_at: Option<Timestamp>,
}

/// What one invoke changes in a state: everything the engine moved, the new token, and the
/// expiry its write moves (an idle expiry starts again).
#[derive(Debug, Clone)]
pub struct StateAdvance {
    pub state_token: StateToken,
    pub current_element: Option<String>,
    pub status: String,
    pub state_values: String,
    pub history: String,
    pub updated_at: Timestamp,
    pub expires_at: Option<Timestamp>,
}

/// Which of a tenant's states an administrator lists: the filters (each optional) and the
/// page. Newest first.
#[derive(Debug, Clone, Default)]
pub struct StateQuery {
    pub flow: Option<FlowId>,
    /// Only with `flow`: the states of that snapshot.
    pub version: Option<VersionId>,
    /// The engine's status, as stored (`IN_PROGRESS`, `COMPLETE`, `FAULT`).
    pub status: Option<String>,
    /// Started at or after this moment.
    pub from: Option<Timestamp>,
    /// Started before this moment.
    pub to: Option<Timestamp>,
    pub offset: u64,
    pub limit: u32,
}
