//! A flow's content frozen as one JSON document: its map, group and navigation elements, the
//! tenant elements it reaches, and which of those it uses. Snapshots store it
//! (`flow_snapshots.image`) and packages carry what it holds; the store never reads into it.
//!
//! The stored format is keyflow's own, versioned by `imageVersion` (1), with every record as
//! it was read: `{"imageVersion":1,"flowElements":[…],"elements":[…],"uses":[…]}`.
//!
//! The helpers `snapshots` and `packages` share live here, below both: reading an image (the
//! current one, a snapshot's) and turning its records back into writes. Neither of the two
//! then imports the other for them.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::domain::element::{ElementKind, ElementName, FlowElementKind, start_document};
use crate::domain::{FlowId, TenantId, Timestamp, UserId, VersionId};
use crate::rules::RuleError;
use crate::rules::flow_graph::{mentioned, reachable};
use crate::store::{
    ElementRecord, FlowElementRecord, FlowRecord, FlowUse, JsonObject, NewElement, NewFlowElement,
    Store, Who,
};

/// The image format this build writes and reads.
pub const IMAGE_VERSION: u32 = 1;

/// A flow's content: its own elements, every tenant element they reach, and its uses.
#[derive(Debug, Clone, Default)]
pub struct Image {
    pub flow_elements: Vec<FlowElementRecord>,
    pub elements: Vec<ElementRecord>,
    pub uses: Vec<FlowUse>,
}

/// Reads the flow's current content, and the editing token it was read at. Tenant elements
/// are shared, so the token only guards the flow's own elements and uses: the caller's write
/// (`snapshot_flow`) is refused when the flow changed after the token was read.
pub async fn read_current(
    store: &dyn Store,
    tenant: TenantId,
    flow: FlowId,
) -> Result<(FlowRecord, Image), RuleError> {
    let record = store
        .flow(tenant, flow)
        .await?
        .ok_or_else(|| RuleError::Missing(format!("this tenant has no flow {flow}")))?;
    let flow_elements = store.flow_elements(tenant, flow).await?;
    let uses = store.flow_uses(tenant, flow).await?;
    let mut start: BTreeSet<Uuid> = mentioned(flow_elements.iter().map(|e| &e.document));
    start.extend(uses.iter().map(|used| used.element));
    let elements = reachable(store, tenant, start).await?;
    Ok((
        record,
        Image {
            flow_elements,
            elements,
            uses,
        },
    ))
}

/// The image a snapshot taken before keyflow kept images stands for: its START element only.
pub fn start_only(snapshot: &FlowRecord) -> Image {
    let flow_elements = snapshot
        .start_map_element_id
        .as_deref()
        .and_then(|id| Uuid::try_parse(id).ok())
        .map(|id| FlowElementRecord {
            id,
            kind: FlowElementKind::Map,
            developer_name: "Start".into(),
            document: start_document(),
            date_created: snapshot.date_created,
            date_modified: snapshot.date_created,
            who_created: snapshot.who_created.clone(),
            who_modified: snapshot.who_created.clone(),
        })
        .into_iter()
        .collect();
    Image {
        flow_elements,
        ..Image::default()
    }
}

/// A snapshot's header and image; a snapshot from before images holds its START element only.
pub async fn read_snapshot(
    store: &dyn Store,
    tenant: TenantId,
    flow: FlowId,
    version: VersionId,
) -> Result<(FlowRecord, Image), RuleError> {
    let snapshot = store.snapshot(tenant, flow, version).await?;
    let image = match store.snapshot_image(tenant, flow, version).await? {
        Some(json) => from_json(&json)?,
        None => start_only(&snapshot),
    };
    Ok((snapshot, image))
}

/// Tenant elements as read, to write again by `author`.
pub fn new_elements(
    elements: &[ElementRecord],
    author: UserId,
) -> Result<Vec<NewElement>, RuleError> {
    elements
        .iter()
        .map(|element| {
            Ok(NewElement {
                id: element.id,
                kind: element.kind,
                name: ElementName::parse(&element.developer_name)
                    .map_err(|e| RuleError::Invalid(e.0))?,
                document: element.document.clone(),
                author,
            })
        })
        .collect()
}

/// Flow elements as read, to write again.
pub fn new_flow_elements(elements: &[FlowElementRecord]) -> Vec<NewFlowElement> {
    elements
        .iter()
        .map(|element| NewFlowElement {
            id: element.id,
            kind: element.kind,
            developer_name: element.developer_name.clone(),
            document: element.document.clone(),
        })
        .collect()
}

/// The image as stored.
pub fn to_json(image: &Image) -> Result<String, RuleError> {
    let stored = Stored {
        image_version: IMAGE_VERSION,
        flow_elements: image
            .flow_elements
            .iter()
            .map(StoredElement::flow)
            .collect(),
        elements: image.elements.iter().map(StoredElement::tenant).collect(),
        uses: image
            .uses
            .iter()
            .map(|used| StoredUse {
                id: used.element,
                imported: used.imported,
            })
            .collect(),
    };
    serde_json::to_string(&stored).map_err(|e| RuleError::Internal(e.into()))
}

/// A stored image read back; an unknown format is an internal fault (only keyflow writes it).
pub fn from_json(json: &str) -> Result<Image, RuleError> {
    let stored: Stored = serde_json::from_str(json)
        .map_err(|e| RuleError::Internal(anyhow::anyhow!("a stored image is unreadable: {e}")))?;
    if stored.image_version != IMAGE_VERSION {
        return Err(RuleError::Internal(anyhow::anyhow!(
            "a stored image has the unknown version {}",
            stored.image_version
        )));
    }
    let mut image = Image::default();
    for element in stored.flow_elements {
        image.flow_elements.push(element.into_flow()?);
    }
    for element in stored.elements {
        image.elements.push(element.into_tenant()?);
    }
    image.uses = stored
        .uses
        .into_iter()
        .map(|used| FlowUse {
            element: used.id,
            imported: used.imported,
        })
        .collect();
    Ok(image)
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Stored {
    image_version: u32,
    flow_elements: Vec<StoredElement>,
    elements: Vec<StoredElement>,
    uses: Vec<StoredUse>,
}

#[derive(Serialize, Deserialize)]
struct StoredUse {
    id: Uuid,
    imported: bool,
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct StoredWho {
    id: UserId,
    first_name: Option<String>,
    last_name: Option<String>,
    email: Option<String>,
}

impl From<&Who> for StoredWho {
    fn from(who: &Who) -> Self {
        Self {
            id: who.id,
            first_name: who.first_name.clone(),
            last_name: who.last_name.clone(),
            email: who.email.clone(),
        }
    }
}

impl From<StoredWho> for Who {
    fn from(who: StoredWho) -> Self {
        Who {
            id: who.id,
            first_name: who.first_name,
            last_name: who.last_name,
            email: who.email,
        }
    }
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct StoredElement {
    id: Uuid,
    kind: String,
    developer_name: String,
    document: JsonObject,
    date_created: String,
    date_modified: String,
    who_created: StoredWho,
    who_modified: StoredWho,
}

fn stored_date(text: &str) -> Result<Timestamp, RuleError> {
    Timestamp::parse(text)
        .map_err(|e| RuleError::Internal(anyhow::anyhow!("a stored image's date: {}", e.0)))
}

fn stored_kind<T>(parsed: Result<T, crate::domain::Invalid>) -> Result<T, RuleError> {
    parsed.map_err(|e| RuleError::Internal(anyhow::anyhow!("a stored image's kind: {}", e.0)))
}

impl StoredElement {
    fn flow(element: &FlowElementRecord) -> Self {
        Self {
            id: element.id,
            kind: element.kind.path().into(),
            developer_name: element.developer_name.clone(),
            document: element.document.clone(),
            date_created: element.date_created.to_rfc3339(),
            date_modified: element.date_modified.to_rfc3339(),
            who_created: (&element.who_created).into(),
            who_modified: (&element.who_modified).into(),
        }
    }

    fn tenant(element: &ElementRecord) -> Self {
        Self {
            id: element.id,
            kind: element.kind.path().into(),
            developer_name: element.developer_name.clone(),
            document: element.document.clone(),
            date_created: element.date_created.to_rfc3339(),
            date_modified: element.date_modified.to_rfc3339(),
            who_created: (&element.who_created).into(),
            who_modified: (&element.who_modified).into(),
        }
    }

    fn into_flow(self) -> Result<FlowElementRecord, RuleError> {
        Ok(FlowElementRecord {
            id: self.id,
            kind: stored_kind(FlowElementKind::parse(&self.kind))?,
            developer_name: self.developer_name,
            document: self.document,
            date_created: stored_date(&self.date_created)?,
            date_modified: stored_date(&self.date_modified)?,
            who_created: self.who_created.into(),
            who_modified: self.who_modified.into(),
        })
    }

    fn into_tenant(self) -> Result<ElementRecord, RuleError> {
        Ok(ElementRecord {
            id: self.id,
            kind: stored_kind(ElementKind::parse(&self.kind))?,
            developer_name: self.developer_name,
            document: self.document,
            date_created: stored_date(&self.date_created)?,
            date_modified: stored_date(&self.date_modified)?,
            who_created: self.who_created.into(),
            who_modified: self.who_modified.into(),
        })
    }
}
