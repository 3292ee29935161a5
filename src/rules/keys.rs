//! Creating, listing, revealing and deleting a user's API keys: the rules both the API and the
//! web pages follow (uniqueness per user and tenant, membership, the reveal policy, audit).
//! Each call names the moment of the caller's sign-in: keys of a tenant whose membership began
//! later are out of its reach ([`crate::rules::access`]).

use crate::auth::api_key::{ApiKey, Hasher, Sealer};
pub use crate::auth::rate_limit::{MAX_RATE, RateLimit};
use crate::config::RevealPolicy;
use crate::domain::{KeyId, KeyName, TenantId, Timestamp, UserId};
use crate::rules::access;
use crate::rules::{Revoker, RuleError};
use crate::store::{AuditEvent, KeyRecord, NewKey, Store, StoreError};

/// What the key rules work with.
pub struct Keys<'a> {
    pub store: &'a dyn Store,
    /// Digests a new key's value: the only form it is stored and looked up in.
    pub hasher: &'a Hasher,
    /// Seals a new key's value for the Show link, and opens it again.
    pub sealer: &'a Sealer,
    pub reveal: RevealPolicy,
    /// Told when a deletion revokes a key.
    pub revoker: &'a dyn Revoker,
    /// The request the rules run for, named in each audit record's log line.
    pub request_id: String,
    /// The server's default rate limit of a key (`--key-requests-per-second`, `--key-burst`):
    /// the bound of a key's own where its tenant sets none. `None`: no default, no bound.
    pub default_rate_limit: Option<RateLimit>,
}

/// A key as its owner sees it; `value` follows the reveal policy.
#[derive(Debug, Clone)]
pub struct KeyView {
    pub name: String,
    pub value: Option<String>,
    pub created_at: Timestamp,
    pub tenant_id: TenantId,
    pub tenant_name: String,
    /// When the key was last used (to the minute) and from which address; `None`: not yet.
    pub last_used_at: Option<Timestamp>,
    pub last_used_address: Option<String>,
    /// The key's own rate limit; `None`: its tenant's default, else the server's.
    pub rate_limit: Option<RateLimit>,
}

/// Issues a key for a tenant the user belongs to. The value is in the answer and nowhere else.
pub async fn create(
    keys: &Keys<'_>,
    user: UserId,
    signed_in_at: Option<Timestamp>,
    tenant: TenantId,
    name: KeyName,
    rate_limit: Option<RateLimit>,
) -> Result<KeyView, RuleError> {
    let not_member =
        || RuleError::NotAllowed(format!("you are not a member of the tenant {tenant}"));
    if access::role(keys.store, user, tenant, signed_in_at)
        .await?
        .is_none()
    {
        return Err(not_member());
    }
    if let Some(limit) = rate_limit {
        within_tenant_bound(keys, tenant, limit).await?;
    }
    let key = ApiKey::generate();
    let id = KeyId::generate();
    let created_at = Timestamp::now();
    let sealed = keys
        .reveal
        .keeps_sealed_copies()
        .then(|| keys.sealer.seal_key(&key, id.0));
    let new_key = NewKey {
        id,
        user_id: user,
        tenant_id: tenant,
        name: name.clone(),
        digest: keys.hasher.digest(key.expose()),
        preview: key.preview(),
        sealed,
        created_at,
        expires_at: None,
        rate_per_second: rate_limit.map(|limit| i64::from(limit.per_second)),
        rate_burst: rate_limit.map(|limit| i64::from(limit.burst)),
    };
    match keys.store.insert_key(new_key).await {
        Ok(()) => {}
        // The membership went away between the check and the insert.
        Err(StoreError::Missing(_)) => return Err(not_member()),
        Err(other) => return Err(other.into()),
    }
    audit(keys, user, tenant, "key.created", &name).await?;
    let tenant_name = keys
        .store
        .tenant(tenant)
        .await?
        .map(|t| t.name)
        .unwrap_or_default();
    Ok(KeyView {
        name: name.into_string(),
        value: Some(key.expose().to_string()),
        created_at,
        tenant_id: tenant,
        tenant_name,
        last_used_at: None,
        last_used_address: None,
        rate_limit,
    })
}

/// A key's own rate limit must be within its tenant's (the bound an administrator set), else
/// the server's default; with neither, any limit is.
async fn within_tenant_bound(
    keys: &Keys<'_>,
    tenant: TenantId,
    limit: RateLimit,
) -> Result<(), RuleError> {
    let tenant_bound = keys.store.tenant(tenant).await?.and_then(|tenant| {
        RateLimit::from_columns(tenant.key_rate_per_second, tenant.key_rate_burst)
    });
    let Some(bound) = tenant_bound.or(keys.default_rate_limit) else {
        return Ok(());
    };
    if limit.within(bound) {
        return Ok(());
    }
    Err(RuleError::Invalid(format!(
        "invalid field: rateLimit must be within this tenant's bound of {} requests a second \
         with a burst of {}",
        bound.per_second, bound.burst
    )))
}

/// Every key of the user, in all the tenants the sign-in reaches, oldest first, shown as the
/// policy says.
pub async fn list(
    keys: &Keys<'_>,
    user: UserId,
    signed_in_at: Option<Timestamp>,
) -> Result<Vec<KeyView>, RuleError> {
    let policy = keys.reveal;
    let records = keys_in_reach(keys, user, signed_in_at).await?;
    records
        .into_iter()
        .map(|record| {
            let value = match policy {
                RevealPolicy::OnDemand => Some(record.preview.clone()),
                RevealPolicy::List => Some(open(keys, &record)?),
                RevealPolicy::Never => None,
            };
            Ok(view(record, value))
        })
        .collect()
}

/// The value of one key, for the Show link; audited. `tenant` picks among keys of the same
/// name in several tenants.
pub async fn reveal(
    keys: &Keys<'_>,
    user: UserId,
    signed_in_at: Option<Timestamp>,
    name: &str,
    tenant: Option<TenantId>,
) -> Result<KeyView, RuleError> {
    if keys.reveal == RevealPolicy::Never {
        return Err(RuleError::NotAllowed(
            "this server never shows a key again after its creation (reveal policy `never`)".into(),
        ));
    }
    let record = find(keys, user, signed_in_at, name, tenant).await?;
    let value = open(keys, &record)?;
    audit(keys, user, record.tenant_id, "key.revealed", &record.name).await?;
    Ok(view(record, Some(value)))
}

/// Deletes one key by name; it fails on the very next request.
pub async fn delete(
    keys: &Keys<'_>,
    user: UserId,
    signed_in_at: Option<Timestamp>,
    name: &str,
    tenant: Option<TenantId>,
) -> Result<(), RuleError> {
    let record = find(keys, user, signed_in_at, name, tenant).await?;
    if keys.store.delete_key(user, record.id).await? {
        keys.revoker.revoke_cached().await;
        audit(keys, user, record.tenant_id, "key.deleted", &record.name).await?;
    }
    Ok(())
}

/// The user's keys in the tenants the sign-in reaches, oldest first.
async fn keys_in_reach(
    keys: &Keys<'_>,
    user: UserId,
    signed_in_at: Option<Timestamp>,
) -> Result<Vec<KeyRecord>, RuleError> {
    let mut records = keys.store.keys_of_user(user).await?;
    if signed_in_at.is_some() {
        let reached = access::tenant_ids(keys.store, user, signed_in_at).await?;
        records.retain(|key| reached.contains(&key.tenant_id));
    }
    Ok(records)
}

async fn find(
    keys: &Keys<'_>,
    user: UserId,
    signed_in_at: Option<Timestamp>,
    name: &str,
    tenant: Option<TenantId>,
) -> Result<KeyRecord, RuleError> {
    let name = name.trim();
    let mut matching: Vec<KeyRecord> = keys_in_reach(keys, user, signed_in_at)
        .await?
        .into_iter()
        .filter(|key| key.name == name && tenant.is_none_or(|t| key.tenant_id == t))
        .collect();
    match matching.len() {
        0 => Err(RuleError::Missing(format!(
            "you have no key named '{name}'"
        ))),
        1 => Ok(matching.remove(0)),
        _ => Err(RuleError::Conflict(format!(
            "you have keys named '{name}' in several tenants; say which with the manywhotenant header"
        ))),
    }
}

fn open(keys: &Keys<'_>, record: &KeyRecord) -> Result<String, RuleError> {
    let sealed = record.sealed.as_deref().ok_or_else(|| {
        RuleError::Conflict(format!(
            "the key '{}' was created while the reveal policy was `never`; its value was not kept",
            record.name
        ))
    })?;
    let key = keys
        .sealer
        .open_key(sealed, record.id.0)
        .map_err(|error| RuleError::Internal(anyhow::Error::new(error)))?;
    Ok(key.expose().to_string())
}

fn view(record: KeyRecord, value: Option<String>) -> KeyView {
    KeyView {
        name: record.name,
        value,
        created_at: record.created_at,
        tenant_id: record.tenant_id,
        tenant_name: record.tenant_name,
        last_used_at: record.last_used_at,
        last_used_address: record.last_used_address,
        rate_limit: RateLimit::from_columns(record.rate_per_second, record.rate_burst),
    }
}

async fn audit(
    keys: &Keys<'_>,
    user: UserId,
    tenant: TenantId,
    action: &'static str,
    subject: &impl ToString,
) -> Result<(), RuleError> {
    let event = AuditEvent {
        actor: Some(user),
        tenant: Some(tenant),
        action,
        subject: Some(subject.to_string()),
    };
    keys.store.record_audit(event).await?;
    let request_id = &keys.request_id;
    tracing::info!(%request_id, %user, %tenant, action, "audit");
    Ok(())
}
