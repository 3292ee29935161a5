//! The engine: runs a flow's frozen image from one map element to the next until it reaches
//! one that waits for the user (a STEP or a page), ends, or faults. Pure: it reads a
//! [`Program`] and the run's data and returns where the run stops, with no store and no HTTP.
//!
//! A fault writes nothing of the run: the values, the history and the position are those the
//! invoke started from, and the answer names the element and why.
//!
//! A SUBFLOW element runs another flow inside the same run, as Boomi does (no new state): the
//! [`Library`] holds the programs of the flows a run may enter, and the run's `frames` the
//! SUBFLOW elements it is inside. Values are the tenant's elements, so a value both flows use
//! is one value; each of the element's `arguments` is copied into the subflow's value when it
//! starts and back into the parent's when it ends, and the parent goes on by the element's
//! outcome. Every element of a subflow counts towards the invoke's limit, so a subflow that
//! calls itself faults as a loop.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::decision::{choose, sorted_outcomes};
use super::navigation::{self, NavigationView};
use super::operator;
use super::page::{Answer, AnswerError, PageView, page_view, step_view, take_answers};
use super::values::{ValueDefs, Values, text};
use crate::domain::element::{ElementKind, FlowElementKind};
use crate::rules::images::Image;
use crate::store::JsonObject;

/// How many map elements one invoke may pass without stopping at a page: past it the run is a
/// loop that never asks anyone anything, and faults.
pub const MAX_ELEMENTS_PER_INVOKE: usize = 1_000;

/// The fault of an element that would call a connector.
pub const NO_CONNECTORS: &str = "keyflow does not call connectors";

/// A flow's image, ready to run.
#[derive(Debug, Default)]
pub struct Program {
    map: HashMap<String, (String, JsonObject)>,
    pages: HashMap<String, JsonObject>,
    pub defs: ValueDefs,
    start: Option<String>,
    /// The flow's navigation elements (id, name, document), in the image's order.
    navigation: Vec<(String, String, JsonObject)>,
}

impl Program {
    /// The image's map elements, pages and values; `start` is the flow's START map element.
    pub fn from_image(image: &Image, start: Option<&str>) -> Program {
        let map = image
            .flow_elements
            .iter()
            .filter(|e| e.kind == FlowElementKind::Map)
            .map(|e| {
                let id = e.id.to_string();
                (id, (e.developer_name.clone(), e.document.clone()))
            })
            .collect();
        let pages = image
            .elements
            .iter()
            .filter(|e| e.kind == ElementKind::Page)
            .map(|e| (e.id.to_string(), e.document.clone()))
            .collect();
        let defs = ValueDefs::from_elements(
            image
                .elements
                .iter()
                .filter(|e| e.kind == ElementKind::Value),
        );
        let navigation = image
            .flow_elements
            .iter()
            .filter(|e| e.kind == FlowElementKind::Navigation)
            .map(|e| {
                let id = e.id.to_string();
                (id, e.developer_name.clone(), e.document.clone())
            })
            .collect();
        Program {
            map,
            pages,
            defs,
            start: start.map(str::to_lowercase),
            navigation,
        }
    }

    /// The flows the program's SUBFLOW elements call (their ids, lower case).
    pub fn subflows(&self) -> Vec<String> {
        self.map
            .values()
            .filter(|(_, element)| element_type(element) == "SUBFLOW")
            .filter_map(|(_, element)| subflow_id(element))
            .collect()
    }

    /// The program with navigation elements (id, name, document), for tests.
    #[cfg(test)]
    pub fn with_navigation(mut self, navigation: Vec<(&str, &str, Value)>) -> Program {
        self.navigation = navigation
            .into_iter()
            .map(|(id, name, doc)| {
                let doc = doc.as_object().cloned().unwrap_or_default();
                (id.to_lowercase(), name.to_string(), doc)
            })
            .collect();
        self
    }

    /// A program of map elements (id, name, document), pages (id, document) and values, for
    /// tests.
    #[cfg(test)]
    pub fn from_parts(
        map: Vec<(&str, &str, Value)>,
        pages: Vec<(&str, Value)>,
        defs: ValueDefs,
        start: &str,
    ) -> Program {
        let object = |v: Value| v.as_object().cloned().unwrap_or_default();
        Program {
            map: map
                .into_iter()
                .map(|(id, name, doc)| (id.to_lowercase(), (name.to_string(), object(doc))))
                .collect(),
            pages: pages
                .into_iter()
                .map(|(id, doc)| (id.to_lowercase(), object(doc)))
                .collect(),
            defs,
            start: Some(start.to_lowercase()),
            navigation: Vec::new(),
        }
    }

    fn element(&self, id: &str) -> Option<(&str, &JsonObject)> {
        self.map
            .get(&id.to_lowercase())
            .map(|(name, doc)| (name.as_str(), doc))
    }
}

/// The programs a run may use: the flow its state runs, and every flow its subflows call
/// (each by its id, lower case; a flow missing here faults where a SUBFLOW element calls it).
#[derive(Debug, Default)]
pub struct Library {
    root: Program,
    flows: HashMap<String, Program>,
}

impl Library {
    pub fn new(root: Program) -> Library {
        Library {
            root,
            flows: HashMap::new(),
        }
    }

    /// Adds the program of the flow `id`, which SUBFLOW elements may call.
    pub fn add(&mut self, id: &str, program: Program) {
        self.flows.insert(id.to_lowercase(), program);
    }

    pub fn has(&self, id: &str) -> bool {
        self.flows.contains_key(&id.to_lowercase())
    }

    pub fn root(&self) -> &Program {
        &self.root
    }

    /// The program the run is in: the innermost subflow's, else the root's.
    fn current(&self, frames: &[Frame]) -> Option<&Program> {
        match frames.last() {
            Some(frame) => self.flows.get(&frame.flow.to_lowercase()),
            None => Some(&self.root),
        }
    }
}

/// A subflow the run is inside: the flow it runs, and the SUBFLOW element of the flow around
/// it that called it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Frame {
    pub flow: String,
    pub element: String,
}

/// One map element a run passed, and the outcome it left by.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HistoryEntry {
    pub map_element_id: String,
    pub developer_name: String,
    pub outcome_id: Option<String>,
}

/// Where a run is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Status {
    /// Waiting at a STEP or a page for the user.
    #[default]
    InProgress,
    /// Over: it reached an element with no way on.
    Complete,
    /// The last invoke faulted; the run is where that invoke started.
    Fault,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::InProgress => "IN_PROGRESS",
            Status::Complete => "COMPLETE",
            Status::Fault => "FAULT",
        }
    }

    pub fn parse(text: &str) -> Status {
        match text {
            "COMPLETE" => Status::Complete,
            "FAULT" => Status::Fault,
            _ => Status::InProgress,
        }
    }
}

/// The run's data between invokes.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Run {
    /// The map element it is at: waiting, the last one when over, or where a faulted invoke
    /// started.
    pub at: Option<String>,
    pub status: Status,
    pub values: Values,
    pub history: Vec<HistoryEntry>,
    /// The subflows it is inside, outermost first (empty: in the state's own flow).
    pub frames: Vec<Frame>,
}

/// An outcome as the user may take it.
#[derive(Debug, Clone, PartialEq)]
pub struct OutcomeView {
    pub id: String,
    pub developer_name: Option<String>,
    pub label: Option<String>,
    pub order: i64,
    pub page_action_type: Option<String>,
    pub page_action_binding_type: Option<String>,
    pub is_bulk_action: bool,
}

/// The element a run stopped at, as shown.
#[derive(Debug, Clone, PartialEq)]
pub struct ElementView {
    pub id: String,
    pub developer_name: String,
    pub label: Option<String>,
    pub page: Option<PageView>,
    pub outcomes: Vec<OutcomeView>,
    /// A fault: the element's name and why (`rootFaults`).
    pub fault: Option<String>,
}

/// Where an invoke left the run, and what it shows.
#[derive(Debug, Clone, PartialEq)]
pub struct Stop {
    pub run: Run,
    pub view: Option<ElementView>,
}

/// What the user sends with a FORWARD.
#[derive(Debug, Clone, Default)]
pub struct Forward {
    pub selected_outcome: Option<String>,
    pub answers: Vec<Answer>,
}

/// Starts a run: every value at its default, then `inputs` (value id, content), from START.
pub fn start(library: &Library, values: Values) -> Stop {
    let program = library.root();
    let before = Run {
        at: program.start.clone(),
        status: Status::InProgress,
        values,
        history: Vec::new(),
        frames: Vec::new(),
    };
    let Some(start) = program.start.clone() else {
        return fault(
            before,
            "Start",
            None,
            "the flow has no START map element".into(),
        );
    };
    run_from(library, &before, &start, before.clone())
}

/// Goes on from where the run waits: the page's answers taken, then the selected outcome.
/// `Err` is a request the run cannot take (the client's mistake), changing nothing.
pub fn forward(library: &Library, run: &Run, request: &Forward) -> Result<Stop, String> {
    if run.status == Status::Complete {
        return Err("this run is over".into());
    }
    let Some(at) = run.at.clone() else {
        return Err("this run is over".into());
    };
    let Some(program) = library.current(&run.frames) else {
        return Ok(fault(run.clone(), &at, None, GONE.into()));
    };
    let Some((name, element)) = program.element(&at) else {
        return Ok(fault(
            run.clone(),
            &at,
            None,
            format!("the flow has no map element {at}"),
        ));
    };
    let kind = element_type(element);
    if !matches!(kind.as_str(), "STEP" | "INPUT" | "PAGE") {
        // A faulted invoke left the run before a non-waiting element (START): run it again.
        return Ok(run_from(library, run, &at, run.clone()));
    }
    let mut values = run.values.clone();
    let mut missing = HashMap::new();
    if kind != "STEP" {
        let page = match page_of(program, element) {
            Ok(page) => page,
            Err(message) => return Ok(fault(run.clone(), name, Some(&at), message)),
        };
        match take_answers(page, &request.answers, &program.defs, &mut values) {
            Ok(found) => missing = found,
            Err(AnswerError::Invalid(message)) => return Err(message),
            Err(AnswerError::Fault(message)) => {
                return Ok(fault(run.clone(), name, Some(&at), message));
            }
        }
    } else if !request.answers.is_empty() {
        return Err(format!("the step '{name}' takes no answers"));
    }
    let waiting = Run {
        values,
        status: Status::InProgress,
        ..run.clone()
    };
    // No outcome chosen, or required answers missing: the same element again, answers kept.
    let Some(selected) = request.selected_outcome.as_deref() else {
        return Ok(show(program, waiting, &at, &missing));
    };
    let outcome = sorted_outcomes(element)
        .into_iter()
        .find(|o| text(o, "id").is_some_and(|id| id.eq_ignore_ascii_case(selected)))
        .ok_or_else(|| {
            format!(
                "the element '{name}' has no outcome {}",
                crate::domain::shorten(selected)
            )
        })?;
    if !missing.is_empty() {
        return Ok(show(program, waiting, &at, &missing));
    }
    let mut work = waiting;
    work.history.push(entry(&at, name, Some(outcome)));
    match text(outcome, "nextMapElementId") {
        Some(next) => Ok(run_from(library, run, &next, work)),
        None => Ok(go_on(library, run, &at, work)),
    }
}

/// Moves the run to the map element the navigation item `item` of the navigation `navigation`
/// points to (a navigation of the flow the run is in), and runs on from there. `Err`: the run
/// is over, or no such navigation or item, or an item that points nowhere.
pub fn navigate(
    library: &Library,
    run: &Run,
    navigation: &str,
    item: &str,
) -> Result<Stop, String> {
    if run.status == Status::Complete {
        return Err("this run is over".into());
    }
    let program = library.current(&run.frames).ok_or(GONE)?;
    let (_, _, element) = find_navigation(program, navigation)?;
    let item = navigation::find_item(element, item).ok_or_else(|| {
        format!(
            "the navigation has no item {}",
            crate::domain::shorten(item)
        )
    })?;
    let location = text(item, "locationMapElementId").ok_or_else(|| {
        format!(
            "the navigation item '{}' points to no map element",
            text(item, "label")
                .or_else(|| text(item, "developerName"))
                .unwrap_or_default()
        )
    })?;
    let work = Run {
        status: Status::InProgress,
        ..run.clone()
    };
    Ok(run_from(library, run, &location.to_lowercase(), work))
}

/// The navigation elements of the flow the run is in, with the item the run is at marked.
pub fn navigations(library: &Library, run: &Run) -> Vec<NavigationView> {
    let Some(program) = library.current(&run.frames) else {
        return Vec::new();
    };
    program
        .navigation
        .iter()
        .map(|(id, name, doc)| navigation::view(id, name, doc, run.at.as_deref()))
        .collect()
}

/// One navigation element of the flow the run is in, as [`navigations`] shows it.
pub fn navigation(library: &Library, run: &Run, id: &str) -> Result<NavigationView, String> {
    let program = library.current(&run.frames).ok_or(GONE)?;
    let (id, name, doc) = find_navigation(program, id)?;
    Ok(navigation::view(id, name, doc, run.at.as_deref()))
}

fn find_navigation<'a>(
    program: &'a Program,
    id: &str,
) -> Result<(&'a str, &'a str, &'a JsonObject), String> {
    program
        .navigation
        .iter()
        .find(|(nav, _, _)| nav.eq_ignore_ascii_case(id.trim()))
        .map(|(id, name, doc)| (id.as_str(), name.as_str(), doc))
        .ok_or_else(|| {
            format!(
                "the flow has no navigation element {}",
                crate::domain::shorten(id)
            )
        })
}

/// What the run shows where it is now (a read of the state).
pub fn view(library: &Library, run: &Run) -> Option<ElementView> {
    let at = run.at.as_deref()?;
    let program = library.current(&run.frames)?;
    let (_, element) = program.element(at)?;
    if matches!(element_type(element).as_str(), "STEP" | "INPUT" | "PAGE") {
        show(program, run.clone(), at, &HashMap::new()).view
    } else {
        None
    }
}

/// The fault of a run inside a subflow whose flow is no longer runnable.
const GONE: &str = "the subflow the run is in is no longer activated";

/// Runs from `next` until an element waits, the run ends, or it faults (`before` is what a
/// fault leaves; `work` the run's data as it goes).
fn run_from(library: &Library, before: &Run, next: &str, mut work: Run) -> Stop {
    let mut position = next.to_string();
    for _ in 0..MAX_ELEMENTS_PER_INVOKE {
        let Some(program) = library.current(&work.frames) else {
            return fault(before.clone(), &position, None, GONE.into());
        };
        let Some((name, element)) = program.element(&position) else {
            let message = format!("an outcome leads to a map element {position} the flow lacks");
            return fault(before.clone(), &position, None, message);
        };
        let kind = element_type(element);
        if calls_a_connector(&kind, element) {
            return fault(before.clone(), name, Some(&position), NO_CONNECTORS.into());
        }
        let taken = match kind.as_str() {
            "STEP" | "INPUT" | "PAGE" => {
                let over = sorted_outcomes(element).is_empty();
                let run = Run {
                    at: Some(position.clone()),
                    status: Status::InProgress,
                    ..work
                };
                let mut stop = show(program, run, &position, &HashMap::new());
                if over && stop.run.status == Status::InProgress {
                    // A step or page with no outcomes is where the flow ends: shown, over.
                    stop.run.status = Status::Complete;
                }
                return stop;
            }
            "START" => sorted_outcomes(element).into_iter().next(),
            "SUBFLOW" => match enter(library, element, &mut work.values) {
                Ok((flow, start)) => {
                    work.history.push(entry(&position, name, None));
                    work.frames.push(Frame {
                        flow,
                        element: position.clone(),
                    });
                    position = start;
                    continue;
                }
                Err(message) => return fault(before.clone(), name, Some(&position), message),
            },
            "DECISION" => match choose(element, &program.defs, &work.values) {
                Ok(Some(outcome)) => Some(outcome),
                Ok(None) => {
                    let message =
                        "none of the decision's outcomes holds, and it has no default".into();
                    return fault(before.clone(), name, Some(&position), message);
                }
                Err(message) => return fault(before.clone(), name, Some(&position), message),
            },
            "OPERATOR" => match operator::apply(element, &program.defs, &mut work.values) {
                Ok(()) => sorted_outcomes(element).into_iter().next(),
                Err(message) => return fault(before.clone(), name, Some(&position), message),
            },
            other => {
                let message = format!("the {other} map element is not supported yet");
                return fault(before.clone(), name, Some(&position), message);
            }
        };
        work.history.push(entry(&position, name, taken));
        match taken.and_then(|o| text(o, "nextMapElementId")) {
            Some(next) => position = next,
            None => match leave(library, &mut work) {
                Ok(Some(next)) => position = next,
                Ok(None) => return complete(library, work, &position),
                Err((element, message)) => {
                    return fault(before.clone(), &element, None, message);
                }
            },
        }
    }
    let message = format!(
        "the run passed {MAX_ELEMENTS_PER_INVOKE} map elements without reaching a page: a loop?"
    );
    fault(before.clone(), &position, Some(&position), message)
}

/// The run reached the end of a flow at `last` (no way on): out of the subflow it is in, or
/// over.
fn go_on(library: &Library, before: &Run, last: &str, mut work: Run) -> Stop {
    match leave(library, &mut work) {
        Ok(Some(next)) => run_from(library, before, &next, work),
        Ok(None) => complete(library, work, last),
        Err((element, message)) => fault(before.clone(), &element, None, message),
    }
}

/// The flow and the START element a SUBFLOW element enters, its arguments copied in.
fn enter(
    library: &Library,
    element: &JsonObject,
    values: &mut Values,
) -> Result<(String, String), String> {
    let flow = subflow_id(element).ok_or("the subflow element names no flow to run")?;
    let program = library.flows.get(&flow).ok_or_else(|| {
        format!("the flow {flow} it runs is not an activated flow of this tenant")
    })?;
    let start = program
        .start
        .clone()
        .ok_or_else(|| format!("the flow {flow} it runs has no START map element"))?;
    for (inside, outside) in arguments(element) {
        values.set_content(&inside, values.content(&outside));
    }
    Ok((flow, start))
}

/// Out of the subflow the run ended in: its arguments copied back to the flow around it, which
/// goes on by the SUBFLOW element's outcome (and, if that has none, ends too). `Ok(None)`: the
/// state's own flow ended. `Err`: the element to name and why.
fn leave(library: &Library, work: &mut Run) -> Result<Option<String>, (String, String)> {
    while let Some(frame) = work.frames.pop() {
        let program = library
            .current(&work.frames)
            .ok_or_else(|| (frame.element.clone(), GONE.to_string()))?;
        let Some((_, element)) = program.element(&frame.element) else {
            let message = format!("the flow has no map element {}", frame.element);
            return Err((frame.element.clone(), message));
        };
        for (inside, outside) in arguments(element) {
            work.values
                .set_content(&outside, work.values.content(&inside));
        }
        let taken = sorted_outcomes(element).into_iter().next();
        if let Some(next) = taken.and_then(|o| text(o, "nextMapElementId")) {
            return Ok(Some(next));
        }
    }
    Ok(None)
}

/// The flow a SUBFLOW element runs (`subflow.flowId.id`), lower case.
fn subflow_id(element: &JsonObject) -> Option<String> {
    element
        .get("subflow")
        .and_then(|s| s.get("flowId"))
        .and_then(|f| f.get("id"))
        .and_then(Value::as_str)
        .filter(|id| !id.trim().is_empty())
        .map(|id| id.trim().to_lowercase())
}

/// A SUBFLOW element's arguments: (the subflow's value, the calling flow's value).
fn arguments(element: &JsonObject) -> Vec<(String, String)> {
    let id = |argument: &JsonObject, field: &str| {
        argument
            .get(field)
            .and_then(|v| v.get("id"))
            .and_then(Value::as_str)
            .map(str::to_lowercase)
    };
    super::decision::objects(element.get("subflow").and_then(|s| s.get("arguments")))
        .filter_map(|a| {
            Some((
                id(a, "valueElementInSubflowId")?,
                id(a, "valueElementToApplyId")?,
            ))
        })
        .collect()
}

/// Whether the element would call a service: a message or database element, or an element
/// with message, data or operation actions.
fn calls_a_connector(kind: &str, element: &JsonObject) -> bool {
    let has = |field: &str| {
        element
            .get(field)
            .and_then(Value::as_array)
            .is_some_and(|list| !list.is_empty())
    };
    matches!(
        kind,
        "MESSAGE"
            | "DATABASE_LOAD"
            | "DATABASE_SAVE"
            | "DATABASE_DELETE"
            | "LOAD"
            | "SAVE"
            | "DELETE"
    ) || has("messageActions")
        || has("dataActions")
        || has("openApiActions")
        || has("processes")
}

fn element_type(element: &JsonObject) -> String {
    text(element, "elementType")
        .unwrap_or_default()
        .to_ascii_uppercase()
}

fn page_of<'a>(program: &'a Program, element: &JsonObject) -> Result<&'a JsonObject, String> {
    let id = text(element, "pageElementId").ok_or("the page element names no page")?;
    program
        .pages
        .get(&id.to_lowercase())
        .ok_or_else(|| format!("the page {id} is not in the flow"))
}

fn entry(id: &str, name: &str, outcome: Option<&JsonObject>) -> HistoryEntry {
    HistoryEntry {
        map_element_id: id.to_string(),
        developer_name: name.to_string(),
        outcome_id: outcome.and_then(|o| text(o, "id")),
    }
}

/// The run waiting at `at` (a STEP or a page), shown.
fn show(program: &Program, run: Run, at: &str, invalid: &HashMap<String, String>) -> Stop {
    let Some((name, element)) = program.element(at) else {
        return Stop { run, view: None };
    };
    let page = if element_type(element) == "STEP" {
        let content = text(element, "userContent").unwrap_or_default();
        Ok(step_view(at, &content, &program.defs, &run.values))
    } else {
        page_of(program, element)
            .and_then(|page| page_view(page, &program.defs, &run.values, invalid))
    };
    let page = match page {
        Ok(page) => page,
        Err(message) => return fault(run, name, Some(at), message),
    };
    let outcomes = sorted_outcomes(element)
        .into_iter()
        .map(|o| OutcomeView {
            id: text(o, "id").unwrap_or_default(),
            developer_name: text(o, "developerName"),
            label: text(o, "label"),
            order: o.get("order").and_then(Value::as_i64).unwrap_or(0),
            page_action_type: text(o, "pageActionType"),
            page_action_binding_type: text(o, "pageActionBindingType"),
            is_bulk_action: o
                .get("isBulkAction")
                .and_then(Value::as_bool)
                .unwrap_or(false),
        })
        .collect();
    Stop {
        view: Some(ElementView {
            id: at.to_string(),
            developer_name: name.to_string(),
            label: text(element, "title"),
            page: Some(page),
            outcomes,
            fault: None,
        }),
        run,
    }
}

/// The run over after `last`, an element with no way on that shows nothing.
fn complete(library: &Library, work: Run, last: &str) -> Stop {
    let name = library
        .current(&work.frames)
        .and_then(|program| program.element(last))
        .map(|(n, _)| n.to_string())
        .unwrap_or_default();
    Stop {
        run: Run {
            at: Some(last.to_string()),
            status: Status::Complete,
            ..work
        },
        view: Some(ElementView {
            id: last.to_string(),
            developer_name: name,
            label: None,
            page: None,
            outcomes: Vec::new(),
            fault: None,
        }),
    }
}

/// A fault at the element named `name`: the run as it was before the invoke, marked faulted.
fn fault(before: Run, name: &str, at: Option<&str>, message: String) -> Stop {
    Stop {
        run: Run {
            status: Status::Fault,
            ..before
        },
        view: Some(ElementView {
            id: at.unwrap_or_default().to_string(),
            developer_name: name.to_string(),
            label: None,
            page: None,
            outcomes: Vec::new(),
            fault: Some(message),
        }),
    }
}

#[cfg(test)]
#[path = "engine_tests.rs"]
mod tests;
