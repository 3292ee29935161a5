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

/// Starts a run of the library's flow with every value at its default.
fn begin(library: &Library) -> Stop {
    start(library, library.root().defs.defaults())
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
    let program = Library::new(program());
    let stop = begin(&program);
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
    let program = Library::new(program());
    let started = begin(&program);
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
    let program = Library::new(program());
    let started = begin(&program);
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
    let program = Library::new(program());
    let started = begin(&program);
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
    let program = Library::new(program());
    let started = begin(&program);
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
    let stop = begin(&Library::new(program));
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
    let stop = begin(&Library::new(program));
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

const SUB: &str = "f0000000-0000-4000-8000-000000000002";
const INNER: &str = "a0000000-0000-4000-8000-000000000009";

/// A parent flow: START → SUBFLOW "Call" (Name ↔ the subflow's Inner) → step "After"; the
/// subflow: START → operator (Inner ADD "!") → step "Inside" → end.
fn with_subflow(subflow_waits: bool) -> Library {
    let defs = || {
        ValueDefs::from_list(&[
            (NAME, "Name", "ContentString", Some("Ada")),
            (INNER, "Inner", "ContentString", None),
        ])
    };
    let parent = Program::from_parts(
        vec![
            (
                "s",
                "Start",
                json!({"elementType": "START", "outcomes": [outcome("o", Some("call"), 0)]}),
            ),
            (
                "call",
                "Call",
                json!({"elementType": "SUBFLOW", "subflow": {"flowId": {"id": SUB},
                "arguments": [{"valueElementInSubflowId": {"id": INNER},
                               "valueElementToApplyId": {"id": NAME}}]},
                "outcomes": [outcome("back", Some("after"), 0)]}),
            ),
            (
                "after",
                "After",
                json!({"elementType": "STEP", "userContent": "Now {![Name]}"}),
            ),
        ],
        vec![],
        defs(),
        "s",
    );
    let inside_outcomes = if subflow_waits {
        json!([outcome("done", None, 0)])
    } else {
        json!([])
    };
    let sub = Program::from_parts(
        vec![
            (
                "ss",
                "Sub start",
                json!({"elementType": "START", "outcomes": [outcome("o", Some("bang"), 0)]}),
            ),
            (
                "bang",
                "Bang",
                json!({"elementType": "OPERATOR", "operations": [
                    {"valueElementToApplyId": {"id": INNER, "command": "ADD"},
                     "valueElementToReferenceId": "!"}],
                "outcomes": [outcome("o2", if subflow_waits { Some("inside") } else { None }, 0)]}),
            ),
            (
                "inside",
                "Inside",
                json!({"elementType": "STEP", "userContent": "In {![Inner]}",
                "outcomes": inside_outcomes}),
            ),
        ],
        vec![],
        defs(),
        "ss",
    );
    let mut library = Library::new(parent);
    library.add(SUB, sub);
    library
}

#[test]
fn a_subflow_runs_in_the_run_with_its_arguments_in_and_out() {
    // Straight through: in, the operator, out, and on to the parent's step.
    let library = with_subflow(false);
    let stop = begin(&library);
    assert_eq!(stop.run.status, Status::Complete, "the parent's last step");
    assert_eq!(stop.run.at.as_deref(), Some("after"));
    assert!(stop.run.frames.is_empty());
    assert_eq!(
        stop.run.values.get(NAME),
        Some("Ada!"),
        "the argument came back"
    );
    let page = stop.view.unwrap().page.unwrap();
    assert_eq!(page.components[0].content.as_deref(), Some("Now Ada!"));
    let passed: Vec<&str> = stop
        .run
        .history
        .iter()
        .map(|h| h.developer_name.as_str())
        .collect();
    assert_eq!(passed, ["Start", "Call", "Sub start", "Bang"]);

    // Waiting inside the subflow: the frame is kept, and its outcome leads back out.
    let library = with_subflow(true);
    let stop = begin(&library);
    assert_eq!(stop.run.status, Status::InProgress);
    assert_eq!(stop.run.at.as_deref(), Some("inside"));
    assert_eq!(
        stop.run.frames,
        [Frame {
            flow: SUB.into(),
            element: "call".into()
        }]
    );
    let shown = stop.view.as_ref().unwrap().page.as_ref().unwrap();
    assert_eq!(shown.components[0].content.as_deref(), Some("In Ada!"));
    assert_eq!(
        view(&library, &stop.run),
        stop.view,
        "a read shows the same"
    );
    let request = Forward {
        selected_outcome: Some("done".into()),
        answers: Vec::new(),
    };
    let back = forward(&library, &stop.run, &request).unwrap();
    assert_eq!(back.run.at.as_deref(), Some("after"));
    assert!(back.run.frames.is_empty());
    assert_eq!(back.run.values.get(NAME), Some("Ada!"));
}

#[test]
fn a_subflow_of_a_flow_not_activated_faults_naming_the_element() {
    let mut library = with_subflow(false);
    library.flows.clear();
    let stop = begin(&library);
    assert_eq!(stop.run.status, Status::Fault);
    let view = stop.view.unwrap();
    assert_eq!(view.developer_name, "Call");
    assert!(view.fault.unwrap().contains(SUB));
}

#[test]
fn a_subflow_that_calls_itself_faults_as_a_loop() {
    let same = || {
        Program::from_parts(
            vec![
                (
                    "s",
                    "Start",
                    json!({"elementType": "START", "outcomes": [outcome("o", Some("call"), 0)]}),
                ),
                (
                    "call",
                    "Again",
                    json!({"elementType": "SUBFLOW", "subflow": {"flowId": {"id": SUB}}}),
                ),
            ],
            vec![],
            defs(),
            "s",
        )
    };
    let mut library = Library::new(same());
    library.add(SUB, same());
    let stop = begin(&library);
    assert_eq!(stop.run.status, Status::Fault);
    assert!(stop.run.frames.is_empty(), "nothing of the invoke is kept");
    assert!(
        stop.view
            .unwrap()
            .fault
            .unwrap()
            .contains("1000 map elements")
    );
}

/// START → step "One" → step "Two"; a navigation "Menu" with items to each, "Two" nested
/// under "Top".
fn navigated() -> Library {
    let program = Program::from_parts(
        vec![
            (
                "s",
                "Start",
                json!({"elementType": "START", "outcomes": [outcome("o", Some("one"), 0)]}),
            ),
            (
                "one",
                "One",
                json!({"elementType": "STEP", "userContent": "one",
                "outcomes": [outcome("next", Some("two"), 0)]}),
            ),
            (
                "two",
                "Two",
                json!({"elementType": "STEP", "userContent": "two",
                "outcomes": [outcome("back", Some("one"), 0)]}),
            ),
        ],
        vec![],
        defs(),
        "s",
    )
    .with_navigation(vec![(
        "nav",
        "Menu",
        json!({"label": "Menu", "persistValues": true, "position": "Top", "navigationItems": [
            {"id": "i-top", "label": "Top", "order": 1, "navigationItems": [
                {"id": "i-two", "label": "Second", "locationMapElementId": "two", "order": 0}]},
            {"id": "i-one", "label": "First", "locationMapElementId": "ONE", "order": 0},
            {"id": "i-none", "label": "Nowhere", "order": 2}
        ]}),
    )]);
    Library::new(program)
}

#[test]
fn navigation_shows_where_the_run_is_and_navigate_moves_it() {
    let library = navigated();
    let stop = begin(&library);
    assert_eq!(stop.run.at.as_deref(), Some("one"));
    let menus = navigations(&library, &stop.run);
    assert_eq!(menus.len(), 1);
    let menu = &menus[0];
    assert_eq!(
        (menu.developer_name.as_str(), menu.persist_values),
        ("Menu", true)
    );
    let labels: Vec<_> = menu
        .items
        .iter()
        .map(|i| i.label.clone().unwrap())
        .collect();
    assert_eq!(labels, ["First", "Top", "Nowhere"], "in their order");
    assert!(menu.items[0].is_current && menu.items[0].is_active);
    assert!(!menu.items[1].is_active);

    let moved = navigate(&library, &stop.run, "NAV", "i-two").unwrap();
    assert_eq!(moved.run.at.as_deref(), Some("two"));
    assert_eq!(moved.view.unwrap().developer_name, "Two");
    let menu = navigation(&library, &moved.run, "nav").unwrap();
    assert!(menu.items[1].is_active, "the parent of the current item");
    assert!(menu.items[1].children[0].is_current);
    assert!(!menu.items[0].is_current);

    // Refused, changing nothing: an unknown navigation or item, an item leading nowhere.
    assert!(navigate(&library, &stop.run, "other", "i-one").is_err());
    assert!(navigate(&library, &stop.run, "nav", "i-missing").is_err());
    let nowhere = navigate(&library, &stop.run, "nav", "i-none").unwrap_err();
    assert!(nowhere.contains("Nowhere"), "{nowhere}");
    assert!(navigation(&library, &stop.run, "other").is_err());
}

#[test]
fn lists_and_objects_hold_object_data_set_and_emptied_by_operators() {
    const LIST: &str = "a0000000-0000-4000-8000-00000000000a";
    const COPY: &str = "a0000000-0000-4000-8000-00000000000b";
    let defs = ValueDefs::from_list(&[
        (
            LIST,
            "People",
            "ContentList",
            Some(
                r#"[{"developerName": "Person", "properties": [{"developerName": "Name", "contentValue": "Ada"}]}]"#,
            ),
        ),
        (COPY, "Copy", "ContentList", None),
        (NAME, "Name", "ContentString", None),
    ]);
    let mut values = defs.defaults();
    assert_eq!(
        values.objects(LIST).map(<[_]>::len),
        Some(1),
        "the default object data"
    );
    assert_eq!(values.objects(COPY), None);
    let op = |ops: Value| json!({"operations": ops}).as_object().cloned().unwrap();
    operator::apply(
        &op(json!([{"valueElementToApplyId": {"id": COPY}, "valueElementToReferenceId": {"id": LIST}}])),
        &defs,
        &mut values,
    )
    .unwrap();
    assert_eq!(values.objects(COPY), values.objects(LIST));
    operator::apply(
        &op(json!([{"valueElementToApplyId": {"id": LIST, "command": "EMPTY"}}])),
        &defs,
        &mut values,
    )
    .unwrap();
    assert_eq!(values.objects(LIST), None);
    assert!(values.objects(COPY).is_some(), "a copy, not a reference");
    // A list from a string, a constant, or an unsupported command: refused, naming it.
    for refused in [
        json!([{"valueElementToApplyId": {"id": COPY}, "valueElementToReferenceId": {"id": NAME}}]),
        json!([{"valueElementToApplyId": {"id": COPY}, "valueElementToReferenceId": "x"}]),
        json!([{"valueElementToApplyId": {"id": COPY, "command": "GET_FIRST"}}]),
    ] {
        let message = operator::apply(&op(refused), &defs, &mut values).unwrap_err();
        assert!(message.contains("Copy"), "{message}");
    }
    // Stored and read back the same.
    let stored = serde_json::to_string(&values).unwrap();
    let read: Values = serde_json::from_str(&stored).unwrap();
    assert_eq!(read, values);
}

#[test]
fn a_password_bound_to_a_page_is_taken_but_never_shown() {
    const SECRET: &str = "a0000000-0000-4000-8000-00000000000c";
    let defs = ValueDefs::from_list(&[(SECRET, "Secret", "ContentPassword", None)]);
    let page = json!({"pageComponents": [{"id": "pw", "componentType": "INPUT",
        "valueElementValueBindingReferenceId": {"id": SECRET}}]});
    let page = page.as_object().unwrap();
    let mut values = defs.defaults();
    let answers = [Answer {
        component: "pw".into(),
        content: Some("hunter2".into()),
        object_data: false,
    }];
    super::take_answers(page, &answers, &defs, &mut values).unwrap();
    assert_eq!(values.get(SECRET), Some("hunter2"), "kept in the state");
    let shown = super::page_view(page, &defs, &values, &HashMap::new()).unwrap();
    assert_eq!(shown.components[0].content_value, None);
    assert_eq!(
        shown.components[0].content_type.as_deref(),
        Some("ContentPassword")
    );
}
