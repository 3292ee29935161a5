//! An email address used as a sign-in name: trimmed, lower-cased, loosely shaped, at most 254
//! characters, with no control or disguising character.

use std::fmt;

use super::{Invalid, ids::shorten};

/// A sign-in email. Stored lower-cased so that sign-in ignores case.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Email(String);

impl Email {
    /// The longest address accepted, in characters (before lower-casing).
    pub const MAX_CHARS: usize = 254;

    pub fn parse(text: &str) -> Result<Self, Invalid> {
        let too_long = text.trim().chars().count() > Self::MAX_CHARS;
        let email = text.trim().to_lowercase();
        let shaped = match email.split_once('@') {
            Some((local, domain)) => {
                !local.is_empty()
                    && !domain.is_empty()
                    && !domain.contains('@')
                    && !email.chars().any(|c| c.is_whitespace() || c.is_control())
            }
            None => false,
        };
        if email.chars().any(super::names::disguises) {
            return Err(Invalid::new(
                "an email address must not contain invisible or direction-changing characters \
                 (such as U+202E or U+200B)",
            ));
        }
        if !shaped || too_long {
            return Err(Invalid::new(format!(
                "'{}' is not an email address",
                shorten(text)
            )));
        }
        Ok(Self(email))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_lower_cased_and_shaped() {
        assert_eq!(
            Email::parse(" Admin@Example.com ").unwrap().as_str(),
            "admin@example.com"
        );
        assert!(Email::parse("no-at-sign").is_err());
        assert!(Email::parse("a@b@c").is_err());
        assert!(Email::parse("a b@c").is_err());
    }

    #[test]
    fn emails_hold_no_control_or_disguising_character() {
        for bad in [
            "a\u{0}@b.c",
            "a@b\u{7f}.c",
            "moc.\u{202E}@evil",
            "a\u{200B}@b.c",
            "a@b.c\u{FEFF}",
        ] {
            assert!(Email::parse(bad).is_err(), "{bad:?}");
        }
        assert!(Email::parse(&format!("{}@b.c", "a".repeat(251))).is_err());
        assert!(Email::parse("zoë@exämple.com").is_ok());
    }
}
