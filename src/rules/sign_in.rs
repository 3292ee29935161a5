//! Checking an email and password, for the API's sign-in and the web's: one place for the
//! lookup, the dummy-hash answer for unknown emails, and the failure throttle.

use std::net::IpAddr;

use secrecy::SecretString;

use crate::auth::password;
use crate::domain::Email;
use crate::http::error::ApiError;
use crate::state::AppState;
use crate::store::User;

/// The user whose email and password these are. A wrong pair is 401, or 429 once the
/// address has spent its failure budget (checked before anything else).
pub async fn check(
    state: &AppState,
    address: IpAddr,
    username: &str,
    candidate: SecretString,
) -> Result<User, ApiError> {
    state.throttle.guard(address)?;
    let user = match Email::parse(username) {
        Ok(email) => state.store.user_by_email(&email).await?,
        Err(_) => None,
    };
    // An account without a usable password is checked like an unknown email.
    let stored_hash = user.as_ref().and_then(|user| user.password_hash.clone());
    let matches = password::verify(stored_hash, candidate).await?;
    match user.filter(|_| matches) {
        Some(user) => Ok(user),
        None => {
            let refused = ApiError::Unauthorized("wrong email or password".into());
            Err(refused.counted(&state.throttle, address))
        }
    }
}
