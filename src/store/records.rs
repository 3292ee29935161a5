//! The rows the store reads and writes, in domain types.

use crate::auth::api_key::Digest;
use crate::domain::{
    Email, FlowId, KeyId, KeyName, Role, TenantId, Timestamp, UserId, flow::FlowSettings,
};

#[derive(Debug, Clone)]
pub struct Tenant {
    pub id: TenantId,
    pub name: String,
    pub summary: Option<String>,
    pub created_at: Timestamp,
}

/// A user to create; the password is already hashed.
#[derive(Debug, Clone)]
pub struct NewUser {
    pub id: UserId,
    pub email: Email,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub password_hash: String,
}

#[derive(Debug, Clone)]
pub struct User {
    pub id: UserId,
    pub email: String,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub password_hash: String,
    pub created_at: Timestamp,
}

/// One of a user's tenants, with the user's role there.
#[derive(Debug, Clone)]
pub struct Membership {
    pub tenant: Tenant,
    pub role: Role,
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
}

/// What a valid key grants: who, in which tenant, until when.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyGrant {
    pub key_id: KeyId,
    pub user_id: UserId,
    pub tenant_id: TenantId,
    pub expires_at: Option<Timestamp>,
}

/// A key as its owner's list shows it.
#[derive(Debug, Clone)]
pub struct KeyRecord {
    pub id: KeyId,
    pub tenant_id: TenantId,
    pub tenant_name: String,
    pub name: String,
    pub preview: String,
    pub sealed: Option<Vec<u8>>,
    pub created_at: Timestamp,
    pub expires_at: Option<Timestamp>,
}

#[derive(Debug, Clone)]
pub struct NewToken {
    pub digest: Digest,
    pub user_id: UserId,
    pub tenant_id: TenantId,
    pub created_at: Timestamp,
    pub expires_at: Timestamp,
}

/// What a token grants: its user and the tenant it was issued for.
#[derive(Debug, Clone)]
pub struct TokenGrant {
    pub user_id: UserId,
    pub tenant_id: TenantId,
    pub expires_at: Timestamp,
}

/// A web session to store: only the digest of the cookie's value.
#[derive(Debug, Clone)]
pub struct NewSession {
    pub digest: Digest,
    pub user_id: UserId,
    pub created_at: Timestamp,
    pub expires_at: Timestamp,
}

/// Whose session a cookie holds, until when.
#[derive(Debug, Clone)]
pub struct SessionGrant {
    pub user_id: UserId,
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

/// The current version of a flow.
#[derive(Debug, Clone)]
pub struct FlowRecord {
    pub id: FlowId,
    pub version_id: uuid::Uuid,
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
}

/// Something worth an audit trail: reveals, key creation and deletion, membership changes.
#[derive(Debug, Clone)]
pub struct AuditEvent {
    pub actor: Option<UserId>,
    pub tenant: Option<TenantId>,
    pub action: &'static str,
    pub subject: Option<String>,
}
