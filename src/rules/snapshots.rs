//! Snapshots of whole flows: taking one freezes the flow and every element it reaches
//! ([`images`]); reading one ([`images::read_snapshot`]) serves that image, never the current
//! elements; reverting writes the image back as the flow's current version in one batch.
//!
//! A revert refuses differing tenant elements as a package import does, so this module
//! imports that check from `packages` (which, for its part, reads snapshots through
//! `images` and imports nothing from here).

use crate::domain::flow::FlowDraft;
use crate::domain::{FlowId, FlowName, TenantId, UserId, VersionId};
use crate::rules::RuleError;
use crate::rules::images;
use crate::rules::packages::{Refusal, conflicting};
use crate::store::{
    Edit, ElementBatch, FlowGraphWrite, FlowRecord, FrozenImage, GraphMode, Store, StoreError,
};

/// How many times a snapshot is read again when the flow changed while it was being read.
const SNAPSHOT_ATTEMPTS: usize = 5;

/// Freezes the flow's current version with its image. A write that lands between reading the
/// image and storing it moves the flow's version; the store refuses the stale image and the
/// image is read again (a few times, then the refusal is the answer, a conflict).
pub async fn take(
    store: &dyn Store,
    tenant: TenantId,
    flow: FlowId,
    comment: Option<&str>,
) -> Result<FlowRecord, RuleError> {
    let mut attempt = 0;
    loop {
        attempt += 1;
        let (record, image) = images::read_current(store, tenant, flow).await?;
        let frozen = FrozenImage {
            read_at: record.version_id,
            json: images::to_json(&image)?,
        };
        match store
            .snapshot_flow(tenant, flow, comment, Some(frozen))
            .await
        {
            Err(StoreError::Moved(_)) if attempt < SNAPSHOT_ATTEMPTS => continue,
            result => return Ok(result?),
        }
    }
}

/// What a revert asks for.
pub struct Revert<'a> {
    pub flow: FlowId,
    pub version: VersionId,
    pub author: UserId,
    /// Whether the snapshot's tenant elements replace the tenant's where they differ; if not,
    /// differing elements refuse the revert ([`Refusal::Conflicting`]).
    pub overwrite_existing: bool,
    /// When not blank, the current version is snapshotted first with this comment.
    pub automatic_snapshot_comment: Option<&'a str>,
}

/// Makes a snapshot the flow's current version: its header, elements and uses, and its tenant
/// elements, in one batch (all or nothing). A snapshot without an image (taken before keyflow
/// kept them) brings back its header only.
pub async fn revert(
    store: &dyn Store,
    tenant: TenantId,
    revert: Revert<'_>,
) -> Result<FlowRecord, Refusal> {
    let (snapshot, image) =
        images::read_snapshot(store, tenant, revert.flow, revert.version).await?;
    let has_image = store
        .snapshot_image(tenant, revert.flow, revert.version)
        .await
        .map_err(RuleError::from)?
        .is_some();
    let elements = images::new_elements(&image.elements, revert.author)?;
    if !revert.overwrite_existing {
        conflicting(store, tenant, &elements).await?;
    }
    if let Some(comment) = revert
        .automatic_snapshot_comment
        .filter(|text| !text.trim().is_empty())
    {
        take(store, tenant, revert.flow, Some(comment)).await?;
    }
    let header = draft_of(&snapshot)?;
    let write = FlowGraphWrite {
        id: revert.flow,
        mode: GraphMode::Update(Edit::default()),
        header: Some(header),
        start_map_element_id: snapshot.start_map_element_id.clone(),
        elements: has_image.then(|| images::new_flow_elements(&image.flow_elements)),
        uses: has_image.then(|| image.uses.clone()),
        author: revert.author,
    };
    let batch = ElementBatch {
        elements,
        overwrite_existing: revert.overwrite_existing,
        flows: vec![write],
    };
    let mut written = store
        .apply_batch(tenant, batch)
        .await
        .map_err(RuleError::from)?;
    written
        .pop()
        .ok_or_else(|| RuleError::Internal(anyhow::anyhow!("a reverted flow vanished")).into())
}

/// A version's header as a draft to write again.
pub fn draft_of(flow: &FlowRecord) -> Result<FlowDraft, RuleError> {
    Ok(FlowDraft {
        developer_name: FlowName::parse(&flow.developer_name)
            .map_err(|e| RuleError::Invalid(e.0))?,
        developer_summary: flow.developer_summary.clone(),
        settings: flow.settings.clone(),
    })
}
