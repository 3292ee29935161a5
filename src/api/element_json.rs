//! Elements on the wire: every element is the JSON object its tool sent, so these functions
//! only split what keyflow owns (`id`, the dates, the builders) from the document it keeps,
//! and put them back when answering. Shared by the element, graph, snapshot and package areas.
//!
//! [`BuilderWho`], how a builder is written, lives here rather than in `flow_json`: flows and
//! elements both write it, and `flow_json` renders elements, so it imports this module and
//! not the other way round.

use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;

use crate::domain::UserId;
use crate::domain::element::ElementKind;
use crate::store::{ElementRecord, FlowElementRecord, JsonObject, Who};

/// `BuilderWhoAPI`.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = BuilderWhoAPI)]
pub struct BuilderWho {
    pub id: UserId,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub email: Option<String>,
}

impl From<Who> for BuilderWho {
    fn from(who: Who) -> Self {
        Self {
            id: who.id,
            first_name: who.first_name,
            last_name: who.last_name,
            email: who.email,
        }
    }
}

/// The fields keyflow sets on every element it answers with, whatever the request said.
pub const OWNED_FIELDS: [&str; 6] = [
    "id",
    "dateCreated",
    "dateModified",
    "whoCreated",
    "whoModified",
    "whoOwner",
];

/// The document keyflow keeps of a request's element: every field as sent, less those it owns.
pub fn document_of(mut element: JsonObject) -> JsonObject {
    for field in OWNED_FIELDS {
        element.remove(field);
    }
    element
}

fn who(who: &Who) -> Value {
    serde_json::to_value(BuilderWho::from(who.clone())).unwrap_or(Value::Null)
}

/// Puts back what keyflow owns onto a stored document.
fn rendered(
    document: &JsonObject,
    id: uuid::Uuid,
    developer_name: &str,
    dates: (&crate::domain::Timestamp, &crate::domain::Timestamp),
    builders: (&Who, &Who),
) -> Value {
    let mut element = document.clone();
    element.insert("id".into(), Value::String(id.to_string()));
    element.insert("developerName".into(), Value::String(developer_name.into()));
    element.insert(
        "dateCreated".into(),
        serde_json::to_value(dates.0).unwrap_or(Value::Null),
    );
    element.insert(
        "dateModified".into(),
        serde_json::to_value(dates.1).unwrap_or(Value::Null),
    );
    element.insert("whoCreated".into(), who(builders.0));
    element.insert("whoModified".into(), who(builders.1));
    element.insert("whoOwner".into(), who(builders.0));
    Value::Object(element)
}

/// A tenant element as its `…ElementResponseAPI`: the document, with keyflow's fields and an
/// `elementType` when the document has none.
pub fn render_element(element: &ElementRecord) -> Value {
    let mut value = rendered(
        &element.document,
        element.id,
        &element.developer_name,
        (&element.date_created, &element.date_modified),
        (&element.who_created, &element.who_modified),
    );
    if let Value::Object(fields) = &mut value {
        fill_element_type(fields, element.kind);
    }
    value
}

/// Sets `elementType` to the kind's default when absent or null.
pub fn fill_element_type(fields: &mut JsonObject, kind: ElementKind) {
    if fields.get("elementType").is_none_or(Value::is_null) {
        fields.insert(
            "elementType".into(),
            Value::String(kind.default_element_type().into()),
        );
    }
}

/// A flow's map, group or navigation element as its `…ElementResponseAPI`.
pub fn render_flow_element(element: &FlowElementRecord) -> Value {
    rendered(
        &element.document,
        element.id,
        &element.developer_name,
        (&element.date_created, &element.date_modified),
        (&element.who_created, &element.who_modified),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn owned_fields_are_dropped_and_the_rest_kept_as_sent() {
        let request = json!({
            "id": "x", "dateCreated": "then", "whoOwner": {"id": "y"},
            "developerName": "Name", "contentType": "ContentString",
            "unknownField": [1, {"a": null}],
        });
        let Value::Object(request) = request else {
            unreachable!()
        };
        let document = document_of(request);
        assert_eq!(
            Value::Object(document),
            json!({"developerName": "Name", "contentType": "ContentString",
                   "unknownField": [1, {"a": null}]})
        );
    }
}
