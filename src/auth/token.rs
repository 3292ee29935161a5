//! Sign-in tokens: opaque random strings, stored only as their peppered digest.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore;
use rand::rngs::OsRng;
use secrecy::SecretString;

/// What every sign-in token starts with (and no API key: theirs is `kf_`).
pub const PREFIX: &str = "kft_";

/// A fresh token: [`PREFIX`] and 32 random bytes in URL-safe base64.
pub fn generate() -> SecretString {
    random_secret(PREFIX)
}

/// `prefix` and 32 random bytes from the OS generator in URL-safe base64: a sign-in secret
/// (a token, a web session) that is stored only as its digest.
pub fn random_secret(prefix: &str) -> SecretString {
    let mut bytes = [0u8; 32];
    OsRng.fill_bytes(&mut bytes);
    SecretString::from(format!("{prefix}{}", URL_SAFE_NO_PAD.encode(bytes)))
}

/// The token in an `Authorization` value, sent raw or as `Bearer <token>`.
pub fn from_authorization(value: &str) -> &str {
    let value = value.trim();
    match value.get(..7) {
        Some(scheme) if scheme.eq_ignore_ascii_case("bearer ") => value[7..].trim_start(),
        _ => value,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::ExposeSecret;

    #[test]
    fn tokens_are_long_and_distinct() {
        let a = generate();
        let b = generate();
        assert_eq!(a.expose_secret().len(), 4 + 43);
        assert_ne!(a.expose_secret(), b.expose_secret());
    }

    #[test]
    fn bearer_is_optional() {
        assert_eq!(from_authorization("Bearer abc"), "abc");
        assert_eq!(from_authorization("bearer  abc"), "abc");
        assert_eq!(from_authorization("abc"), "abc");
    }
}
