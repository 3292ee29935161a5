//! `GET /api/run/1/state/{stateId}/history`: the map elements a state passed, in Boomi's
//! `StateHistoryAPI`, for whoever may read the state (the same rights as `GET
//! /api/run/1/state/{stateId}`). The rules are `rules::run::states::history`.

use axum::Json;
use axum::extract::State;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::api::doc::{AuthErrors, NotFound};
use crate::api::run::{RunForbidden, refused, runner};
use crate::domain::{FlowId, StateId};
use crate::http::error::ApiError;
use crate::http::extract::RunCaller;
use crate::http::json::{Segment, TextQuery, path};
use crate::rules::run::states::{self, Visited};
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(history))
}

/// The query of the history.
#[derive(Deserialize, IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Query)]
struct HistoryQuery {
    /// `true`: only the steps and pages (Boomi's UI map elements); `false` by default.
    #[serde(rename = "onlyUIMapElements")]
    #[param(rename = "onlyUIMapElements", value_type = Option<bool>)]
    only_ui_map_elements: Option<String>,
}

/// `StateHistoryEntryAPI`: one map element passed. keyflow keeps no state entries:
/// `stateEntryId` is an id stable for the state and the entry's place in its history.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = StateHistoryEntryAPI)]
pub struct HistoryEntryOut {
    pub flow_id: FlowId,
    pub map_element_id: String,
    pub map_element_name: Option<String>,
    pub state_entry_id: uuid::Uuid,
}

/// `StateHistoryAPI`.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = StateHistoryAPI)]
pub struct HistoryOut {
    pub entries: Vec<HistoryEntryOut>,
}

impl From<Visited> for HistoryEntryOut {
    fn from(visited: Visited) -> Self {
        Self {
            flow_id: visited.flow_id,
            map_element_id: visited.map_element_id,
            map_element_name: Some(visited.name),
            state_entry_id: visited.entry_id,
        }
    }
}

/// The map elements the state passed, in the order it passed them, the one it waits at left
/// out; `onlyUIMapElements=true`: only its steps and pages. The same rights as reading the
/// state: another tenant's state, or an expired one, is 404.
#[utoipa::path(
    get,
    path = "/api/run/1/state/{stateId}/history",
    tag = "Run",
    security((), ("apiKey" = []), ("token" = [])),
    params(("stateId" = uuid::Uuid, Path, description = "The state"), HistoryQuery),
    responses(
        (status = 200, description = "The state's history", body = HistoryOut),
        NotFound, RunForbidden, AuthErrors,
    )
)]
async fn history(
    State(state): State<AppState>,
    caller: RunCaller,
    Segment(id): Segment,
    TextQuery(query): TextQuery<HistoryQuery>,
) -> Result<Json<HistoryOut>, ApiError> {
    let id = path(&id, StateId::parse)?;
    let only_ui = match query.only_ui_map_elements.as_deref().map(str::trim) {
        None | Some("") => false,
        Some(text) if text.eq_ignore_ascii_case("true") => true,
        Some(text) if text.eq_ignore_ascii_case("false") => false,
        Some(text) => {
            return Err(ApiError::BadRequest(format!(
                "onlyUIMapElements must be true or false, not '{}'",
                crate::domain::shorten(text)
            )));
        }
    };
    let visited = states::history(
        &*state.store,
        caller.tenant_id,
        runner(&caller),
        id,
        only_ui,
    )
    .await
    .map_err(refused(&state, &caller))?;
    Ok(Json(HistoryOut {
        entries: visited.into_iter().map(Into::into).collect(),
    }))
}
