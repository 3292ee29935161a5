//! An operator's operations, in their `order`: set a value to another value or a constant
//! (`VALUE_OF`, or no command), add or subtract numbers (`ADD` of text concatenates, as
//! Boomi's help says), empty a value (`EMPTY`), or set a number to a text's length
//! (`LENGTH`). A list or an object is set from another list or object, or emptied. Macros and
//! the other list and object commands (`NEW`, `GET_FIRST`, `GET_NEXT`, …) are refused with a
//! fault naming them.

use serde_json::Value;

use super::decision::objects;
use super::values::{Content, Reference, ValueDef, ValueDefs, Values, reference, text};
use crate::store::JsonObject;

/// Applies every operation of the element to `values`, in order. On a fault `values` may be
/// partly changed: the caller keeps its own copy (the engine writes nothing of a faulted run).
pub fn apply(element: &JsonObject, defs: &ValueDefs, values: &mut Values) -> Result<(), String> {
    let mut operations: Vec<&JsonObject> = objects(element.get("operations"))
        .filter(|o| o.get("disabled").and_then(Value::as_bool) != Some(true))
        .collect();
    operations.sort_by_key(|o| o.get("order").and_then(Value::as_i64).unwrap_or(0));
    for operation in operations {
        apply_one(operation, defs, values)?;
    }
    Ok(())
}

fn apply_one(operation: &JsonObject, defs: &ValueDefs, values: &mut Values) -> Result<(), String> {
    if text(operation, "macroElementToExecuteId").is_some() {
        return Err("keyflow does not run macros".into());
    }
    let Some(Reference::Value {
        id: target,
        command: apply_command,
    }) = reference(operation.get("valueElementToApplyId"))?
    else {
        return Err("an operation names no value to apply to".into());
    };
    let target = defs
        .get(&target)
        .ok_or_else(|| format!("the operation applies to a value {target} the flow lacks"))?;
    if !target.is_simple() {
        return apply_to_objects(operation, target, apply_command, defs, values);
    }
    let source = reference(operation.get("valueElementToReferenceId"))?;
    // The command is the apply side's (`valueElementToApplyId.command`), else the reference's.
    let (source, reference_command) = match source {
        None => (None, None),
        Some(Reference::Constant(content)) => (content, None),
        Some(Reference::Value { id, command }) => {
            let def = defs
                .get(&id)
                .ok_or_else(|| format!("the operation refers to a value {id} the flow lacks"))?;
            if !def.is_simple() {
                return Err(format!(
                    "reading the list or object value '{}' is not supported yet",
                    def.name
                ));
            }
            (values.get(&def.id).map(str::to_string), command)
        }
    };
    let command = apply_command
        .or(reference_command)
        .or_else(|| text(operation, "valueElementToApplyCommand"))
        .or_else(|| text(operation, "valueElementToReferenceCommand"))
        .unwrap_or_else(|| "VALUE_OF".into())
        .to_ascii_uppercase();
    let current = values.get(&target.id).map(str::to_string);
    let numeric = target.content_type.eq_ignore_ascii_case("ContentNumber");
    let result = match command.as_str() {
        "VALUE_OF" | "SET" | "SET_EQUAL" => source,
        "EMPTY" => None,
        "ADD" if numeric => Some(arithmetic(&current, &source, |a, b| a + b)?),
        "SUBTRACT" if numeric => Some(arithmetic(&current, &source, |a, b| a - b)?),
        "ADD" | "CONCATENATE" => Some(format!(
            "{}{}",
            current.unwrap_or_default(),
            source.unwrap_or_default()
        )),
        "LENGTH" | "GET_LENGTH" => Some(source.unwrap_or_default().chars().count().to_string()),
        other => {
            return Err(format!(
                "the operation command '{other}' is not supported yet"
            ));
        }
    };
    values.set(&target.id, result);
    Ok(())
}

/// An operation on a list or an object: set it to another list's or object's data, or empty
/// it. The other list commands are refused with a fault naming them.
fn apply_to_objects(
    operation: &JsonObject,
    target: &ValueDef,
    apply_command: Option<String>,
    defs: &ValueDefs,
    values: &mut Values,
) -> Result<(), String> {
    let source = reference(operation.get("valueElementToReferenceId"))?;
    let command = apply_command
        .or_else(|| match &source {
            Some(Reference::Value { command, .. }) => command.clone(),
            _ => None,
        })
        .unwrap_or_else(|| "VALUE_OF".into())
        .to_ascii_uppercase();
    let content = match command.as_str() {
        "EMPTY" => Content::Objects(Vec::new()),
        "VALUE_OF" | "SET" | "SET_EQUAL" => match source {
            None => Content::Objects(Vec::new()),
            Some(Reference::Value { id, .. }) => {
                let def = defs.get(&id).ok_or_else(|| {
                    format!("the operation refers to a value {id} the flow lacks")
                })?;
                if def.is_simple() {
                    return Err(format!(
                        "the {} value '{}' cannot be set from the {} value '{}'",
                        target.content_type, target.name, def.content_type, def.name
                    ));
                }
                Content::Objects(values.objects(&def.id).unwrap_or_default().to_vec())
            }
            Some(Reference::Constant(_)) => {
                return Err(format!(
                    "the list or object value '{}' cannot be set to a constant",
                    target.name
                ));
            }
        },
        other => {
            return Err(format!(
                "the operation command '{other}' on the list or object value '{}' is not \
                 supported yet",
                target.name
            ));
        }
    };
    values.set_content(&target.id, content);
    Ok(())
}

/// Numbers combined; an empty one is 0, anything else that is not a number is refused.
fn arithmetic(
    current: &Option<String>,
    source: &Option<String>,
    op: impl Fn(f64, f64) -> f64,
) -> Result<String, String> {
    let number = |s: &Option<String>| -> Result<f64, String> {
        match s.as_deref().map(str::trim) {
            None | Some("") => Ok(0.0),
            Some(text) => text
                .parse::<f64>()
                .map_err(|_| format!("'{}' is not a number", crate::domain::shorten(text))),
        }
    };
    let result = op(number(current)?, number(source)?);
    // Whole numbers are written without a fraction, as they were entered.
    Ok(if result.fract() == 0.0 && result.abs() < 1e15 {
        format!("{}", result as i64)
    } else {
        result.to_string()
    })
}
