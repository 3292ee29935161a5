//! Tenant user administration: inviting an email (the membership is pending until the
//! account's owner accepts through the invitation's one-time link, since keyflow sends no
//! mail), changing a role or names, removing a member (their keys and tokens stop at once),
//! and accepting an invitation. The rules the API follows live here.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore;
use rand::rngs::OsRng;
use secrecy::{ExposeSecret, SecretString};

use crate::app::AppState;
use crate::auth::password;
use crate::domain::{Email, Password, Role, TenantId, Timestamp, UserId};
use crate::error::ApiError;
use crate::store::{AuditEvent, Member, NewInvitation};

/// How long a password link works.
pub const LINK_LIFETIME: std::time::Duration = std::time::Duration::from_secs(7 * 24 * 60 * 60);

/// Where a password link's token is used; the link is this path with `?token=…`.
pub const SET_PASSWORD_PATH: &str = "/api/admin/1/users/password";

/// What adding a user did: a pending member and the one-time link that accepts it.
pub struct Added {
    pub member: Member,
    pub link: SecretString,
}

/// The user's details as an administrator gives them.
pub struct Details {
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub role: Role,
}

/// Invites `email` to `tenant`, creating its account (with no password) when there is none.
/// The answer is the same whether or not the account existed: a pending member shown with the
/// invitation's own id, names and time, and a link. Conflict when already a member or invited.
pub async fn add(
    state: &AppState,
    actor: UserId,
    tenant: TenantId,
    email: Email,
    details: Details,
) -> Result<Added, ApiError> {
    let mut bytes = [0u8; 32];
    OsRng.fill_bytes(&mut bytes);
    let link = SecretString::from(format!("kfp_{}", URL_SAFE_NO_PAD.encode(bytes)));
    let now = Timestamp::now();
    let invitation = NewInvitation {
        id: UserId::generate(),
        email,
        tenant,
        role: details.role,
        first_name: details.first_name,
        last_name: details.last_name,
        link_digest: state.verifier.hasher().digest(link.expose_secret()),
        created_at: now,
        expires_at: now.plus(LINK_LIFETIME),
    };
    let member = state.store.invite(invitation).await?;
    audit(state, actor, tenant, "user.invited", member.account).await?;
    Ok(Added { member, link })
}

/// A member (or pending invitation) of the tenant, by the id its administrators see, or 404.
pub async fn member(state: &AppState, tenant: TenantId, id: UserId) -> Result<Member, ApiError> {
    state
        .store
        .member(tenant, id)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("this tenant has no user {id}")))
}

/// Sets a member's names and role. Names are the account's own, the same in every tenant: an
/// administrator changes them only for a user who belongs to no other tenant (else 403). A
/// pending invitation's names and role are the invitation's, so changing them tells nothing
/// about the account. Conflict when it would leave the tenant no administrator.
pub async fn update(
    state: &AppState,
    actor: UserId,
    tenant: TenantId,
    id: UserId,
    details: Details,
) -> Result<Member, ApiError> {
    let current = member(state, tenant, id).await?;
    let (first, last) = (details.first_name.as_deref(), details.last_name.as_deref());
    let gone = || ApiError::NotFound(format!("this tenant has no user {id}"));
    if current.pending {
        if !state
            .store
            .update_invitation(tenant, id, details.role, first, last)
            .await?
        {
            return Err(gone());
        }
    } else {
        let renames =
            (first, last) != (current.first_name.as_deref(), current.last_name.as_deref());
        if renames && belongs_elsewhere(state, current.account, tenant).await? {
            return Err(ApiError::Forbidden(
                "only the user changes their own name: this user also belongs to other \
                 tenants, and a name is the same in all of them"
                    .into(),
            ));
        }
        if !state
            .store
            .set_role(current.account, tenant, details.role)
            .await?
        {
            return Err(gone());
        }
        if renames {
            state.store.set_names(current.account, first, last).await?;
        }
    }
    audit(state, actor, tenant, "user.updated", current.account).await?;
    member(state, tenant, id).await
}

/// Whether the user is a member of a tenant besides `tenant` (pending invitations do not count:
/// until accepted they are not the user's).
async fn belongs_elsewhere(
    state: &AppState,
    user: UserId,
    tenant: TenantId,
) -> Result<bool, ApiError> {
    let memberships = state.store.memberships(user).await?;
    Ok(memberships.iter().any(|m| m.tenant.id != tenant))
}

/// Removes a member, or withdraws a pending invitation (its link then grants nothing): their
/// keys for the tenant are deleted and every server forgets them, and their tokens for it are
/// deleted. Any other sign-in of theirs from before stays out of the tenant even if they are
/// added back ([`crate::auth::access`]).
pub async fn remove(
    state: &AppState,
    actor: UserId,
    tenant: TenantId,
    id: UserId,
) -> Result<(), ApiError> {
    let removed = member(state, tenant, id).await?;
    if !state
        .store
        .remove_membership(removed.account, tenant)
        .await?
    {
        return Err(ApiError::NotFound(format!("this tenant has no user {id}")));
    }
    state.verifier.revoke_all();
    audit(state, actor, tenant, "user.removed", removed.account).await
}

/// Accepts the invitation a link was made for, using the link up: the membership begins now.
/// An account with no password yet gets `password` (and the invitation's names); an account
/// that has one must send that one, and keeps it. 401 for an unknown, used, expired or
/// withdrawn link, or a wrong password.
pub async fn accept(state: &AppState, token: &str, password: Password) -> Result<(), ApiError> {
    let invalid = || ApiError::Unauthorized("the password link is not valid or has expired".into());
    let digest = state.verifier.hasher().digest(token);
    let now = Timestamp::now();
    let invitation = state
        .store
        .invitation_by_link(&digest, now)
        .await?
        .ok_or_else(invalid)?;
    let accepted = match invitation.password_hash {
        None => {
            let hash = password::hash(&password).await?;
            state
                .store
                .accept_invitation(&digest, now, Some(&hash))
                .await?
        }
        Some(stored) => {
            // Whoever holds the link (the inviting administrator too) must also hold the
            // account's password: a link alone never reaches an account that has one.
            if !password::verify(Some(stored), password.secret().clone()).await? {
                return Err(ApiError::Unauthorized(
                    "this account already has a password: send that password (it stays \
                     unchanged) to accept the invitation"
                        .into(),
                ));
            }
            state.store.accept_invitation(&digest, now, None).await?
        }
    };
    let (user, tenant) = accepted.ok_or_else(invalid)?;
    audit(state, user, tenant, "user.accepted", user).await
}

async fn audit(
    state: &AppState,
    actor: UserId,
    tenant: TenantId,
    action: &'static str,
    subject: UserId,
) -> Result<(), ApiError> {
    state
        .store
        .record_audit(AuditEvent {
            actor: Some(actor),
            tenant: Some(tenant),
            action,
            subject: Some(subject.to_string()),
        })
        .await?;
    Ok(())
}
