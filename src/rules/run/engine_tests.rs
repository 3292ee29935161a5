//! The engine's unit tests: small programs run without a store or HTTP.

use serde_json::json;

use super::*;
use crate::rules::run::page::Answer;

const NAME: &str = "a0000000-0000-4000-8000-000000000001";
const COUNT: &str = "a0000000-0000-4000-8000-000000000002";
const GREETING: &str = "a0000000-0000-4000-8000-000000000003";
const PAGE: &str = "b0000000-0000-4000-8000-000000000001";
const NAME_BOX: &str = "c0000000-0000-4000-8000-000000000001";

fn defs() -> ValueDefs {
    ValueDefs::from_list(&[
        (NAME, "Name", "ContentString", None),
        (COUNT, "Count", "ContentNumber", Some("1")),
        (GREETING, "Greeting", "ContentString", Some("Hello")),
    ])
}

fn outcome(id: &str, next: Option<&str>, order: i64) -> Value {
    json!({"id": id, "developerName": id, "label": id, "nextMapElementId": next, "order": order})
}

fn page() -> Value {
    json!({
        "label": "Who are you?",
        "pageContainers": [{"id": "k1", "containerType": "VERTICAL_FLOW", "developerName": "Main",
                            "pageContainers": [{"id": "k2", "containerType": "GROUP"}]}],
        "pageComponents": [
            {"id": NAME_BOX, "pageContainerId": "k1", "componentType": "INPUT", "label": "Your name",
             "isRequired": true, "valueElementValueBindingReferenceId": {"id": NAME}},
            {"id": "c2", "pageContainerId": "k1", "componentType": "PRESENTATION",
             "content": "<p>{![Greeting]}, {![Name]}</p>"}
        ]
    })
}

/// START → page "Ask" → operator (Count + 1, Greeting ADD "!") → decision (Count > 1 and Name
/// starts with A: "Welcome"; default: "Other") → steps.
fn program() -> Program {
    Program::from_parts(
        vec![
            (
                "s",
                "Start",
                json!({"elementType": "START", "outcomes": [outcome("o-start", Some("ask"), 0)]}),
            ),
            (
                "ask",
                "Ask",
                json!({"elementType": "INPUT", "pageElementId": PAGE,
                "outcomes": [outcome("next", Some("op"), 0)]}),
            ),
            (
                "op",
                "Count up",
                json!({"elementType": "OPERATOR", "operations": [
                {"order": 1, "valueElementToApplyId": {"id": GREETING, "command": "ADD"},
                 "valueElementToReferenceId": "!"},
                {"order": 0, "valueElementToApplyId": {"id": COUNT, "command": "ADD"},
                 "valueElementToReferenceId": 1}
            ], "outcomes": [outcome("o-op", Some("decide"), 0)]}),
            ),
            (
                "decide",
                "Decide",
                json!({"elementType": "DECISION", "outcomes": [
                    outcome("default", Some("other"), 0),
                    {"id": "welcome", "nextMapElementId": "welcome", "order": 1, "comparison": {
                        "comparisonType": "AND",
                        "rules": [{"leftValueElementToReferenceId": {"id": COUNT}, "criteriaType": "GREATER_THAN",
                                   "rightValueElementToReferenceId": 1}],
                        "comparisons": [{"comparisonType": "OR", "rules": [
                            {"leftValueElementToReferenceId": {"id": NAME}, "criteriaType": "STARTS_WITH",
                             "rightValueElementToReferenceId": "A"},
                            {"leftValueElementToReferenceId": {"id": NAME}, "criteriaType": "IS_EMPTY",
                             "rightValueElementToReferenceId": true}
                        ]}]
                    }}
                ]}),
            ),
            (
                "welcome",
                "Welcome",
                json!({"elementType": "STEP", "userContent": "{![Greeting]} {![Name]}, count {![Count]}"}),
            ),
            (
                "other",
                "Other",
                json!({"elementType": "STEP", "userContent": "Not you, {![Name]}",
                "outcomes": [outcome("again", Some("ask"), 0)]}),
            ),
        ],
        vec![(PAGE, page())],
        defs(),
        "s",
    )
}

fn answer(content: &str) -> Vec<Answer> {
    vec![Answer {
        component: NAME_BOX.into(),
        content: Some(content.into()),
        object_data: false,
    }]
}

#[test]
fn a_run_starts_at_the_first_page_with_its_data_bound_and_filled() {
    let program = program();
    let stop = start(&program, program.defs.defaults());
    assert_eq!(stop.run.status, Status::InProgress);
    assert_eq!(stop.run.at.as_deref(), Some("ask"));
    let view = stop.view.unwrap();
    assert_eq!(view.developer_name, "Ask");
    assert_eq!(view.outcomes.len(), 1);
    let page = view.page.unwrap();
    assert_eq!(page.label.as_deref(), Some("Who are you?"));
    assert_eq!(page.containers[0].children[0].id, "k2");
    assert_eq!(
        page.components[1].content.as_deref(),
        Some("<p>Hello, </p>")
    );
    assert_eq!(stop.run.history.len(), 1, "START passed");
}

#[test]
fn a_required_answer_left_empty_shows_the_page_again_with_a_message() {
    let program = program();
    let started = start(&program, program.defs.defaults());
    let request = Forward {
        selected_outcome: Some("next".into()),
        answers: answer(""),
    };
    let stop = forward(&program, &started.run, &request).unwrap();
    assert_eq!(stop.run.at.as_deref(), Some("ask"));
    let component = &stop.view.unwrap().page.unwrap().components[0];
    assert!(!component.is_valid);
    assert_eq!(
        component.validation_message.as_deref(),
        Some("Your name is required")
    );
}

#[test]
fn answers_operators_and_decisions_lead_to_the_outcome_that_holds() {
    let program = program();
    let started = start(&program, program.defs.defaults());
    let request = Forward {
        selected_outcome: Some("NEXT".into()),
        answers: answer("Ada"),
    };
    let stop = forward(&program, &started.run, &request).unwrap();
    assert_eq!(stop.run.at.as_deref(), Some("welcome"));
    // A step without outcomes ends the flow, shown.
    assert_eq!(stop.run.status, Status::Complete);
    let content = stop.view.unwrap().page.unwrap().components[0]
        .content
        .clone();
    assert_eq!(content.as_deref(), Some("Hello! Ada, count 2"));
    let passed: Vec<&str> = stop
        .run
        .history
        .iter()
        .map(|h| h.map_element_id.as_str())
        .collect();
    assert_eq!(passed, ["s", "ask", "op", "decide"]);
    assert!(
        forward(&program, &stop.run, &Forward::default()).is_err(),
        "over"
    );
}

#[test]
fn the_default_outcome_is_taken_when_no_comparison_holds() {
    let program = program();
    let started = start(&program, program.defs.defaults());
    let request = Forward {
        selected_outcome: Some("next".into()),
        answers: answer("Bob"),
    };
    let stop = forward(&program, &started.run, &request).unwrap();
    assert_eq!(stop.run.at.as_deref(), Some("other"));
    assert_eq!(stop.run.status, Status::InProgress);
}

#[test]
fn an_unknown_outcome_or_component_is_refused_and_no_outcome_shows_the_page_again() {
    let program = program();
    let started = start(&program, program.defs.defaults());
    let wrong = Forward {
        selected_outcome: Some("nowhere".into()),
        answers: Vec::new(),
    };
    assert!(
        forward(&program, &started.run, &wrong)
            .unwrap_err()
            .contains("no outcome")
    );
    let stranger = Forward {
        selected_outcome: None,
        answers: vec![Answer {
            component: "zz".into(),
            content: None,
            object_data: false,
        }],
    };
    assert!(forward(&program, &started.run, &stranger).is_err());
    let kept = forward(
        &program,
        &started.run,
        &Forward {
            selected_outcome: None,
            answers: answer("Al"),
        },
    )
    .unwrap();
    assert_eq!(kept.run.at.as_deref(), Some("ask"));
    assert_eq!(kept.run.values.get(NAME), Some("Al"), "answers are kept");
}

#[test]
fn a_connector_element_faults_naming_it_and_writes_nothing() {
    let program = Program::from_parts(
        vec![
            (
                "s",
                "Start",
                json!({"elementType": "START", "outcomes": [outcome("o", Some("op"), 0)]}),
            ),
            (
                "op",
                "Bump",
                json!({"elementType": "OPERATOR", "operations": [
                {"valueElementToApplyId": {"id": COUNT}, "valueElementToReferenceId": 5}],
                "outcomes": [outcome("o2", Some("m"), 0)]}),
            ),
            (
                "m",
                "Send mail",
                json!({"elementType": "MESSAGE", "outcomes": []}),
            ),
        ],
        vec![],
        defs(),
        "s",
    );
    let stop = start(&program, program.defs.defaults());
    assert_eq!(stop.run.status, Status::Fault);
    assert_eq!(
        stop.run.values.get(COUNT),
        Some("1"),
        "the operator's change is not kept"
    );
    assert!(stop.run.history.is_empty());
    let view = stop.view.unwrap();
    assert_eq!(view.developer_name, "Send mail");
    assert_eq!(view.fault.as_deref(), Some(NO_CONNECTORS));
}

#[test]
fn a_loop_that_never_reaches_a_page_faults() {
    let program = Program::from_parts(
        vec![
            (
                "s",
                "Start",
                json!({"elementType": "START", "outcomes": [outcome("o", Some("a"), 0)]}),
            ),
            (
                "a",
                "Again",
                json!({"elementType": "OPERATOR", "operations": [],
                "outcomes": [outcome("loop", Some("a"), 0)]}),
            ),
        ],
        vec![],
        defs(),
        "s",
    );
    let stop = start(&program, program.defs.defaults());
    assert_eq!(stop.run.status, Status::Fault);
    assert!(
        stop.view
            .unwrap()
            .fault
            .unwrap()
            .contains("1000 map elements")
    );
}

#[test]
fn operator_commands_on_simple_values() {
    let defs = defs();
    let mut values = defs.defaults();
    let op = |ops: Value| json!({"operations": ops}).as_object().cloned().unwrap();
    operator::apply(&op(json!([
        {"order": 0, "valueElementToApplyId": {"id": COUNT}, "valueElementToReferenceId": {"id": GREETING, "command": "LENGTH"}},
        {"order": 1, "valueElementToApplyId": {"id": COUNT, "command": "SUBTRACT"}, "valueElementToReferenceId": {"isT0": true, "asT0": 0.5}},
        {"order": 2, "valueElementToApplyId": {"id": NAME}, "valueElementToReferenceId": {"id": GREETING}},
        {"order": 3, "valueElementToApplyId": {"id": GREETING, "command": "EMPTY"}}
    ])), &defs, &mut values).unwrap();
    assert_eq!(values.get(COUNT), Some("4.5"));
    assert_eq!(values.get(NAME), Some("Hello"));
    assert_eq!(values.get(GREETING), None);
    let refused = operator::apply(
        &op(json!([{"valueElementToApplyId": {"id": COUNT, "command": "GET_NEXT"}}])),
        &defs,
        &mut values,
    );
    assert!(refused.unwrap_err().contains("GET_NEXT"));
    let macro_run = operator::apply(
        &op(json!([{"macroElementToExecuteId": "m"}])),
        &defs,
        &mut values,
    );
    assert!(macro_run.is_err());
}
