//! The `filter` query parameter of the flow list: the two OData forms Boomi documents.

use super::{Invalid, ids::shorten, names::disguises};

/// A parsed flow filter. Values are folded to lower case: matching is case-insensitive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FlowFilter {
    /// `developerName eq '…'`: the whole name, ignoring case.
    NameEquals(String),
    /// `substringof(developerName, '…')`: part of the name, ignoring case.
    NameContains(String),
}

impl FlowFilter {
    /// `None` for an absent or blank filter; an error naming the accepted forms otherwise.
    pub fn parse(text: &str) -> Result<Option<Self>, Invalid> {
        let text = text.trim();
        if text.is_empty() {
            return Ok(None);
        }
        // No flow name holds these, so a filter that does is a mistake or a probe.
        if text.chars().any(refused) {
            return Err(Invalid::new(
                "the filter must not contain control, invisible or direction-changing characters",
            ));
        }
        parse_eq(text)
            .or_else(|| parse_substringof(text))
            .map(Some)
            .ok_or_else(|| {
                Invalid::new(format!(
                    "cannot read the filter '{}': use developerName eq 'name' or \
                     substringof(developerName,'part')",
                    shorten(text)
                ))
            })
    }

    /// Whether a folded name passes this filter (the store may use it, or its own index).
    pub fn matches(&self, folded_name: &str) -> bool {
        match self {
            FlowFilter::NameEquals(value) => folded_name == value,
            FlowFilter::NameContains(value) => folded_name.contains(value.as_str()),
        }
    }
}

/// Characters a filter may not hold: controls other than white space (which may separate the
/// parts), and the disguising characters of the Basic Multilingual Plane — the set the
/// OpenAPI pattern of `filter` excludes. (A noncharacter beyond it simply matches no name.)
fn refused(c: char) -> bool {
    (c.is_control() && !c.is_whitespace()) || (u32::from(c) <= 0xFFFF && disguises(c))
}

/// `developerName eq 'value'`, keywords in any case.
fn parse_eq(text: &str) -> Option<FlowFilter> {
    let rest = strip_prefix_ignore_case(text, "developerName")?;
    if !rest.starts_with(char::is_whitespace) {
        return None;
    }
    let rest = strip_prefix_ignore_case(rest.trim_start(), "eq")?;
    if !rest.starts_with(char::is_whitespace) {
        return None;
    }
    let (value, rest) = quoted(rest.trim_start())?;
    rest.trim()
        .is_empty()
        .then(|| FlowFilter::NameEquals(value.to_lowercase()))
}

/// `substringof(developerName, 'value')`, keywords in any case.
fn parse_substringof(text: &str) -> Option<FlowFilter> {
    let rest = strip_prefix_ignore_case(text, "substringof")?.trim_start();
    let rest = rest.strip_prefix('(')?.trim_start();
    let rest = strip_prefix_ignore_case(rest, "developerName")?.trim_start();
    let rest = rest.strip_prefix(',')?.trim_start();
    let (value, rest) = quoted(rest)?;
    let rest = rest.trim_start().strip_prefix(')')?;
    rest.trim()
        .is_empty()
        .then(|| FlowFilter::NameContains(value.to_lowercase()))
}

/// A single-quoted OData string, `''` standing for one quote; returns it and what follows.
fn quoted(text: &str) -> Option<(String, &str)> {
    let mut chars = text.strip_prefix('\'')?.char_indices().peekable();
    let body = &text[1..];
    let mut value = String::new();
    while let Some((index, c)) = chars.next() {
        if c == '\'' {
            if let Some((_, '\'')) = chars.peek() {
                chars.next();
                value.push('\'');
            } else {
                return Some((value, &body[index + 1..]));
            }
        } else {
            value.push(c);
        }
    }
    None
}

fn strip_prefix_ignore_case<'a>(text: &'a str, prefix: &str) -> Option<&'a str> {
    let head = text.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| &text[prefix.len()..])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_documented_forms_parse() {
        assert_eq!(
            FlowFilter::parse("developerName eq 'Hello World'").unwrap(),
            Some(FlowFilter::NameEquals("hello world".into()))
        );
        assert_eq!(
            FlowFilter::parse("substringof(developerName, 'World')").unwrap(),
            Some(FlowFilter::NameContains("world".into()))
        );
        assert_eq!(
            FlowFilter::parse("SUBSTRINGOF( developername ,'x' ) ").unwrap(),
            Some(FlowFilter::NameContains("x".into()))
        );
    }

    #[test]
    fn doubled_quotes_stand_for_one() {
        assert_eq!(
            FlowFilter::parse("developerName eq 'it''s'").unwrap(),
            Some(FlowFilter::NameEquals("it's".into()))
        );
    }

    #[test]
    fn blank_is_no_filter_and_garbage_is_refused() {
        assert_eq!(FlowFilter::parse("  ").unwrap(), None);
        for bad in [
            "developerName eq 'open",
            "developerName eq 'a' or 1=1",
            "developerNameeq 'a'",
            "name eq 'a'",
            "substringof(developerName,'a'",
            "developerName ne 'a'",
            "é",
            "developerName eq 'a\u{0}b'",
            "substringof(developerName,'\u{202E}')",
        ] {
            assert!(FlowFilter::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn matching_ignores_case() {
        let filter = FlowFilter::parse("substringof(developerName,'WOR')")
            .unwrap()
            .unwrap();
        assert!(filter.matches("hello world"));
        assert!(!filter.matches("hello"));
    }

    #[test]
    fn white_space_may_separate_the_parts_but_other_controls_are_refused() {
        assert_eq!(
            FlowFilter::parse("\t\rdeveloperName\x0beq\x0c'a'\n").unwrap(),
            Some(FlowFilter::NameEquals("a".into()))
        );
        assert!(FlowFilter::parse("developerName eq 'a\u{3}'").is_err());
        assert!(FlowFilter::parse("developerName eq 'a\u{202e}'").is_err());
    }
}
