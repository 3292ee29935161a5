//! The audit record of a valid API key (or a token it obtained) refused for where it was used
//! from: its owner learns that the key is out there. The record names the key and the
//! address, never the key's value.

use std::net::IpAddr;

use crate::domain::{KeyId, TenantId, UserId};
use crate::store::{AuditEvent, Store};

/// The audit action of a refused key.
pub const KEY_REFUSED: &str = "key.refused";

/// Records that `key`, `user`'s in `tenant`, was refused because `address` is outside its
/// allowed networks. A failure to record is logged and otherwise ignored: the request is
/// refused all the same, and the refusal must not turn into a 500.
pub async fn refused_network(
    store: &dyn Store,
    user: UserId,
    tenant: TenantId,
    key: KeyId,
    address: IpAddr,
    request_id: &str,
) {
    let event = AuditEvent {
        actor: Some(user),
        tenant: Some(tenant),
        action: KEY_REFUSED,
        subject: Some(format!("network: key {key} used from {address}")),
        address: Some(address.to_string()),
        request_id: Some(request_id.to_string()).filter(|id| !id.is_empty()),
        data: Some(serde_json::json!({ "reason": "network", "keyId": key.to_string() })),
        ..AuditEvent::default()
    };
    match store.record_audit(event).await {
        Ok(()) => {
            tracing::info!(%request_id, %user, %tenant, %key, %address, action = KEY_REFUSED,
                reason = "network", "audit");
        }
        Err(error) => {
            tracing::warn!(%request_id, %key, error = %error, "cannot record a refused key");
        }
    }
}
