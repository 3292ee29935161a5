//! `POST /api/keys/report-leak` (keyflow's own): anyone who finds keyflow keys where they
//! should not be sends them here, without signing in; every live key among them is revoked on
//! every instance and its owner told. The answer is the same 202, in the same time, whether
//! or not anything matched (`rules::leaks`), and each address may report 10 times at once,
//! then once every 6 s (429 with `Retry-After`).

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::api::doc::{BadRequest, BodyErrors, Internal, TooManyRequests};
use crate::http::error::ApiError;
use crate::http::extract::ClientAddress;
use crate::http::json::parse;
use crate::http::scope::current_request_id;
use crate::rules::leaks;
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(report_leak))
}

/// A leak report.
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
struct LeakReportIn {
    /// The values found: 1 to 100 (`kf_…`). Values that are not keyflow keys are ignored.
    #[schema(min_items = 1, max_items = 100)]
    keys: Vec<String>,
    /// Where they were found: an `http://` or `https://` address, at most 2,048 characters.
    #[schema(max_length = 2048)]
    url: Option<String>,
}

/// The one answer to every accepted report.
#[derive(Serialize, ToSchema)]
struct LeakReportAccepted {
    message: &'static str,
}

/// What every accepted report is told, matched or not.
pub const ACCEPTED: &str = "thank you: every live keyflow key among these values is being \
     revoked, and its owner told where it was found";

/// Reports leaked keys. Needs no credential. Always 202 with the same body once the report
/// is well-formed, whether or not a value was a live key.
#[utoipa::path(
    post,
    path = "/api/keys/report-leak",
    tag = "Keys",
    security(()),
    request_body = LeakReportIn,
    responses(
        (status = 202, description = "Accepted: the live keys among the values are revoked",
            body = LeakReportAccepted),
        BadRequest, BodyErrors, TooManyRequests, Internal,
    )
)]
async fn report_leak(
    State(state): State<AppState>,
    ClientAddress(address): ClientAddress,
    body: Bytes,
) -> Result<(StatusCode, Json<LeakReportAccepted>), ApiError> {
    // Each report spends a cell of the address's budget, before anything else is done.
    state.leak_throttle.spend(address)?;
    let report: LeakReportIn = parse(&body)?;
    let checked = leaks::check(&state.hasher, &report.keys, report.url.as_deref())?;
    // The revocation runs after the answer, so the answer's time says nothing of a match.
    let request_id = current_request_id();
    let background = state.clone();
    tokio::spawn(async move {
        let leaks = background.leaks();
        if let Err(error) = leaks::revoke(&leaks, checked, Some(address), Some(request_id)).await {
            tracing::error!(error = %error, "a leak report could not be applied");
        }
    });
    Ok((
        StatusCode::ACCEPTED,
        Json(LeakReportAccepted { message: ACCEPTED }),
    ))
}
