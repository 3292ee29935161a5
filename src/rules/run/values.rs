//! The values a run holds, and the program's value elements they belong to: what a run starts
//! with (each value's default), how a reference (`{id, command}`, a value's name, a constant)
//! reads, and `{![Value name]}` filled into text. Simple values only (string, number,
//! boolean, date/time, content, password): lists and objects are not run yet.

use std::collections::{BTreeMap, HashMap};

use serde_json::Value;

use crate::store::{ElementRecord, JsonObject};

/// A value element of the program: its name and content type.
#[derive(Debug, Clone)]
pub struct ValueDef {
    pub id: String,
    pub name: String,
    /// `ContentString`, `ContentNumber`, … as the element says.
    pub content_type: String,
    default: Option<String>,
}

impl ValueDef {
    pub fn is_simple(&self) -> bool {
        !matches!(self.content_type.as_str(), "ContentList" | "ContentObject")
    }
}

/// The program's value elements, by id and by name (ignoring case).
#[derive(Debug, Default)]
pub struct ValueDefs {
    by_id: HashMap<String, ValueDef>,
    by_name: HashMap<String, String>,
}

impl ValueDefs {
    pub fn from_elements<'a>(elements: impl IntoIterator<Item = &'a ElementRecord>) -> Self {
        let mut defs = ValueDefs::default();
        for element in elements {
            let doc = &element.document;
            let def = ValueDef {
                id: element.id.to_string(),
                name: element.developer_name.clone(),
                content_type: text(doc, "contentType").unwrap_or_default(),
                default: text(doc, "defaultContentValue"),
            };
            defs.by_name
                .entry(def.name.to_lowercase())
                .or_insert_with(|| def.id.clone());
            defs.by_id.insert(def.id.clone(), def);
        }
        defs
    }

    /// Value definitions from (id, name, content type, default), for tests of the engine.
    #[cfg(test)]
    pub fn from_list(list: &[(&str, &str, &str, Option<&str>)]) -> Self {
        let mut defs = ValueDefs::default();
        for (id, name, content_type, default) in list {
            defs.by_name.insert(name.to_lowercase(), id.to_lowercase());
            defs.by_id.insert(
                id.to_lowercase(),
                ValueDef {
                    id: id.to_lowercase(),
                    name: name.to_string(),
                    content_type: content_type.to_string(),
                    default: default.map(str::to_string),
                },
            );
        }
        defs
    }

    /// Every value element, in no order.
    pub fn iter(&self) -> impl Iterator<Item = &ValueDef> {
        self.by_id.values()
    }

    pub fn get(&self, id: &str) -> Option<&ValueDef> {
        self.by_id.get(&id.to_lowercase())
    }

    pub fn by_name(&self, name: &str) -> Option<&ValueDef> {
        self.by_name
            .get(&name.trim().to_lowercase())
            .and_then(|id| self.by_id.get(id))
    }

    /// Every value at its default: what a run starts with.
    pub fn defaults(&self) -> Values {
        Values(
            self.by_id
                .values()
                .map(|def| (def.id.clone(), def.default.clone()))
                .collect(),
        )
    }
}

/// The content of each value of a run, by value id (`None`: empty). Stored as JSON.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(transparent)]
pub struct Values(pub BTreeMap<String, Option<String>>);

impl Values {
    pub fn get(&self, id: &str) -> Option<&str> {
        self.0.get(&id.to_lowercase()).and_then(|v| v.as_deref())
    }

    pub fn set(&mut self, id: &str, content: Option<String>) {
        self.0.insert(id.to_lowercase(), content);
    }
}

/// What a reference in an element reads: a value, or a constant.
#[derive(Debug, Clone, PartialEq)]
pub enum Reference {
    Value { id: String, command: Option<String> },
    Constant(Option<String>),
}

/// Reads a reference as Boomi writes it: `{id, typeElementPropertyId, command}` (a property
/// of an object is refused by the caller: objects are not run), a number (a constant, as
/// `DoubleValueElementIdAPIOneOf` allows), or its wrapped forms `{asT0}` and `{asT1}`.
pub fn reference(field: Option<&Value>) -> Result<Option<Reference>, String> {
    let Some(field) = field else { return Ok(None) };
    match field {
        Value::Null => Ok(None),
        Value::Number(n) => Ok(Some(Reference::Constant(Some(n.to_string())))),
        Value::String(s) => Ok(Some(Reference::Constant(Some(s.clone())))),
        Value::Bool(b) => Ok(Some(Reference::Constant(Some(bool_text(*b).into())))),
        Value::Object(object) => {
            if object.get("isT0").and_then(Value::as_bool) == Some(true) {
                return reference(object.get("asT0"));
            }
            if let Some(inner @ Value::Object(_)) = object.get("asT1") {
                return reference(Some(inner));
            }
            if let Some(property) = text(object, "typeElementPropertyId") {
                return Err(format!(
                    "a property of an object value ({property}) is not supported yet"
                ));
            }
            match text(object, "id") {
                Some(id) => Ok(Some(Reference::Value {
                    id,
                    command: text(object, "command"),
                })),
                None => Ok(None),
            }
        }
        Value::Array(_) => Err("a list as a reference is not supported".into()),
    }
}

pub fn bool_text(b: bool) -> &'static str {
    if b { "True" } else { "False" }
}

/// A non-empty string field of a document.
pub fn text(doc: &JsonObject, field: &str) -> Option<String> {
    doc.get(field)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}

/// `text` with every `{![Value name]}` replaced by that value's content (empty when the value
/// is empty; an unknown name is left as written, so a typo shows).
pub fn fill(text: &str, defs: &ValueDefs, values: &Values) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("{![") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 3..];
        match after.find("]}") {
            Some(end) => {
                let name = &after[..end];
                match defs.by_name(name) {
                    Some(def) => out.push_str(values.get(&def.id).unwrap_or("")),
                    None => out.push_str(&rest[start..start + 3 + end + 2]),
                }
                rest = &after[end + 2..];
            }
            None => {
                out.push_str(&rest[start..]);
                rest = "";
            }
        }
    }
    out.push_str(rest);
    out
}
