//! A validator for the part of OpenAPI 3.0 that Boomi's description uses for its answers:
//! `type`, `format` (uuid, date-time, int32), `nullable`, `enum`, `properties`, `required`,
//! `additionalProperties` (false or a schema), `items` and `$ref`.

use std::collections::BTreeSet;

use serde_json::Value;

use crate::helpers::is_rfc3339_utc;

/// Validates against one description's component schemas. `extensions` are the
/// `Schema.field` names a document may carry beyond a closed schema; `seen` records those met.
pub struct Validator<'a> {
    pub document: &'a Value,
    pub extensions: &'a BTreeSet<String>,
    pub seen: BTreeSet<String>,
}

impl<'a> Validator<'a> {
    /// Every way `value` breaks `schema`, each prefixed with where (`$.a.b[0]`).
    pub fn check(&mut self, value: &Value, schema: &Value, at: &str, errors: &mut Vec<String>) {
        self.check_named(value, schema, None, at, errors);
    }

    fn resolve(&self, reference: &str) -> (&'a Value, String) {
        let name = reference
            .strip_prefix("#/components/schemas/")
            .unwrap_or_else(|| panic!("an unsupported $ref {reference}"));
        let document: &'a Value = self.document;
        let schema = &document["components"]["schemas"][name];
        assert!(!schema.is_null(), "{reference} names no schema");
        (schema, name.to_string())
    }

    fn check_named(
        &mut self,
        value: &Value,
        schema: &Value,
        name: Option<&str>,
        at: &str,
        errors: &mut Vec<String>,
    ) {
        if let Some(reference) = schema.get("$ref").and_then(Value::as_str) {
            // OpenAPI 3.0 ignores every keyword beside a $ref, `nullable` too, so Boomi's
            // generator cannot mark an object-typed field nullable; its own answers carry
            // null there (an unset `authorization`, `settings`, …). A null $ref is accepted.
            if value.is_null() {
                return;
            }
            let (target, target_name) = self.resolve(reference);
            return self.check_named(value, target, Some(&target_name), at, errors);
        }
        if value.is_null() {
            if schema.get("nullable") != Some(&Value::Bool(true)) {
                errors.push(format!("{at}: null where the schema is not nullable"));
            }
            return;
        }
        if let Some(allowed) = schema.get("enum").and_then(Value::as_array)
            && !allowed.contains(value)
        {
            errors.push(format!("{at}: {value} is not one of {allowed:?}"));
        }
        let Some(kind) = schema.get("type").and_then(Value::as_str) else {
            return; // `{}`: anything
        };
        let fits = match kind {
            "object" => value.is_object(),
            "array" => value.is_array(),
            "string" => value.is_string(),
            "integer" => value.is_i64() || value.is_u64(),
            "number" => value.is_number(),
            "boolean" => value.is_boolean(),
            other => panic!("an unsupported type {other} at {at}"),
        };
        if !fits {
            errors.push(format!("{at}: {value} is not of type {kind}"));
            return;
        }
        check_format(value, schema, at, errors);
        match value {
            Value::Object(fields) => self.check_object(fields, schema, name, at, errors),
            Value::Array(items) => {
                let item_schema = schema.get("items").cloned().unwrap_or(Value::Null);
                for (index, item) in items.iter().enumerate() {
                    self.check_named(item, &item_schema, None, &format!("{at}[{index}]"), errors);
                }
            }
            _ => {}
        }
    }

    fn check_object(
        &mut self,
        fields: &serde_json::Map<String, Value>,
        schema: &Value,
        name: Option<&str>,
        at: &str,
        errors: &mut Vec<String>,
    ) {
        let properties = schema.get("properties").and_then(Value::as_object);
        for required in schema
            .get("required")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let required = required.as_str().unwrap_or_default();
            if !fields.contains_key(required) {
                errors.push(format!("{at}: the required field {required} is missing"));
            }
        }
        for (field, value) in fields {
            let here = format!("{at}.{field}");
            if let Some(property) = properties.and_then(|p| p.get(field)) {
                self.check_named(value, property, None, &here, errors);
                continue;
            }
            match schema.get("additionalProperties") {
                Some(Value::Bool(false)) => {
                    let extension = format!("{}.{field}", name.unwrap_or("(inline)"));
                    if self.extensions.contains(&extension) {
                        self.seen.insert(extension);
                    } else {
                        errors.push(format!("{here}: {extension} is not in the schema"));
                    }
                }
                Some(other @ Value::Object(_)) => {
                    let other = other.clone();
                    self.check_named(value, &other, None, &here, errors);
                }
                _ => {}
            }
        }
    }
}

fn check_format(value: &Value, schema: &Value, at: &str, errors: &mut Vec<String>) {
    let fits = match (schema.get("format").and_then(Value::as_str), value) {
        (Some("uuid"), Value::String(text)) => uuid::Uuid::parse_str(text).is_ok(),
        (Some("date-time"), Value::String(text)) => is_rfc3339_utc(text),
        (Some("int32"), Value::Number(n)) => n.as_i64().is_some_and(|n| i32::try_from(n).is_ok()),
        _ => true,
    };
    if !fits {
        let format = &schema["format"];
        errors.push(format!("{at}: {value} is not a {format}"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn errors(document: &Value, value: Value, schema: Value) -> Vec<String> {
        let extensions = BTreeSet::from(["Thing.extra".to_string()]);
        let mut validator = Validator {
            document,
            extensions: &extensions,
            seen: BTreeSet::new(),
        };
        let mut errors = Vec::new();
        validator.check(&value, &schema, "$", &mut errors);
        errors
    }

    #[test]
    fn the_validator_catches_what_it_should() {
        let document = json!({ "components": { "schemas": { "Thing": {
            "type": "object", "additionalProperties": false,
            "properties": {
                "id": { "type": "string", "format": "uuid" },
                "name": { "type": "string", "nullable": true },
                "n": { "type": "integer", "format": "int32" },
                "list": { "type": "array", "items": { "type": "boolean" } }
            }
        }}}});
        let thing = json!({ "$ref": "#/components/schemas/Thing" });
        let good = json!({ "id": "01a216ad-d4a4-75b6-bca4-fbad6241e0e1", "name": null, "n": 3,
            "list": [true], "extra": 1 });
        assert_eq!(errors(&document, good, thing.clone()), Vec::<String>::new());
        for bad in [
            json!({ "id": "nope" }),
            json!({ "n": null }),
            json!({ "n": 1.5 }),
            json!({ "n": 3_000_000_000_i64 }),
            json!({ "list": [1] }),
            json!({ "list": {} }),
            json!({ "surprise": true }),
            json!([]),
        ] {
            assert!(
                !errors(&document, bad.clone(), thing.clone()).is_empty(),
                "{bad}"
            );
        }
    }
}
