//! Tenant user administration: inviting an email (the membership is pending until the
//! account's owner accepts through the invitation's one-time link, since keyflow sends no
//! mail), changing a role or names, removing a member (their keys and tokens stop at once),
//! and accepting an invitation. The rules the API and the command line (`keyflow user
//! create|add|remove`) follow live here. The audit records: `user.invited` (an administrator's
//! invitation), `user.added` (a membership begins: an invitation accepted, or the command
//! line's add or create, with no actor), `user.updated`, `user.removed`.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore;
use rand::rngs::OsRng;
use secrecy::{ExposeSecret, SecretString};

use crate::auth::api_key::Hasher;
use crate::auth::password;
use crate::domain::{Email, Password, Role, TenantId, Timestamp, UserId};
use crate::rules::audit::{self as trail, Origin};
use crate::rules::{Actor, Revoker, RuleError};
use crate::store::{AuditEvent, Member, NewInvitation, NewUser, Store};

/// What the membership rules work with.
pub struct Members<'a> {
    pub store: &'a dyn Store,
    /// Told when a removal revokes the member's keys.
    pub revoker: &'a dyn Revoker,
    /// Where the change came from, for its audit event.
    pub origin: Origin,
}

/// How long a password link works.
pub const LINK_LIFETIME: std::time::Duration = std::time::Duration::from_secs(7 * 24 * 60 * 60);

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
    members: &Members<'_>,
    hasher: &Hasher,
    actor: Actor,
    tenant: TenantId,
    email: Email,
    details: Details,
) -> Result<Added, RuleError> {
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
        link_digest: hasher.digest(link.expose_secret()),
        created_at: now,
        expires_at: now.plus(LINK_LIFETIME),
    };
    let member = members.store.invite(invitation).await?;
    audit(members, actor, tenant, "user.invited", member.account).await?;
    Ok(Added { member, link })
}

/// Makes an existing account a member of `tenant` at once (the command line's `user add`: the
/// operator needs no invitation). Refuses an account that has no password yet: whoever holds
/// one of its invitation links would set that password and, with it, get this membership
/// too, and a link must reach no further than its own tenant. Conflict when already a member;
/// Missing when the tenant does not exist.
pub async fn add_existing(
    members: &Members<'_>,
    actor: Actor,
    tenant: TenantId,
    user: UserId,
    role: Role,
) -> Result<(), RuleError> {
    let account = members
        .store
        .user(user)
        .await?
        .ok_or_else(|| RuleError::Missing(format!("there is no user {user}")))?;
    if account.password_hash.is_none() {
        return Err(RuleError::Conflict(format!(
            "{} has no password yet (an invitation of theirs is pending): add them once they \
             have accepted it, or invite them to this tenant too",
            account.email
        )));
    }
    members.store.add_membership(user, tenant, role).await?;
    audit(members, actor, tenant, "user.added", user).await
}

/// Creates an account that has its password as a member of `tenant` (the command line's
/// `user create`). A tenant's first member administers it; later ones are standard users
/// unless `role` says otherwise. Conflict when the email is taken; Missing when the tenant
/// does not exist.
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

/// A member (or pending invitation) of the tenant, by the id its administrators see, or 404.
pub async fn member(
    members: &Members<'_>,
    tenant: TenantId,
    id: UserId,
) -> Result<Member, RuleError> {
    members
        .store
        .member(tenant, id)
        .await?
        .ok_or_else(|| gone(id))
}

fn gone(id: UserId) -> RuleError {
    RuleError::Missing(format!("this tenant has no user {id}"))
}

/// Sets a member's names and role. Names are the account's own, the same in every tenant: an
/// administrator changes them only for a user who belongs to no other tenant (else 403). A
/// pending invitation's names and role are the invitation's, so changing them tells nothing
/// about the account. Conflict when it would leave the tenant no administrator.
pub async fn update(
    members: &Members<'_>,
    actor: Actor,
    tenant: TenantId,
    id: UserId,
    details: Details,
) -> Result<Member, RuleError> {
    let current = member(members, tenant, id).await?;
    let store = members.store;
    let (first, last) = (details.first_name.as_deref(), details.last_name.as_deref());
    if current.pending {
        if !store
            .update_invitation(tenant, id, details.role, first, last)
            .await?
        {
            return Err(gone(id));
        }
    } else {
        let renames =
            (first, last) != (current.first_name.as_deref(), current.last_name.as_deref());
        if renames && belongs_elsewhere(store, current.account, tenant).await? {
            return Err(RuleError::NotAllowed(
                "only the user changes their own name: this user also belongs to other \
                 tenants, and a name is the same in all of them"
                    .into(),
            ));
        }
        if !store
            .set_role(current.account, tenant, details.role)
            .await?
        {
            return Err(gone(id));
        }
        // The member's keys reach no further than their role now: like every instance (which
        // hears the store's announcement), this one forgets what it cached at once.
        if details.role != current.role {
            members.revoker.revoke_cached().await;
        }
        if renames {
            store.set_names(current.account, first, last).await?;
        }
    }
    // A role change says from what to what; a name change only that it happened.
    let event = AuditEvent {
        actor: actor.id(),
        tenant: Some(tenant),
        action: if current.role == details.role {
            "user.updated"
        } else {
            "user.role_changed"
        },
        subject: Some(current.account.to_string()),
        data: Some(serde_json::json!({
            "user": current.account.to_string(),
            "role": details.role.to_string(),
            "previousRole": current.role.to_string(),
        })),
        ..AuditEvent::default()
    };
    trail::record(members.store, &members.origin, event).await?;
    member(members, tenant, id).await
}

/// Whether the user is a member of a tenant besides `tenant` (pending invitations do not count:
/// until accepted they are not the user's).
async fn belongs_elsewhere(
    store: &dyn Store,
    user: UserId,
    tenant: TenantId,
) -> Result<bool, RuleError> {
    let memberships = store.memberships(user).await?;
    Ok(memberships.iter().any(|m| m.tenant.id != tenant))
}

/// Removes a member, or withdraws a pending invitation (its link then grants nothing): their
/// keys for the tenant are deleted and every server forgets them, and their tokens for it are
/// deleted. Any other sign-in of theirs from before stays out of the tenant even if they are
/// added back ([`crate::rules::access`]).
pub async fn remove(
    members: &Members<'_>,
    actor: Actor,
    tenant: TenantId,
    id: UserId,
) -> Result<(), RuleError> {
    let removed = member(members, tenant, id).await?;
    if !members
        .store
        .remove_membership(removed.account, tenant)
        .await?
    {
        return Err(gone(id));
    }
    members.revoker.revoke_cached().await;
    audit(members, actor, tenant, "user.removed", removed.account).await
}

/// Accepts the invitation a link was made for, using the link up: the membership begins now
/// (recorded as `user.added`, by the user). An account with no password yet gets `password`
/// (and the invitation's names); an account that has one must send that one, and keeps it.
/// `WrongCredentials` for an unknown, used, expired or withdrawn link, or a wrong password.
pub async fn accept(
    members: &Members<'_>,
    hasher: &Hasher,
    token: &str,
    password: Password,
) -> Result<(), RuleError> {
    let invalid =
        || RuleError::WrongCredentials("the password link is not valid or has expired".into());
    let digest = hasher.digest(token);
    let now = Timestamp::now();
    let store = members.store;
    let invitation = store
        .invitation_by_link(&digest, now)
        .await?
        .ok_or_else(invalid)?;
    let accepted = match invitation.password_hash {
        None => {
            let hash = password::hash(&password).await?;
            store.accept_invitation(&digest, now, Some(&hash)).await?
        }
        Some(stored) => {
            // Whoever holds the link (the inviting administrator too) must also hold the
            // account's password: a link alone never reaches an account that has one.
            if !password::verify(Some(stored), password.secret().clone()).await? {
                return Err(RuleError::WrongCredentials(
                    "this account already has a password: send that password (it stays \
                     unchanged) to accept the invitation"
                        .into(),
                ));
            }
            store.accept_invitation(&digest, now, None).await?
        }
    };
    let (user, tenant) = accepted.ok_or_else(invalid)?;
    audit(members, Actor::User(user), tenant, "user.added", user).await
}

async fn audit(
    members: &Members<'_>,
    actor: Actor,
    tenant: TenantId,
    action: &'static str,
    subject: UserId,
) -> Result<(), RuleError> {
    let event = AuditEvent {
        actor: actor.id(),
        tenant: Some(tenant),
        action,
        subject: Some(subject.to_string()),
        data: Some(serde_json::json!({ "user": subject.to_string() })),
        ..AuditEvent::default()
    };
    trail::record(members.store, &members.origin, event).await
}
