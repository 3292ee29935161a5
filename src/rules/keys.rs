//! Creating, listing, revealing and deleting a user's API keys: the rules both the API and the
//! web pages follow (uniqueness per user and tenant, membership, the reveal policy, audit).

use crate::auth::api_key::ApiKey;
use crate::config::RevealPolicy;
use crate::domain::{KeyId, KeyName, TenantId, Timestamp, UserId};
use crate::http::error::ApiError;
use crate::state::AppState;
use crate::store::{AuditEvent, KeyRecord, NewKey, StoreError};

/// A key as its owner sees it; `value` follows the reveal policy.
#[derive(Debug, Clone)]
pub struct KeyView {
    pub name: String,
    pub value: Option<String>,
    pub created_at: Timestamp,
    pub tenant_id: TenantId,
    pub tenant_name: String,
}

/// Issues a key for a tenant the user belongs to. The value is in the answer and nowhere else.
pub async fn create(
    state: &AppState,
    user: UserId,
    tenant: TenantId,
    name: KeyName,
) -> Result<KeyView, ApiError> {
    let not_member = || ApiError::Forbidden(format!("you are not a member of the tenant {tenant}"));
    if state.store.role_in(user, tenant).await?.is_none() {
        return Err(not_member());
    }
    let key = ApiKey::generate();
    let id = KeyId::generate();
    let created_at = Timestamp::now();
    let sealed = state
        .config
        .key_reveal
        .keeps_sealed_copies()
        .then(|| state.sealer.seal_key(&key, id.0));
    let new_key = NewKey {
        id,
        user_id: user,
        tenant_id: tenant,
        name: name.clone(),
        digest: state.hasher.digest(key.expose()),
        preview: key.preview(),
        sealed,
        created_at,
        expires_at: None,
    };
    match state.store.insert_key(new_key).await {
        Ok(()) => {}
        // The membership went away between the check and the insert.
        Err(StoreError::Missing(_)) => return Err(not_member()),
        Err(other) => return Err(other.into()),
    }
    audit(state, user, tenant, "key.created", &name).await?;
    let tenant_name = state
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
    })
}

/// Every key of the user, in all tenants, oldest first, shown as the policy says.
pub async fn list(state: &AppState, user: UserId) -> Result<Vec<KeyView>, ApiError> {
    let policy = state.config.key_reveal;
    let records = state.store.keys_of_user(user).await?;
    records
        .into_iter()
        .map(|record| {
            let value = match policy {
                RevealPolicy::OnDemand => Some(record.preview.clone()),
                RevealPolicy::List => Some(open(state, &record)?),
                RevealPolicy::Never => None,
            };
            Ok(view(record, value))
        })
        .collect()
}

/// The value of one key, for the Show link; audited. `tenant` picks among keys of the same
/// name in several tenants.
pub async fn reveal(
    state: &AppState,
    user: UserId,
    name: &str,
    tenant: Option<TenantId>,
) -> Result<KeyView, ApiError> {
    if state.config.key_reveal == RevealPolicy::Never {
        return Err(ApiError::Forbidden(
            "this server never shows a key again after its creation (reveal policy `never`)".into(),
        ));
    }
    let record = find(state, user, name, tenant).await?;
    let value = open(state, &record)?;
    audit(state, user, record.tenant_id, "key.revealed", &record.name).await?;
    Ok(view(record, Some(value)))
}

/// Deletes one key by name; it fails on the very next request.
pub async fn delete(
    state: &AppState,
    user: UserId,
    name: &str,
    tenant: Option<TenantId>,
) -> Result<(), ApiError> {
    let record = find(state, user, name, tenant).await?;
    if state.store.delete_key(user, record.id).await? {
        state.verifier.revoke_all();
        audit(state, user, record.tenant_id, "key.deleted", &record.name).await?;
    }
    Ok(())
}

async fn find(
    state: &AppState,
    user: UserId,
    name: &str,
    tenant: Option<TenantId>,
) -> Result<KeyRecord, ApiError> {
    let name = name.trim();
    let mut matching: Vec<KeyRecord> = state
        .store
        .keys_of_user(user)
        .await?
        .into_iter()
        .filter(|key| key.name == name && tenant.is_none_or(|t| key.tenant_id == t))
        .collect();
    match matching.len() {
        0 => Err(ApiError::NotFound(format!(
            "you have no key named '{name}'"
        ))),
        1 => Ok(matching.remove(0)),
        _ => Err(ApiError::Conflict(format!(
            "you have keys named '{name}' in several tenants; say which with the manywhotenant header"
        ))),
    }
}

fn open(state: &AppState, record: &KeyRecord) -> Result<String, ApiError> {
    let sealed = record.sealed.as_deref().ok_or_else(|| {
        ApiError::Conflict(format!(
            "the key '{}' was created while the reveal policy was `never`; its value was not kept",
            record.name
        ))
    })?;
    let key = state
        .sealer
        .open_key(sealed, record.id.0)
        .map_err(|error| ApiError::Internal(anyhow::Error::new(error)))?;
    Ok(key.expose().to_string())
}

fn view(record: KeyRecord, value: Option<String>) -> KeyView {
    KeyView {
        name: record.name,
        value,
        created_at: record.created_at,
        tenant_id: record.tenant_id,
        tenant_name: record.tenant_name,
    }
}

async fn audit(
    state: &AppState,
    user: UserId,
    tenant: TenantId,
    action: &'static str,
    subject: &impl ToString,
) -> Result<(), ApiError> {
    let event = AuditEvent {
        actor: Some(user),
        tenant: Some(tenant),
        action,
        subject: Some(subject.to_string()),
    };
    state.store.record_audit(event).await?;
    let request_id = crate::http::scope::current_request_id();
    tracing::info!(%request_id, %user, %tenant, action, "audit");
    Ok(())
}
