//! A flow's map, group and navigation elements on the wire: the request object is kept as its
//! document, so the edge only checks what keyflow or Boomi's tools read from it — that it is
//! an object, that the known top-level fields have their described types, and that the ids
//! among them are UUIDs — and the description names the shapes (`MapElementRequestAPI`, …).

use serde_json::Value;
use utoipa::openapi::RefOr;
use utoipa::openapi::schema::{AdditionalProperties, ObjectBuilder, Schema, SchemaType, Type};
use uuid::Uuid;

use crate::api::element_json::document_of;
use crate::http::error::ApiError;
use crate::store::JsonObject;

const TEXT: [&str; 13] = [
    "elementType",
    "developerName",
    "developerSummary",
    "label",
    "userContent",
    "statusMessage",
    "postUpdateMessage",
    "notAuthorizedMessage",
    "postUpdateWhenType",
    "title",
    "pageElementDeveloperName",
    "userContentDateModified",
    "position",
];
const IDS: [&str; 3] = ["id", "groupElementId", "pageElementId"];
const INTEGERS: [&str; 4] = ["x", "y", "height", "width"];
const FLAGS: [&str; 6] = [
    "updateByName",
    "isOpen",
    "clearNavigationOverrides",
    "postUpdateToStream",
    "persistState",
    "persistValues",
];
const ARRAYS: [&str; 11] = [
    "outcomes",
    "waits",
    "operations",
    "listeners",
    "processes",
    "openApiActions",
    "messageActions",
    "dataActions",
    "navigationOverrides",
    "navigationItems",
    "tags",
];
const OBJECTS: [&str; 9] = [
    "whoCreated",
    "whoModified",
    "whoOwner",
    "subflow",
    "wait",
    "viewMessageAction",
    "vote",
    "authorization",
    "identityProvider",
];

/// A 32-bit integer read as the rest of the API reads one (an integral float is one).
#[derive(serde::Deserialize)]
struct Wrapped {
    #[serde(deserialize_with = "crate::http::json::integral")]
    n: Option<i32>,
}

fn wrong(at: &str, field: &str, what: &str) -> ApiError {
    ApiError::Unprocessable(format!("{at}{field} must be {what}"))
}

/// Null, or a hyphenated UUID.
fn id_field(at: &str, field: &str, value: &Value) -> Result<Option<Uuid>, ApiError> {
    match value {
        Value::Null => Ok(None),
        Value::String(text) => Uuid::try_parse(text.trim())
            .map(Some)
            .map_err(|_| wrong(at, field, "an id (a UUID) or null")),
        _ => Err(wrong(at, field, "an id (a UUID) or null")),
    }
}

/// Checks the known fields of an element object; `at` prefixes messages (`mapElements[2].`).
pub fn check_fields(at: &str, fields: &JsonObject) -> Result<(), ApiError> {
    for (field, value) in fields {
        let field = field.as_str();
        let ok = if TEXT.contains(&field) {
            value.is_null() || value.is_string()
        } else if IDS.contains(&field) {
            id_field(at, field, value)?;
            true
        } else if INTEGERS.contains(&field) {
            // `2.0` is an integer to JSON Schema, as `crate::http::json::integral` reads it.
            serde_json::from_value::<Wrapped>(serde_json::json!({ "n": value }))
                .is_ok_and(|wrapped| wrapped.n.is_some())
        } else if FLAGS.contains(&field) {
            value.is_null() || value.is_boolean()
        } else if ARRAYS.contains(&field) {
            value.is_null() || value.is_array()
        } else if OBJECTS.contains(&field) {
            value.is_null() || value.is_object()
        } else {
            true
        };
        if !ok {
            let what = if INTEGERS.contains(&field) {
                "a 32-bit integer"
            } else if FLAGS.contains(&field) {
                "true or false"
            } else if ARRAYS.contains(&field) {
                "an array or null"
            } else if OBJECTS.contains(&field) {
                "an object or null"
            } else {
                "a string or null"
            };
            return Err(wrong(at, field, what));
        }
    }
    let outcomes = fields.get("outcomes").and_then(Value::as_array);
    for (index, outcome) in outcomes.into_iter().flatten().enumerate() {
        let at = format!("{at}outcomes[{index}].");
        let Value::Object(outcome) = outcome else {
            return Err(ApiError::Unprocessable(format!(
                "{at} each outcome must be an object"
            )));
        };
        for field in ["id", "nextMapElementId"] {
            if let Some(value) = outcome.get(field) {
                id_field(&at, field, value)?;
            }
        }
        for field in ["developerName", "label"] {
            if outcome
                .get(field)
                .is_some_and(|v| !v.is_null() && !v.is_string())
            {
                return Err(wrong(&at, field, "a string or null"));
            }
        }
    }
    Ok(())
}

/// An element as a request sends it: its `id` (None when absent or null), whether it asks for
/// `updateByName`, and the document keyflow keeps (every field as sent, less those keyflow
/// owns and `updateByName`, an instruction rather than content).
#[derive(Debug)]
pub struct ElementIn {
    pub id: Option<Uuid>,
    pub update_by_name: bool,
    pub document: JsonObject,
}

/// Reads one element of a request; `at` names where it is in messages.
pub fn element_in(at: &str, value: Value) -> Result<ElementIn, ApiError> {
    let Value::Object(fields) = value else {
        return Err(ApiError::Unprocessable(format!(
            "{}an element must be a JSON object",
            at
        )));
    };
    check_fields(at, &fields)?;
    let id = match fields.get("id") {
        Some(value) => id_field(at, "id", value)?,
        None => None,
    };
    let update_by_name = fields.get("updateByName") == Some(&Value::Bool(true));
    crate::domain::element::check_depth(&format!("{at}the element"), &fields)
        .map_err(|e| ApiError::Unprocessable(e.0))?;
    let mut document = document_of(fields);
    document.remove("updateByName");
    Ok(ElementIn {
        id,
        update_by_name,
        document,
    })
}

/// Reads an array of elements (`mapElements`, …); null or absent is `None`.
pub fn elements_in(field: &str, value: Option<Value>) -> Result<Option<Vec<ElementIn>>, ApiError> {
    match value {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Array(items)) => items
            .into_iter()
            .enumerate()
            .map(|(index, item)| element_in(&format!("{field}[{index}]."), item))
            .collect::<Result<Vec<_>, _>>()
            .map(Some),
        Some(_) => Err(ApiError::Unprocessable(format!(
            "{field} must be an array of elements or null"
        ))),
    }
}

/// Declares a Boomi element shape by name as an open JSON object (keyflow keeps every field).
macro_rules! document_schema {
    ($($name:ident => $description:literal),* $(,)?) => {$(
        #[doc = $description]
        pub struct $name;

        impl utoipa::PartialSchema for $name {
            fn schema() -> RefOr<Schema> {
                ObjectBuilder::new()
                    .schema_type(SchemaType::Type(Type::Object))
                    .description(Some($description))
                    .additional_properties(Some(AdditionalProperties::FreeForm(true)))
                    .into()
            }
        }

        impl utoipa::ToSchema for $name {}
    )*};
}

/// The pattern of an id field: a UUID (white space around is trimmed).
const UUID_PATTERN: &str =
    r"^\s*[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\s*$";

/// The type, or null.
fn or_null(typed: Type) -> ObjectBuilder {
    ObjectBuilder::new().schema_type(SchemaType::from_iter([typed, Type::Null]))
}

fn uuid_or_null() -> ObjectBuilder {
    or_null(Type::String).pattern(Some(UUID_PATTERN))
}

/// What [`check_fields`] accepts, as a schema: each known field of its type (or null), the ids
/// UUIDs, the positions and sizes 32-bit integers, each outcome's ids UUIDs; anything else kept.
fn request_schema(description: &str) -> RefOr<Schema> {
    let mut object = ObjectBuilder::new()
        .schema_type(SchemaType::Type(Type::Object))
        .description(Some(description))
        .additional_properties(Some(AdditionalProperties::FreeForm(true)));
    for field in TEXT {
        object = object.property(field, or_null(Type::String));
    }
    for field in IDS {
        object = object.property(field, uuid_or_null());
    }
    for field in INTEGERS {
        object = object.property(
            field,
            ObjectBuilder::new()
                .schema_type(SchemaType::Type(Type::Integer))
                .minimum(Some(i32::MIN))
                .maximum(Some(i32::MAX)),
        );
    }
    for field in FLAGS {
        object = object.property(field, or_null(Type::Boolean));
    }
    for field in OBJECTS {
        object = object.property(field, or_null(Type::Object));
    }
    let outcome = || {
        ObjectBuilder::new()
            .schema_type(SchemaType::Type(Type::Object))
            .additional_properties(Some(AdditionalProperties::FreeForm(true)))
            .property("id", uuid_or_null())
            .property("nextMapElementId", uuid_or_null())
            .property("developerName", or_null(Type::String))
            .property("label", or_null(Type::String))
    };
    for field in ARRAYS {
        let array = utoipa::openapi::schema::ArrayBuilder::new()
            .schema_type(SchemaType::from_iter([Type::Array, Type::Null]));
        let array = if field == "outcomes" {
            array.items(outcome())
        } else {
            array
        };
        object = object.property(field, array);
    }
    object.into()
}

/// Declares a request shape by Boomi's name, described by [`request_schema`].
macro_rules! request_schema {
    ($($name:ident => $description:literal),* $(,)?) => {$(
        #[doc = $description]
        pub struct $name;

        impl utoipa::PartialSchema for $name {
            fn schema() -> RefOr<Schema> {
                request_schema($description)
            }
        }

        impl utoipa::ToSchema for $name {}
    )*};
}

request_schema! {
    MapElementRequestAPI => "A map element as Boomi's MapElementRequestAPI: kept as sent. `id` (a UUID; absent or null creates), `groupElementId`, `pageElementId` and each outcome's `id` and `nextMapElementId` are UUIDs or null; `x`, `y` 32-bit integers; an outcome must point at a map element of the flow.",
    GroupElementRequestAPI => "A group element as Boomi's GroupElementRequestAPI: kept as sent. `id` (a UUID; absent or null creates) and `groupElementId` are UUIDs or null; `x`, `y`, `width`, `height` 32-bit integers.",
    NavigationElementRequestAPI => "A navigation element as Boomi's NavigationElementRequestAPI: kept as sent. `id` (a UUID; absent or null creates) and `groupElementId` are UUIDs or null; `x`, `y`, `width`, `height` 32-bit integers.",
}

document_schema! {
    MapElementResponseAPI => "A map element as Boomi's MapElementResponseAPI: the stored document with keyflow's id, dates and builders.",
    GroupElementResponseAPI => "A group element as Boomi's GroupElementResponseAPI: the stored document with keyflow's id, dates and builders.",
    NavigationElementResponseAPI => "A navigation element as Boomi's NavigationElementResponseAPI: the stored document with keyflow's id, dates and builders.",
    ElementAPI => "A tenant element (value, type, page, …) as Boomi's …ElementResponseAPI.",
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn known_fields_are_typed_and_ids_are_uuids() {
        let good = json!({"id": null, "x": 10, "outcomes": [{"nextMapElementId": Uuid::nil().to_string()}],
                          "anything": {"kept": true}});
        let element = element_in("", good).unwrap();
        assert!(element.id.is_none());
        // An integral float is an integer to JSON Schema.
        assert!(element_in("", json!({"x": 2.0, "width": -3})).is_ok());
        assert!(element.document.contains_key("anything"));
        for bad in [
            json!([]),
            json!({"x": "10"}),
            json!({"x": 1.5}),
            json!({"id": "nope"}),
            json!({"outcomes": [{"nextMapElementId": "elsewhere"}]}),
            json!({"outcomes": {}}),
            json!({"developerName": 3}),
        ] {
            assert!(element_in("", bad.clone()).is_err(), "{bad}");
        }
    }
}
