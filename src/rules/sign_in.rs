//! Checking an email and password, for the API's sign-in and the web's: one place for the
//! lookup, the dummy-hash answer for unknown emails, and the failure throttle. Also what else a
//! password decides: the tokens a sign-in issues, and a signed-in user's password change.

use std::net::IpAddr;
use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};

use crate::auth::api_key::Hasher;
use crate::auth::password;
use crate::auth::throttle::FailureThrottle;
use crate::auth::token;
use crate::domain::{Digest, Email, Password, TenantId, Timestamp, UserId};
use crate::rules::RuleError;
use crate::store::{NewToken, Store, User};

/// What the sign-in rules work with.
pub struct SignIn<'a> {
    pub store: &'a dyn Store,
    /// Digests a new token: the only form it is stored and looked up in.
    pub hasher: &'a Hasher,
    /// The per-address failure budget a wrong password spends.
    pub throttle: &'a FailureThrottle,
    /// How long a token stays valid.
    pub token_ttl: Duration,
}

/// The user whose email and password these are. A wrong pair is `WrongCredentials`, or
/// `Throttled` once the address has spent its failure budget (checked before anything else).
pub async fn check(
    sign_in: &SignIn<'_>,
    address: IpAddr,
    username: &str,
    candidate: SecretString,
) -> Result<User, RuleError> {
    sign_in.throttle.guard(address)?;
    let user = match Email::parse(username) {
        Ok(email) => sign_in.store.user_by_email(&email).await?,
        Err(_) => None,
    };
    // An account without a usable password is checked like an unknown email.
    let stored_hash = user.as_ref().and_then(|user| user.password_hash.clone());
    let matches = password::verify(stored_hash, candidate).await?;
    match user.filter(|_| matches) {
        Some(user) => Ok(user),
        None => Err(refused(sign_in, address, "wrong email or password")),
    }
}

/// A wrong password, counted against the address: the failure that spends its budget is
/// `Throttled` rather than `WrongCredentials`.
fn refused(sign_in: &SignIn<'_>, address: IpAddr, message: &str) -> RuleError {
    match sign_in.throttle.failed(address) {
        Ok(()) => RuleError::WrongCredentials(message.into()),
        Err(throttled) => throttled.into(),
    }
}

/// Checks a signed-in user's current password before it is changed: a wrong one spends the
/// address's failure budget like a failed sign-in.
pub async fn check_current(
    sign_in: &SignIn<'_>,
    address: IpAddr,
    user: &User,
    candidate: SecretString,
) -> Result<(), RuleError> {
    sign_in.throttle.guard(address)?;
    if password::verify(user.password_hash.clone(), candidate).await? {
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
    Ok(())
}

/// A token for the user's first tenant, for a password sign-in.
pub async fn first_token(sign_in: &SignIn<'_>, user: UserId) -> Result<SecretString, RuleError> {
    let Some(first) = sign_in.store.memberships(user).await?.into_iter().next() else {
        return Err(RuleError::NotAllowed(
            "your account is not a member of any tenant".into(),
        ));
    };
    issue(sign_in, user, first.tenant.id).await
}

/// A token for another of the user's tenants.
pub async fn token_for(
    sign_in: &SignIn<'_>,
    user: UserId,
    tenant: TenantId,
) -> Result<SecretString, RuleError> {
    if sign_in.store.role_in(user, tenant).await?.is_none() {
        return Err(RuleError::NotAllowed(format!(
            "you are not a member of the tenant {tenant}"
        )));
    }
    issue(sign_in, user, tenant).await
}

/// Stores a new token's digest and returns the token.
async fn issue(
    sign_in: &SignIn<'_>,
    user: UserId,
    tenant: TenantId,
) -> Result<SecretString, RuleError> {
    let value = token::generate();
    let now = Timestamp::now();
    sign_in
        .store
        .insert_token(NewToken {
            digest: sign_in.hasher.digest(value.expose_secret()),
            user_id: user,
            tenant_id: tenant,
            created_at: now,
            expires_at: now.plus(sign_in.token_ttl),
        })
        .await?;
    Ok(value)
}
