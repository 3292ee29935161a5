//! The digest keyflow stores and looks up in place of a secret (an API key, a sign-in token, a
//! web session, a password link): HMAC-SHA256 under the pepper, computed by
//! `auth::api_key::Hasher`. A copy of the database alone cannot be used to test guesses.

use std::fmt;
use std::ops::{Index, RangeFull};

/// A secret's peppered digest. `Debug` prints nothing of it: a digest is as good as the secret
/// for a lookup, so it stays out of logs and error messages.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Digest([u8; 32]);

impl Digest {
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

impl fmt::Debug for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Digest(…)")
    }
}

impl AsRef<[u8]> for Digest {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

/// `&digest[..]`: the bytes, as the store binds them.
impl Index<RangeFull> for Digest {
    type Output = [u8];

    fn index(&self, _: RangeFull) -> &[u8] {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_prints_nothing_of_the_value() {
        let digest = Digest::from_bytes([0xab; 32]);
        assert_eq!(format!("{digest:?}"), "Digest(…)");
        assert_eq!(&digest[..], &[0xab; 32][..]);
    }
}
