//! Editing a flow's graph: what a write of its map, group and navigation elements must keep
//! true, and the one write that stores the result. Every edit ([`edit`]) reads the graph,
//! changes the list of elements in memory, checks the whole resulting graph ([`check`]),
//! recomputes the tenant elements it uses, and writes it back in one `write_flow` that expects
//! the version it read — so two edits racing cannot both win: the later one is computed again
//! from what the earlier one wrote.
//!
//! The editing token is the client's side of it ([`Via`]): an element write or an import keeps
//! it, so a builder can go on writing with the token it read once; a save of the flow or its
//! graph renews it. Two editors holding one token are told apart per element: the store
//! refuses a write to an element another user changed under the same token.
//!
//! The rules: an outcome points at a map element of the flow; a `groupElementId` names a group
//! element of the flow; every other element reference (`pageElementId`,
//! `valueElementToReferenceId.id`, …) names an element of the flow or of its tenant
//! ([`crate::rules::references`]); the flow has exactly one START map element, the one its
//! `startMapElementId` names, which cannot be deleted nor change its `elementType`.

use std::collections::BTreeSet;

use serde_json::Value;
use uuid::Uuid;

use crate::domain::element::{ElementKind, ElementName, FlowElementKind};
use crate::domain::flow::FlowDraft;
use crate::domain::{FlowId, TenantId, UserId, VersionId, new_id};
use crate::rules::RuleError;
use crate::rules::flow_graph::{mentioned, uses_for};
use crate::rules::references::{self, Referrer};
use crate::store::{
    Edit, FlowElementRecord, FlowGraphWrite, FlowRecord, FlowUse, GraphMode, JsonObject,
    NewFlowElement, Store, StoreError,
};

/// The `elementType` of the map element every flow begins with.
pub const START: &str = "START";

/// The fields of an element Boomi's `POST /api/draw/1/graph/flow` may change in an element
/// that already exists; every other field keeps its stored value.
pub const LAYOUT_FIELDS: [&str; 6] = [
    "developerName",
    "developerSummary",
    "x",
    "y",
    "height",
    "width",
];

/// Who edits which flow.
#[derive(Debug, Clone, Copy)]
pub struct Editor {
    pub tenant: TenantId,
    pub flow: FlowId,
    pub author: UserId,
}

/// A flow as read before an edit: its header and every element.
#[derive(Debug, Clone)]
pub struct Graph {
    pub flow: FlowRecord,
    pub elements: Vec<FlowElementRecord>,
}

impl Graph {
    /// The flow's START map element's id, as its header names it.
    pub fn start(&self) -> Option<Uuid> {
        self.flow
            .start_map_element_id
            .as_deref()
            .and_then(|id| Uuid::try_parse(id).ok())
    }

    /// The elements as they would be written back unchanged.
    pub fn current(&self) -> Vec<NewFlowElement> {
        self.elements.iter().map(unchanged).collect()
    }

    pub fn of_kind(&self, kind: FlowElementKind) -> impl Iterator<Item = &FlowElementRecord> {
        self.elements.iter().filter(move |e| e.kind == kind)
    }

    pub fn find(&self, kind: FlowElementKind, id: Uuid) -> Option<&FlowElementRecord> {
        self.of_kind(kind).find(|e| e.id == id)
    }
}

fn unchanged(element: &FlowElementRecord) -> NewFlowElement {
    NewFlowElement {
        id: element.id,
        kind: element.kind,
        developer_name: element.developer_name.clone(),
        document: element.document.clone(),
    }
}

/// Reads the flow and its elements; Missing when the tenant has no such flow.
pub async fn load(store: &dyn Store, tenant: TenantId, flow: FlowId) -> Result<Graph, RuleError> {
    let record = store
        .flow(tenant, flow)
        .await?
        .ok_or_else(|| RuleError::Missing(format!("this tenant has no flow {flow}")))?;
    let elements = store.flow_elements(tenant, flow).await?;
    Ok(Graph {
        flow: record,
        elements,
    })
}

/// Conflict unless `token` (when given) is the flow's current editing token.
pub fn check_token(graph: &Graph, token: Option<Uuid>) -> Result<(), RuleError> {
    match token {
        Some(token) if token != graph.flow.editing_token => Err(RuleError::Conflict(format!(
            "the flow {} has changed since this editing token was issued: load the flow again \
             for its current editingToken",
            graph.flow.id
        ))),
        _ => Ok(()),
    }
}

/// The name an element is stored under: its `developerName`, trimmed (empty when absent:
/// Boomi's map elements need none); Invalid when it is not a valid name.
pub fn name_of(document: &JsonObject) -> Result<String, RuleError> {
    match document.get("developerName") {
        Some(Value::String(text)) if !text.trim().is_empty() => ElementName::parse(text)
            .map(|name| name.as_str().to_owned())
            .map_err(|error| RuleError::Invalid(error.0)),
        _ => Ok(String::new()),
    }
}

fn element_type(document: &JsonObject) -> Option<&str> {
    document.get("elementType").and_then(Value::as_str)
}

fn uuid_at(value: Option<&Value>) -> Option<Uuid> {
    value
        .and_then(Value::as_str)
        .and_then(|text| Uuid::try_parse(text.trim()).ok())
}

fn label(element: &NewFlowElement) -> String {
    if element.developer_name.is_empty() {
        format!("the {} {}", element.kind.noun(), element.id)
    } else {
        format!(
            "the {} '{}' ({})",
            element.kind.noun(),
            element.developer_name,
            element.id
        )
    }
}

/// Checks the whole graph a write would leave: Invalid, naming every broken reference, when an
/// outcome points at no map element of the flow, a `groupElementId` at no group element, or
/// the START map element (`start`) is missing, not START, or not alone.
pub fn check(elements: &[NewFlowElement], start: Option<Uuid>) -> Result<(), RuleError> {
    let ids = |kind: FlowElementKind| -> BTreeSet<Uuid> {
        elements
            .iter()
            .filter(|e| e.kind == kind)
            .map(|e| e.id)
            .collect()
    };
    let (maps, groups) = (ids(FlowElementKind::Map), ids(FlowElementKind::Group));
    let mut problems = Vec::new();
    for element in elements {
        if element.kind != FlowElementKind::Navigation
            && let Some(group) = uuid_at(element.document.get("groupElementId"))
            && !groups.contains(&group)
        {
            problems.push(format!(
                "{} is in the group element {group}, which this flow does not have",
                label(element)
            ));
        }
        if element.kind != FlowElementKind::Map {
            continue;
        }
        let outcomes = element.document.get("outcomes").and_then(Value::as_array);
        for outcome in outcomes.into_iter().flatten() {
            let Some(next) = uuid_at(outcome.get("nextMapElementId")) else {
                continue;
            };
            if !maps.contains(&next) {
                let name = outcome
                    .get("developerName")
                    .and_then(Value::as_str)
                    .filter(|name| !name.is_empty())
                    .map(|name| format!("the outcome '{name}'"))
                    .unwrap_or_else(|| "an outcome".into());
                problems.push(format!(
                    "{name} of {} points at the map element {next}, which this flow does not have",
                    label(element)
                ));
            }
        }
    }
    let starts: Vec<&NewFlowElement> = elements
        .iter()
        .filter(|e| e.kind == FlowElementKind::Map && element_type(&e.document) == Some(START))
        .collect();
    if let Some(start) = start
        && !starts.iter().any(|e| e.id == start)
    {
        problems.push(format!(
            "the START map element {start} must stay, with elementType START: every flow begins \
             with it"
        ));
    }
    if starts.len() > 1 {
        let names: Vec<String> = starts.iter().map(|e| label(e)).collect();
        problems.push(format!(
            "a flow has one START map element, not {}: {}",
            starts.len(),
            names.join(", ")
        ));
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(RuleError::Invalid(problems.join("; ")))
    }
}

/// Invalid unless every element reference of the graph names one of its own elements or one
/// of the tenant's: what package import will ask of the tenant's export.
async fn refuse_unknown_references(
    store: &dyn Store,
    tenant: TenantId,
    elements: &[NewFlowElement],
) -> Result<(), RuleError> {
    let own: BTreeSet<Uuid> = elements.iter().map(|e| e.id).collect();
    let referrers = elements.iter().map(|element| Referrer {
        label: label(element),
        document: &element.document,
    });
    references::refuse_unknown(store, tenant, &own, referrers).await
}

/// What a graph write also changes besides the elements.
#[derive(Debug, Default)]
pub struct Changes {
    /// The new header; `None` keeps the flow's.
    pub header: Option<FlowDraft>,
    /// A new START map element id (a graph whose START element was replaced).
    pub start: Option<Uuid>,
}

/// How a graph write treats the flow's editing token (Boomi's builders, as they behave: they
/// take the token once and keep using it for their element writes and imports, so those keep
/// it; a save of the flow or of its graph gives the flow a new one).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Via {
    /// An element written or deleted through `…/{editingToken}/element/…`: the token must be
    /// current, is kept, and refuses a change to an element another user changed under it.
    Element(Uuid),
    /// The flow or its graph saved: the token, when the request has one, is checked as for
    /// an element; the flow gets a new one.
    Flow(Option<Uuid>),
    /// A tenant element imported into the flow, or the import removed: the request has no
    /// token and the flow keeps its own.
    Import,
}

impl Via {
    fn sent(self) -> Option<Uuid> {
        match self {
            Via::Element(token) => Some(token),
            Via::Flow(token) => token,
            Via::Import => None,
        }
    }

    /// What the store is told: the version the write was computed from, the token sent, and
    /// whether the flow keeps its token.
    fn edit(self, read_at: VersionId) -> Edit {
        Edit {
            read_at: Some(read_at),
            token: self.sent(),
            keep_token: !matches!(self, Via::Flow(_)),
        }
    }
}

/// How many times an edit is computed again when another write lands between its read and
/// its write, before that conflict is the answer.
const ATTEMPTS: usize = 5;

/// What an edit writes: the flow's elements (`None` keeps them), its imports, what else
/// changes, and what the caller wants back.
type Planned<T> = (Option<Vec<NewFlowElement>>, BTreeSet<Uuid>, Changes, T);

/// Reads the flow, checks the token `via` sent, computes the write with `plan` from the graph
/// read, checks the resulting graph ([`check`]) and writes it with the uses recomputed (those
/// its elements mention, and the imports kept). The store refuses the write when the flow
/// moved since the read (another write landed in between: its change would be lost), and the
/// edit is then read and computed again. Returns the flow as written and `plan`'s answer.
pub async fn edit<T>(
    store: &dyn Store,
    editor: Editor,
    via: Via,
    mut plan: impl FnMut(&Graph) -> Result<(Vec<NewFlowElement>, Changes, T), RuleError>,
) -> Result<(FlowRecord, T), RuleError> {
    run(store, editor, via, |graph, imported| {
        let (elements, changes, answer) = plan(graph)?;
        Ok((Some(elements), imported, changes, answer))
    })
    .await
}

/// [`edit`] with the imports given to `plan` and taken back from it.
async fn run<T>(
    store: &dyn Store,
    editor: Editor,
    via: Via,
    mut plan: impl FnMut(&Graph, BTreeSet<Uuid>) -> Result<Planned<T>, RuleError>,
) -> Result<(FlowRecord, T), RuleError> {
    let mut attempt = 0;
    loop {
        attempt += 1;
        let graph = load(store, editor.tenant, editor.flow).await?;
        check_token(&graph, via.sent())?;
        let imported = imported_of(store, editor).await?;
        let (elements, imported, changes, answer) = plan(&graph, imported)?;
        if let Some(elements) = &elements {
            check(elements, changes.start.or_else(|| graph.start()))?;
            refuse_unknown_references(store, editor.tenant, elements).await?;
        }
        let documents = match &elements {
            Some(elements) => mentioned(elements.iter().map(|e| &e.document)),
            None => mentioned(graph.elements.iter().map(|e| &e.document)),
        };
        let uses = uses_for(store, editor.tenant, &documents, &imported).await?;
        let write = FlowGraphWrite {
            id: editor.flow,
            mode: GraphMode::Update(via.edit(graph.flow.version_id)),
            header: changes.header,
            start_map_element_id: changes.start.map(|id| id.to_string()),
            elements,
            uses: Some(uses),
            author: editor.author,
        };
        match store.write_flow(editor.tenant, write).await {
            Ok(written) => return Ok((written, answer)),
            Err(StoreError::Moved(_)) if attempt < ATTEMPTS => continue,
            Err(error) => return Err(error.into()),
        }
    }
}

/// Where a create-or-update of one element goes.
#[derive(Debug, Clone, Copy)]
pub enum Target {
    /// The element with this id (created with it when the flow has none).
    Id(Uuid),
    /// The element of the kind with the request's `developerName`, ignoring case (created
    /// when there is none): `updateByName`.
    ByName,
    /// A new element with a new id.
    New,
}

/// `elements` (the graph, maybe already changed) with one element created or replaced by
/// `document`; returns its id too.
/// Conflict when the id is another kind's element of the flow; Invalid when the START element
/// would change its `elementType`.
pub fn upsert(
    graph: &Graph,
    mut elements: Vec<NewFlowElement>,
    kind: FlowElementKind,
    target: Target,
    mut document: JsonObject,
) -> Result<(Vec<NewFlowElement>, Uuid), RuleError> {
    let developer_name = name_of(&document)?;
    let existing = match target {
        Target::Id(id) => {
            if let Some(other) = elements.iter().find(|e| e.id == id && e.kind != kind) {
                return Err(RuleError::Conflict(format!(
                    "{id} is a {} of this flow, not a {}",
                    other.kind.noun(),
                    kind.noun()
                )));
            }
            Some(id)
        }
        Target::ByName if !developer_name.is_empty() => {
            let folded = developer_name.to_lowercase();
            elements
                .iter()
                .find(|e| e.kind == kind && e.developer_name.to_lowercase() == folded)
                .map(|e| e.id)
        }
        Target::ByName | Target::New => None,
    };
    let id = existing.unwrap_or_else(new_id);
    if kind == FlowElementKind::Map && graph.start() == Some(id) {
        match document.get("elementType") {
            None | Some(Value::Null) => {
                document.insert("elementType".into(), START.into());
            }
            Some(Value::String(text)) if text == START => {}
            Some(_) => {
                return Err(RuleError::Invalid(format!(
                    "the START map element {id} keeps elementType START: every flow begins with it"
                )));
            }
        }
    }
    let element = NewFlowElement {
        id,
        kind,
        developer_name,
        document,
    };
    match elements.iter_mut().find(|e| e.id == id) {
        Some(slot) => *slot = element,
        None => elements.push(element),
    }
    Ok((elements, id))
}

/// The graph without the listed elements of `kind`. Missing naming an id the flow has no
/// such element of; Conflict for the START map element.
pub fn without(
    graph: &Graph,
    kind: FlowElementKind,
    ids: &BTreeSet<Uuid>,
    mut elements: Vec<NewFlowElement>,
) -> Result<Vec<NewFlowElement>, RuleError> {
    for id in ids {
        if graph.find(kind, *id).is_none() {
            return Err(RuleError::Missing(format!(
                "the flow {} has no {} {id}",
                graph.flow.id,
                kind.noun()
            )));
        }
        if kind == FlowElementKind::Map && graph.start() == Some(*id) {
            return Err(RuleError::Conflict(format!(
                "the START map element {id} cannot be deleted: every flow begins with it"
            )));
        }
    }
    elements.retain(|e| !(e.kind == kind && ids.contains(&e.id)));
    Ok(elements)
}

/// An element of a request that replaces a kind's elements: its id (None mints one) and its
/// document.
pub type Requested = (Option<Uuid>, JsonObject);

/// The graph with the elements of `kind` replaced by `requested`. With `layout_only`, an
/// element the flow already has takes only [`LAYOUT_FIELDS`] from the request (Boomi's graph
/// write); otherwise the request's document whole. The START map element, left out, is kept.
pub fn replace_kind(
    graph: &Graph,
    kind: FlowElementKind,
    requested: Vec<Requested>,
    layout_only: bool,
    mut elements: Vec<NewFlowElement>,
) -> Result<Vec<NewFlowElement>, RuleError> {
    let start = graph.start();
    elements.retain(|e| e.kind != kind || (kind == FlowElementKind::Map && Some(e.id) == start));
    for (id, document) in requested {
        let id = id.unwrap_or_else(new_id);
        let document = match graph.find(kind, id) {
            Some(stored) if layout_only => {
                let mut merged = stored.document.clone();
                for field in LAYOUT_FIELDS {
                    if let Some(value) = document.get(field) {
                        merged.insert(field.into(), value.clone());
                    }
                }
                merged
            }
            _ => document,
        };
        let element = NewFlowElement {
            id,
            kind,
            developer_name: name_of(&document)?,
            document,
        };
        match elements.iter_mut().find(|e| e.id == id) {
            // The kept START element, sent again: the request's version replaces it.
            Some(slot) if slot.kind == kind => *slot = element,
            Some(_) => {
                return Err(RuleError::Conflict(format!(
                    "the request holds the id {id} twice"
                )));
            }
            None => elements.push(element),
        }
    }
    Ok(elements)
}

/// The elements of a new flow's request, of one kind (ids minted where absent).
pub fn new_elements(
    kind: FlowElementKind,
    requested: Vec<Requested>,
) -> Result<Vec<NewFlowElement>, RuleError> {
    requested
        .into_iter()
        .map(|(id, document)| {
            Ok(NewFlowElement {
                id: id.unwrap_or_else(new_id),
                kind,
                developer_name: name_of(&document)?,
                document,
            })
        })
        .collect()
}

/// A map element of `PUT /api/draw/2/graph/flow`: what it may change.
#[derive(Debug, Clone, Default)]
pub struct Layout {
    pub id: Uuid,
    /// Each present field replaces the stored one (`x`, `y`, `width`, `height`,
    /// `developerName`, `groupElementId`).
    pub fields: JsonObject,
    /// When given, the element's outcomes become these, each keeping the stored outcome's
    /// other fields (label, comparison, …) when their ids match.
    pub outcomes: Option<Vec<JsonObject>>,
}

/// The graph with the layouts applied to elements of `kind`; Invalid naming an id the flow
/// has no such element of.
pub fn apply_layouts(
    graph: &Graph,
    kind: FlowElementKind,
    layouts: Vec<Layout>,
    mut elements: Vec<NewFlowElement>,
) -> Result<Vec<NewFlowElement>, RuleError> {
    for layout in layouts {
        let Some(slot) = elements
            .iter_mut()
            .find(|e| e.kind == kind && e.id == layout.id)
        else {
            return Err(RuleError::Invalid(format!(
                "the flow {} has no {} {}",
                graph.flow.id,
                kind.noun(),
                layout.id
            )));
        };
        for (field, value) in layout.fields {
            slot.document.insert(field, value);
        }
        if let Some(outcomes) = layout.outcomes {
            let stored: Vec<JsonObject> = slot
                .document
                .get("outcomes")
                .and_then(Value::as_array)
                .map(|items| {
                    items
                        .iter()
                        .filter_map(|item| item.as_object().cloned())
                        .collect()
                })
                .unwrap_or_default();
            let merged: Vec<Value> = outcomes
                .into_iter()
                .map(|outcome| {
                    let id = outcome.get("id").cloned();
                    let mut base = stored
                        .iter()
                        .find(|old| id.is_some() && old.get("id") == id.as_ref())
                        .cloned()
                        .unwrap_or_default();
                    base.extend(outcome);
                    Value::Object(base)
                })
                .collect();
            slot.document
                .insert("outcomes".into(), Value::Array(merged));
        }
        slot.developer_name = name_of(&slot.document)?;
    }
    Ok(elements)
}

/// Imports the tenant's element into the flow (a use kept even when no element of the flow
/// mentions it). Missing when the tenant has no such element of that kind. The flow keeps its
/// editing token.
pub async fn import(
    store: &dyn Store,
    editor: Editor,
    kind: ElementKind,
    element: Uuid,
) -> Result<FlowRecord, RuleError> {
    match store.element(editor.tenant, element).await? {
        Some(found) if found.kind == kind => {}
        _ => {
            return Err(RuleError::Missing(format!(
                "this tenant has no {} {element}",
                kind.noun()
            )));
        }
    }
    let (written, ()) = run(store, editor, Via::Import, |_, mut imported| {
        imported.insert(element);
        Ok((None, imported, Changes::default(), ()))
    })
    .await?;
    Ok(written)
}

/// Removes an import. The element stays used while an element of the flow mentions it.
/// Missing when it was not imported. The flow keeps its editing token.
pub async fn remove_import(
    store: &dyn Store,
    editor: Editor,
    kind: ElementKind,
    element: Uuid,
) -> Result<FlowRecord, RuleError> {
    let (written, ()) = run(store, editor, Via::Import, |_, mut imported| {
        if !imported.remove(&element) {
            return Err(RuleError::Missing(format!(
                "the {} {element} was not imported into the flow {}",
                kind.noun(),
                editor.flow
            )));
        }
        Ok((None, imported, Changes::default(), ()))
    })
    .await?;
    Ok(written)
}

async fn imported_of(store: &dyn Store, editor: Editor) -> Result<BTreeSet<Uuid>, RuleError> {
    Ok(store
        .flow_uses(editor.tenant, editor.flow)
        .await?
        .into_iter()
        .filter(|used: &FlowUse| used.imported)
        .map(|used| used.element)
        .collect())
}

/// The elements of a new flow, or of a flow's whole graph replaced (a flow posted with
/// element arrays): `start` is the START element to keep when the request has none (a new
/// one is made when it is `None`). Returns the elements and the START element's id.
pub fn with_start(
    mut elements: Vec<NewFlowElement>,
    keep: Option<NewFlowElement>,
) -> (Vec<NewFlowElement>, Uuid) {
    if let Some(found) = elements
        .iter()
        .find(|e| e.kind == FlowElementKind::Map && element_type(&e.document) == Some(START))
    {
        return (elements.clone(), found.id);
    }
    let start = keep.unwrap_or_else(|| {
        let mut document = JsonObject::new();
        document.insert("elementType".into(), START.into());
        document.insert("developerName".into(), "Start".into());
        document.insert("x".into(), 100.into());
        document.insert("y".into(), 100.into());
        NewFlowElement {
            id: new_id(),
            kind: FlowElementKind::Map,
            developer_name: "Start".into(),
            document,
        }
    });
    let id = start.id;
    elements.insert(0, start);
    (elements, id)
}

/// Writes a new flow with its elements (the flow POST with element arrays): checked as
/// [`commit`] checks, with the uses its elements mention.
pub async fn create_with_elements(
    store: &dyn Store,
    tenant: TenantId,
    author: UserId,
    draft: FlowDraft,
    elements: Vec<NewFlowElement>,
) -> Result<FlowRecord, RuleError> {
    let (elements, start) = with_start(elements, None);
    check(&elements, Some(start))?;
    refuse_unknown_references(store, tenant, &elements).await?;
    let documents = mentioned(elements.iter().map(|e| &e.document));
    let uses = uses_for(store, tenant, &documents, &BTreeSet::new()).await?;
    Ok(store
        .write_flow(
            tenant,
            FlowGraphWrite {
                id: FlowId::generate(),
                mode: GraphMode::Create,
                header: Some(draft),
                start_map_element_id: Some(start.to_string()),
                elements: Some(elements),
                uses: Some(uses),
                author,
            },
        )
        .await?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn map(id: Uuid, document: Value) -> NewFlowElement {
        let Value::Object(document) = document else {
            unreachable!()
        };
        NewFlowElement {
            id,
            kind: FlowElementKind::Map,
            developer_name: name_of(&document).unwrap(),
            document,
        }
    }

    #[test]
    fn an_outcome_to_a_missing_element_is_named() {
        let (start, step, gone) = (Uuid::new_v4(), Uuid::new_v4(), Uuid::new_v4());
        let elements = [
            map(
                start,
                json!({"elementType": "START", "outcomes": [{"developerName": "go",
                      "nextMapElementId": step.to_string()}]}),
            ),
            map(
                step,
                json!({"elementType": "STEP", "developerName": "Step",
                       "outcomes": [{"developerName": "on", "nextMapElementId": gone.to_string()}]}),
            ),
        ];
        assert!(check(&elements[..1], Some(start)).is_err());
        let RuleError::Invalid(message) = check(&elements, Some(start)).unwrap_err() else {
            panic!("not Invalid")
        };
        assert!(message.contains(&gone.to_string()), "{message}");
        assert!(
            message.contains("'on'") && message.contains("'Step'"),
            "{message}"
        );
    }

    #[test]
    fn the_start_element_must_stay_and_be_alone() {
        let (start, other) = (Uuid::new_v4(), Uuid::new_v4());
        let only_step = [map(start, json!({"elementType": "STEP"}))];
        assert!(check(&only_step, Some(start)).is_err());
        let two = [
            map(start, json!({"elementType": "START"})),
            map(other, json!({"elementType": "START"})),
        ];
        assert!(check(&two, Some(start)).is_err());
        assert!(check(&two[..1], Some(start)).is_ok());
    }

    #[test]
    fn with_start_keeps_a_sent_start_or_adds_one() {
        let sent = Uuid::new_v4();
        let (_, start) = with_start(vec![map(sent, json!({"elementType": "START"}))], None);
        assert_eq!(start, sent);
        let (elements, start) = with_start(vec![map(sent, json!({"elementType": "STEP"}))], None);
        assert_eq!(elements.len(), 2);
        assert_ne!(start, sent);
    }
}
