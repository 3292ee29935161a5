//! A password as it arrives: a secret that never prints, checked for length.

use secrecy::{ExposeSecret, SecretString};

use super::Invalid;

/// A new password: 8 to 1024 characters. Its `Debug` prints nothing of it.
#[derive(Debug, Clone)]
pub struct Password(SecretString);

impl Password {
    pub const MIN_CHARS: usize = 8;
    pub const MAX_CHARS: usize = 1024;

    pub fn parse(text: SecretString) -> Result<Self, Invalid> {
        let length = text.expose_secret().chars().count();
        if length == 0 {
            return Err(Invalid::new("the password must not be empty"));
        }
        if length < Self::MIN_CHARS {
            return Err(Invalid::new(format!(
                "the password must be at least {} characters",
                Self::MIN_CHARS
            )));
        }
        if length > Self::MAX_CHARS {
            return Err(Invalid::new(format!(
                "the password must be at most {} characters",
                Self::MAX_CHARS
            )));
        }
        Ok(Self(text))
    }

    pub fn secret(&self) -> &SecretString {
        &self.0
    }
}
