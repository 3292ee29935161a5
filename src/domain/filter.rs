//! The `filter` query parameter of the lists: the OData forms Boomi's tools send, parsed once
//! at the edge into a [`Filter`] that any list applies to its items ([`Filterable`]).
//!
//! The grammar (keywords and field names in any case, values compared ignoring case):
//!
//! ```text
//! filter     := or
//! or         := and ( "or" and )*
//! and        := primary ( "and" primary )*
//! primary    := "(" or ")"
//!             | field ( "eq" | "ne" ) value
//!             | "substringof" "(" field "," value ")"      (or value first, as OData v2 has it)
//!             | "startswith" "(" field "," value ")"
//! field      := "developerName" | "developerSummary" | "id"
//! value      := "'" ( any character but a quote | "''" )* "'"
//! ```

mod parse;

use std::borrow::Cow;

use super::Invalid;

/// The most characters a filter may have: far more than a person writes, and a bound on the
/// work one filter costs per item.
pub const FILTER_MAX_CHARS: usize = 2000;

/// The deepest nesting of parentheses a filter may have: the parser recurses once per level.
pub const FILTER_MAX_DEPTH: usize = 16;

/// The one description of what a filter may say, in every refusal (and the OpenAPI text).
pub const FILTER_FORMS: &str = "use developerName, developerSummary or id with eq or ne and \
    a quoted value (developerName eq 'Name'), substringof(field,'part') or \
    startswith(field,'start'), joined with and / or and grouped with parentheses; '' stands \
    for a quote inside a value";

/// A field a filter can test.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    DeveloperName,
    DeveloperSummary,
    Id,
}

/// What a list's items show a filter: each field as text (`None` for an absent one, which
/// tests as empty text).
pub trait Filterable {
    fn field(&self, field: Field) -> Option<Cow<'_, str>>;
}

/// The three fields as plain values, for a list whose items are not `Filterable` themselves.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FilterFields {
    pub developer_name: String,
    pub developer_summary: Option<String>,
    pub id: String,
}

impl Filterable for FilterFields {
    fn field(&self, field: Field) -> Option<Cow<'_, str>> {
        match field {
            Field::DeveloperName => Some(Cow::Borrowed(&self.developer_name)),
            Field::DeveloperSummary => self.developer_summary.as_deref().map(Cow::Borrowed),
            Field::Id => Some(Cow::Borrowed(&self.id)),
        }
    }
}

/// How a field is compared with a value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Test {
    Equals,
    NotEquals,
    Contains,
    StartsWith,
}

/// A parsed filter. Values are folded to lower case: matching is case-insensitive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Filter {
    /// One field compared with a value (folded).
    Compare {
        field: Field,
        test: Test,
        value: String,
    },
    /// Every part passes (at least two).
    All(Vec<Filter>),
    /// Some part passes (at least two).
    Any(Vec<Filter>),
}

/// The name the flow lists have always used.
pub type FlowFilter = Filter;

impl Filter {
    /// `None` for an absent or blank filter; an error naming the accepted forms otherwise.
    pub fn parse(text: &str) -> Result<Option<Self>, Invalid> {
        parse::parse(text)
    }

    /// `field eq 'value'`, built without parsing (e.g. a flow looked up by its name).
    pub fn equals(field: Field, value: &str) -> Self {
        Filter::Compare {
            field,
            test: Test::Equals,
            value: value.to_lowercase(),
        }
    }

    /// Whether the item passes this filter.
    pub fn matches(&self, item: &impl Filterable) -> bool {
        self.passes(&|field| {
            item.field(field)
                .map(|text| text.to_lowercase())
                .unwrap_or_default()
        })
    }

    /// The evaluation, given the folded text of each field (folded again per comparison: a
    /// filter has few comparisons, and most items fail at the first).
    fn passes(&self, folded: &dyn Fn(Field) -> String) -> bool {
        match self {
            Filter::Compare { field, test, value } => {
                let text = folded(*field);
                match test {
                    Test::Equals => text == *value,
                    Test::NotEquals => text != *value,
                    Test::Contains => text.contains(value.as_str()),
                    Test::StartsWith => text.starts_with(value.as_str()),
                }
            }
            Filter::All(parts) => parts.iter().all(|part| part.passes(folded)),
            Filter::Any(parts) => parts.iter().any(|part| part.passes(folded)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(name: &str, summary: Option<&str>, id: &str) -> FilterFields {
        FilterFields {
            developer_name: name.into(),
            developer_summary: summary.map(Into::into),
            id: id.into(),
        }
    }

    fn filter(text: &str) -> Filter {
        Filter::parse(text).unwrap().expect("a filter")
    }

    #[test]
    fn each_test_ignores_case() {
        let hello = item("Hello World", Some("Greets THE world"), "AB-12");
        assert!(filter("developerName eq 'hello world'").matches(&hello));
        assert!(!filter("developerName eq 'hello'").matches(&hello));
        assert!(filter("developerName ne 'hello'").matches(&hello));
        assert!(!filter("developerName ne 'HELLO WORLD'").matches(&hello));
        assert!(filter("substringof(developerSummary,'the W')").matches(&hello));
        assert!(filter("startswith(developerName,'HEL')").matches(&hello));
        assert!(!filter("startswith(developerName,'world')").matches(&hello));
        assert!(filter("id eq 'ab-12'").matches(&hello));
    }

    #[test]
    fn an_absent_field_tests_as_empty_text() {
        let bare = item("x", None, "1");
        assert!(filter("developerSummary eq ''").matches(&bare));
        assert!(filter("developerSummary ne 'a'").matches(&bare));
        assert!(!filter("substringof(developerSummary,'a')").matches(&bare));
    }

    #[test]
    fn and_binds_tighter_than_or() {
        // a or (b and c): true for "a" alone.
        let a = item("a", None, "1");
        assert!(filter("developerName eq 'a' or developerName eq 'b' and id eq '2'").matches(&a));
        // (a or b) and c: false for "a" with id 1.
        assert!(
            !filter("(developerName eq 'a' or developerName eq 'b') and id eq '2'").matches(&a)
        );
    }

    #[test]
    fn equals_folds_its_value() {
        assert!(Filter::equals(Field::DeveloperName, "HeLLo").matches(&item("hello", None, "")));
    }
}
