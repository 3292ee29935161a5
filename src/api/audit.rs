//! The audit trail in Boomi's shape: `GET /api/audit/1/search`
//! (`AuditEventItemCollectionResponse`) and `GET /api/audit/1/csv`, with the same filters.
//! An administrator of the request's tenant reads the tenant's events; anyone else only the
//! events they did themselves.

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::State;
use axum::http::Uri;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde_json::{Map, Value};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::api::doc::AuthErrors;
use crate::domain::{Role, TenantId, Timestamp, UserId};
use crate::http::Principal;
use crate::http::error::ApiError;
use crate::rules::access;
use crate::rules::audit::{self, Reader};
use crate::state::AppState;
use crate::store::{AuditOrder, AuditQuery, AuditRecord};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(search))
        .routes(routes!(csv))
}

/// Events a page by default, and at most.
const PAGE_SIZE: u32 = 100;
const MAX_PAGE_SIZE: u32 = 1_000;
/// The most events one CSV export holds: narrow it with `from` and `to` for more.
pub const MAX_CSV_ROWS: u32 = 10_000;
/// The most values `type` or `user` may list.
const MAX_LISTED: usize = 50;

/// The filters, as Boomi describes them (read case-insensitively; `type` and `user` may be
/// repeated or comma-separated).
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
struct SearchParams {
    /// Only these event types (e.g. `key.created`, `key.refused`); repeated or comma-separated.
    #[param(rename = "type", value_type = Option<Vec<EventType>>)]
    kind: Option<Vec<String>>,
    /// Only events at or after this moment (RFC 3339).
    #[param(value_type = Option<String>, format = DateTime)]
    from: Option<String>,
    /// Only events before this moment (RFC 3339).
    #[param(value_type = Option<String>, format = DateTime)]
    to: Option<String>,
    /// Only events done by these users (ids); repeated or comma-separated.
    #[param(value_type = Option<Vec<uuid::Uuid>>)]
    user: Option<Vec<String>>,
    /// The page, from 1.
    #[param(minimum = 1)]
    page: Option<u32>,
    /// Events a page, 1 to 1000 (100 by default).
    #[param(rename = "pageSize", minimum = 1, maximum = 1000)]
    page_size: Option<u32>,
    /// `occurredAt` (the default), `type` or `user`, in any case.
    #[param(
        rename = "orderBy",
        pattern = r"^\s*([oO][cC][cC][uU][rR][rR][eE][dD][aA][tT]|[tT][yY][pP][eE]|[uU][sS][eE][rR])?\s*$"
    )]
    order_by: Option<String>,
    /// `ASC` (the default) or `DESC`, in any case.
    #[param(
        rename = "orderDirection",
        pattern = r"^\s*([aA][sS][cC]|[dD][eE][sS][cC])?\s*$"
    )]
    order_direction: Option<String>,
}

/// An event type as a filter names it, for the description only: at most 100 characters.
#[derive(ToSchema)]
#[schema(value_type = String, pattern = r"^[\s\S]{0,100}$")]
#[allow(dead_code)]
struct EventType(String);

/// The CSV's filters: the search's, without the paging.
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
struct CsvParams {
    /// Only these event types; repeated or comma-separated.
    #[param(rename = "type", value_type = Option<Vec<EventType>>)]
    kind: Option<Vec<String>>,
    /// Only events at or after this moment (RFC 3339).
    #[param(value_type = Option<String>, format = DateTime)]
    from: Option<String>,
    /// Only events before this moment (RFC 3339).
    #[param(value_type = Option<String>, format = DateTime)]
    to: Option<String>,
    /// Only events done by these users (ids); repeated or comma-separated.
    #[param(value_type = Option<Vec<uuid::Uuid>>)]
    user: Option<Vec<String>>,
    /// `occurredAt` (the default), `type` or `user`, in any case.
    #[param(
        rename = "orderBy",
        pattern = r"^\s*([oO][cC][cC][uU][rR][rR][eE][dD][aA][tT]|[tT][yY][pP][eE]|[uU][sS][eE][rR])?\s*$"
    )]
    order_by: Option<String>,
    /// `ASC` (the default) or `DESC`, in any case.
    #[param(
        rename = "orderDirection",
        pattern = r"^\s*([aA][sS][cC]|[dD][eE][sS][cC])?\s*$"
    )]
    order_direction: Option<String>,
}

/// `AppUser`: who did it.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = AppUser)]
struct AppUser {
    id: UserId,
    first_name: Option<String>,
    last_name: Option<String>,
    email: Option<String>,
}

/// `AuditEvent`. keyflow puts what Boomi has no field for into `data`: the `subject`, the
/// client's `address`, the `requestId`, and the event's own details (a refusal's `reason`
/// and `count`, a key's name, a leak report's `url`).
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = AuditEvent)]
struct AuditEventOut {
    id: uuid::Uuid,
    #[serde(rename = "type")]
    kind: String,
    occurred_at: Timestamp,
    /// Absent for an event of the command line or of an anonymous caller.
    #[serde(skip_serializing_if = "Option::is_none")]
    user_id: Option<UserId>,
    #[serde(skip_serializing_if = "Option::is_none")]
    user: Option<AppUser>,
    #[serde(skip_serializing_if = "Option::is_none")]
    tenant_id: Option<TenantId>,
    #[schema(value_type = Object)]
    data: Map<String, Value>,
}

impl From<AuditRecord> for AuditEventOut {
    fn from(record: AuditRecord) -> Self {
        let mut data = record
            .data
            .as_deref()
            .and_then(|text| serde_json::from_str::<Map<String, Value>>(text).ok())
            .unwrap_or_default();
        for (name, value) in [
            ("subject", record.subject),
            ("address", record.address),
            ("requestId", record.request_id),
        ] {
            if let Some(value) = value {
                data.entry(name).or_insert(Value::String(value));
            }
        }
        let user = match (record.actor_id, record.email) {
            (Some(id), Some(email)) => Some(AppUser {
                id,
                first_name: record.first_name,
                last_name: record.last_name,
                email: Some(email),
            }),
            _ => None,
        };
        AuditEventOut {
            id: record.id,
            kind: record.action,
            occurred_at: record.at,
            user_id: record.actor_id,
            user,
            tenant_id: record.tenant_id,
            data,
        }
    }
}

/// `AuditEventItemCollectionResponse`: one page of events.
#[derive(Serialize, ToSchema)]
#[schema(as = AuditEventItemCollectionResponse)]
struct AuditPageOut {
    /// `page`, `pageSize` and `total` (the number of events passing the filters).
    #[schema(value_type = Object)]
    _meta: BTreeMap<&'static str, u64>,
    /// `self`, and `next` and `previous` where there are such pages.
    _links: BTreeMap<&'static str, String>,
    items: Vec<AuditEventOut>,
}

/// The events the caller may read, filtered, a page at a time (100 by default, oldest first).
#[utoipa::path(
    get,
    path = "/api/audit/1/search",
    tag = "Audit",
    params(SearchParams),
    responses(
        (status = 200, description = "One page of events", body = AuditPageOut),
        AuthErrors,
    )
)]
async fn search(
    State(state): State<AppState>,
    principal: Principal,
    uri: Uri,
) -> Result<Json<AuditPageOut>, ApiError> {
    let filters = Filters::parse(uri.query().unwrap_or(""), true)?;
    let reader = reader(&state, &principal).await?;
    let (number, size) = (filters.page, filters.page_size);
    let query = filters.query(u64::from(number - 1) * u64::from(size), size);
    let page = audit::search(state.store.as_ref(), reader, query).await?;
    let link = |number: u32| {
        let mut link = format!("/api/audit/1/search?page={number}&pageSize={size}");
        if let Some(rest) = &filters.echo {
            link.push('&');
            link.push_str(rest);
        }
        link
    };
    let mut links = BTreeMap::from([("self", link(number))]);
    if u64::from(number) * u64::from(size) < page.total {
        links.insert("next", link(number + 1));
    }
    if number > 1 {
        links.insert("previous", link(number - 1));
    }
    Ok(Json(AuditPageOut {
        _meta: BTreeMap::from([
            ("page", u64::from(number)),
            ("pageSize", u64::from(size)),
            ("total", page.total),
        ]),
        _links: links,
        items: page.events.into_iter().map(AuditEventOut::from).collect(),
    }))
}

/// The same events as a CSV file (a header row, then one row an event; at most 10,000:
/// narrow with `from` and `to` for more). A cell that a spreadsheet would read as a formula
/// (starting with `=`, `+`, `-`, `@`, a tab or a carriage return) is prefixed with `'`.
#[utoipa::path(
    get,
    path = "/api/audit/1/csv",
    tag = "Audit",
    params(CsvParams),
    responses(
        (status = 200, description = "The events as CSV", body = String, content_type = "text/csv"),
        AuthErrors,
    )
)]
async fn csv(
    State(state): State<AppState>,
    principal: Principal,
    uri: Uri,
) -> Result<Response, ApiError> {
    let filters = Filters::parse(uri.query().unwrap_or(""), false)?;
    let reader = reader(&state, &principal).await?;
    let query = filters.query(0, MAX_CSV_ROWS);
    let page = audit::search(state.store.as_ref(), reader, query).await?;
    let mut out = String::new();
    push_row(
        &mut out,
        &[
            "id",
            "type",
            "occurredAt",
            "userId",
            "userEmail",
            "tenantId",
            "address",
            "requestId",
            "subject",
            "data",
        ],
    );
    for event in page.events {
        let cells = [
            event.id.to_string(),
            event.action,
            event.at.to_string(),
            event.actor_id.map(|id| id.to_string()).unwrap_or_default(),
            event.email.unwrap_or_default(),
            event.tenant_id.map(|id| id.to_string()).unwrap_or_default(),
            event.address.unwrap_or_default(),
            event.request_id.unwrap_or_default(),
            event.subject.unwrap_or_default(),
            event.data.unwrap_or_default(),
        ];
        let cells: Vec<&str> = cells.iter().map(String::as_str).collect();
        push_row(&mut out, &cells);
    }
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
            (
                header::CONTENT_DISPOSITION,
                "attachment; filename=\"audit.csv\"",
            ),
        ],
        out,
    )
        .into_response())
}

/// Appends one CSV row (RFC 4180: a cell with a comma, quote or line break is quoted, its
/// quotes doubled), each cell made safe from spreadsheet formulas first.
pub fn push_row(out: &mut String, cells: &[&str]) {
    for (index, cell) in cells.iter().enumerate() {
        if index > 0 {
            out.push(',');
        }
        let formula = cell.starts_with(['=', '+', '-', '@', '\t', '\r']);
        let quoted = formula || cell.contains([',', '"', '\n', '\r']);
        if quoted {
            out.push('"');
        }
        if formula {
            out.push('\'');
        }
        for c in cell.chars() {
            if c == '"' {
                out.push('"');
            }
            out.push(c);
        }
        if quoted {
            out.push('"');
        }
    }
    out.push_str("\r\n");
}

/// What the caller may read: an administrator of the request's tenant, its events; anyone
/// else, their own.
async fn reader(state: &AppState, principal: &Principal) -> Result<Reader, ApiError> {
    let role = access::role(
        state.store.as_ref(),
        principal.user_id,
        principal.tenant_id,
        principal.signed_in_at(),
    )
    .await?;
    Ok(match role {
        Some(Role::Administrator) => Reader::Administrator {
            tenant: principal.tenant_id,
            user: principal.user_id,
        },
        _ => Reader::Own {
            user: principal.user_id,
        },
    })
}

/// The query's filters, checked.
struct Filters {
    types: Vec<String>,
    users: Vec<UserId>,
    from: Option<Timestamp>,
    to: Option<Timestamp>,
    page: u32,
    page_size: u32,
    order: AuditOrder,
    descending: bool,
    /// The filters again, for the page links.
    echo: Option<String>,
}

impl Filters {
    fn parse(query: &str, paged: bool) -> Result<Self, ApiError> {
        let bad = |message: String| ApiError::BadRequest(message);
        let mut filters = Filters {
            types: Vec::new(),
            users: Vec::new(),
            from: None,
            to: None,
            page: 1,
            page_size: PAGE_SIZE,
            order: AuditOrder::OccurredAt,
            descending: false,
            echo: None,
        };
        let mut seen: Vec<&'static str> = Vec::new();
        let mut echo = form_urlencoded::Serializer::new(String::new());
        let mut echoed = false;
        for (name, value) in form_urlencoded::parse(query.as_bytes()) {
            let known = [
                "type",
                "user",
                "from",
                "to",
                "page",
                "pageSize",
                "orderBy",
                "orderDirection",
            ];
            let Some(name) = known.into_iter().find(|k| k.eq_ignore_ascii_case(&name)) else {
                continue;
            };
            let repeatable = matches!(name, "type" | "user");
            if !repeatable && seen.contains(&name) {
                return Err(bad(format!("send the query parameter '{name}' once")));
            }
            seen.push(name);
            if !matches!(name, "page" | "pageSize") {
                echo.append_pair(name, &value);
                echoed = true;
            }
            let value = value.trim();
            match name {
                "type" => {
                    for kind in value.split(',').map(str::trim).filter(|k| !k.is_empty()) {
                        // The whole value, as the description bounds it, not only each part.
                        if value.chars().count() > 100 {
                            return Err(
                                bad("type: an event type is at most 100 characters".into()),
                            );
                        }
                        filters.types.push(kind.to_string());
                    }
                    if filters.types.len() > MAX_LISTED {
                        return Err(bad(format!("type: at most {MAX_LISTED} types")));
                    }
                }
                "user" => {
                    // Each value is a user id, as described, or ids separated by commas:
                    // an empty one (or an empty part) is not.
                    for user in value.split(',').map(str::trim) {
                        let id = UserId::parse(user).map_err(|_| {
                            bad(format!(
                                "user: '{}' is not a user id (a UUID)",
                                crate::domain::shorten(user)
                            ))
                        })?;
                        filters.users.push(id);
                    }
                    if filters.users.len() > MAX_LISTED {
                        return Err(bad(format!("user: at most {MAX_LISTED} users")));
                    }
                }
                "from" | "to" => {
                    let at = Timestamp::parse(value).map_err(|_| {
                        bad(format!(
                            "{name}: '{}' is not an RFC 3339 date-time (e.g. 2026-12-07T17:00:00Z)",
                            crate::domain::shorten(value)
                        ))
                    })?;
                    if name == "from" {
                        filters.from = Some(at);
                    } else {
                        filters.to = Some(at);
                    }
                }
                "page" if paged => {
                    // Within int32, as the description's format says.
                    filters.page = value
                        .parse::<u32>()
                        .ok()
                        .filter(|page| (1..=i32::MAX as u32).contains(page))
                        .ok_or_else(|| bad("page: a whole number from 1 to 2147483647".into()))?;
                }
                "pageSize" if paged => {
                    filters.page_size = value
                        .parse::<u32>()
                        .ok()
                        .filter(|size| (1..=MAX_PAGE_SIZE).contains(size))
                        .ok_or_else(|| {
                            bad(format!(
                                "pageSize: a whole number from 1 to {MAX_PAGE_SIZE}"
                            ))
                        })?;
                }
                "orderBy" => {
                    filters.order = match value.to_ascii_lowercase().as_str() {
                        "occurredat" | "" => AuditOrder::OccurredAt,
                        "type" => AuditOrder::Type,
                        "user" => AuditOrder::User,
                        _ => {
                            return Err(bad("orderBy: one of occurredAt, type or user".into()));
                        }
                    }
                }
                "orderDirection" => {
                    filters.descending = match value.to_ascii_uppercase().as_str() {
                        "ASC" | "" => false,
                        "DESC" => true,
                        _ => return Err(bad("orderDirection: ASC or DESC".into())),
                    }
                }
                _ => {}
            }
        }
        // `from` after `to` is an empty window, answered with no events: the description
        // cannot say that one parameter must come before the other, so it is not an error.
        if u64::from(filters.page - 1) * u64::from(filters.page_size) > i64::MAX as u64 {
            return Err(bad("page: too far".into()));
        }
        filters.echo = echoed.then(|| echo.finish());
        Ok(filters)
    }

    fn query(&self, offset: u64, limit: u32) -> AuditQuery {
        AuditQuery {
            types: self.types.clone(),
            users: self.users.clone(),
            from: self.from,
            to: self.to,
            order: self.order,
            descending: self.descending,
            offset,
            limit,
            ..AuditQuery::default()
        }
    }
}
