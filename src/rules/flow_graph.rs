//! What a flow's graph uses of its tenant's elements. A flow uses an element when one of its
//! own elements mentions the element's id, or when it was imported into the flow; a snapshot
//! or a package carries those and, transitively, every element they mention in turn (a page's
//! values, a value's type, a type's service).

use std::collections::{BTreeMap, BTreeSet};

use uuid::Uuid;

use crate::domain::TenantId;
use crate::domain::element::referenced_ids_of;
use crate::store::{ElementRecord, FlowUse, JsonObject, Store, StoreResult};

/// Every id the documents mention.
pub fn mentioned<'a>(documents: impl IntoIterator<Item = &'a JsonObject>) -> BTreeSet<Uuid> {
    documents.into_iter().flat_map(referenced_ids_of).collect()
}

/// The uses to store for a flow whose elements mention `mentioned`: the tenant's elements
/// among those ids, and every id in `imported` (which the store refuses, with a Conflict
/// naming it, when the tenant has no such element).
pub async fn uses_for(
    store: &dyn Store,
    tenant: TenantId,
    mentioned: &BTreeSet<Uuid>,
    imported: &BTreeSet<Uuid>,
) -> StoreResult<Vec<FlowUse>> {
    let ids: Vec<Uuid> = mentioned.iter().copied().collect();
    let mut uses: BTreeMap<Uuid, bool> = store
        .elements_by_ids(tenant, &ids)
        .await?
        .into_iter()
        .map(|element| (element.id, imported.contains(&element.id)))
        .collect();
    for id in imported {
        uses.insert(*id, true);
    }
    // In the order of their ids, as `FlowUse` sorts.
    Ok(uses
        .into_iter()
        .map(|(element, imported)| FlowUse { element, imported })
        .collect())
}

/// The tenant elements reachable from `start`: those elements, and every element their
/// documents mention, transitively. Ordered by kind, then name.
pub async fn reachable(
    store: &dyn Store,
    tenant: TenantId,
    start: BTreeSet<Uuid>,
) -> StoreResult<Vec<ElementRecord>> {
    let mut seen = start.clone();
    let mut pending: Vec<Uuid> = start.into_iter().collect();
    let mut found = Vec::new();
    // Each round reads the newly mentioned ids at once; a cycle ends because `seen` only grows.
    while !pending.is_empty() {
        let round = store.elements_by_ids(tenant, &pending).await?;
        pending = Vec::new();
        for element in round {
            for id in mentioned([&element.document]) {
                if seen.insert(id) {
                    pending.push(id);
                }
            }
            found.push(element);
        }
    }
    found.sort_by(|a, b| {
        (a.kind, a.developer_name.to_lowercase(), a.id).cmp(&(
            b.kind,
            b.developer_name.to_lowercase(),
            b.id,
        ))
    });
    Ok(found)
}
