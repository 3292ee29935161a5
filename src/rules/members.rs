//! Tenant user administration: adding a user (a new account gets a one-time password link,
//! since keyflow sends no mail), changing a role or names, removing a member (their keys and
//! tokens stop at once), and using a password link. The rules the API and the command line
//! (`keyflow user create|add|remove`) follow live here, and each change leaves the same audit
//! record whichever made it (`user.added`, `user.updated`, `user.removed`; the command line's
//! with no actor).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore;
use rand::rngs::OsRng;
use secrecy::{ExposeSecret, SecretString};

use crate::auth::api_key::Hasher;
use crate::auth::password;
use crate::domain::{Email, Password, Role, TenantId, Timestamp, UserId};
use crate::rules::{Actor, Revoker, RuleError};
use crate::store::{AuditEvent, Member, NewPasswordLink, NewUser, Store};

/// What the membership rules work with.
pub struct Members<'a> {
    pub store: &'a dyn Store,
    /// Told when a removal revokes the member's keys.
    pub revoker: &'a dyn Revoker,
}

/// How long a password link works.
pub const LINK_LIFETIME: std::time::Duration = std::time::Duration::from_secs(7 * 24 * 60 * 60);

/// What adding a user did.
pub struct Added {
    pub member: Member,
    /// The one-time link, when a new account was made.
    pub link: Option<SecretString>,
}

/// The user's details as an administrator gives them.
pub struct Details {
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub role: Role,
}

/// Makes `email` a member of `tenant`, creating the account (with no usable password and a
/// one-time link to set one) when there is none. Conflict when already a member.
pub async fn add(
    members: &Members<'_>,
    hasher: &Hasher,
    actor: Actor,
    tenant: TenantId,
    email: Email,
    details: Details,
) -> Result<Added, RuleError> {
    let link = match members.store.user_by_email(&email).await? {
        Some(user) => {
            members
                .store
                .add_membership(user.id, tenant, details.role)
                .await?;
            None
        }
        None => Some(invite(members, hasher, tenant, email.clone(), &details).await?),
    };
    let user = members
        .store
        .user_by_email(&email)
        .await?
        .ok_or_else(|| RuleError::Internal(anyhow::anyhow!("an added user vanished")))?;
    let member = member(members, tenant, user.id).await?;
    audit(members, actor, tenant, "user.added", user.id).await?;
    Ok(Added { member, link })
}

/// Makes an existing account a member of `tenant` (the command line's `user add`): the same
/// write and the same audit record as [`add`] for an email that has an account. Conflict when
/// already a member; Missing when the tenant does not exist.
pub async fn add_existing(
    members: &Members<'_>,
    actor: Actor,
    tenant: TenantId,
    user: UserId,
    role: Role,
) -> Result<(), RuleError> {
    members.store.add_membership(user, tenant, role).await?;
    audit(members, actor, tenant, "user.added", user).await
}

/// Creates an account that has its password as a member of `tenant` (the command line's
/// `user create`). A tenant's first member administers it; later ones are standard users
/// unless `role` says otherwise. Recorded as `user.added`, like an account [`add`] creates.
/// Conflict when the email is taken; Missing when the tenant does not exist.
pub async fn create(
    members: &Members<'_>,
    actor: Actor,
    tenant: TenantId,
    user: NewUser,
    role: Option<Role>,
) -> Result<UserId, RuleError> {
    let role = match role {
        Some(role) => role,
        None if members.store.member_count(tenant).await? == 0 => Role::Administrator,
        None => Role::Standard,
    };
    let id = user.id;
    members.store.create_user(user, tenant, role).await?;
    audit(members, actor, tenant, "user.added", id).await?;
    Ok(id)
}

/// Creates the account with its link; returns the link's token.
async fn invite(
    members: &Members<'_>,
    hasher: &Hasher,
    tenant: TenantId,
    email: Email,
    details: &Details,
) -> Result<SecretString, RuleError> {
    let mut bytes = [0u8; 32];
    OsRng.fill_bytes(&mut bytes);
    let token = SecretString::from(format!("kfp_{}", URL_SAFE_NO_PAD.encode(bytes)));
    let now = Timestamp::now();
    let id = UserId::generate();
    let user = NewUser {
        id,
        email,
        first_name: details.first_name.clone(),
        last_name: details.last_name.clone(),
        password_hash: None,
    };
    let link = NewPasswordLink {
        digest: hasher.digest(token.expose_secret()),
        user_id: id,
        created_at: now,
        expires_at: now.plus(LINK_LIFETIME),
    };
    members
        .store
        .create_invited_user(user, tenant, details.role, link)
        .await?;
    Ok(token)
}

/// A member of the tenant, or 404.
pub async fn member(
    members: &Members<'_>,
    tenant: TenantId,
    user: UserId,
) -> Result<Member, RuleError> {
    members
        .store
        .member(tenant, user)
        .await?
        .ok_or_else(|| RuleError::Missing(format!("this tenant has no user {user}")))
}

/// Sets a member's names and role. Conflict when it would leave the tenant no administrator.
pub async fn update(
    members: &Members<'_>,
    actor: Actor,
    tenant: TenantId,
    user: UserId,
    details: Details,
) -> Result<Member, RuleError> {
    member(members, tenant, user).await?;
    if !members.store.set_role(user, tenant, details.role).await? {
        return Err(RuleError::Missing(format!(
            "this tenant has no user {user}"
        )));
    }
    members
        .store
        .set_names(
            user,
            details.first_name.as_deref(),
            details.last_name.as_deref(),
        )
        .await?;
    audit(members, actor, tenant, "user.updated", user).await?;
    member(members, tenant, user).await
}

/// Removes a member: their keys for the tenant are deleted and every server forgets them, and
/// their tokens stop working there (tokens check membership on each request).
pub async fn remove(
    members: &Members<'_>,
    actor: Actor,
    tenant: TenantId,
    user: UserId,
) -> Result<(), RuleError> {
    if !members.store.remove_membership(user, tenant).await? {
        return Err(RuleError::Missing(format!(
            "this tenant has no user {user}"
        )));
    }
    members.revoker.revoke_cached().await;
    audit(members, actor, tenant, "user.removed", user).await
}

/// Sets the password of the user a link was made for, using the link up. 401 for an unknown,
/// used or expired link.
pub async fn set_password(
    members: &Members<'_>,
    hasher: &Hasher,
    token: &str,
    password: Password,
) -> Result<UserId, RuleError> {
    let digest = hasher.digest(token);
    let hash = password::hash(&password).await?;
    members
        .store
        .use_password_link(&digest, Timestamp::now(), &hash)
        .await?
        .ok_or_else(|| {
            RuleError::WrongCredentials("the password link is not valid or has expired".into())
        })
}

async fn audit(
    members: &Members<'_>,
    actor: Actor,
    tenant: TenantId,
    action: &'static str,
    subject: UserId,
) -> Result<(), RuleError> {
    members
        .store
        .record_audit(AuditEvent {
            actor: actor.id(),
            tenant: Some(tenant),
            action,
            subject: Some(subject.to_string()),
        })
        .await?;
    Ok(())
}
