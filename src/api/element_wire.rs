//! What a tenant element's request carries, checked at the edge: a JSON object with a
//! `developerName`, an optional `id` (a UUID), and, for every top-level field Boomi's
//! description types, a value of that type. Everything else in the object is kept as sent. The
//! OpenAPI names of each kind's bodies (`ValueElementRequestAPI`, …) are here too.

use serde_json::Value;
use utoipa::ToSchema;
use utoipa::openapi::RefOr;
use utoipa::openapi::schema::{AdditionalProperties, ObjectBuilder, Schema, SchemaType, Type};
use uuid::Uuid;

use crate::api::element_json::{OWNED_FIELDS, document_of, fill_element_type};
use crate::domain::Invalid;
use crate::domain::element::{ELEMENT_NAME_MAX_CHARS, ElementKind, ElementName};
use crate::rules::elements::ElementSave;
use crate::store::JsonObject;

/// The JSON type a top-level field must have (`null` is accepted for every field but
/// `developerName`: Boomi's tools send null for what they leave unset).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldType {
    String,
    Boolean,
    Array,
    Object,
}

impl FieldType {
    /// The type as JSON Schema names it.
    pub fn name(self) -> &'static str {
        match self {
            FieldType::String => "string",
            FieldType::Boolean => "boolean",
            FieldType::Array => "array",
            FieldType::Object => "object",
        }
    }

    fn holds(self, value: &Value) -> bool {
        matches!(
            (self, value),
            (_, Value::Null)
                | (FieldType::String, Value::String(_))
                | (FieldType::Boolean, Value::Bool(_))
                | (FieldType::Array, Value::Array(_))
                | (FieldType::Object, Value::Object(_))
        )
    }
}

use FieldType::{Array, Boolean, Object, String as Text};

/// The fields every element request has (Boomi's `ElementAPI` base), less those keyflow owns.
const COMMON: [(&str, FieldType); 3] = [
    ("elementType", Text),
    ("developerName", Text),
    ("developerSummary", Text),
];

/// The top-level fields of each kind's request schema beyond [`COMMON`] (`updateByName` is
/// not in the identity provider's or custom page component's, though keyflow honours it there), with their types, as
/// Boomi's description has them (`tests/api/elements.rs` checks this table against it).
pub fn kind_fields(kind: ElementKind) -> &'static [(&'static str, FieldType)] {
    match kind {
        ElementKind::Value => &[
            ("isEncrypted", Boolean),
            ("isVersionless", Boolean),
            ("access", Text),
            ("contentType", Text),
            ("contentFormat", Text),
            ("defaultContentValue", Text),
            ("defaultObjectData", Array),
            ("initializationOperations", Array),
            ("typeElementId", Text),
            ("typeElementDeveloperName", Text),
            ("isSecret", Boolean),
            ("updateByName", Boolean),
        ],
        ElementKind::Type => &[
            ("serviceElementId", Text),
            ("serviceElementDeveloperName", Text),
            ("properties", Array),
            ("bindings", Array),
            ("updateByName", Boolean),
        ],
        ElementKind::Page => &[
            ("label", Text),
            ("pageContainers", Array),
            ("pageComponents", Array),
            ("pageConditions", Array),
            ("stopConditionsOnFirstTrue", Boolean),
            ("saveHiddenInputs", Boolean),
            ("attributes", Object),
            ("tags", Array),
            ("modernPageLayout", Boolean),
            ("updateByName", Boolean),
        ],
        ElementKind::Service => &[
            ("uri", Text),
            ("format", Text),
            ("configurationValues", Array),
            ("providesLogic", Boolean),
            ("providesViews", Boolean),
            ("providesFiles", Boolean),
            ("providesDatabase", Boolean),
            ("providesIdentity", Boolean),
            ("providesSocial", Boolean),
            ("providesLocation", Boolean),
            ("providesAutoBinding", Boolean),
            ("actions", Array),
            ("install", Object),
            ("sendDecryptedValues", Boolean),
            ("httpAuthenticationUsername", Text),
            ("httpAuthenticationPassword", Text),
            ("httpAuthenticationClientCertificateReference", Text),
            ("httpAuthenticationClientCertificatePasswordReference", Text),
            ("version", Text),
            ("identityProviderId", Text),
            ("updateByName", Boolean),
        ],
        ElementKind::Macro => &[("code", Text), ("updateByName", Boolean)],
        ElementKind::IdentityProvider => &[("type", Text)],
        ElementKind::Tag => &[
            ("contentType", Text),
            ("typeElementId", Text),
            ("updateByName", Boolean),
        ],
        ElementKind::CustomPageComponent => &[
            ("key", Text),
            ("legacyScriptURL", Text),
            ("scriptURL", Text),
            ("legacyStyleSheetURL", Text),
            ("styleSheetURL", Text),
            ("icon", Text),
            ("attributes", Object),
            ("configurationEditors", Array),
            ("designTimeImageURL", Text),
            ("designTimeRenderType", Text),
        ],
    }
}

/// Every typed top-level field of the kind's request (those keyflow owns left out).
pub fn typed_fields(kind: ElementKind) -> impl Iterator<Item = (&'static str, FieldType)> {
    COMMON.into_iter().chain(kind_fields(kind).iter().copied())
}

fn json_type(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// Reads a request body into what the rules save: the object's typed fields checked, its
/// `id` and `developerName` parsed, and the document keyflow keeps (every field as sent, less
/// those keyflow owns, with `elementType` defaulted).
pub fn read_request(kind: ElementKind, body: Value) -> Result<ElementSave, Invalid> {
    let Value::Object(fields) = body else {
        return Err(Invalid::new(format!(
            "the body must be a JSON object (a {}), not {}",
            kind.noun(),
            json_type(&body)
        )));
    };
    for (name, expected) in typed_fields(kind) {
        if let Some(value) = fields.get(name)
            && !expected.holds(value)
        {
            return Err(Invalid::new(format!(
                "{name} must be a {}, not {}",
                expected.name(),
                json_type(value)
            )));
        }
    }
    let id = element_id(fields.get("id"))?;
    let name = match fields.get("developerName") {
        Some(Value::String(text)) => ElementName::parse(text)?,
        _ => return Err(Invalid::new("developerName is required")),
    };
    let update_by_name = fields.get("updateByName") == Some(&Value::Bool(true));
    crate::domain::element::check_depth("the element", &fields)?;
    let mut document: JsonObject = document_of(fields);
    fill_element_type(&mut document, kind);
    debug_assert!(OWNED_FIELDS.iter().all(|f| !document.contains_key(*f)));
    Ok(ElementSave {
        kind,
        id,
        name,
        update_by_name,
        document,
    })
}

/// The request's `id`: none when absent, null or blank (keyflow mints one); else a UUID.
fn element_id(value: Option<&Value>) -> Result<Option<Uuid>, Invalid> {
    match value {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(text)) if text.trim().is_empty() => Ok(None),
        Some(Value::String(text)) => Uuid::try_parse(text.trim()).map(Some).map_err(|_| {
            Invalid::new(format!(
                "id must be a UUID, not '{}'",
                crate::domain::shorten(text)
            ))
        }),
        Some(other) => Err(Invalid::new(format!(
            "id must be a string holding a UUID, not {}",
            json_type(other)
        ))),
    }
}

/// The pattern of a `developerName` (as `FlowRequestAPI`'s): the white space keyflow trims,
/// then a name with no control, invisible or direction-changing characters, not blank.
const NAME_PATTERN: &str = r"^[\t-\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]*[^\u0000-\u001f\u007f-\u009f\u200b\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff\ufdd0-\ufdef\ufffe\uffff]*[^\u0000-\u001f\u007f-\u009f\u200b\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff\ufdd0-\ufdef\ufffe\uffff\t-\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000][^\u0000-\u001f\u007f-\u009f\u200b\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff\ufdd0-\ufdef\ufffe\uffff]*[\t-\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]*$";

/// The pattern of an element `id`: a UUID, or blank (keyflow mints one), white space around.
const ID_PATTERN: &str =
    r"^\s*([0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})?\s*$";

/// A schema that is the type or null.
fn nullable(schema: ObjectBuilder, field: FieldType) -> ObjectBuilder {
    let typed = match field {
        FieldType::String => Type::String,
        FieldType::Boolean => Type::Boolean,
        FieldType::Array => Type::Array,
        FieldType::Object => Type::Object,
    };
    schema.schema_type(SchemaType::from_iter([typed, Type::Null]))
}

/// What [`read_request`] accepts, as a schema: an object with a `developerName` (required),
/// an optional `id`, the kind's typed fields of their type or null, anything else kept.
pub fn request_schema(kind: ElementKind, description: &str) -> RefOr<Schema> {
    let mut object = ObjectBuilder::new()
        .schema_type(SchemaType::Type(Type::Object))
        .description(Some(description))
        .additional_properties(Some(AdditionalProperties::FreeForm(true)))
        .required("developerName")
        .property(
            "id",
            ObjectBuilder::new()
                .schema_type(SchemaType::from_iter([Type::String, Type::Null]))
                .description(Some(
                    "The element to update; absent, null or blank creates one.",
                ))
                .pattern(Some(ID_PATTERN)),
        );
    for (name, field) in typed_fields(kind) {
        let property = if name == "developerName" {
            ObjectBuilder::new()
                .schema_type(SchemaType::Type(Type::String))
                .description(Some(
                    "1 to 255 characters, not blank, no control characters and no invisible \
                     or direction-changing ones (white space around is trimmed).",
                ))
                .min_length(Some(1))
                .max_length(Some(ELEMENT_NAME_MAX_CHARS))
                .pattern(Some(NAME_PATTERN))
        } else {
            nullable(ObjectBuilder::new(), field)
        };
        object = object.property(name, property);
    }
    object.into()
}

/// Declares an OpenAPI schema named as Boomi's description names it, for a body keyflow
/// handles as a JSON object (the fields are Boomi's; keyflow checks the typed ones).
macro_rules! object_schema {
    ($($(#[$doc:meta])* $type:ident as $name:ident;)*) => {
        $(
            $(#[$doc])*
            #[derive(ToSchema)]
            #[schema(as = $name, value_type = Object)]
            #[allow(dead_code)]
            pub struct $type(JsonObject);
        )*
    };
}

/// Declares the OpenAPI schema of a kind's request body (see [`request_schema`]), named as
/// Boomi's description names it.
macro_rules! request_schema {
    ($($type:ident as $name:literal for $kind:ident: $description:literal;)*) => {
        $(
            #[doc = $description]
            pub struct $type;

            impl utoipa::PartialSchema for $type {
                fn schema() -> RefOr<Schema> {
                    request_schema(ElementKind::$kind, $description)
                }
            }

            impl ToSchema for $type {
                fn name() -> std::borrow::Cow<'static, str> {
                    std::borrow::Cow::Borrowed($name)
                }
            }
        )*
    };
}

request_schema! {
    ValueRequest as "ValueElementRequestAPI" for Value: "A value element to save (Boomi's `ValueElementRequestAPI`).";
    TypeRequest as "TypeElementRequestAPI" for Type: "A type element to save.";
    PageRequest as "PageElementRequestAPI" for Page: "A page element to save.";
    ServiceRequest as "ServiceElementRequestAPI" for Service: "A service element to save.";
    MacroRequest as "MacroElementRequestAPI" for Macro: "A macro element to save.";
    TagRequest as "TagElementRequestAPI" for Tag: "A tag element to save.";
    IdentityProvider as "IdentityProviderAPI" for IdentityProvider: "An identity provider, to save or as saved.";
    CustomPageComponent as "CustomPageComponentAPI" for CustomPageComponent: "A custom page component, to save or as saved.";
}

object_schema! {
    /// A value element (Boomi's `ValueElementResponseAPI`).
    ValueResponse as ValueElementResponseAPI;
    /// A type element.
    TypeResponse as TypeElementResponseAPI;
    /// A page element.
    PageResponse as PageElementResponseAPI;
    /// A service element.
    ServiceResponse as ServiceElementResponseAPI;
    /// A macro element.
    MacroResponse as MacroElementResponseAPI;
    /// A tag element.
    TagResponse as TagElementResponseAPI;
    /// A page of value elements: `_meta` (`page`, `pageSize`, `total`), `_links`, `items`.
    ValueCollection as ValueElementResponseAPIItemCollectionResponse;
    /// A page of type elements.
    TypeCollection as TypeElementResponseAPIItemCollectionResponse;
    /// A page of page elements.
    PageCollection as PageElementResponseAPIItemCollectionResponse;
    /// A page of service elements.
    ServiceCollection as ServiceElementResponseAPIItemCollectionResponse;
    /// A page of identity providers.
    IdentityProviderCollection as IdentityProviderAPIItemCollectionResponse;
    /// A page of custom page components.
    CustomPageComponentCollection as CustomPageComponentAPIItemCollectionResponse;
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_request_is_checked_and_kept_as_sent() {
        let save = read_request(
            ElementKind::Value,
            json!({"id": "", "developerName": " Name ", "contentType": "ContentString",
                   "extra": {"ü": [1]}, "dateCreated": "x"}),
        )
        .unwrap();
        assert_eq!(save.id, None);
        assert_eq!(save.name.as_str(), "Name");
        assert_eq!(save.document["extra"], json!({"ü": [1]}));
        assert_eq!(save.document["elementType"], json!("VARIABLE"));
        assert!(!save.document.contains_key("dateCreated"));
    }

    #[test]
    fn wrong_types_and_ids_name_the_field() {
        let error =
            read_request(ElementKind::Macro, json!({"developerName": "m", "code": 3})).unwrap_err();
        assert!(error.0.contains("code must be a string"), "{error}");
        let error = read_request(
            ElementKind::Macro,
            json!({"developerName": "m", "id": "no"}),
        )
        .unwrap_err();
        assert!(error.0.contains("id must be a UUID"), "{error}");
        assert!(read_request(ElementKind::Tag, json!([])).is_err());
        assert!(read_request(ElementKind::Tag, json!({"developerName": null})).is_err());
    }
}
