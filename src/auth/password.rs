//! Argon2id password hashing, run on the blocking pool so a sign-in never stalls the async
//! threads.

use std::sync::OnceLock;

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use rand::rngs::OsRng;
use secrecy::{ExposeSecret, SecretString};

use crate::domain::Password;

/// The PHC string of a new password.
pub async fn hash(password: &Password) -> anyhow::Result<String> {
    let secret = password.secret().clone();
    tokio::task::spawn_blocking(move || {
        let salt = SaltString::generate(&mut OsRng);
        Argon2::default()
            .hash_password(secret.expose_secret().as_bytes(), &salt)
            .map(|hash| hash.to_string())
            .map_err(|e| anyhow::anyhow!("cannot hash the password: {e}"))
    })
    .await?
}

/// Whether `candidate` matches `stored`. With no stored hash (an unknown email) it checks a
/// dummy hash instead, so that the answer takes as long either way.
pub async fn verify(stored: Option<String>, candidate: SecretString) -> anyhow::Result<bool> {
    tokio::task::spawn_blocking(move || {
        let stored = stored.unwrap_or_else(|| dummy_hash().to_string());
        let parsed = PasswordHash::new(&stored)
            .map_err(|e| anyhow::anyhow!("a stored password hash is malformed: {e}"))?;
        let matches = Argon2::default()
            .verify_password(candidate.expose_secret().as_bytes(), &parsed)
            .is_ok();
        Ok(matches && stored != dummy_hash())
    })
    .await?
}

fn dummy_hash() -> &'static str {
    static DUMMY: OnceLock<String> = OnceLock::new();
    DUMMY.get_or_init(|| {
        let salt = SaltString::generate(&mut OsRng);
        Argon2::default()
            .hash_password(b"keyflow: no such user", &salt)
            .map(|hash| hash.to_string())
            .unwrap_or_default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_hash_verifies_its_password_only() {
        let password = Password::parse(SecretString::from("correct horse")).unwrap();
        let stored = hash(&password).await.unwrap();
        assert!(stored.starts_with("$argon2id$"));
        assert!(
            verify(Some(stored.clone()), SecretString::from("correct horse"))
                .await
                .unwrap()
        );
        assert!(
            !verify(Some(stored), SecretString::from("wrong horse"))
                .await
                .unwrap()
        );
        assert!(
            !verify(None, SecretString::from("keyflow: no such user"))
                .await
                .unwrap()
        );
    }
}
