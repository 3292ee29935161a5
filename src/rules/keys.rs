//! Creating, listing, revealing, rotating and deleting a user's API keys: the rules both the
//! API and the web pages follow (uniqueness per user and tenant, membership, the reveal
//! policy, expiry within the tenant's maximum, audit).
//! Each call names the moment of the caller's sign-in: keys of a tenant whose membership began
//! later are out of its reach ([`crate::rules::access`]).

use std::net::IpAddr;

use crate::auth::api_key::{ApiKey, Hasher, Sealer};
pub use crate::auth::rate_limit::{MAX_RATE, RateLimit};
use crate::config::RevealPolicy;
use std::time::Duration;

use crate::domain::{KeyId, KeyName, Networks, Scopes, TenantId, Timestamp, UserId};
use crate::rules::access;
use crate::rules::audit::{self as trail, Origin};
use crate::rules::{Revoker, RuleError};
use crate::store::{AuditEvent, KeyGrant, KeyRecord, KeyRotation, NewKey, Store, StoreError};

/// The longest overlap a rotation may give the old value: 30 days.
pub const MAX_ROTATION_OVERLAP_SECONDS: u64 = 30 * 24 * 60 * 60;

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
    /// The client's address, recorded in each audit event (`None` from the command line).
    pub address: Option<IpAddr>,
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
    /// When the key stops working; `None`: never.
    pub expires_at: Option<Timestamp>,
    /// When a rotation last gave it a new value.
    pub rotated_at: Option<Timestamp>,
    /// What the key is narrowed to (unscoped: what its owner's role allows).
    pub scopes: Scopes,
    /// Where it may be used from (empty: anywhere).
    pub allowed_networks: Networks,
    /// When the key was last used (to the minute) and from which address; `None`: not yet.
    pub last_used_at: Option<Timestamp>,
    pub last_used_address: Option<String>,
    /// The key's own rate limit; `None`: its tenant's default, else the server's.
    pub rate_limit: Option<RateLimit>,
}

/// What a new key may be given beyond its name and tenant; the default is a key that never
/// expires, is not narrowed, and has its tenant's rate limit.
#[derive(Debug, Clone, Default)]
pub struct KeySettings {
    /// When it stops working; `None`: never (refused while the tenant has a maximum).
    pub expires_at: Option<Timestamp>,
    /// What it is narrowed to; never more than the owner's role.
    pub scopes: Scopes,
    /// Where it may be used from (empty: anywhere).
    pub allowed_networks: Networks,
    /// Its own rate limit, within its tenant's bound; `None`: the tenant's.
    pub rate_limit: Option<RateLimit>,
}

/// Issues a key for a tenant the user belongs to. The value is in the answer and nowhere else.
/// `settings.scopes` and `settings.allowed_networks` narrow it (unscoped and empty: what the
/// owner's role allows, from anywhere); scopes never widen it past the owner's role.
pub async fn create(
    keys: &Keys<'_>,
    user: UserId,
    signed_in_at: Option<Timestamp>,
    tenant: TenantId,
    name: KeyName,
    settings: KeySettings,
) -> Result<KeyView, RuleError> {
    let KeySettings {
        expires_at,
        scopes,
        allowed_networks,
        rate_limit,
    } = settings;
    let not_member =
        || RuleError::NotAllowed(format!("you are not a member of the tenant {tenant}"));
    if access::role(keys.store, user, tenant, signed_in_at)
        .await?
        .is_none()
    {
        return Err(not_member());
    }
    let created_at = Timestamp::now();
    check_expiry(keys.store, tenant, expires_at, created_at).await?;
    if let Some(limit) = rate_limit {
        within_tenant_bound(keys, tenant, limit).await?;
    }
    let key = ApiKey::generate();
    let id = KeyId::generate();
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
        expires_at,
        scopes,
        allowed_networks: allowed_networks.clone(),
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
        expires_at,
        rotated_at: None,
        scopes,
        allowed_networks,
        last_used_at: None,
        last_used_address: None,
        rate_limit,
    })
}

/// Whether a new key may expire at `expires_at` in the tenant: not in the past, and within
/// the tenant's maximum lifetime when it has one (which also refuses a key that never
/// expires).
pub async fn check_expiry(
    store: &dyn Store,
    tenant: TenantId,
    expires_at: Option<Timestamp>,
    now: Timestamp,
) -> Result<(), RuleError> {
    if let Some(at) = expires_at
        && at <= now
    {
        return Err(RuleError::Invalid(format!(
            "invalid field: expiresAt ({at}) is in the past; choose a moment to come, or none"
        )));
    }
    let maximum = store
        .tenant(tenant)
        .await?
        .and_then(|tenant| tenant.max_key_lifetime_seconds);
    let Some(seconds) = maximum else {
        return Ok(());
    };
    let days = seconds / DAY_SECONDS;
    let latest = now.plus(Duration::from_secs(seconds.max(0).unsigned_abs()));
    match expires_at {
        None => Err(RuleError::Invalid(format!(
            "invalid field: expiresAt is required: this tenant's keys live at most {days} days, \
             so a key that never expires is not allowed"
        ))),
        Some(at) if at > latest => Err(RuleError::Invalid(format!(
            "invalid field: expiresAt ({at}) is beyond this tenant's maximum key lifetime of \
             {days} days (at the latest {latest})"
        ))),
        Some(_) => Ok(()),
    }
}

/// The longest maximum key lifetime a tenant may set, in days: 10 years.
pub const MAX_KEY_LIFETIME_DAYS: i64 = 3650;

/// Sets the tenant's maximum key lifetime in days (`None`: no maximum), from 1 to
/// [`MAX_KEY_LIFETIME_DAYS`]. Lowering it does not end keys at once: each key that would
/// outlive `now + maximum` (no expiry, or a later one) now expires then; a key that expires
/// sooner keeps its expiry. Every cache drops the keys' grants. Returns how many keys were
/// capped. The API's tenant settings and the command line both set it here.
pub async fn set_max_lifetime(
    store: &dyn Store,
    revoker: &dyn Revoker,
    tenant: TenantId,
    days: Option<i64>,
) -> Result<u64, RuleError> {
    if days.is_some_and(|days| !(1..=MAX_KEY_LIFETIME_DAYS).contains(&days)) {
        return Err(RuleError::Invalid(format!(
            "invalid field: maxApiKeyLifetimeDays must be from 1 to {MAX_KEY_LIFETIME_DAYS} \
             days, or none"
        )));
    }
    let seconds = days.map(|days| days * DAY_SECONDS);
    let capped = store
        .set_max_key_lifetime(tenant, seconds, Timestamp::now())
        .await?;
    if capped > 0 {
        revoker.revoke_cached().await;
    }
    Ok(capped)
}

/// Sets the default and upper bound of the tenant's keys' rate limits (`None`: back to the
/// server's default), each figure 1 to [`MAX_RATE`]. The store announces it as a change of
/// the tenant's keys (their cached grants carry the limit) and every cache here drops its
/// grants. The API's tenant settings and the command line both set it here.
pub async fn set_tenant_rate_limit(
    store: &dyn Store,
    revoker: &dyn Revoker,
    tenant: TenantId,
    limit: Option<RateLimit>,
) -> Result<(), RuleError> {
    let within = |n: u32| (1..=MAX_RATE).contains(&n);
    if limit.is_some_and(|limit| !within(limit.per_second) || !within(limit.burst)) {
        return Err(RuleError::Invalid(format!(
            "invalid field: apiKeyRateLimit's requests a second and burst must each be 1 to \
             {MAX_RATE}"
        )));
    }
    let columns = limit.map(|limit| (i64::from(limit.per_second), i64::from(limit.burst)));
    if !store.set_key_rate_limit(tenant, columns).await? {
        return Err(RuleError::Missing(format!("there is no tenant {tenant}")));
    }
    revoker.revoke_cached().await;
    Ok(())
}

/// Seconds in a day: the tenant's maximum is set in days.
pub const DAY_SECONDS: i64 = 24 * 60 * 60;

/// Gives one key a new value under the same name and settings (tenant, expiry, …), shown in
/// the answer once. The old value keeps working for `overlap` (none: it ends at once), never
/// past the key's expiry, and then answers that it was rotated; a value an earlier rotation
/// superseded keeps its own end. The new sealed copy replaces the old one. Audited as
/// `key.rotated`.
pub async fn rotate(
    keys: &Keys<'_>,
    user: UserId,
    signed_in_at: Option<Timestamp>,
    name: &str,
    tenant: Option<TenantId>,
    overlap: Duration,
) -> Result<KeyView, RuleError> {
    if overlap.as_secs() > MAX_ROTATION_OVERLAP_SECONDS {
        return Err(RuleError::Invalid(format!(
            "invalid field: overlapSeconds must be from 0 to {MAX_ROTATION_OVERLAP_SECONDS} \
             (30 days)"
        )));
    }
    let record = find(keys, user, signed_in_at, name, tenant).await?;
    let key = ApiKey::generate();
    let rotated_at = Timestamp::now();
    let sealed = keys
        .reveal
        .keeps_sealed_copies()
        .then(|| keys.sealer.seal_key(&key, record.id.0));
    let rotation = KeyRotation {
        key_id: record.id,
        user_id: user,
        digest: keys.hasher.digest(key.expose()),
        preview: key.preview(),
        sealed,
        rotated_at,
        valid_until: rotated_at.plus(overlap),
    };
    if !keys.store.rotate_key(rotation).await? {
        return Err(RuleError::Missing(format!(
            "you have no key named '{}'",
            record.name
        )));
    }
    keys.revoker.revoke_cached().await;
    audit(keys, user, record.tenant_id, "key.rotated", &record.name).await?;
    let mut view = view(record, Some(key.expose().to_string()));
    view.rotated_at = Some(rotated_at);
    Ok(view)
}

/// Records `key.expired` for a key refused because it expired: once per key, whichever
/// request (on whichever instance) is refused first. A value a rotation superseded that is
/// past its overlap is not an expiry of the key.
pub async fn record_expired(keys: &Keys<'_>, grant: &KeyGrant) -> Result<(), RuleError> {
    if grant.ends_by_rotation() {
        return Ok(());
    }
    let claimed = keys
        .store
        .claim_expiry_record(grant.key_id, Timestamp::now())
        .await?;
    if let Some(name) = claimed {
        audit(keys, grant.user_id, grant.tenant_id, "key.expired", &name).await?;
    }
    Ok(())
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
        expires_at: record.expires_at,
        rotated_at: record.rotated_at,
        scopes: record.scopes,
        allowed_networks: record.allowed_networks,
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
    let origin = Origin {
        address: keys.address,
        request_id: Some(keys.request_id.clone()),
    };
    let subject = subject.to_string();
    let event = AuditEvent {
        actor: Some(user),
        tenant: Some(tenant),
        action,
        data: Some(serde_json::json!({ "key": subject })),
        subject: Some(subject),
        ..AuditEvent::default()
    };
    trail::record(keys.store, &origin, event).await
}
