//! `GET /flows`: the flows of one of the user's tenants — name, summary, last modified and by
//! whom — read from the store exactly as `GET /api/draw/1/flow` reads them.

use askama::Template;
use axum::Router;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;
use serde::Deserialize;

use crate::domain::TenantId;
use crate::rules::access;
use crate::state::AppState;
use crate::store::{FlowRecord, Who};
use crate::web::page::{Chrome, WebError, full_name, render};
use crate::web::session::SignedIn;
use crate::web::settings::{TenantOption, readable};

pub fn router() -> Router<AppState> {
    Router::new().route("/flows", get(show))
}

#[derive(Deserialize)]
struct FlowsQuery {
    tenant: Option<String>,
}

struct FlowRow {
    name: String,
    summary: String,
    modified_iso: String,
    modified_text: String,
    modified_by: String,
}

#[derive(Template)]
#[template(path = "flows.html")]
struct FlowsPage {
    page: Chrome,
    tenants: Vec<TenantOption>,
    selected: String,
    selected_name: String,
    error: Option<String>,
    flows: Vec<FlowRow>,
}

async fn show(
    State(state): State<AppState>,
    session: SignedIn,
    query: Result<Query<FlowsQuery>, QueryRejection>,
) -> Result<Response, WebError> {
    let memberships = access::tenants(&*state.store, session.user.id, session.reach()).await?;
    let asked = query
        .ok()
        .and_then(|Query(q)| q.tenant)
        .filter(|t| !t.trim().is_empty());
    // The tenant asked for when it is one of the user's, else the first of them.
    let chosen = match &asked {
        Some(text) => TenantId::parse(text)
            .ok()
            .and_then(|id| memberships.iter().find(|m| m.tenant.id == id)),
        None => memberships.first(),
    };
    let (status, error) = match (&asked, chosen) {
        (Some(_), None) => (
            StatusCode::NOT_FOUND,
            Some("That is not one of your tenants. Choose one from the list.".to_string()),
        ),
        _ => (StatusCode::OK, None),
    };
    let flows = match chosen {
        Some(membership) => state.store.list_flows(membership.tenant.id, None).await?,
        None => Vec::new(),
    };
    let page = FlowsPage {
        page: Chrome::new("Flows", "flows", Some(session.nav())),
        selected: chosen.map(|m| m.tenant.id.to_string()).unwrap_or_default(),
        selected_name: chosen.map(|m| m.tenant.name.clone()).unwrap_or_default(),
        tenants: memberships
            .iter()
            .map(|m| TenantOption {
                id: m.tenant.id.to_string(),
                name: m.tenant.name.clone(),
                max_days: None,
            })
            .collect(),
        error,
        flows: flows.into_iter().map(flow_row).collect(),
    };
    Ok(render(status, &page))
}

fn flow_row(flow: FlowRecord) -> FlowRow {
    FlowRow {
        name: flow.developer_name,
        summary: flow.developer_summary.unwrap_or_default(),
        modified_iso: flow.date_modified.to_rfc3339(),
        modified_text: readable(flow.date_modified),
        modified_by: who(&flow.who_modified),
    }
}

/// A builder by name, else by email, else by id.
fn who(who: &Who) -> String {
    full_name(who.first_name.as_deref(), who.last_name.as_deref())
        .or_else(|| who.email.clone())
        .unwrap_or_else(|| who.id.to_string())
}
