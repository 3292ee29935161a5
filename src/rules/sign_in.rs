//! Checking an email and password, for the API's sign-in and the web's: one place for the
//! lookup, the dummy-hash answer for unknown emails, and the failure throttles (per address,
//! then per account). Also what else a password decides: the tokens a sign-in issues (and the
//! tokens minted from them, which inherit their sign-in), a signed-in user's password
//! change, and the tokens an API key obtains, bound to it.

use std::net::IpAddr;
use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};

use crate::auth::account_throttle::AccountThrottle;
use crate::auth::api_key::Hasher;
use crate::auth::password;
use crate::auth::throttle::FailureThrottle;
use crate::auth::token;
use crate::domain::{Digest, Email, KeyId, Password, TenantId, Timestamp, UserId};
use crate::rules::access::{self, SignIn as SignedIn};
use crate::rules::audit::{self as trail, Origin};
use crate::rules::refusals::{Refusal, Refusals};
use crate::rules::{Revoker, RuleError};
use crate::store::{AuditEvent, NewToken, Store, User};

/// What the sign-in rules work with.
pub struct SignIn<'a> {
    pub store: &'a dyn Store,
    /// Digests a new token: the only form it is stored and looked up in.
    pub hasher: &'a Hasher,
    /// The per-address failure budget a wrong password spends.
    pub throttle: &'a FailureThrottle,
    /// The per-account failure budget every password check spends until it succeeds.
    pub account_throttle: &'a AccountThrottle,
    /// How long a token stays valid.
    pub token_ttl: Duration,
    /// Where the sign-in came from, for its audit event.
    pub origin: Origin,
    /// Where a failed sign-in is counted for the audit trail (aggregated, as every refusal).
    pub refusals: &'a Refusals,
    /// Told when a password change ended sign-ins, so the cached ones fail on the next request.
    pub revoker: &'a dyn Revoker,
}

/// The user whose email and password these are. A wrong pair is `WrongCredentials`, or
/// `Throttled` once the address has spent its failure budget (checked before anything else),
/// or `AccountDelayed` while the account is in its delay (checked next, for known and unknown
/// emails alike).
pub async fn check(
    sign_in: &SignIn<'_>,
    address: IpAddr,
    username: &str,
    candidate: SecretString,
) -> Result<User, RuleError> {
    sign_in.throttle.guard(address)?;
    let attempt = sign_in.account_throttle.begin(username, address)?;
    let user = match Email::parse(username) {
        Ok(email) => sign_in.store.user_by_email(&email).await?,
        Err(_) => None,
    };
    // An account without a usable password is checked like an unknown email.
    let stored_hash = user.as_ref().and_then(|user| user.password_hash.clone());
    let matches = password::verify(stored_hash, candidate).await?;
    match user.filter(|_| matches) {
        Some(user) => {
            sign_in.account_throttle.succeeded(attempt);
            let event = AuditEvent {
                actor: Some(user.id),
                action: "user.signed_in",
                subject: Some(user.id.to_string()),
                ..AuditEvent::default()
            };
            trail::record(sign_in.store, &sign_in.origin, event).await?;
            Ok(user)
        }
        None => Err(refused(sign_in, address, "wrong email or password")),
    }
}

/// A wrong password, counted against the address: the failure that spends its budget is
/// `Throttled` rather than `WrongCredentials`.
fn refused(sign_in: &SignIn<'_>, address: IpAddr, message: &str) -> RuleError {
    // Counted, not written at once: a flood of wrong passwords is aggregated as refused keys
    // are (the email tried is not recorded: it may be a password typed in the wrong field).
    sign_in.refusals.note(
        Refusal {
            action: "user.sign_in_failed",
            reason: "wrong_password",
            address,
            tenant: None,
            preview: None,
        },
        Timestamp::now(),
        sign_in.origin.request_id.clone(),
    );
    match sign_in.throttle.failed(address) {
        Ok(()) => RuleError::WrongCredentials(message.into()),
        Err(throttled) => throttled.into(),
    }
}

/// Checks a signed-in user's current password before it is changed: a wrong one spends the
/// address's and the account's failure budgets like a failed sign-in.
pub async fn check_current(
    sign_in: &SignIn<'_>,
    address: IpAddr,
    user: &User,
    candidate: SecretString,
) -> Result<(), RuleError> {
    sign_in.throttle.guard(address)?;
    let attempt = sign_in
        .account_throttle
        .begin(user.email.as_str(), address)?;
    if password::verify(user.password_hash.clone(), candidate).await? {
        sign_in.account_throttle.succeeded(attempt);
        Ok(())
    } else {
        Err(refused(sign_in, address, "wrong password"))
    }
}

/// Replaces the user's password and ends every other sign-in of the user: the other web
/// sessions and all tokens. `keep` is the session that made the change.
pub async fn change_password(
    sign_in: &SignIn<'_>,
    user: UserId,
    new: &Password,
    keep: &Digest,
) -> Result<(), RuleError> {
    let hash = password::hash(new).await?;
    sign_in.store.change_password(user, &hash, keep).await?;
    // Other instances hear the change's announcement; this one forgets at once.
    sign_in.revoker.revoke_cached().await;
    let event = AuditEvent {
        actor: Some(user),
        action: "user.password_changed",
        subject: Some(user.to_string()),
        ..AuditEvent::default()
    };
    trail::record(sign_in.store, &sign_in.origin, event).await
}

/// A token for the user's first tenant, for a password sign-in: it starts a new lifetime,
/// `--token-ttl-minutes` from now.
pub async fn first_token(sign_in: &SignIn<'_>, user: UserId) -> Result<SecretString, RuleError> {
    let Some(first) = sign_in.store.memberships(user).await?.into_iter().next() else {
        return Err(RuleError::NotAllowed(
            "your account is not a member of any tenant".into(),
        ));
    };
    let now = Timestamp::now();
    let signed_in = SignedIn {
        at: now,
        until: now.plus(sign_in.token_ttl),
    };
    issue(sign_in, user, first.tenant.id, signed_in, None).await
}

/// A token for another of the user's tenants, minted from a token of the password sign-in
/// `signed_in`: the new token carries that sign-in over, so it ends when it does and reaches
/// only the tenants it reaches. A token can never renew or widen itself.
pub async fn token_for(
    sign_in: &SignIn<'_>,
    user: UserId,
    tenant: TenantId,
    signed_in: SignedIn,
) -> Result<SecretString, RuleError> {
    if access::role(sign_in.store, user, tenant, Some(signed_in.at))
        .await?
        .is_none()
    {
        return Err(RuleError::NotAllowed(format!(
            "you are not a member of the tenant {tenant}, or became one after this token's \
             sign-in: sign in again"
        )));
    }
    issue(sign_in, user, tenant, signed_in, None).await
}

/// A token bound to the API key `key` (of `user`, for `key_tenant`), for tools that hold only
/// a key: for the key's own tenant only, living `--token-ttl-minutes` but never past the key's
/// expiry, deleted with the key, and refused whatever the key is refused (the edge sees the
/// key behind it).
pub async fn token_for_key(
    sign_in: &SignIn<'_>,
    user: UserId,
    key: KeyId,
    key_tenant: TenantId,
    tenant: TenantId,
) -> Result<SecretString, RuleError> {
    if tenant != key_tenant {
        return Err(RuleError::NotAllowed(format!(
            "an API key obtains a token for its own tenant only ({key_tenant}), not for the \
             tenant {tenant}: use a key of that tenant, or sign in with a password"
        )));
    }
    let now = Timestamp::now();
    let live = sign_in
        .store
        .keys_of_user(user)
        .await?
        .into_iter()
        .find(|record| record.id == key)
        .filter(|record| record.expires_at.is_none_or(|at| at > now));
    let Some(record) = live else {
        return Err(gone());
    };
    let until = record.expires_at.map_or(now.plus(sign_in.token_ttl), |at| {
        at.min(now.plus(sign_in.token_ttl))
    });
    let signed_in = SignedIn { at: now, until };
    // A key deleted meanwhile refuses the token it would have had.
    issue(sign_in, user, tenant, signed_in, Some(key))
        .await
        .map_err(|error| match error {
            RuleError::Missing(_) => gone(),
            other => other,
        })
}

/// The answer to a key deleted or expired while it asked: as any refused key.
fn gone() -> RuleError {
    RuleError::WrongCredentials("the API key is not valid".into())
}

/// Stores a new token's digest and returns the token. It lives `--token-ttl-minutes`, and
/// never past the end of its sign-in's lifetime.
async fn issue(
    sign_in: &SignIn<'_>,
    user: UserId,
    tenant: TenantId,
    signed_in: SignedIn,
    key: Option<KeyId>,
) -> Result<SecretString, RuleError> {
    let value = token::generate();
    let now = Timestamp::now();
    sign_in
        .store
        .insert_token(NewToken {
            digest: sign_in.hasher.digest(value.expose_secret()),
            user_id: user,
            tenant_id: tenant,
            signed_in_at: signed_in.at,
            created_at: now,
            expires_at: now.plus(sign_in.token_ttl).min(signed_in.until),
            key_id: key,
        })
        .await?;
    Ok(value)
}
