//! What changed between two images of a flow: the elements added, removed and changed, each
//! with its differences as JSON paths (`…/flow/snap/{flow}/diff/{before}/{after}`).

use std::collections::BTreeMap;

use serde_json::Value;
use uuid::Uuid;

use crate::domain::Timestamp;
use crate::rules::images::Image;
use crate::store::{JsonObject, Who};

/// One element that differs between the two images.
#[derive(Debug, Clone)]
pub struct Change {
    pub id: Uuid,
    pub developer_name: String,
    pub element_type: String,
    pub last_modified_by: Who,
    pub last_modified: Timestamp,
    pub diffs: Vec<Difference>,
}

/// One difference: `add` (only after), `remove` (only before) or `replace`.
#[derive(Debug, Clone, PartialEq)]
pub struct Difference {
    pub operation: &'static str,
    pub path: Vec<String>,
    pub before: Option<Value>,
    pub after: Option<Value>,
}

/// An element of an image, as compared: its name, type and document.
struct Compared<'a> {
    name: &'a str,
    element_type: String,
    document: JsonObject,
    who: &'a Who,
    modified: Timestamp,
}

fn elements(image: &Image) -> BTreeMap<Uuid, Compared<'_>> {
    let with_name = |document: &JsonObject, name: &str| {
        let mut document = document.clone();
        document.insert("developerName".into(), Value::String(name.into()));
        document
    };
    let flow = image.flow_elements.iter().map(|element| {
        let element_type = element
            .document
            .get("elementType")
            .and_then(Value::as_str)
            .unwrap_or(element.kind.path())
            .to_string();
        let compared = Compared {
            name: &element.developer_name,
            element_type,
            document: with_name(&element.document, &element.developer_name),
            who: &element.who_modified,
            modified: element.date_modified,
        };
        (element.id, compared)
    });
    let tenant = image.elements.iter().map(|element| {
        let element_type = element
            .document
            .get("elementType")
            .and_then(Value::as_str)
            .unwrap_or(element.kind.default_element_type())
            .to_string();
        let compared = Compared {
            name: &element.developer_name,
            element_type,
            document: with_name(&element.document, &element.developer_name),
            who: &element.who_modified,
            modified: element.date_modified,
        };
        (element.id, compared)
    });
    flow.chain(tenant).collect()
}

/// Every element added, removed or changed from `before` to `after`, ordered by name then id.
pub fn diff(before: &Image, after: &Image) -> Vec<Change> {
    let (old, new) = (elements(before), elements(after));
    let mut changes = Vec::new();
    for (id, element) in &new {
        let diffs = match old.get(id) {
            None => vec![Difference {
                operation: "add",
                path: Vec::new(),
                before: None,
                after: Some(Value::Object(element.document.clone())),
            }],
            Some(was) => {
                let mut diffs = Vec::new();
                compare(
                    &Value::Object(was.document.clone()),
                    &Value::Object(element.document.clone()),
                    &mut Vec::new(),
                    &mut diffs,
                );
                diffs
            }
        };
        if !diffs.is_empty() {
            changes.push(change(*id, element, diffs));
        }
    }
    for (id, element) in &old {
        if !new.contains_key(id) {
            let diffs = vec![Difference {
                operation: "remove",
                path: Vec::new(),
                before: Some(Value::Object(element.document.clone())),
                after: None,
            }];
            changes.push(change(*id, element, diffs));
        }
    }
    changes.sort_by(|a, b| {
        (a.developer_name.to_lowercase(), a.id).cmp(&(b.developer_name.to_lowercase(), b.id))
    });
    changes
}

fn change(id: Uuid, element: &Compared<'_>, diffs: Vec<Difference>) -> Change {
    Change {
        id,
        developer_name: element.name.to_string(),
        element_type: element.element_type.clone(),
        last_modified_by: element.who.clone(),
        last_modified: element.modified,
        diffs,
    }
}

/// The differences between two values under `path`: objects field by field, arrays item by
/// item (index as the path segment), anything else replaced whole.
fn compare(before: &Value, after: &Value, path: &mut Vec<String>, out: &mut Vec<Difference>) {
    match (before, after) {
        (Value::Object(old), Value::Object(new)) => {
            for (key, value) in new {
                path.push(key.clone());
                match old.get(key) {
                    Some(was) => compare(was, value, path, out),
                    None => out.push(Difference {
                        operation: "add",
                        path: path.clone(),
                        before: None,
                        after: Some(value.clone()),
                    }),
                }
                path.pop();
            }
            for (key, value) in old {
                if !new.contains_key(key) {
                    path.push(key.clone());
                    out.push(Difference {
                        operation: "remove",
                        path: path.clone(),
                        before: Some(value.clone()),
                        after: None,
                    });
                    path.pop();
                }
            }
        }
        (Value::Array(old), Value::Array(new)) => {
            for index in 0..old.len().max(new.len()) {
                path.push(index.to_string());
                match (old.get(index), new.get(index)) {
                    (Some(was), Some(now)) => compare(was, now, path, out),
                    (None, Some(now)) => out.push(Difference {
                        operation: "add",
                        path: path.clone(),
                        before: None,
                        after: Some(now.clone()),
                    }),
                    (Some(was), None) => out.push(Difference {
                        operation: "remove",
                        path: path.clone(),
                        before: Some(was.clone()),
                        after: None,
                    }),
                    (None, None) => {}
                }
                path.pop();
            }
        }
        (old, new) if old != new => out.push(Difference {
            operation: "replace",
            path: path.clone(),
            before: Some(old.clone()),
            after: Some(new.clone()),
        }),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn values_are_compared_by_path() {
        let mut out = Vec::new();
        compare(
            &json!({"a": 1, "b": [1, 2], "gone": true}),
            &json!({"a": 2, "b": [1], "new": "x"}),
            &mut Vec::new(),
            &mut out,
        );
        let summary: Vec<(&str, Vec<String>)> =
            out.iter().map(|d| (d.operation, d.path.clone())).collect();
        assert_eq!(
            summary,
            vec![
                ("replace", vec!["a".to_string()]),
                ("remove", vec!["b".to_string(), "1".to_string()]),
                ("add", vec!["new".to_string()]),
                ("remove", vec!["gone".to_string()]),
            ]
        );
    }
}
