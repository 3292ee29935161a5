//! Checking an email and password, for the API's sign-in and the web's: one place for the
//! lookup, the dummy-hash answer for unknown emails, and the failure throttles (per address,
//! then per account).

use std::net::IpAddr;

use secrecy::SecretString;

use crate::app::AppState;
use crate::auth::password;
use crate::domain::Email;
use crate::error::ApiError;
use crate::store::User;

/// The user whose email and password these are. A wrong pair is 401, or 429 once the
/// address has spent its failure budget (checked before anything else) or while the account
/// is in its delay (checked next, for known and unknown emails alike).
pub async fn check(
    state: &AppState,
    address: IpAddr,
    username: &str,
    candidate: SecretString,
) -> Result<User, ApiError> {
    state.throttle.guard(address)?;
    let attempt = state.account_throttle.begin(username, address)?;
    let user = match Email::parse(username) {
        Ok(email) => state.store.user_by_email(&email).await?,
        Err(_) => None,
    };
    // An account without a usable password is checked like an unknown email.
    let stored_hash = user.as_ref().and_then(|user| user.password_hash.clone());
    let matches = password::verify(stored_hash, candidate).await?;
    match user.filter(|_| matches) {
        Some(user) => {
            state.account_throttle.succeeded(attempt);
            Ok(user)
        }
        None => {
            let refused = ApiError::Unauthorized("wrong email or password".into());
            Err(state.throttle.failed(address, refused))
        }
    }
}
