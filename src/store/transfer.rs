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
use super::{StoreError, StoreResult, Tenant, User};
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

/// The tables a dump holds, in the order they are written (each after those it refers to).
pub const TABLES: [&str; 15] = [
    "tenants",
    "users",
    "memberships",
    "invitations",
    "api_keys",
    "tokens",
    "web_sessions",
    "flows",
    "flow_snapshots",
    "elements",
    "flow_elements",
    "flow_uses",
    "package_shares",
    "audit_events",
    "meta",
];

/// Every row of a store. Users keep their password hashes, keys their digests and sealed
/// values, tokens, sessions, invitations and shared packages their digests: all of it works only under the
/// same pepper and master key, whose fingerprints travel in `meta`.
#[derive(Debug, Clone, Default)]
pub struct Dump {
    pub tenants: Vec<Tenant>,
    /// `password_hash` is `None` for an account that has no password yet.
    pub users: Vec<User>,
    pub memberships: Vec<MembershipRow>,
    pub invitations: Vec<InvitationRow>,
    pub api_keys: Vec<ApiKeyRow>,
    pub tokens: Vec<TokenRow>,
    pub web_sessions: Vec<WebSessionRow>,
    pub flows: Vec<FlowRow>,
    pub flow_snapshots: Vec<SnapshotRow>,
    pub elements: Vec<ElementRow>,
    pub flow_elements: Vec<FlowElementRow>,
    /// After `elements` and `flows`, which it refers to.
    pub flow_uses: Vec<FlowUseRow>,
    /// Packages shared by token, with the token's digest; after `flows`, which it refers to.
    pub package_shares: Vec<ShareRow>,
    pub audit_events: Vec<AuditRow>,
    /// The database's settings: the secrets' fingerprints (`fingerprint:pepper`,
    /// `fingerprint:master.key`). A backend's change counter is left out.
    pub meta: Vec<MetaRow>,
}

impl Dump {
    /// How many rows of each table, in [`TABLES`] order.
    pub fn counts(&self) -> Vec<(&'static str, usize)> {
        let counts = [
            self.tenants.len(),
            self.users.len(),
            self.memberships.len(),
            self.invitations.len(),
            self.api_keys.len(),
            self.tokens.len(),
            self.web_sessions.len(),
            self.flows.len(),
            self.flow_snapshots.len(),
            self.elements.len(),
            self.flow_elements.len(),
            self.flow_uses.len(),
            self.package_shares.len(),
            self.audit_events.len(),
            self.meta.len(),
        ];
        TABLES.into_iter().zip(counts).collect()
    }
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
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct TokenRow {
    pub digest: Digest,
    pub user_id: UserId,
    pub tenant_id: TenantId,
    pub created_at: Timestamp,
    pub expires_at: Timestamp,
    pub signed_in_at: Timestamp,
    /// The API key the token is bound to, if any.
    pub key_id: Option<KeyId>,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct WebSessionRow {
    pub digest: Digest,
    pub user_id: UserId,
    pub created_at: Timestamp,
    pub expires_at: Timestamp,
}

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

/// A package shared by token: the token's digest and the package frozen at issue, as stored.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ShareRow {
    pub digest: Digest,
    pub tenant_id: TenantId,
    pub flow_id: FlowId,
    pub version_id: VersionId,
    pub package: String,
    pub created_by: UserId,
    pub created_at: Timestamp,
    pub expires_at: Timestamp,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct AuditRow {
    #[sqlx(try_from = "DbUuid")]
    pub id: Uuid,
    pub at: Timestamp,
    pub actor_id: Option<UserId>,
    pub tenant_id: Option<TenantId>,
    pub action: String,
    pub subject: Option<String>,
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
