//! Every row of a store in plain types, for `keyflow copy`: [`Transfer::export`] reads them all
//! in one consistent read, [`Transfer::import`] writes them all into an empty store in one
//! transaction. The rows hold domain types, `Uuid`, `Timestamp`, bytes and JSON values, never a
//! backend's own spelling, so each backend converts them to its own column types.
//!
//! A [`Dump`] is held in memory whole: simple, and fine for the sizes keyflow is built for (a
//! million keys is a few hundred MB). A much larger store would want the tables streamed.

use async_trait::async_trait;
use uuid::Uuid;

use super::codec::DbUuid;
use super::{
    AuditEvent, NewSession, NewShare, NewToken, RunState, StoreError, StoreResult, Tenant, User,
};
use crate::domain::{Digest, FlowId, KeyId, Role, TenantId, Timestamp, UserId, VersionId};

/// Reads or fills a whole store.
#[async_trait]
pub trait Transfer {
    /// Every row of every table that keyflow's data lives in, read in one transaction so the
    /// rows are consistent with each other even while a server writes (PostgreSQL: repeatable
    /// read, read only; SQLite: one read snapshot). The backend's own change counter is not
    /// part of it.
    async fn export(&self) -> StoreResult<Dump>;
    /// Writes every row of `dump` in one transaction: all of them or, on any failure, none.
    /// Conflict, changing nothing, when the store is not empty (any tenant, user, flow, key,
    /// event or setting): a copy never merges into existing data.
    async fn import(&self, dump: Dump) -> StoreResult<()>;
}

/// Declares the tables a dump holds, once: the [`Dump`] with a field per table, [`TABLES`] and
/// [`Dump::counts`], each in the order the tables are written (each after those it refers to).
macro_rules! dump_tables {
    ($($(#[$doc:meta])* $table:ident: $row:ty,)*) => {
        /// Every row of a store. Users keep their password hashes, keys their digests and sealed
        /// values, tokens, sessions, invitations and shared packages their digests: all of it
        /// works only under the same pepper and master key, whose fingerprints travel in `meta`.
        #[derive(Debug, Clone, Default)]
        pub struct Dump {
            $($(#[$doc])* pub $table: Vec<$row>,)*
        }

        /// The tables a dump holds, in the order they are written.
        pub const TABLES: [&str; [$(stringify!($table)),*].len()] = [$(stringify!($table)),*];

        impl Dump {
            /// How many rows of each table, in [`TABLES`] order.
            pub fn counts(&self) -> Vec<(&'static str, usize)> {
                vec![$((stringify!($table), self.$table.len())),*]
            }
        }
    };
}

// `instances` (the heartbeats of the servers running on a database, for their share of each
// key's rate limit) is left out on purpose: it describes processes, not data, and a copied
// row would name a server that does not run on the target (a stale one is forgotten anyway).
dump_tables! {
    tenants: Tenant,
    /// `password_hash` is `None` for an account that has no password yet.
    users: User,
    memberships: MembershipRow,
    invitations: InvitationRow,
    api_keys: ApiKeyRow,
    /// The values rotations superseded; after `api_keys`, which it refers to.
    api_key_previous: PreviousKeyRow,
    tokens: TokenRow,
    web_sessions: WebSessionRow,
    flows: FlowRow,
    flow_snapshots: SnapshotRow,
    elements: ElementRow,
    flow_elements: FlowElementRow,
    /// After `elements` and `flows`, which it refers to.
    flow_uses: FlowUseRow,
    /// Packages shared by token, with the token's digest; after `flows`, which it refers to.
    package_shares: ShareRow,
    /// The states of running flows; after `flows`, which it refers to.
    flow_states: RunState,
    audit_events: AuditRow,
    /// Keys reported leaked: their owners' notices; after `users` and `tenants`.
    leak_reports: LeakRow,
    /// The database's settings: the secrets' fingerprints (`fingerprint:pepper`,
    /// `fingerprint:master.key`). A backend's change counter is left out.
    meta: MetaRow,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct MembershipRow {
    pub user_id: UserId,
    pub tenant_id: TenantId,
    pub role: Role,
    /// When it began (was accepted).
    pub created_at: Timestamp,
}

/// A pending invitation, with its link's digest.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct InvitationRow {
    pub id: UserId,
    pub user_id: UserId,
    pub tenant_id: TenantId,
    pub role: Role,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub link_digest: Digest,
    pub link_expires_at: Timestamp,
    pub created_at: Timestamp,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ApiKeyRow {
    pub id: KeyId,
    pub user_id: UserId,
    pub tenant_id: TenantId,
    /// As stored: names are not checked again, so a name an older keyflow accepted moves too.
    pub name: String,
    pub digest: Digest,
    pub preview: String,
    pub sealed: Option<Vec<u8>>,
    pub created_at: Timestamp,
    pub expires_at: Option<Timestamp>,
    pub rotated_at: Option<Timestamp>,
    /// Whether `key.expired` was recorded for it.
    pub expiry_recorded: bool,
    /// As stored (space-separated scope names; empty: unscoped).
    pub scopes: String,
    /// As stored (comma-separated CIDR ranges; empty: anywhere).
    pub allowed_networks: String,
    pub last_used_at: Option<Timestamp>,
    pub last_used_address: Option<String>,
    pub rate_per_second: Option<i64>,
    pub rate_burst: Option<i64>,
}

/// A value a rotation superseded, until the end of its overlap.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct PreviousKeyRow {
    pub digest: Digest,
    pub key_id: KeyId,
    pub preview: String,
    pub valid_until: Timestamp,
}

/// A token as stored: the row a sign-in writes ([`NewToken`]).
pub type TokenRow = NewToken;

/// A web session as stored: the row a sign-in writes ([`NewSession`]).
pub type WebSessionRow = NewSession;

/// One version of a flow as stored: the one being edited (`flows`), or the version a
/// snapshot froze.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct FlowRow {
    pub id: FlowId,
    pub tenant_id: TenantId,
    pub version_id: VersionId,
    #[sqlx(try_from = "DbUuid")]
    pub editing_token: Uuid,
    pub developer_name: String,
    /// The folded name the filters compare, as stored (not folded again).
    pub name_folded: String,
    pub developer_summary: Option<String>,
    pub start_map_element_id: Option<String>,
    /// The `FlowSettings` JSON as stored, not parsed into the type, so nothing is lost.
    #[sqlx(try_from = "JsonText")]
    pub settings: serde_json::Value,
    pub date_created: Timestamp,
    pub date_modified: Timestamp,
    pub who_created: UserId,
    pub who_modified: UserId,
    pub who_owner: UserId,
}

/// A snapshot: its frozen version (whose `id` is the flow's) and its activation state.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct SnapshotRow {
    #[sqlx(flatten)]
    pub version: FlowRow,
    pub comment: Option<String>,
    pub snapped_at: Timestamp,
    pub is_active: bool,
    pub is_default: bool,
    pub activated_at: Option<Timestamp>,
    pub activated_by_email: Option<String>,
    /// The frozen image's JSON text, as stored (`None` for a snapshot taken before images).
    pub image: Option<String>,
}

/// A tenant element. The kind and folded name as stored (not checked or folded again); the
/// document as the JSON it is stored as.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ElementRow {
    pub tenant_id: TenantId,
    #[sqlx(try_from = "DbUuid")]
    pub id: Uuid,
    pub kind: String,
    pub developer_name: String,
    pub name_folded: String,
    #[sqlx(try_from = "JsonText")]
    pub document: serde_json::Value,
    pub date_created: Timestamp,
    pub date_modified: Timestamp,
    pub who_created: UserId,
    pub who_modified: UserId,
}

/// A map, group or navigation element of the flow being edited.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct FlowElementRow {
    pub flow_id: FlowId,
    #[sqlx(try_from = "DbUuid")]
    pub id: Uuid,
    pub kind: String,
    pub developer_name: String,
    #[sqlx(try_from = "JsonText")]
    pub document: serde_json::Value,
    pub date_created: Timestamp,
    pub date_modified: Timestamp,
    pub who_created: UserId,
    pub who_modified: UserId,
    /// The flow's editing token under which the element was last changed by a write that kept
    /// the token; the nil UUID when none.
    #[sqlx(try_from = "DbUuid")]
    pub edit_token: Uuid,
}

/// A tenant element a flow uses.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct FlowUseRow {
    pub flow_id: FlowId,
    pub tenant_id: TenantId,
    #[sqlx(try_from = "DbUuid")]
    pub element_id: Uuid,
    pub imported: bool,
}

/// A package shared by token as stored: the row a share writes ([`NewShare`]).
pub type ShareRow = NewShare;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct AuditRow {
    #[sqlx(try_from = "DbUuid")]
    pub id: Uuid,
    pub at: Timestamp,
    pub actor_id: Option<UserId>,
    pub tenant_id: Option<TenantId>,
    pub action: String,
    pub subject: Option<String>,
    pub address: Option<String>,
    pub request_id: Option<String>,
    /// A JSON object's text, as stored.
    pub data: Option<String>,
}

/// An event as the store writes it: dated now unless it says otherwise.
impl From<AuditEvent> for AuditRow {
    fn from(event: AuditEvent) -> Self {
        AuditRow {
            id: crate::domain::new_id(),
            at: event.at.unwrap_or_else(crate::domain::Timestamp::now),
            actor_id: event.actor,
            tenant_id: event.tenant,
            action: event.action.to_string(),
            subject: event.subject,
            address: event.address,
            request_id: event.request_id,
            data: event.data.map(|data| data.to_string()),
        }
    }
}

/// A key reported leaked, as its owner's notice keeps it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct LeakRow {
    #[sqlx(try_from = "DbUuid")]
    pub id: Uuid,
    pub at: Timestamp,
    pub user_id: UserId,
    pub tenant_id: TenantId,
    pub key_name: String,
    pub preview: String,
    pub url: Option<String>,
    pub address: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct MetaRow {
    pub key: String,
    pub value: String,
}

/// Rows written per statement: well under both backends' bound on bound values (SQLite
/// 32766, PostgreSQL 65535) at the widest table's 21 columns, and few round trips.
pub(crate) const BATCH: usize = 1000;

/// A JSON column (flow settings, element documents), text on both backends: read back as the
/// value it holds, so a corrupt one is an error naming its column.
#[derive(sqlx::Type)]
#[sqlx(transparent)]
pub(crate) struct JsonText(String);

impl TryFrom<JsonText> for serde_json::Value {
    type Error = serde_json::Error;

    fn try_from(text: JsonText) -> Result<Self, Self::Error> {
        serde_json::from_str(&text.0)
    }
}

/// The refusal of a store that already holds data, naming the tables that do.
pub(crate) fn not_empty(tables: &[&str]) -> StoreError {
    StoreError::Conflict(format!(
        "the target is not empty (it has rows in {}): a copy goes only into an empty store, \
         such as a new data directory or an empty PostgreSQL database",
        tables.join(", ")
    ))
}
