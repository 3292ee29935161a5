//! Every element reference a write leaves behind names an element the tenant holds. Package
//! import refuses a reference to an element neither the package nor the tenant holds
//! ([`packages::element_references`] says which fields are references), so one such
//! reference written through any other path would make the tenant's own export impossible to
//! import back. The same references are checked here, at every write of a flow's graph and of
//! a tenant element, and refused there (422) naming the element, the field and the id.
//!
//! [`packages::element_references`]: crate::rules::packages::element_references

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;
use uuid::Uuid;

use crate::domain::TenantId;
use crate::rules::RuleError;
use crate::rules::packages::{drop_held, element_references};
use crate::store::{JsonObject, Store};

/// At most this many unknown references are named in one refusal; the rest are counted.
const NAMED: usize = 20;

/// A document being written and how a message calls its element ("the map element 'Step'").
pub struct Referrer<'a> {
    pub label: String,
    pub document: &'a JsonObject,
}

/// Invalid (422) when a reference in one of the documents names an element that is neither
/// in `known` (the write's own elements: a flow's map, group and navigation elements, or the
/// element being saved) nor the tenant's; each named with its element, field and id. Costs no
/// storage read when every reference is in `known`.
pub async fn refuse_unknown(
    store: &dyn Store,
    tenant: TenantId,
    known: &BTreeSet<Uuid>,
    referrers: impl IntoIterator<Item = Referrer<'_>>,
) -> Result<(), RuleError> {
    // Each unknown id, with the first place that names it.
    let mut unknown: BTreeMap<Uuid, (String, &JsonObject)> = BTreeMap::new();
    for referrer in referrers {
        for id in element_references(referrer.document) {
            if !known.contains(&id) {
                unknown
                    .entry(id)
                    .or_insert_with(|| (referrer.label.clone(), referrer.document));
            }
        }
    }
    drop_held(store, tenant, &mut unknown).await?;
    if unknown.is_empty() {
        return Ok(());
    }
    let named: Vec<String> = unknown
        .iter()
        .take(NAMED)
        .map(|(id, (label, document))| {
            format!(
                "{label} refers in {} to the element {id}, which this tenant does not have",
                field_of(document, *id)
            )
        })
        .collect();
    let more = unknown.len() - named.len();
    Err(RuleError::Invalid(format!(
        "{}{}: refer only to this tenant's elements (create the element first)",
        named.join("; "),
        if more > 0 {
            format!("; and {more} more")
        } else {
            String::new()
        }
    )))
}

/// Where in `document` the id is written, as a path (`outcomes[0].pageElementId`,
/// `dataActions[1].valueElementToApplyId.id`): the first such place whose path names an
/// element field, else the first place at all. (Only to name it: which strings are references
/// is [`element_references`]'s to say.)
fn field_of(document: &JsonObject, id: Uuid) -> String {
    let mut first = None;
    // An explicit stack, in document order: a deep document cannot overflow it.
    let mut pending: Vec<(&Value, String)> = document
        .iter()
        .rev()
        .map(|(key, value)| (value, key.clone()))
        .collect();
    while let Some((value, path)) = pending.pop() {
        match value {
            Value::String(text) if Uuid::try_parse(text).is_ok_and(|found| found == id) => {
                if path.to_ascii_lowercase().contains("element") {
                    return path;
                }
                first.get_or_insert(path);
            }
            Value::Array(items) => pending.extend(
                items
                    .iter()
                    .enumerate()
                    .rev()
                    .map(|(at, item)| (item, format!("{path}[{at}]"))),
            ),
            Value::Object(fields) => pending.extend(
                fields
                    .iter()
                    .rev()
                    .map(|(key, item)| (item, format!("{path}.{key}"))),
            ),
            _ => {}
        }
    }
    first.unwrap_or_else(|| "a field".into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn object(value: Value) -> JsonObject {
        let Value::Object(fields) = value else {
            unreachable!()
        };
        fields
    }

    #[test]
    fn the_field_is_named_by_its_path() {
        let (page, value, outcome) = (Uuid::new_v4(), Uuid::new_v4(), Uuid::new_v4());
        let document = object(json!({
            "id": outcome.to_string(),
            "outcomes": [{"id": outcome.to_string(), "pageElementId": page.to_string()}],
            "dataActions": [{}, {"valueElementToApplyId": {"id": value.to_string()}}],
        }));
        assert_eq!(field_of(&document, page), "outcomes[0].pageElementId");
        assert_eq!(
            field_of(&document, value),
            "dataActions[1].valueElementToApplyId.id"
        );
        assert_eq!(
            field_of(&document, outcome),
            "id",
            "no element field: the first place"
        );
        assert_eq!(field_of(&document, Uuid::new_v4()), "a field");
    }
}
