//! The values a run holds, and the program's value elements they belong to: what a run starts
//! with (each value's default), how a reference (`{id, command}`, a value's name, a constant)
//! reads, and `{![Value name]}` filled into text. Simple values (string, number, boolean,
//! date/time, content, password) hold text; lists and objects hold JSON object data
//! (`ObjectAPI[]`, as `objectData` carries them), kept as sent.

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
    default: Content,
    /// Whether its content is never answered in clear: a password, or a value marked secret
    /// or encrypted (Boomi does not show these either).
    pub hidden: bool,
}

impl ValueDef {
    pub fn is_simple(&self) -> bool {
        !is_object_type(&self.content_type)
    }
}

/// Whether a content type holds object data (a list or an object) rather than text.
pub fn is_object_type(content_type: &str) -> bool {
    content_type.eq_ignore_ascii_case("ContentList")
        || content_type.eq_ignore_ascii_case("ContentObject")
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
            let content_type = text(doc, "contentType").unwrap_or_default();
            let flag = |field: &str| doc.get(field).and_then(Value::as_bool) == Some(true);
            let default = if is_object_type(&content_type) {
                Content::Objects(object_list(doc.get("defaultObjectData")))
            } else {
                Content::Text(text(doc, "defaultContentValue"))
            };
            let def = ValueDef {
                id: element.id.to_string(),
                name: element.developer_name.clone(),
                hidden: content_type.eq_ignore_ascii_case("ContentPassword")
                    || flag("isSecret")
                    || flag("isEncrypted"),
                content_type,
                default,
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
                    default: if is_object_type(content_type) {
                        Content::Objects(
                            default
                                .map(|d| object_list(Some(&serde_json::from_str(d).unwrap())))
                                .unwrap_or_default(),
                        )
                    } else {
                        Content::Text(default.map(str::to_string))
                    },
                    hidden: *content_type == "ContentPassword",
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

/// What one value holds: text (`None`: empty), or a list's or an object's object data (an
/// object is a list of one). On the wire of a stored state: a string or null, or an array.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(untagged)]
pub enum Content {
    Text(Option<String>),
    Objects(Vec<JsonObject>),
}

impl Default for Content {
    fn default() -> Self {
        Content::Text(None)
    }
}

/// The objects of an `objectData` field (anything else in it is dropped).
pub fn object_list(field: Option<&Value>) -> Vec<JsonObject> {
    field
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_object)
        .cloned()
        .collect()
}

/// The content of each value of a run, by value id. Stored as JSON.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(transparent)]
pub struct Values(pub BTreeMap<String, Content>);

impl Values {
    /// A simple value's text (`None`: empty, or object data).
    pub fn get(&self, id: &str) -> Option<&str> {
        match self.0.get(&id.to_lowercase()) {
            Some(Content::Text(text)) => text.as_deref(),
            _ => None,
        }
    }

    /// A list's or an object's object data (`None`: empty, or text).
    pub fn objects(&self, id: &str) -> Option<&[JsonObject]> {
        match self.0.get(&id.to_lowercase()) {
            Some(Content::Objects(objects)) if !objects.is_empty() => Some(objects),
            _ => None,
        }
    }

    pub fn set(&mut self, id: &str, content: Option<String>) {
        self.0.insert(id.to_lowercase(), Content::Text(content));
    }

    pub fn set_content(&mut self, id: &str, content: Content) {
        self.0.insert(id.to_lowercase(), content);
    }

    pub fn content(&self, id: &str) -> Content {
        self.0.get(&id.to_lowercase()).cloned().unwrap_or_default()
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
