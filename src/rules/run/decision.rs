//! A decision's outcomes: which one a run takes. Each outcome's `comparison` (`AND`/`OR` over
//! its `rules` and nested `comparisons`) is tested in the outcomes' `order`; the first that
//! holds is taken, and an outcome with no comparison is the default, taken when none holds.

use serde_json::Value;

use super::values::{Reference, ValueDefs, Values, bool_text, reference, text};
use crate::store::JsonObject;

/// Reads a reference for a comparison: its content (`None`: empty).
fn read(
    field: Option<&Value>,
    defs: &ValueDefs,
    values: &Values,
) -> Result<Option<String>, String> {
    match reference(field)? {
        None => Ok(None),
        Some(Reference::Constant(content)) => Ok(content),
        Some(Reference::Value { id, .. }) => {
            let def = defs
                .get(&id)
                .ok_or_else(|| format!("the decision refers to a value {id} the flow lacks"))?;
            if !def.is_simple() {
                return Err(format!(
                    "comparing the list or object value '{}' is not supported yet",
                    def.name
                ));
            }
            Ok(values.get(&def.id).map(str::to_string))
        }
    }
}

/// Whether a rule holds.
fn rule_holds(rule: &JsonObject, defs: &ValueDefs, values: &Values) -> Result<bool, String> {
    let left = read(rule.get("leftValueElementToReferenceId"), defs, values)?;
    let right = read(rule.get("rightValueElementToReferenceId"), defs, values)?;
    let criteria = text(rule, "criteriaType").unwrap_or_default();
    compare(&criteria, left.as_deref(), right.as_deref())
}

/// Compares two contents: as numbers when both read as numbers, else as text.
pub fn compare(criteria: &str, left: Option<&str>, right: Option<&str>) -> Result<bool, String> {
    let l = left.unwrap_or("");
    let r = right.unwrap_or("");
    let numbers = l
        .trim()
        .parse::<f64>()
        .ok()
        .zip(r.trim().parse::<f64>().ok());
    let order = || match numbers {
        Some((a, b)) => a.partial_cmp(&b),
        None => Some(l.cmp(r)),
    };
    use std::cmp::Ordering::*;
    Ok(match criteria.to_ascii_uppercase().as_str() {
        "EQUAL" => order() == Some(Equal) || truthy_equal(l, r),
        "NOT_EQUAL" => !(order() == Some(Equal) || truthy_equal(l, r)),
        "GREATER_THAN" => order() == Some(Greater),
        "GREATER_THAN_OR_EQUAL" => matches!(order(), Some(Greater | Equal)),
        "LESS_THAN" => order() == Some(Less),
        "LESS_THAN_OR_EQUAL" => matches!(order(), Some(Less | Equal)),
        "CONTAINS" => l.contains(r),
        "STARTS_WITH" => l.starts_with(r),
        "ENDS_WITH" => l.ends_with(r),
        // The right side says which: `True` (the default) is empty, `False` is not.
        "IS_EMPTY" => {
            let wants_empty = right.is_none_or(|r| !r.trim().eq_ignore_ascii_case("false"));
            l.is_empty() == wants_empty
        }
        other => return Err(format!("the criteria '{other}' is not supported")),
    })
}

/// Booleans compare ignoring case (`true` equals `True`).
fn truthy_equal(l: &str, r: &str) -> bool {
    let is_bool = |s: &str| {
        s.eq_ignore_ascii_case(bool_text(true)) || s.eq_ignore_ascii_case(bool_text(false))
    };
    is_bool(l) && is_bool(r) && l.eq_ignore_ascii_case(r)
}

/// Whether a comparison holds: every part (`AND`, the default) or any part (`OR`). A
/// comparison with no parts holds.
pub fn holds(comparison: &JsonObject, defs: &ValueDefs, values: &Values) -> Result<bool, String> {
    let any =
        text(comparison, "comparisonType").is_some_and(|kind| kind.eq_ignore_ascii_case("OR"));
    let mut results = Vec::new();
    for rule in objects(comparison.get("rules")) {
        results.push(rule_holds(rule, defs, values)?);
    }
    for nested in objects(comparison.get("comparisons")) {
        results.push(holds(nested, defs, values)?);
    }
    Ok(if results.is_empty() {
        true
    } else if any {
        results.into_iter().any(|r| r)
    } else {
        results.into_iter().all(|r| r)
    })
}

/// The objects of an array field, in order.
pub fn objects(field: Option<&Value>) -> impl Iterator<Item = &JsonObject> {
    field
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_object)
}

/// The outcomes of an element, sorted by `order` (stable: as written for equal orders).
pub fn sorted_outcomes(element: &JsonObject) -> Vec<&JsonObject> {
    let mut outcomes: Vec<&JsonObject> = objects(element.get("outcomes")).collect();
    outcomes.sort_by_key(|o| o.get("order").and_then(Value::as_i64).unwrap_or(0));
    outcomes
}

/// The outcome a decision takes: the first by order whose comparison holds, else the one
/// without a comparison; `None` when neither.
pub fn choose<'a>(
    element: &'a JsonObject,
    defs: &ValueDefs,
    values: &Values,
) -> Result<Option<&'a JsonObject>, String> {
    let outcomes = sorted_outcomes(element);
    let mut default = None;
    for outcome in &outcomes {
        match outcome.get("comparison").and_then(Value::as_object) {
            Some(comparison) => {
                if holds(comparison, defs, values)? {
                    return Ok(Some(outcome));
                }
            }
            None => {
                default.get_or_insert(*outcome);
            }
        }
    }
    Ok(default)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn criteria_compare_numbers_as_numbers_and_text_as_text() {
        assert!(compare("GREATER_THAN", Some("10"), Some("9")).unwrap());
        assert!(
            !compare("GREATER_THAN", Some("10"), Some("9x")).unwrap(),
            "text order"
        );
        assert!(compare("LESS_THAN_OR_EQUAL", Some("2.0"), Some("2")).unwrap());
        assert!(compare("EQUAL", Some("True"), Some("true")).unwrap());
        assert!(compare("NOT_EQUAL", Some("a"), Some("b")).unwrap());
        assert!(compare("CONTAINS", Some("keyflow"), Some("yfl")).unwrap());
        assert!(compare("STARTS_WITH", Some("keyflow"), Some("key")).unwrap());
        assert!(compare("ENDS_WITH", Some("keyflow"), Some("flow")).unwrap());
        assert!(compare("IS_EMPTY", None, Some("True")).unwrap());
        assert!(compare("IS_EMPTY", Some("x"), Some("False")).unwrap());
        assert!(!compare("IS_EMPTY", Some("x"), None).unwrap());
        assert!(compare("BETWEEN", None, None).is_err());
    }
}
