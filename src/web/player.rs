//! The player: `GET /{tenantId}/play/{player}?flow-id=…` runs a flow in the browser at Boomi's
//! player address, with plain forms and no script. Without `join` it starts a state of the
//! flow's running version (or `flow-version-id`) and redirects to the address with
//! `&join=<stateId>`, so a reload joins the state rather than starting another. The form posts
//! the page's answers and the outcome chosen (a submit button) with the state's token in a
//! hidden field; a FORWARD that moves on redirects back to the GET (post/redirect/get), one
//! that sends the page back (a required answer missing, a fault) is shown at once, and a stale
//! token (a double submit) shows the state as it now is with a message.
//!
//! Who runs: a signed-in member of the tenant as themselves; anyone else as nobody, which runs
//! public flows only (the others answer a link to sign in that comes back). A signed-in
//! visitor's form carries the CSRF token of their session, checked; an anonymous one has no
//! session to forge, and the state token it must carry is a secret of the page.

use askama::Template;
use axum::Router;
use axum::body::Bytes;
use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use serde::Deserialize;

use crate::domain::{FlowId, StateId, StateToken, TenantId, Timestamp, VersionId};
use crate::http::scope::{client_address, current_request_id};
use crate::rules::RuleError;
use crate::rules::access;
use crate::rules::run::engine::Forward;
use crate::rules::run::page::Answer;
use crate::rules::run::{self, FlowPick, Ran, Runner};
use crate::state::AppState;
use crate::web::csrf;
use crate::web::page::{Chrome, WebError, query_encode, render, sentence};
use crate::web::player_view::{Shown, has_invalid, shown};
use crate::web::session::{self, SignedIn};

pub fn router() -> Router<AppState> {
    Router::new().route("/{tenantId}/play/{player}", get(show).post(answer))
}

/// The notice of a form sent with a token the state no longer holds.
const STALE: &str = "This page had already been answered (the form was sent twice, or from \
     another window): here is where the flow is now.";

#[derive(Deserialize)]
struct PlayQuery {
    #[serde(rename = "flow-id")]
    flow_id: Option<String>,
    #[serde(rename = "flow-version-id")]
    flow_version_id: Option<String>,
    join: Option<String>,
}

#[derive(Template)]
#[template(path = "player.html")]
struct PlayerPage {
    page: Chrome,
    flow_name: String,
    notice: Option<String>,
    /// Not allowed: why, and the sign-in link that comes back (when nobody is signed in).
    refused: Option<String>,
    sign_in: Option<String>,
    shown: Option<Shown>,
    action: String,
    /// The address that joins the state; and the one that starts the flow again.
    here: String,
    again: String,
    state_id: String,
    token: String,
    csrf: Option<String>,
}

/// Who is at the page: their session, if any, and whom the rules run the flow for.
struct Visitor {
    session: Option<SignedIn>,
    runner: Runner,
}

/// The tenant and the player's name, from the path.
struct Place {
    tenant: TenantId,
    player: String,
}

impl Place {
    fn action(&self) -> String {
        format!("/{}/play/{}", self.tenant, self.player)
    }

    /// The address that joins the state (naming its flow, when known).
    fn join(&self, flow: Option<FlowId>, state: StateId) -> String {
        match flow {
            Some(flow) => format!("{}?flow-id={flow}&join={state}", self.action()),
            None => format!("{}?join={state}", self.action()),
        }
    }
}

/// A page answered instead of going on: an error page, or the refusal with its sign-in link
/// (boxed: a response is large, and this is the error side of every step).
struct Refused(Box<Response>);

impl IntoResponse for Refused {
    fn into_response(self) -> Response {
        *self.0
    }
}

impl From<Response> for Refused {
    fn from(response: Response) -> Self {
        Refused(Box::new(response))
    }
}

impl From<WebError> for Refused {
    fn from(error: WebError) -> Self {
        error.into_response().into()
    }
}

type Answered = Result<Response, Refused>;

fn place(path: Result<Path<(String, String)>, PathRejection>) -> Result<Place, Refused> {
    let not_found = |message: &str| {
        Refused::from(WebError::Page {
            status: StatusCode::NOT_FOUND,
            message: message.into(),
        })
    };
    let Path((tenant, player)) = path.map_err(|_| not_found("There is no such page."))?;
    let tenant = TenantId::parse(&tenant)
        .map_err(|_| not_found("There is no such tenant: the address names it by its id."))?;
    // keyflow has one player: any name shows it, so long as it can sit in an address as is.
    let named = !player.is_empty()
        && player.len() <= 100
        && player
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if !named {
        return Err(not_found("There is no player of that name."));
    }
    Ok(Place { tenant, player })
}

fn bad_request(message: &str) -> Refused {
    WebError::bad_request(message).into()
}

async fn visitor(
    state: &AppState,
    headers: &HeaderMap,
    tenant: TenantId,
) -> Result<Visitor, Refused> {
    let session = session::signed_in(headers, state)
        .await
        .map_err(WebError::from)?;
    let runner = match &session {
        Some(session) => {
            let role = access::role(&*state.store, session.user.id, tenant, session.reach())
                .await
                .map_err(WebError::from)?;
            match role {
                Some(_) => Runner::Member(session.user.id),
                None => Runner::Anonymous,
            }
        }
        None => Runner::Anonymous,
    };
    Ok(Visitor { session, runner })
}

fn page(visitor: &Visitor, flow_name: String, place: &Place) -> PlayerPage {
    PlayerPage {
        page: Chrome::new(
            "Run a flow",
            "",
            visitor.session.as_ref().map(SignedIn::nav),
        ),
        flow_name,
        notice: None,
        refused: None,
        sign_in: None,
        shown: None,
        action: place.action(),
        here: String::new(),
        again: String::new(),
        state_id: String::new(),
        token: String::new(),
        csrf: visitor.session.as_ref().map(|s| s.csrf.clone()),
    }
}

/// A refusal of the rules as a page: not allowed is a link to sign in (coming back to `back`)
/// for nobody signed in, a 403 for a signed-in visitor; the others as every page answers them.
/// A refusal of who runs is counted for the audit trail (`run.refused`), as the run API's is.
fn refusal(
    state: &AppState,
    error: RuleError,
    visitor: &Visitor,
    place: &Place,
    back: &str,
) -> Refused {
    let who = run::refused::Refused {
        runner: visitor.runner,
        tenant: place.tenant,
        address: client_address(),
        preview: None,
        request_id: current_request_id(),
    };
    run::refused::note(&state.refusals, &error, who);
    match error {
        RuleError::NotAllowed(message) => {
            let mut shown = page(visitor, "Run a flow".into(), place);
            shown.refused = Some(sentence(&message));
            let status = if visitor.session.is_none() {
                shown.sign_in = Some(format!("/login?next={}", query_encode(back)));
                StatusCode::UNAUTHORIZED
            } else {
                StatusCode::FORBIDDEN
            };
            render(status, &shown).into()
        }
        other => WebError::from(other).into(),
    }
}

/// The state as it stands, with `notice` above it.
fn state_page(
    visitor: &Visitor,
    place: &Place,
    ran: &Ran,
    notice: Option<String>,
    status: StatusCode,
) -> Response {
    let mut shown_page = page(visitor, ran.flow.developer_name.clone(), place);
    shown_page.notice = notice;
    shown_page.shown = Some(shown(ran));
    shown_page.here = place.join(Some(ran.state.flow_id), ran.state.id);
    shown_page.again = format!("{}?flow-id={}", place.action(), ran.state.flow_id);
    shown_page.state_id = ran.state.id.to_string();
    shown_page.token = ran.state.state_token.to_string();
    render(status, &shown_page)
}

async fn show(
    State(state): State<AppState>,
    headers: HeaderMap,
    path: Result<Path<(String, String)>, PathRejection>,
    query: Result<Query<PlayQuery>, QueryRejection>,
) -> Answered {
    let place = place(path)?;
    let Query(query) = query.map_err(|_| bad_request("The address's query could not be read."))?;
    let flow = match query.flow_id.as_deref().filter(|f| !f.trim().is_empty()) {
        Some(text) => Some(
            FlowId::parse(text)
                .map_err(|_| bad_request("The flow-id in the address is not a flow's id."))?,
        ),
        None => None,
    };
    let version = match query
        .flow_version_id
        .as_deref()
        .filter(|v| !v.trim().is_empty())
    {
        Some(text) => Some(VersionId::parse(text).map_err(|_| {
            bad_request("The flow-version-id in the address is not a version's id.")
        })?),
        None => None,
    };
    let visitor = visitor(&state, &headers, place.tenant).await?;
    match query.join.as_deref().filter(|j| !j.trim().is_empty()) {
        Some(join) => {
            let id = StateId::parse(join)
                .map_err(|_| bad_request("The join in the address is not a state's id."))?;
            let back = place.join(flow, id);
            let ran = run::read(&*state.store, place.tenant, visitor.runner, id)
                .await
                .map_err(|e| refusal(&state, e, &visitor, &place, &back))?;
            if flow.is_some_and(|flow| flow != ran.state.flow_id) {
                return Err(WebError::Page {
                    status: StatusCode::NOT_FOUND,
                    message: "This state is not one of that flow's.".into(),
                }
                .into());
            }
            Ok(state_page(&visitor, &place, &ran, None, StatusCode::OK))
        }
        None => {
            let flow = flow.ok_or_else(|| {
                bad_request("Name the flow to run: the address needs its flow-id.")
            })?;
            let mut back = format!("{}?flow-id={flow}", place.action());
            if let Some(version) = version {
                back.push_str(&format!("&flow-version-id={version}"));
            }
            if visitor.runner == Runner::Anonymous {
                crate::api::run::anonymous_start(&state, client_address())
                    .map_err(WebError::from)?;
            }
            let ran = run::start(
                &*state.store,
                place.tenant,
                visitor.runner,
                &FlowPick::Id(flow, version),
                &[],
                Timestamp::now(),
            )
            .await
            .map_err(|e| refusal(&state, e, &visitor, &place, &back))?;
            Ok(Redirect::to(&place.join(Some(flow), ran.state.id)).into_response())
        }
    }
}

/// The form's fields, in order, and the one named (the last, when sent more than once: a
/// checkbox comes after the hidden "false" that stands for it unchecked).
struct Fields(Vec<(String, String)>);

impl Fields {
    fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .rev()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    }

    /// The answers (`c.<component id>`), each component once, its last value.
    fn answers(&self) -> Vec<Answer> {
        let mut answers: Vec<Answer> = Vec::new();
        for (key, value) in &self.0 {
            let Some(component) = key.strip_prefix("c.") else {
                continue;
            };
            answers.retain(|a| a.component != component);
            answers.push(Answer {
                component: component.to_string(),
                content: Some(value.clone()),
                object_data: false,
            });
        }
        answers
    }
}

async fn answer(
    State(state): State<AppState>,
    headers: HeaderMap,
    path: Result<Path<(String, String)>, PathRejection>,
    body: Bytes,
) -> Answered {
    let place = place(path)?;
    let fields = Fields(
        serde_urlencoded::from_bytes(&body)
            .map_err(|_| bad_request("The form could not be read."))?,
    );
    let visitor = visitor(&state, &headers, place.tenant).await?;
    if let Some(session) = &visitor.session
        && !csrf::matches(&session.csrf, fields.get("csrf"))
    {
        return Err(csrf::refused().into());
    }
    let incomplete = || bad_request("The form is incomplete; reload the page and try again.");
    let id = fields
        .get("join")
        .and_then(|j| StateId::parse(j).ok())
        .ok_or_else(incomplete)?;
    let token = fields
        .get("token")
        .and_then(|t| StateToken::parse(t).ok())
        .ok_or_else(incomplete)?;
    let forward = run::Move::Forward(Forward {
        selected_outcome: fields
            .get("outcome")
            .filter(|o| !o.is_empty())
            .map(str::to_string),
        answers: fields.answers(),
    });
    let back = place.join(None, id);
    let invoked = run::invoke(
        &*state.store,
        place.tenant,
        visitor.runner,
        id,
        None,
        token,
        &forward,
        Timestamp::now(),
    )
    .await;
    match invoked {
        // Sent back (an answer missing) or faulted: shown at once, as a refused sign-in is,
        // since a redirect would lose the engine's messages.
        Ok(ran) if has_invalid(&ran) => Ok(state_page(
            &visitor,
            &place,
            &ran,
            None,
            StatusCode::UNPROCESSABLE_ENTITY,
        )),
        Ok(ran) if ran.stop.view.as_ref().is_some_and(|v| v.fault.is_some()) => {
            Ok(state_page(&visitor, &place, &ran, None, StatusCode::OK))
        }
        Ok(ran) => Ok(Redirect::to(&place.join(Some(ran.state.flow_id), id)).into_response()),
        Err(error @ (RuleError::Conflict(_) | RuleError::Invalid(_))) => {
            let (notice, status) = match error {
                RuleError::Conflict(_) => (STALE.to_string(), StatusCode::CONFLICT),
                other => (sentence(&invalid_message(other)), StatusCode::BAD_REQUEST),
            };
            let ran = run::read(&*state.store, place.tenant, visitor.runner, id)
                .await
                .map_err(|e| refusal(&state, e, &visitor, &place, &back))?;
            Ok(state_page(&visitor, &place, &ran, Some(notice), status))
        }
        Err(error) => Err(refusal(&state, error, &visitor, &place, &back)),
    }
}

/// The message of a request the run cannot take, as the rules word it.
fn invalid_message(error: RuleError) -> String {
    match error {
        RuleError::Invalid(message) => message,
        other => crate::http::error::ApiError::from(other).client_message(),
    }
}
