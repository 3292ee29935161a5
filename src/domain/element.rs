//! The elements a flow is made of: the kinds keyflow keeps, the name each is known by, and the
//! references one element's document makes to others. Elements are stored as the documents
//! Boomi's tools send, so the only structure keyflow reads from them is here.

use std::collections::BTreeSet;

use serde_json::Value;
use uuid::Uuid;

use super::Invalid;
use super::ids::shorten;
use super::names::disguises;

/// The most characters a `developerName` of an element may have (as a flow's name).
pub const ELEMENT_NAME_MAX_CHARS: usize = 255;

/// A tenant element: shared by every flow of the tenant, at `/api/draw/1/element/{kind}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ElementKind {
    Value,
    Type,
    Page,
    Service,
    Macro,
    IdentityProvider,
    Tag,
    CustomPageComponent,
}

impl ElementKind {
    pub const ALL: [ElementKind; 8] = [
        ElementKind::Value,
        ElementKind::Type,
        ElementKind::Page,
        ElementKind::Service,
        ElementKind::Macro,
        ElementKind::IdentityProvider,
        ElementKind::Tag,
        ElementKind::CustomPageComponent,
    ];

    /// The kind a path segment names (`value`, `identityprovider`, `customPageComponent`, …),
    /// ignoring case.
    pub fn parse(text: &str) -> Result<Self, Invalid> {
        Self::ALL
            .into_iter()
            .find(|kind| kind.path().eq_ignore_ascii_case(text))
            .ok_or_else(|| {
                Invalid::new(format!(
                    "'{}' is not an element type keyflow keeps: use one of {}",
                    shorten(text),
                    Self::ALL.map(|kind| kind.path()).join(", ")
                ))
            })
    }

    /// Its path segment, as Boomi's description spells it; also how the store names it.
    pub fn path(self) -> &'static str {
        match self {
            ElementKind::Value => "value",
            ElementKind::Type => "type",
            ElementKind::Page => "page",
            ElementKind::Service => "service",
            ElementKind::Macro => "macro",
            ElementKind::IdentityProvider => "identityprovider",
            ElementKind::Tag => "tag",
            ElementKind::CustomPageComponent => "customPageComponent",
        }
    }

    /// How people call it in messages: "value element".
    pub fn noun(self) -> &'static str {
        match self {
            ElementKind::Value => "value element",
            ElementKind::Type => "type element",
            ElementKind::Page => "page element",
            ElementKind::Service => "service element",
            ElementKind::Macro => "macro element",
            ElementKind::IdentityProvider => "identity provider",
            ElementKind::Tag => "tag element",
            ElementKind::CustomPageComponent => "custom page component",
        }
    }

    /// The `elementType` a new element of this kind gets when the request names none.
    pub fn default_element_type(self) -> &'static str {
        match self {
            ElementKind::Value => "VARIABLE",
            ElementKind::Type => "TYPE",
            ElementKind::Page => "PAGE_LAYOUT",
            ElementKind::Service => "SERVICE",
            ElementKind::Macro => "MACRO",
            ElementKind::IdentityProvider => "IDENTITY_PROVIDER",
            ElementKind::Tag => "TAG",
            ElementKind::CustomPageComponent => "CUSTOM_PAGE_COMPONENT",
        }
    }

    /// The array of a flow image (`FlowImageResponseAPI`) or a package holding this kind.
    pub fn image_field(self) -> &'static str {
        match self {
            ElementKind::Value => "valueElements",
            ElementKind::Type => "typeElements",
            ElementKind::Page => "pageElements",
            ElementKind::Service => "serviceElements",
            ElementKind::Macro => "macroElements",
            ElementKind::IdentityProvider => "identityProviderElements",
            ElementKind::Tag => "tagElements",
            ElementKind::CustomPageComponent => "customPageComponentElements",
        }
    }
}

/// An element of one flow's graph, at `/api/draw/1/flow/{flow}/{editingToken}/element/{kind}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum FlowElementKind {
    Map,
    Group,
    Navigation,
}

impl FlowElementKind {
    pub const ALL: [FlowElementKind; 3] = [
        FlowElementKind::Map,
        FlowElementKind::Group,
        FlowElementKind::Navigation,
    ];

    /// The kind a path segment names (`map`, `group`, `navigation`), ignoring case.
    pub fn parse(text: &str) -> Result<Self, Invalid> {
        Self::ALL
            .into_iter()
            .find(|kind| kind.path().eq_ignore_ascii_case(text))
            .ok_or_else(|| {
                Invalid::new(format!(
                    "'{}' is not a flow element type: use map, group or navigation",
                    shorten(text)
                ))
            })
    }

    pub fn path(self) -> &'static str {
        match self {
            FlowElementKind::Map => "map",
            FlowElementKind::Group => "group",
            FlowElementKind::Navigation => "navigation",
        }
    }

    pub fn noun(self) -> &'static str {
        match self {
            FlowElementKind::Map => "map element",
            FlowElementKind::Group => "group element",
            FlowElementKind::Navigation => "navigation element",
        }
    }

    /// The array of a flow image or graph holding this kind.
    pub fn image_field(self) -> &'static str {
        match self {
            FlowElementKind::Map => "mapElements",
            FlowElementKind::Group => "groupElements",
            FlowElementKind::Navigation => "navigationElements",
        }
    }
}

/// A valid `developerName` of an element: 1 to 255 characters once trimmed, with no control,
/// invisible or direction-changing character. Unique per tenant and kind, ignoring case
/// ([`ElementName::folded`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ElementName(String);

impl ElementName {
    pub fn parse(text: &str) -> Result<Self, Invalid> {
        let trimmed = text.trim();
        if trimmed.is_empty() {
            return Err(Invalid::new("developerName must not be blank"));
        }
        // Counted as sent, white space included: the limit the description gives (maxLength).
        if text.chars().count() > ELEMENT_NAME_MAX_CHARS {
            return Err(Invalid::new(format!(
                "developerName must be at most {ELEMENT_NAME_MAX_CHARS} characters"
            )));
        }
        if trimmed.chars().any(|c| c.is_control() || disguises(c)) {
            return Err(Invalid::new(
                "developerName must not contain control, invisible or direction-changing characters",
            ));
        }
        Ok(Self(trimmed.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The name in Unicode lower case: what uniqueness and the filters compare.
    pub fn folded(&self) -> String {
        self.0.to_lowercase()
    }
}

/// The deepest an element's document may nest (the element itself is one level). Requests are
/// read with JSON's usual limit of 128 levels; snapshot images and packages wrap each document
/// a few levels deeper, so a document that used the whole limit could be stored but not read
/// back inside them.
pub const ELEMENT_MAX_DEPTH: usize = 100;

/// Refuses a document nested deeper than [`ELEMENT_MAX_DEPTH`], naming the limit.
pub fn check_depth(what: &str, fields: &serde_json::Map<String, Value>) -> Result<(), Invalid> {
    // An explicit stack, as in `ids_under`: the depth is measured without recursion.
    let mut pending: Vec<(&Value, usize)> = fields.values().map(|value| (value, 2)).collect();
    while let Some((value, depth)) = pending.pop() {
        let children: Vec<&Value> = match value {
            Value::Array(items) => items.iter().collect(),
            Value::Object(fields) => fields.values().collect(),
            _ => continue,
        };
        if depth > ELEMENT_MAX_DEPTH {
            return Err(Invalid::new(format!(
                "{what} nests deeper than {ELEMENT_MAX_DEPTH} levels of objects and arrays"
            )));
        }
        pending.extend(children.into_iter().map(|child| (child, depth + 1)));
    }
    Ok(())
}

/// Every id another element could be known by that a document mentions: each string anywhere
/// in it (however deeply nested, under any field) that is a hyphenated UUID. Boomi's shapes
/// refer to elements under dozens of field names (`pageElementId`, `valueElementToReferenceId.id`,
/// `typeElementId`, `nextMapElementId`, …) and add more; reading every UUID-shaped string
/// finds them all, and a UUID that names no element is simply ignored by the caller.
pub fn referenced_ids(document: &Value) -> BTreeSet<Uuid> {
    ids_under(vec![document])
}

/// [`referenced_ids`] of an object's fields.
pub fn referenced_ids_of(fields: &serde_json::Map<String, Value>) -> BTreeSet<Uuid> {
    ids_under(fields.values().collect())
}

fn ids_under(mut pending: Vec<&Value>) -> BTreeSet<Uuid> {
    let mut found = BTreeSet::new();
    // An explicit stack, not recursion: a document nested thousands deep cannot overflow it.
    while let Some(value) = pending.pop() {
        match value {
            Value::String(text) if text.len() == 36 => {
                if let Ok(id) = Uuid::try_parse(text) {
                    found.insert(id);
                }
            }
            Value::Array(items) => pending.extend(items),
            Value::Object(fields) => pending.extend(fields.values()),
            _ => {}
        }
    }
    found
}

/// The START map element every new flow begins with.
pub fn start_document() -> serde_json::Map<String, Value> {
    let mut document = serde_json::Map::new();
    document.insert("elementType".into(), "START".into());
    document.insert("developerName".into(), "Start".into());
    document.insert("x".into(), 100.into());
    document.insert("y".into(), 100.into());
    document
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn kinds_parse_ignoring_case_and_name_the_choices_when_unknown() {
        assert_eq!(ElementKind::parse("VALUE").unwrap(), ElementKind::Value);
        assert_eq!(
            ElementKind::parse("identityProvider").unwrap(),
            ElementKind::IdentityProvider
        );
        assert_eq!(
            ElementKind::parse("custompagecomponent").unwrap(),
            ElementKind::CustomPageComponent
        );
        let error = ElementKind::parse("theme").unwrap_err();
        assert!(error.0.contains("value, type, page"), "{error}");
        assert_eq!(FlowElementKind::parse("Map").unwrap(), FlowElementKind::Map);
        assert!(FlowElementKind::parse("step").is_err());
    }

    #[test]
    fn names_are_trimmed_and_checked() {
        assert_eq!(
            ElementName::parse("  Customer ").unwrap().as_str(),
            "Customer"
        );
        assert_eq!(ElementName::parse("ÉTÉ").unwrap().folded(), "été");
        assert!(ElementName::parse("  ").is_err());
        assert!(ElementName::parse("a\u{0}b").is_err());
        assert!(ElementName::parse("a\u{202e}b").is_err());
        assert!(ElementName::parse(&"x".repeat(256)).is_err());
        assert!(ElementName::parse(&"x".repeat(255)).is_ok());
        // Counted as sent, as the description's maxLength counts: white space included.
        assert!(ElementName::parse(&format!(" {}", "x".repeat(255))).is_err());
    }

    #[test]
    fn references_are_every_uuid_string_at_any_depth() {
        let page = Uuid::new_v4();
        let value = Uuid::new_v4();
        let next = Uuid::new_v4();
        let document = json!({
            "id": null,
            "pageElementId": page.to_string(),
            "outcomes": [{"nextMapElementId": next.to_string(), "label": "Go"}],
            "dataActions": [{"valueElementToApplyId": {"id": value.to_string()}}],
            "notes": "not-a-uuid",
            "count": 3,
        });
        let found = referenced_ids(&document);
        assert_eq!(found, BTreeSet::from([page, value, next]));
    }

    #[test]
    fn documents_nest_at_most_the_limit() {
        let nested = |levels: usize| {
            // `levels` counts the element itself: wrap an empty object levels - 2 times.
            let mut value = Value::Object(serde_json::Map::new());
            for _ in 0..levels.saturating_sub(2) {
                value = Value::Array(vec![value]);
            }
            let mut fields = serde_json::Map::new();
            fields.insert("deep".into(), value);
            fields
        };
        assert!(check_depth("the element", &nested(ELEMENT_MAX_DEPTH)).is_ok());
        let error = check_depth("the element", &nested(ELEMENT_MAX_DEPTH + 1)).unwrap_err();
        assert!(error.0.contains("100 levels"), "{error}");
        assert!(check_depth("the element", &serde_json::Map::new()).is_ok());
    }

    #[test]
    fn a_deep_document_does_not_overflow() {
        let mut document = Value::String(Uuid::nil().to_string());
        for _ in 0..100_000 {
            // Not `json!`, which would serialize the nested value again, recursively.
            document = Value::Array(vec![document]);
        }
        assert_eq!(referenced_ids(&document).len(), 1);
        // Dropping a deeply nested Value recurses in serde_json; leak it in this test only.
        std::mem::forget(document);
    }
}
