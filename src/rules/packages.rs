//! Packages: a flow (or a whole tenant) exported with every element it uses, and imported
//! back all or nothing. What a package may refer to, how ids are kept or remapped, and when
//! existing elements refuse an import are decided here; the wire format is `api::package_json`.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;
use sha1::{Digest as _, Sha1};
use uuid::Uuid;

use crate::domain::element::ElementKind;
use crate::domain::flow::FlowDraft;
use crate::domain::{FlowId, TenantId, UserId, VersionId};
use crate::rules::RuleError;
use crate::rules::images::{self, Image};
use crate::store::{
    ElementBatch, ElementRecord, FlowGraphWrite, FlowRecord, FlowUse, GraphMode, NewElement,
    NewFlowElement, Store, StoreError,
};

/// Why a package (or a revert) was not written.
#[derive(Debug, thiserror::Error)]
pub enum Refusal {
    #[error(transparent)]
    Rule(#[from] RuleError),
    /// `overwriteExisting` was false and these elements of the tenant differ from the
    /// package's (Boomi's 409 `PackageConflictResponse`).
    #[error("the tenant's elements differ from the package's")]
    Conflicting(Vec<ElementRecord>),
}

impl From<StoreError> for Refusal {
    fn from(error: StoreError) -> Self {
        Refusal::Rule(error.into())
    }
}

/// A flow as a package brings it.
#[derive(Debug, Clone)]
pub struct FlowPackage {
    pub id: FlowId,
    pub header: FlowDraft,
    pub start_map_element_id: Option<String>,
    pub flow_elements: Vec<NewFlowElement>,
    /// The tenant elements the package carries for it.
    pub elements: Vec<NewElement>,
    /// The elements imported into the flow explicitly (kept as uses even when unmentioned).
    pub imported: BTreeSet<Uuid>,
}

/// The version a flow package exports: `version`, the current one when it is the flow's
/// current version id; without one, the latest snapshot, else the current version.
pub async fn export_flow(
    store: &dyn Store,
    tenant: TenantId,
    flow: FlowId,
    version: Option<VersionId>,
) -> Result<(FlowRecord, Image), RuleError> {
    let current = store
        .flow(tenant, flow)
        .await?
        .ok_or_else(|| RuleError::Missing(format!("this tenant has no flow {flow}")))?;
    let version = match version {
        Some(version) if version == current.version_id => None,
        Some(version) => Some(version),
        None => store
            .snapshots(tenant, flow)
            .await?
            .first()
            .map(|snapshot| snapshot.version_id),
    };
    match version {
        Some(version) => images::read_snapshot(store, tenant, flow, version).await,
        None => images::read_current(store, tenant, flow).await,
    }
}

/// Every flow of the tenant at its current version, and every element of the tenant.
pub async fn export_tenant(
    store: &dyn Store,
    tenant: TenantId,
) -> Result<(Vec<(FlowRecord, Image)>, Vec<ElementRecord>), RuleError> {
    let mut flows = Vec::new();
    for flow in store.list_flows(tenant, None).await? {
        flows.push(images::read_current(store, tenant, flow.id).await?);
    }
    Ok((flows, store.elements(tenant, None).await?))
}

/// Imports flows and elements into the tenant in one batch: all or nothing. Refuses (422) a
/// flow element that refers to an element neither the package nor the tenant holds, and,
/// without `overwrite_existing`, any of the tenant's elements that differ from the package's
/// ([`Refusal::Conflicting`]). A flow keeps its id unless another tenant holds it: then it
/// gets [`remapped_id`] (every flow of the import the tenant does not hold is remapped).
pub async fn import(
    store: &dyn Store,
    tenant: TenantId,
    flows: Vec<FlowPackage>,
    extra_elements: Vec<NewElement>,
    overwrite_existing: bool,
    author: UserId,
) -> Result<Vec<FlowRecord>, Refusal> {
    let mut elements: BTreeMap<Uuid, NewElement> = BTreeMap::new();
    for element in flows
        .iter()
        .flat_map(|flow| flow.elements.iter())
        .chain(&extra_elements)
    {
        elements.insert(element.id, element.clone());
    }
    let elements: Vec<NewElement> = elements
        .into_values()
        .map(|element| NewElement { author, ..element })
        .collect();
    let carried: BTreeSet<Uuid> = elements.iter().map(|element| element.id).collect();
    refuse_missing(store, tenant, &flows, &elements, &carried).await?;
    if !overwrite_existing {
        conflicting(store, tenant, &elements).await?;
    }
    let mut writes = Vec::with_capacity(flows.len());
    for flow in &flows {
        let start = start_of(flow)?;
        // Flow ids are global on this server: a flow another tenant holds comes in under an
        // id derived from the target tenant's and its own, the same on every import.
        let id = if store.flow_held_elsewhere(tenant, flow.id).await? {
            FlowId(remapped_id(tenant, flow.id.0))
        } else {
            flow.id
        };
        writes.push(FlowGraphWrite {
            id,
            mode: GraphMode::Replace,
            header: Some(flow.header.clone()),
            start_map_element_id: Some(start.to_string()),
            elements: Some(flow.flow_elements.clone()),
            uses: Some(uses_of(store, tenant, flow, &carried).await?),
            author,
        });
    }
    let batch = ElementBatch {
        elements,
        overwrite_existing,
        flows: writes,
    };
    Ok(store.apply_batch(tenant, batch).await?)
}

/// The START map element of a packaged flow, checked as every graph write checks its graph:
/// the one `startMapElementId` names (or, without it, the flow's one START element), alone,
/// with every outcome and group reference inside the flow. Invalid (422) otherwise, naming the
/// flow and what is wrong.
fn start_of(flow: &FlowPackage) -> Result<Uuid, Refusal> {
    let named = flow
        .start_map_element_id
        .as_deref()
        .and_then(|id| Uuid::try_parse(id).ok());
    let found = flow.flow_elements.iter().find(|element| {
        element.kind == crate::domain::element::FlowElementKind::Map
            && element.document.get("elementType").and_then(|t| t.as_str()) == Some("START")
    });
    let start = named.or(found.map(|element| element.id)).ok_or_else(|| {
        RuleError::Invalid(format!(
            "the flow '{}' of the package has no START map element: every flow begins with one",
            flow.header.developer_name.as_str()
        ))
    })?;
    crate::rules::graph_edit::check(&flow.flow_elements, Some(start)).map_err(
        |error| match error {
            RuleError::Invalid(problems) => RuleError::Invalid(format!(
                "the flow '{}' of the package: {problems}",
                flow.header.developer_name.as_str()
            )),
            other => other,
        },
    )?;
    Ok(start)
}

/// The id a flow held by another tenant gets when imported: UUID v5 (SHA-1) with the target
/// tenant's id as namespace and the old id (hyphenated, lower case) as name.
pub fn remapped_id(tenant: TenantId, old: Uuid) -> Uuid {
    let mut hasher = Sha1::new();
    hasher.update(tenant.0.as_bytes());
    hasher.update(old.to_string().as_bytes());
    let digest = hasher.finalize();
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    uuid::Builder::from_sha1_bytes(bytes).into_uuid()
}

/// The uses to store: the elements the flow's elements mention that the package carries or
/// the tenant has, and those imported explicitly.
async fn uses_of(
    store: &dyn Store,
    tenant: TenantId,
    flow: &FlowPackage,
    carried: &BTreeSet<Uuid>,
) -> Result<Vec<FlowUse>, RuleError> {
    let mentioned =
        crate::rules::flow_graph::mentioned(flow.flow_elements.iter().map(|e| &e.document));
    let others: Vec<Uuid> = mentioned.difference(carried).copied().collect();
    let held: BTreeSet<Uuid> = store
        .elements_by_ids(tenant, &others)
        .await?
        .into_iter()
        .map(|element| element.id)
        .collect();
    let mut uses: BTreeMap<Uuid, bool> = mentioned
        .iter()
        .filter(|id| carried.contains(id) || held.contains(id))
        .map(|id| (*id, false))
        .collect();
    for id in &flow.imported {
        uses.insert(*id, true);
    }
    Ok(uses
        .into_iter()
        .map(|(element, imported)| FlowUse { element, imported })
        .collect())
}

/// 422 naming every element id a flow element or a carried element refers to (see
/// [`element_references`]) that is neither in the package nor in the tenant.
async fn refuse_missing(
    store: &dyn Store,
    tenant: TenantId,
    flows: &[FlowPackage],
    elements: &[NewElement],
    carried: &BTreeSet<Uuid>,
) -> Result<(), RuleError> {
    let mut unknown: BTreeMap<Uuid, String> = BTreeMap::new();
    for flow in flows {
        let own: BTreeSet<Uuid> = flow.flow_elements.iter().map(|e| e.id).collect();
        for element in &flow.flow_elements {
            for id in element_references(&element.document) {
                if !own.contains(&id) && !carried.contains(&id) {
                    unknown.entry(id).or_insert_with(|| {
                        format!("{} '{}'", element.kind.noun(), element.developer_name)
                    });
                }
            }
        }
    }
    for element in elements {
        for id in element_references(&element.document) {
            if !carried.contains(&id) {
                unknown.entry(id).or_insert_with(|| {
                    format!("{} '{}'", element.kind.noun(), element.name.as_str())
                });
            }
        }
    }
    drop_held(store, tenant, &mut unknown).await?;
    if unknown.is_empty() {
        return Ok(());
    }
    let named: Vec<String> = unknown
        .iter()
        .take(20)
        .map(|(id, by)| format!("{id} (mentioned by the {by})"))
        .collect();
    let more = unknown.len().saturating_sub(named.len());
    Err(RuleError::Invalid(format!(
        "the package refers to elements it does not hold and this tenant does not have: {}{}",
        named.join(", "),
        if more > 0 {
            format!(" and {more} more")
        } else {
            String::new()
        }
    )))
}

/// Removes from `unknown` the ids of elements the tenant holds, in one read (none when it is
/// empty): what is left is referred to but held nowhere.
pub(crate) async fn drop_held<T>(
    store: &dyn Store,
    tenant: TenantId,
    unknown: &mut BTreeMap<Uuid, T>,
) -> Result<(), RuleError> {
    if unknown.is_empty() {
        return Ok(());
    }
    let ids: Vec<Uuid> = unknown.keys().copied().collect();
    for held in store.elements_by_ids(tenant, &ids).await? {
        unknown.remove(&held.id);
    }
    Ok(())
}

/// The element ids a document refers to: UUID strings under a field whose name ends in
/// `ElementId` or holds `ElementTo` (`nextMapElementId`, `pageElementId`,
/// `valueElementToReferenceId`, …), or under `id` inside such a field's object. Other UUIDs
/// (an outcome's own id, a type property's id) are not element references.
pub fn element_references(document: &crate::store::JsonObject) -> BTreeSet<Uuid> {
    let mut found = BTreeSet::new();
    let refers = |key: &str| {
        let key = key.to_ascii_lowercase();
        key.ends_with("elementid") || key.contains("elementto")
    };
    // An explicit stack, not recursion: a deep document cannot overflow it.
    let mut pending: Vec<(&Value, bool)> = document.iter().map(|(k, v)| (v, refers(k))).collect();
    while let Some((value, referring)) = pending.pop() {
        match value {
            Value::String(text) if referring && text.len() == 36 => {
                if let Ok(id) = Uuid::try_parse(text) {
                    found.insert(id);
                }
            }
            Value::Array(items) => pending.extend(items.iter().map(|item| (item, referring))),
            Value::Object(fields) => pending.extend(
                fields
                    .iter()
                    .map(|(k, v)| (v, refers(k) || (referring && k == "id"))),
            ),
            _ => {}
        }
    }
    found
}

/// Refuses when any of these elements exists in the tenant (by id) with another kind, name or
/// document: the tenant's versions, for the 409.
pub async fn conflicting(
    store: &dyn Store,
    tenant: TenantId,
    elements: &[NewElement],
) -> Result<(), Refusal> {
    let by_id: BTreeMap<Uuid, &NewElement> = elements
        .iter()
        .map(|element| (element.id, element))
        .collect();
    let ids: Vec<Uuid> = by_id.keys().copied().collect();
    let existing = store.elements_by_ids(tenant, &ids).await?;
    let differing: Vec<ElementRecord> = existing
        .into_iter()
        .filter(|held| {
            by_id.get(&held.id).is_some_and(|element| {
                element.kind != held.kind
                    || element.name.as_str() != held.developer_name
                    || comparable(&element.document, element.kind, element.name.as_str())
                        != comparable(&held.document, held.kind, &held.developer_name)
            })
        })
        .collect();
    if differing.is_empty() {
        Ok(())
    } else {
        Err(Refusal::Conflicting(differing))
    }
}

/// A document as an answer shows it (its name, and its kind's `elementType` when it has
/// none): a package carries elements as answered, the store as sent, and only a difference
/// in what a client sees counts.
fn comparable(
    document: &crate::store::JsonObject,
    kind: ElementKind,
    name: &str,
) -> crate::store::JsonObject {
    let mut document = document.clone();
    document.insert("developerName".into(), Value::String(name.into()));
    if document.get("elementType").is_none_or(Value::is_null) {
        document.insert(
            "elementType".into(),
            Value::String(kind.default_element_type().into()),
        );
    }
    document
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn references_are_element_fields_only() {
        let (page, next, value, outcome) = (
            Uuid::new_v4(),
            Uuid::new_v4(),
            Uuid::new_v4(),
            Uuid::new_v4(),
        );
        let Value::Object(document) = json!({
            "pageElementId": page.to_string(),
            "outcomes": [{"id": outcome.to_string(), "nextMapElementId": next.to_string()}],
            "dataActions": [{"valueElementToApplyId": {"id": value.to_string()}}],
            "typeElementPropertyId": Uuid::new_v4().to_string(),
        }) else {
            unreachable!()
        };
        assert_eq!(
            element_references(&document),
            BTreeSet::from([page, next, value])
        );
    }

    #[test]
    fn remapping_is_uuid_v5_and_deterministic() {
        let tenant = TenantId(Uuid::new_v4());
        let old = Uuid::new_v4();
        let new = remapped_id(tenant, old);
        assert_eq!(new, remapped_id(tenant, old));
        assert_eq!(new.get_version_num(), 5);
        assert_ne!(new, remapped_id(TenantId(Uuid::new_v4()), old));
    }
}
