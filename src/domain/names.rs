//! Texts people write and keyflow stores: key names, tenant names and flow names, a user's
//! first and last names (trimmed and bounded), and prose — summaries and comments — which is
//! kept as written. None may hold a control character (prose may break lines and hold tabs)
//! or a character that disguises how it reads.

use std::fmt;

use super::Invalid;

/// The longest first or last name of a user, in characters.
pub const PERSON_NAME_MAX_CHARS: usize = 100;
/// The longest summary (a flow's or a tenant's `developerSummary`) or comment (a snapshot's),
/// in characters.
pub const PROSE_MAX_CHARS: usize = 2000;
/// The longest tag of a flow, in characters.
pub const TAG_MAX_CHARS: usize = 100;

/// Requires at most `max` characters as sent, then trims and requires what is left to be
/// neither empty nor hold a control character or a character that disguises how it reads.
/// (The bound counts what was sent, white space included, so that it is the `maxLength` the
/// OpenAPI description states.)
fn checked(what: &str, text: &str, max: usize) -> Result<String, Invalid> {
    bounded(what, text, max)?;
    let trimmed = text.trim();
    if trimmed.is_empty() {
        return Err(Invalid::new(format!("{what} must not be empty")));
    }
    if trimmed.chars().any(char::is_control) {
        return Err(Invalid::new(format!(
            "{what} must not contain control characters"
        )));
    }
    undisguised(what, trimmed)?;
    Ok(trimmed.to_string())
}

/// At most `max` characters (not bytes).
fn bounded(what: &str, text: &str, max: usize) -> Result<(), Invalid> {
    let length = text.chars().count();
    if length > max {
        return Err(Invalid::new(format!(
            "{what} must be at most {max} characters (it has {length})"
        )));
    }
    Ok(())
}

fn undisguised(what: &str, text: &str) -> Result<(), Invalid> {
    if text.chars().any(disguises) {
        return Err(Invalid::new(format!(
            "{what} must not contain invisible or direction-changing characters \
             (such as U+202E or U+200B)"
        )));
    }
    Ok(())
}

/// A user's first or last name as given (`what` names the field): at most
/// [`PERSON_NAME_MAX_CHARS`] as sent, trimmed, and blank or absent is no name; otherwise a
/// name's rules.
pub fn person_name(what: &str, text: Option<&str>) -> Result<Option<String>, Invalid> {
    match text {
        Some(name) if !name.trim().is_empty() => {
            checked(what, name, PERSON_NAME_MAX_CHARS).map(Some)
        }
        Some(name) => bounded(what, name, PERSON_NAME_MAX_CHARS).map(|()| None),
        None => Ok(None),
    }
}

/// Prose (`what` names the field): a summary or a comment, kept exactly as written, so it may
/// be empty and may run over several lines. At most [`PROSE_MAX_CHARS`]; of the control
/// characters only line breaks (`\n`, `\r`) and tabs, and no disguising character.
pub fn prose(what: &str, text: &str) -> Result<(), Invalid> {
    bounded(what, text, PROSE_MAX_CHARS)?;
    if text
        .chars()
        .any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t'))
    {
        return Err(Invalid::new(format!(
            "{what} must not contain control characters other than line breaks and tabs"
        )));
    }
    undisguised(what, text)
}

/// A flow's tag (`what` names it), kept as written: at most [`TAG_MAX_CHARS`], no control
/// character and no disguising character.
pub fn tag(what: &str, text: &str) -> Result<(), Invalid> {
    bounded(what, text, TAG_MAX_CHARS)?;
    if text.chars().any(char::is_control) {
        return Err(Invalid::new(format!(
            "{what} must not contain control characters"
        )));
    }
    undisguised(what, text)
}

/// A key's name is a segment of its URL (`…/keys/{name}`): no path separators, and not a dot
/// segment, which clients resolve away before sending.
fn url_segment(name: &str) -> Result<(), Invalid> {
    if name.contains(['/', '\\']) || name == "." || name == ".." {
        return Err(Invalid::new(
            "The key name must not contain / or \\ nor be . or ..: it is a segment of the \
             key's URL",
        ));
    }
    Ok(())
}

/// Characters that make a name read differently from what it is ("Trojan Source"): the
/// bidirectional embeddings, overrides and isolates, zero-width spaces and joiners of
/// words, invisible operators, the byte-order mark, and the Unicode noncharacters. Right-to-
/// left scripts themselves, and the zero-width (non-)joiners that some scripts and emoji
/// need, are welcome.
pub(crate) fn disguises(c: char) -> bool {
    let code = u32::from(c);
    matches!(code, 0x202A..=0x202E | 0x2066..=0x2069 | 0x200B | 0x2060..=0x2064 | 0xFEFF)
        || (0xFDD0..=0xFDEF).contains(&code)
        || code & 0xFFFE == 0xFFFE
}

macro_rules! name_type {
    ($(#[$doc:meta])* $name:ident, $what:literal, $max:expr) => {
        name_type!($(#[$doc])* $name, $what, $max, |_| Ok(()));
    };
    ($(#[$doc:meta])* $name:ident, $what:literal, $max:expr, $extra:expr) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash)]
        pub struct $name(String);

        impl $name {
            /// The longest name accepted, in characters.
            pub const MAX_CHARS: usize = $max;

            pub fn parse(text: &str) -> Result<Self, Invalid> {
                let name = checked($what, text, Self::MAX_CHARS)?;
                let extra: fn(&str) -> Result<(), Invalid> = $extra;
                extra(&name)?;
                Ok(Self(name))
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }

            pub fn into_string(self) -> String {
                self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

name_type!(
    /// An API key's name: unique per user and tenant.
    KeyName, "The key name", 100, url_segment
);
name_type!(
    /// A tenant's display name (its `developerName`).
    TenantName, "The tenant name", 100
);
name_type!(
    /// A flow's `developerName`.
    FlowName, "The flow's developerName", 255
);

impl FlowName {
    /// The form the filters compare: Unicode lower case, so `eq` and `substringof` are
    /// case-insensitive beyond ASCII.
    pub fn folded(&self) -> String {
        self.0.to_lowercase()
    }
}

/// A tenant's name as the API may set it (`POST /api/admin/1/tenant`): 3 to 100 characters,
/// each an ASCII letter, a digit, `.` or `-` (Boomi's rule for a tenant's developer name). The
/// command line is more lenient ([`TenantName`]): it names tenants for people, not for URLs.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TenantDeveloperName(String);

impl TenantDeveloperName {
    pub const MIN_CHARS: usize = 3;
    pub const MAX_CHARS: usize = 100;

    pub fn parse(text: &str) -> Result<Self, Invalid> {
        let length = text.chars().count();
        let allowed = |c: char| c.is_ascii_alphanumeric() || c == '.' || c == '-';
        if !(Self::MIN_CHARS..=Self::MAX_CHARS).contains(&length) || !text.chars().all(allowed) {
            return Err(Invalid::new(format!(
                "developerName must be {} to {} characters, each a letter, a digit, '.' or '-'; \
                 '{}' is not",
                Self::MIN_CHARS,
                Self::MAX_CHARS,
                super::shorten(text)
            )));
        }
        Ok(Self(text.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tenant_developer_names_follow_boomis_rule() {
        for good in ["abc", "Example", "acme-2.prod", &"x".repeat(100)] {
            assert!(TenantDeveloperName::parse(good).is_ok(), "{good}");
        }
        for bad in [
            "ab",
            "with space",
            "bob's",
            "é-name",
            "",
            &"x".repeat(101),
            "a_b",
        ] {
            assert!(TenantDeveloperName::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn names_are_trimmed_and_bounded() {
        assert_eq!(KeyName::parse("  API Key ").unwrap().as_str(), "API Key");
        assert!(KeyName::parse("   ").is_err());
        assert!(KeyName::parse(&"x".repeat(100)).is_ok());
        let error = KeyName::parse(&"x".repeat(101)).unwrap_err();
        assert!(error.0.contains("at most 100"), "{error}");
        assert!(KeyName::parse("a\u{0}b").is_err());
    }

    #[test]
    fn disguising_characters_are_refused_and_scripts_are_welcome() {
        for bad in [
            "\u{202E}gnp.exe",
            "a\u{200B}b",
            "\u{FEFF}bom",
            "x\u{2066}y",
            "\u{FFFF}",
        ] {
            assert!(FlowName::parse(bad).is_err(), "{bad:?}");
        }
        for good in [
            "מפתח",
            "مفتاح API",
            "名前",
            "می\u{200C}خواهم",
            "👨\u{200D}👩",
        ] {
            assert_eq!(FlowName::parse(good).unwrap().as_str(), good);
        }
    }

    #[test]
    fn a_key_name_is_a_safe_url_segment() {
        for bad in ["../admin", "a/b", "a\\b", ".", ".."] {
            assert!(KeyName::parse(bad).is_err(), "{bad}");
        }
        assert!(KeyName::parse("...").is_ok());
        assert!(KeyName::parse("it's; DROP TABLE api_keys; --").is_ok());
    }

    #[test]
    fn person_names_are_trimmed_and_blank_is_none() {
        assert_eq!(person_name("firstName", None), Ok(None));
        assert_eq!(person_name("firstName", Some("  ")), Ok(None));
        assert_eq!(
            person_name("firstName", Some(" Zoë ")),
            Ok(Some("Zoë".into()))
        );
        assert!(person_name("firstName", Some(&"x".repeat(100))).is_ok());
        // The bound counts what was sent, trimmed white space included.
        assert!(person_name("firstName", Some(&format!(" {}", "x".repeat(100)))).is_err());
        assert!(person_name("firstName", Some(&" ".repeat(101))).is_err());
        for bad in [
            "a\u{0}b",
            "a\nb",
            "\u{202E}nimda",
            "ad\u{200B}min",
            &"x".repeat(101),
        ] {
            let error = person_name("firstName", Some(bad)).unwrap_err();
            assert!(error.0.starts_with("firstName must"), "{bad:?}: {error}");
        }
    }

    #[test]
    fn prose_may_break_lines_but_not_hide_or_control() {
        for good in [
            "",
            "  ",
            "Line one\nline two\r\n\tindented",
            "מפתח",
            &"é".repeat(2000),
        ] {
            assert_eq!(prose("developerSummary", good), Ok(()), "{good:?}");
        }
        for bad in [
            "a\u{0}b",
            "bell\u{7}",
            "escape \u{1b}[31m",
            "\u{202E}txt.exe",
            "\u{FEFF}",
            &"x".repeat(2001),
        ] {
            let error = prose("developerSummary", bad).unwrap_err();
            assert!(
                error.0.starts_with("developerSummary must"),
                "{bad:?}: {error}"
            );
        }
    }

    #[test]
    fn tags_are_short_lines() {
        assert_eq!(tag("a tag", "billing"), Ok(()));
        for bad in ["a\nb", "\u{2066}x", &"x".repeat(101)] {
            assert!(tag("a tag", bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn length_counts_characters_not_bytes() {
        assert!(KeyName::parse(&"é".repeat(100)).is_ok());
    }
}
