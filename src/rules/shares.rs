//! Packages shared by token: a member who may export a flow issues a sharing token for its
//! package, any tenant imports that package with the token, and the flow's tenant revokes it.
//!
//! What a token shares is the package **frozen at issue** (the same package the export would
//! answer then, passwords already blanked when asked), so an import brings exactly what the
//! sharer saw, whatever the flow became since, and the row never holds the passwords the
//! sharer chose to withhold. The token is 32 bytes from the OS generator (`kfs_` and base64),
//! says nothing by itself, and is stored only as its peppered digest. It works any number of
//! times for [`SHARE_LIFETIME`], until the flow's tenant revokes it or deletes the flow.
//! Unknown, revoked and expired tokens get one answer ([`UNKNOWN`], a 404): keyflow keeps no
//! trace of a revoked or expired token to tell them apart, and one answer tells a guesser
//! nothing about which tokens once existed.

use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};

use crate::auth::api_key::Hasher;
use crate::auth::token::random_secret;
use crate::domain::{FlowId, TenantId, Timestamp, UserId, VersionId};
use crate::rules::RuleError;
use crate::rules::audit::{self as trail, Origin};
use crate::store::{AuditEvent, NewShare, SharedPackage, Store};

/// What the sharing rules work with.
pub struct Shares<'a> {
    pub store: &'a dyn Store,
    pub hasher: &'a Hasher,
    /// Where the change came from, for its audit event.
    pub origin: Origin,
}

/// How long a sharing token works: long enough to pass it to another team and for them to
/// import, short enough that a forgotten one does not share the flow for good.
pub const SHARE_LIFETIME: Duration = Duration::from_secs(7 * 24 * 60 * 60);

/// The refusal of a token that leads nowhere, whatever the reason.
pub const UNKNOWN: &str = "this sharing token is unknown, revoked or expired: ask the flow's \
     tenant to share the flow again";

/// A package frozen for sharing: the flow and version it holds, and its JSON text.
pub struct Frozen {
    pub flow: FlowId,
    pub version: VersionId,
    pub package: String,
}

/// Issues a token for the package, as `author` of `tenant`, at `now`. Missing when the flow
/// was deleted meanwhile.
pub async fn issue(
    shares: &Shares<'_>,
    author: UserId,
    tenant: TenantId,
    frozen: Frozen,
    now: Timestamp,
) -> Result<SecretString, RuleError> {
    let token = random_secret("kfs_");
    let flow = frozen.flow;
    let share = NewShare {
        digest: shares.hasher.digest(token.expose_secret()),
        tenant_id: tenant,
        flow_id: flow,
        version_id: frozen.version,
        package: frozen.package,
        created_by: author,
        created_at: now,
        expires_at: now.plus(SHARE_LIFETIME),
    };
    shares.store.insert_share(share).await?;
    audit(shares, author, tenant, "package.shared", flow).await?;
    Ok(token)
}

/// The package a token shares, if it is live at `now`; else Missing ([`UNKNOWN`]). Any text
/// is looked up by its digest, so a malformed token is refused as an unknown one.
pub async fn open(
    shares: &Shares<'_>,
    token: &str,
    now: Timestamp,
) -> Result<SharedPackage, RuleError> {
    let digest = shares.hasher.digest(token);
    shares
        .store
        .shared_package(&digest, now)
        .await?
        .ok_or_else(|| RuleError::Missing(UNKNOWN.into()))
}

/// Revokes the flow's share with this token, or with `None` every share of the flow; returns
/// how many. Missing when the tenant has no such flow, or the token is no share of it.
pub async fn revoke(
    shares: &Shares<'_>,
    author: UserId,
    tenant: TenantId,
    flow: FlowId,
    token: Option<&str>,
) -> Result<u64, RuleError> {
    if shares.store.flow(tenant, flow).await?.is_none() {
        return Err(RuleError::Missing(format!(
            "this tenant has no flow {flow}"
        )));
    }
    let digest = token.map(|token| shares.hasher.digest(token));
    let revoked = shares
        .store
        .revoke_shares(tenant, flow, digest.as_ref())
        .await?;
    if token.is_some() && revoked == 0 {
        return Err(RuleError::Missing(format!(
            "this sharing token is no share of the flow {flow}: unknown, or revoked already"
        )));
    }
    audit(shares, author, tenant, "package.share_revoked", flow).await?;
    Ok(revoked)
}

async fn audit(
    shares: &Shares<'_>,
    author: UserId,
    tenant: TenantId,
    action: &'static str,
    flow: FlowId,
) -> Result<(), RuleError> {
    let event = AuditEvent {
        actor: Some(author),
        tenant: Some(tenant),
        action,
        subject: Some(flow.to_string()),
        data: Some(serde_json::json!({ "flow": flow.to_string() })),
        ..AuditEvent::default()
    };
    trail::record(shares.store, &shares.origin, event).await
}
