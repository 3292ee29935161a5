//! What a run shows at a step or a page: the page's containers and components, each
//! component's data read from the value it is bound to (`valueElementValueBindingReferenceId`)
//! and its content with `{![Value name]}` filled in; and the answers a page request sends,
//! written back to the bound values, with required components checked.

use std::collections::HashMap;

use serde_json::Value;

use super::decision::objects;
use super::values::{Reference, ValueDefs, Values, fill, reference, text};
use crate::store::JsonObject;

/// A page as a run shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct PageView {
    pub label: Option<String>,
    pub containers: Vec<ContainerView>,
    pub components: Vec<ComponentView>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ContainerView {
    pub id: String,
    pub container_type: Option<String>,
    pub developer_name: Option<String>,
    pub label: Option<String>,
    pub order: i64,
    pub children: Vec<ContainerView>,
}

/// A component and its data.
#[derive(Debug, Clone, PartialEq)]
pub struct ComponentView {
    pub id: String,
    pub container_id: Option<String>,
    pub developer_name: Option<String>,
    pub component_type: Option<String>,
    /// The bound value's content type.
    pub content_type: Option<String>,
    pub label: Option<String>,
    pub hint: Option<String>,
    pub help: Option<String>,
    pub order: i64,
    pub is_required: bool,
    pub is_editable: bool,
    /// The bound value's content.
    pub content_value: Option<String>,
    /// The component's own content, values filled in.
    pub content: Option<String>,
    pub is_valid: bool,
    pub validation_message: Option<String>,
}

/// A STEP's content as a page of one presentation component (whose id is the element's).
pub fn step_view(
    element_id: &str,
    user_content: &str,
    defs: &ValueDefs,
    values: &Values,
) -> PageView {
    PageView {
        label: None,
        containers: Vec::new(),
        components: vec![ComponentView {
            id: element_id.to_string(),
            container_id: None,
            developer_name: None,
            component_type: Some("PRESENTATION".into()),
            content_type: Some("ContentContent".into()),
            label: None,
            hint: None,
            help: None,
            order: 0,
            is_required: false,
            is_editable: false,
            content_value: None,
            content: Some(fill(user_content, defs, values)),
            is_valid: true,
            validation_message: None,
        }],
    }
}

/// The page element shown with the run's values; `invalid` marks components (by id) with
/// their message.
pub fn page_view(
    page: &JsonObject,
    defs: &ValueDefs,
    values: &Values,
    invalid: &HashMap<String, String>,
) -> Result<PageView, String> {
    let mut components = Vec::new();
    for component in objects(page.get("pageComponents")) {
        let id = text(component, "id").unwrap_or_default();
        let bound = bound_value(component, defs)?;
        let flag = |field: &str, default: bool| {
            component
                .get(field)
                .and_then(Value::as_bool)
                .unwrap_or(default)
        };
        components.push(ComponentView {
            container_id: text(component, "pageContainerId"),
            developer_name: text(component, "developerName"),
            component_type: text(component, "componentType"),
            content_type: bound.map(|def| def.content_type.clone()),
            label: text(component, "label").map(|l| fill(&l, defs, values)),
            hint: text(component, "hintValue"),
            help: text(component, "helpInfo"),
            order: component.get("order").and_then(Value::as_i64).unwrap_or(0),
            is_required: flag("isRequired", false),
            is_editable: flag("isEditable", true),
            // A password is never answered back in clear, not even to the page it was typed in.
            content_value: bound
                .filter(|def| !def.hidden)
                .and_then(|def| values.get(&def.id).map(str::to_string)),
            content: text(component, "content").map(|c| fill(&c, defs, values)),
            is_valid: !invalid.contains_key(&id),
            validation_message: invalid.get(&id).cloned(),
            id,
        });
    }
    components.sort_by_key(|c| c.order);
    Ok(PageView {
        label: text(page, "label").map(|l| fill(&l, defs, values)),
        containers: containers(page.get("pageContainers")),
        components,
    })
}

fn containers(field: Option<&Value>) -> Vec<ContainerView> {
    let mut found: Vec<ContainerView> = objects(field)
        .map(|c| ContainerView {
            id: text(c, "id").unwrap_or_default(),
            container_type: text(c, "containerType"),
            developer_name: text(c, "developerName"),
            label: text(c, "label"),
            order: c.get("order").and_then(Value::as_i64).unwrap_or(0),
            children: containers(c.get("pageContainers")),
        })
        .collect();
    found.sort_by_key(|c| c.order);
    found
}

/// The simple value a component is bound to, if any.
fn bound_value<'a>(
    component: &JsonObject,
    defs: &'a ValueDefs,
) -> Result<Option<&'a super::values::ValueDef>, String> {
    match reference(component.get("valueElementValueBindingReferenceId"))? {
        Some(Reference::Value { id, .. }) => {
            let def = defs.get(&id).ok_or_else(|| {
                format!("a page component is bound to a value {id} the flow lacks")
            })?;
            if !def.is_simple() {
                return Err(format!(
                    "a page component bound to the list or object value '{}' is not supported yet",
                    def.name
                ));
            }
            Ok(Some(def))
        }
        _ => Ok(None),
    }
}

/// One answer of a page request: a component and its new content.
#[derive(Debug, Clone, PartialEq)]
pub struct Answer {
    pub component: String,
    pub content: Option<String>,
    /// Whether it carries object data (lists and objects: refused, not supported yet).
    pub object_data: bool,
}

/// Writes the answers into the values their components are bound to (an answer for a
/// component the page lacks, or one that is not editable, is refused), then checks the
/// required components: the ones left empty, with their message.
pub fn take_answers(
    page: &JsonObject,
    answers: &[Answer],
    defs: &ValueDefs,
    values: &mut Values,
) -> Result<HashMap<String, String>, AnswerError> {
    let components: Vec<&JsonObject> = objects(page.get("pageComponents")).collect();
    for answer in answers {
        if answer.object_data {
            return Err(AnswerError::Invalid(
                "answers with objectData (lists and objects) are not supported yet".into(),
            ));
        }
        let component = components
            .iter()
            .find(|c| text(c, "id").is_some_and(|id| id.eq_ignore_ascii_case(&answer.component)))
            .ok_or_else(|| {
                AnswerError::Invalid(format!(
                    "the page has no component {}",
                    crate::domain::shorten(&answer.component)
                ))
            })?;
        if component.get("isEditable").and_then(Value::as_bool) == Some(false) {
            continue;
        }
        if let Some(def) = bound_value(component, defs).map_err(AnswerError::Fault)? {
            values.set(&def.id, answer.content.clone().filter(|c| !c.is_empty()));
        }
    }
    let mut missing = HashMap::new();
    for component in components {
        if component.get("isRequired").and_then(Value::as_bool) != Some(true) {
            continue;
        }
        let def = bound_value(component, defs).map_err(AnswerError::Fault)?;
        if def.is_some_and(|def| values.get(&def.id).is_none_or(|v| v.trim().is_empty())) {
            let label = text(component, "label").unwrap_or_else(|| "This field".into());
            missing.insert(
                text(component, "id").unwrap_or_default(),
                format!("{label} is required"),
            );
        }
    }
    Ok(missing)
}

/// Why answers were not taken.
#[derive(Debug, Clone, PartialEq)]
pub enum AnswerError {
    /// The request is wrong (the client's 400).
    Invalid(String),
    /// The flow cannot be run here (a fault).
    Fault(String),
}
