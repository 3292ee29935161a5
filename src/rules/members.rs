//! Tenant user administration: adding a user (a new account gets a one-time password link,
//! since keyflow sends no mail), changing a role or names, removing a member (their keys and
//! tokens stop at once), and using a password link. The rules the API follows live here.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore;
use rand::rngs::OsRng;
use secrecy::{ExposeSecret, SecretString};

use crate::auth::password;
use crate::domain::{Email, Password, Role, TenantId, Timestamp, UserId};
use crate::http::error::ApiError;
use crate::state::AppState;
use crate::store::{AuditEvent, Member, NewPasswordLink, NewUser};

/// How long a password link works.
pub const LINK_LIFETIME: std::time::Duration = std::time::Duration::from_secs(7 * 24 * 60 * 60);

/// Where a password link's token is used; the link is this path with `?token=…`.
pub const SET_PASSWORD_PATH: &str = "/api/admin/1/users/password";

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
    state: &AppState,
    actor: UserId,
    tenant: TenantId,
    email: Email,
    details: Details,
) -> Result<Added, ApiError> {
    let link = match state.store.user_by_email(&email).await? {
        Some(user) => {
            state
                .store
                .add_membership(user.id, tenant, details.role)
                .await?;
            None
        }
        None => Some(invite(state, tenant, email.clone(), &details).await?),
    };
    let user = state
        .store
        .user_by_email(&email)
        .await?
        .ok_or_else(|| ApiError::Internal(anyhow::anyhow!("an added user vanished")))?;
    let member = member(state, tenant, user.id).await?;
    audit(state, actor, tenant, "user.added", user.id).await?;
    Ok(Added { member, link })
}

/// Creates the account with its link; returns the link's token.
async fn invite(
    state: &AppState,
    tenant: TenantId,
    email: Email,
    details: &Details,
) -> Result<SecretString, ApiError> {
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
        digest: state.hasher.digest(token.expose_secret()),
        user_id: id,
        created_at: now,
        expires_at: now.plus(LINK_LIFETIME),
    };
    state
        .store
        .create_invited_user(user, tenant, details.role, link)
        .await?;
    Ok(token)
}

/// A member of the tenant, or 404.
pub async fn member(state: &AppState, tenant: TenantId, user: UserId) -> Result<Member, ApiError> {
    state
        .store
        .member(tenant, user)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("this tenant has no user {user}")))
}

/// Sets a member's names and role. Conflict when it would leave the tenant no administrator.
pub async fn update(
    state: &AppState,
    actor: UserId,
    tenant: TenantId,
    user: UserId,
    details: Details,
) -> Result<Member, ApiError> {
    member(state, tenant, user).await?;
    if !state.store.set_role(user, tenant, details.role).await? {
        return Err(ApiError::NotFound(format!(
            "this tenant has no user {user}"
        )));
    }
    state
        .store
        .set_names(
            user,
            details.first_name.as_deref(),
            details.last_name.as_deref(),
        )
        .await?;
    audit(state, actor, tenant, "user.updated", user).await?;
    member(state, tenant, user).await
}

/// Removes a member: their keys for the tenant are deleted and every server forgets them, and
/// their tokens stop working there (tokens check membership on each request).
pub async fn remove(
    state: &AppState,
    actor: UserId,
    tenant: TenantId,
    user: UserId,
) -> Result<(), ApiError> {
    if !state.store.remove_membership(user, tenant).await? {
        return Err(ApiError::NotFound(format!(
            "this tenant has no user {user}"
        )));
    }
    state.verifier.revoke_all();
    audit(state, actor, tenant, "user.removed", user).await
}

/// Sets the password of the user a link was made for, using the link up. 401 for an unknown,
/// used or expired link.
pub async fn set_password(
    state: &AppState,
    token: &str,
    password: Password,
) -> Result<UserId, ApiError> {
    let digest = state.hasher.digest(token);
    let hash = password::hash(&password).await?;
    state
        .store
        .use_password_link(&digest, Timestamp::now(), &hash)
        .await?
        .ok_or_else(|| {
            ApiError::Unauthorized("the password link is not valid or has expired".into())
        })
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
