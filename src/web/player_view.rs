//! What the player page shows of a run, read from where the engine stopped: the heading, the
//! step's or the page's content as paragraphs of text, the page's inputs (label, required,
//! the engine's message), the outcomes as buttons, and whether the run is over or faulted.
//! Pure: no store, no HTTP.

use crate::rules::run::Ran;
use crate::rules::run::engine::Status;
use crate::rules::run::page::ComponentView;

/// The run as the page shows it.
pub struct Shown {
    pub heading: String,
    pub fields: Vec<Field>,
    pub outcomes: Vec<Button>,
    /// Over: nothing more to answer.
    pub over: bool,
    /// The engine's fault, as a sentence.
    pub fault: Option<String>,
    /// Whether a field is marked required (the page then says what the mark means).
    pub any_required: bool,
}

/// A component of the page: content to read, or an input.
pub struct Field {
    /// `presentation`, `text`, `number`, `password`, `textarea` or `checkbox`.
    pub kind: &'static str,
    /// The element id of the control (`c-<component id>`).
    pub html_id: String,
    /// The form field's name (`c.<component id>`).
    pub name: String,
    pub label: String,
    pub hint: Option<String>,
    pub required: bool,
    pub editable: bool,
    pub value: String,
    pub checked: bool,
    pub paragraphs: Vec<String>,
    /// The engine's message when the answer is missing.
    pub error: Option<String>,
    /// The first field with an error takes the focus.
    pub autofocus: bool,
}

/// An outcome, as a submit button.
pub struct Button {
    pub id: String,
    pub label: String,
}

/// Whether the engine sent the page back with an answer missing.
pub fn has_invalid(ran: &Ran) -> bool {
    components(ran).iter().any(|c| !c.is_valid)
}

fn components(ran: &Ran) -> &[ComponentView] {
    ran.stop
        .view
        .as_ref()
        .and_then(|view| view.page.as_ref())
        .map_or(&[], |page| page.components.as_slice())
}

/// The run where it stopped.
pub fn shown(ran: &Ran) -> Shown {
    let view = ran.stop.view.as_ref();
    let page = view.and_then(|v| v.page.as_ref());
    let heading = view
        .and_then(|v| v.label.clone())
        .or_else(|| page.and_then(|p| p.label.clone()))
        .or_else(|| view.map(|v| v.developer_name.clone()))
        .filter(|h| !h.trim().is_empty())
        .unwrap_or_else(|| ran.flow.developer_name.clone());
    let mut focused = false;
    let fields: Vec<Field> = components(ran)
        .iter()
        .map(|component| {
            let mut field = field(component);
            if field.error.is_some() && !focused {
                field.autofocus = true;
                focused = true;
            }
            field
        })
        .collect();
    let status = ran.stop.run.status;
    Shown {
        heading,
        any_required: fields
            .iter()
            .any(|f| f.required && f.kind != "presentation"),
        fields,
        // A faulted run waits where the faulted invoke started: its outcomes may be tried again.
        outcomes: if status != Status::Complete {
            view.map(|v| {
                v.outcomes
                    .iter()
                    .map(|o| Button {
                        id: o.id.clone(),
                        label: o
                            .label
                            .clone()
                            .or_else(|| o.developer_name.clone())
                            .filter(|l| !l.trim().is_empty())
                            .unwrap_or_else(|| "Next".into()),
                    })
                    .collect()
            })
            .unwrap_or_default()
        } else {
            Vec::new()
        },
        over: status == Status::Complete,
        fault: view
            .and_then(|v| v.fault.as_ref())
            .map(|fault| crate::web::page::sentence(fault)),
    }
}

fn field(component: &ComponentView) -> Field {
    let kind = kind(component);
    let value = component.content_value.clone().unwrap_or_default();
    let label = component
        .label
        .clone()
        .or_else(|| component.developer_name.clone())
        .filter(|l| !l.trim().is_empty())
        .unwrap_or_else(|| "Answer".into());
    Field {
        kind,
        html_id: format!("c-{}", component.id),
        name: format!("c.{}", component.id),
        hint: component.hint.clone().filter(|h| !h.trim().is_empty()),
        required: component.is_required,
        editable: component.is_editable,
        checked: value.eq_ignore_ascii_case("true"),
        value,
        paragraphs: if kind == "presentation" {
            let mut text = paragraphs(component.content.as_deref().unwrap_or_default());
            if text.is_empty() {
                text.extend(component.label.clone());
            }
            text
        } else {
            Vec::new()
        },
        error: component
            .validation_message
            .as_deref()
            .map(crate::web::page::sentence),
        autofocus: false,
        label,
    }
}

/// How a component is drawn: by its type, else by its value's content type.
fn kind(component: &ComponentView) -> &'static str {
    let kind = component
        .component_type
        .as_deref()
        .unwrap_or_default()
        .to_ascii_uppercase();
    let content_type = component.content_type.as_deref().unwrap_or_default();
    match kind.as_str() {
        "PRESENTATION" | "CONTENT" | "LABEL" => "presentation",
        _ if component.content_type.is_none() => "presentation",
        "TEXTAREA" | "RICHTEXT" => "textarea",
        "CHECKBOX" | "TOGGLE" => "checkbox",
        _ => match content_type {
            "ContentBoolean" => "checkbox",
            "ContentNumber" => "number",
            "ContentPassword" => "password",
            _ => "text",
        },
    }
}

/// A step's or component's content (HTML, as Boomi's builders write it) as paragraphs of plain
/// text: tags dropped, a block's end a new paragraph, the common entities decoded. The text is
/// escaped again by the template: a builder's markup (or a value a user typed into it) never
/// reaches the page as markup.
pub fn paragraphs(html: &str) -> Vec<String> {
    let mut text = String::with_capacity(html.len());
    let mut rest = html;
    while let Some(open) = rest.find('<') {
        text.push_str(&rest[..open]);
        let Some(close) = rest[open..].find('>') else {
            rest = &rest[open..];
            break;
        };
        let tag = rest[open + 1..open + close]
            .trim_start_matches('/')
            .split(|c: char| c.is_whitespace() || c == '/')
            .next()
            .unwrap_or_default()
            .to_ascii_lowercase();
        if matches!(
            tag.as_str(),
            "p" | "br"
                | "div"
                | "li"
                | "h1"
                | "h2"
                | "h3"
                | "h4"
                | "h5"
                | "h6"
                | "tr"
                | "ul"
                | "ol"
        ) {
            text.push('\n');
        }
        rest = &rest[open + close + 1..];
    }
    text.push_str(rest);
    text.split('\n')
        .map(|line| decode(line.split_whitespace().collect::<Vec<_>>().join(" ")))
        .filter(|line| !line.is_empty())
        .collect()
}

fn decode(text: String) -> String {
    if !text.contains('&') {
        return text;
    }
    text.replace("&nbsp;", " ")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&amp;", "&")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_becomes_paragraphs_of_text() {
        assert_eq!(
            paragraphs("<p>Hello <b>Ada</b>,</p><p>visit&nbsp;2 &amp; more</p>"),
            vec!["Hello Ada,", "visit 2 & more"]
        );
        assert_eq!(paragraphs("plain"), vec!["plain"]);
        assert_eq!(paragraphs("a<br/>b"), vec!["a", "b"]);
        assert_eq!(
            paragraphs("<script>x</script>&lt;i&gt;"),
            vec!["x<i>"],
            "markup is text, escaped again by the template"
        );
        assert!(paragraphs("<p></p>").is_empty());
    }
}
