//! A tenant's users, for its administrators: `GET`/`POST /api/admin/1/users`, `GET`/`PUT`/
//! `DELETE /api/admin/1/users/{id}`; and `POST /api/admin/1/users/password`, where an
//! invitation's one-time link accepts it (setting the password of an account that has none).

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::State;
use secrecy::ExposeSecret;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::api::doc::{
    AuthErrors, BadRequest, BodyErrors, Conflict, Forbidden, Internal, NotFound, TooManyRequests,
    Unauthorized,
};
use crate::api::user_json::{NewUserIn, SetPassword, UserIn, UserOut, name};
use crate::domain::{Email, Page, Password, Role, UserId};
use crate::http::Administrator;
use crate::http::error::ApiError;
use crate::http::extract::ClientAddress;
use crate::http::json::{JsonBody, Segment, TextQuery, path};
use crate::rules::Actor;
use crate::rules::members::{self as user_admin, Details};
use crate::state::AppState;

/// Where a password link's token is used; the link is this path with `?token=…`.
const SET_PASSWORD_PATH: &str = "/api/admin/1/users/password";

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list, add))
        .routes(routes!(load, update, remove))
        .routes(routes!(set_password))
}

/// Users per page when `pageSize` is not given.
const USERS_PER_PAGE: u32 = 30;

#[derive(Deserialize, IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Query)]
struct PageQuery {
    /// The page, from 1.
    #[param(value_type = Option<i64>, minimum = 1, maximum = 4294967295_i64)]
    page: Option<String>,
    /// Users per page, 1 to 1000 (30 by default).
    #[param(value_type = Option<i64>, minimum = 1, maximum = 1000)]
    page_size: Option<String>,
}

/// `UserAPIItemCollectionResponse`: one page of users.
#[derive(Serialize, ToSchema)]
#[schema(as = UserAPIItemCollectionResponse)]
struct UserPage {
    /// `page`, `pageSize` and `total` (the number of users).
    #[schema(value_type = Object)]
    _meta: BTreeMap<&'static str, u64>,
    /// `self`, and `next` and `previous` where there are such pages.
    _links: BTreeMap<&'static str, String>,
    items: Vec<UserOut>,
}

/// The tenant's users and pending invitations (`invitationPending`), oldest first.
#[utoipa::path(
    get,
    path = "/api/admin/1/users",
    tag = "Admin Users",
    params(PageQuery),
    responses(
        (status = 200, description = "One page of users", body = UserPage),
        Forbidden, AuthErrors,
    )
)]
async fn list(
    State(state): State<AppState>,
    Administrator(principal): Administrator,
    TextQuery(query): TextQuery<PageQuery>,
) -> Result<Json<UserPage>, ApiError> {
    let page = Page::parse(query.page.as_deref(), query.page_size.as_deref())
        .map_err(|error| ApiError::BadRequest(error.0))?
        .unwrap_or(Page::first(USERS_PER_PAGE));
    let (members, total) = state.store.members(principal.tenant_id, page).await?;
    let (number, size) = (page.number(), page.size());
    let link = |number: u32| format!("/api/admin/1/users?page={number}&pageSize={size}");
    let mut links = BTreeMap::from([("self", link(number))]);
    if ((page.offset() + size) as u64) < total {
        links.insert("next", link(number + 1));
    }
    if number > 1 {
        links.insert("previous", link(number - 1));
    }
    let meta = BTreeMap::from([
        ("page", u64::from(number)),
        ("pageSize", size as u64),
        ("total", total),
    ]);
    Ok(Json(UserPage {
        _meta: meta,
        _links: links,
        items: members.into_iter().map(UserOut::from).collect(),
    }))
}

/// The details an add or update asks for; `default` is the role when none is named.
fn details(request: &UserIn, default: Role) -> Result<Details, ApiError> {
    let role = match &request.role {
        Some(role) => role.parse().map_err(ApiError::invalid)?,
        None => None,
    };
    Ok(Details {
        first_name: name(request.first_name.clone()),
        last_name: name(request.last_name.clone()),
        role: role.unwrap_or(default),
    })
}

/// Invites a user by email, a standard user unless `role` says otherwise. The membership is
/// pending until the account's owner accepts through the answer's `setPasswordLink` (keyflow
/// sends no mail; once, within 7 days), which also sets the password of an account that has
/// none. The answer has the same fields whether or not the email has an account elsewhere.
#[utoipa::path(
    post,
    path = "/api/admin/1/users",
    tag = "Admin Users",
    request_body = NewUserIn,
    responses(
        (status = 200, description = "The user", body = UserOut),
        Forbidden, Conflict, BodyErrors, AuthErrors,
    )
)]
async fn add(
    State(state): State<AppState>,
    Administrator(principal): Administrator,
    JsonBody(request): JsonBody<NewUserIn>,
) -> Result<Json<UserOut>, ApiError> {
    let email = Email::parse(&request.email).map_err(ApiError::invalid)?;
    let details = details(&request.details(), Role::Standard)?;
    let tenant = principal.tenant_id;
    let actor = Actor::User(principal.user_id);
    let added = user_admin::add(
        &state.members(),
        &state.hasher,
        actor,
        tenant,
        email,
        details,
    )
    .await?;
    let mut user = UserOut::from(added.member);
    let link = format!("{SET_PASSWORD_PATH}?token={}", added.link.expose_secret());
    user.set_password_link = Some(link);
    Ok(Json(user))
}

/// One user of the tenant.
#[utoipa::path(
    get,
    path = "/api/admin/1/users/{id}",
    tag = "Admin Users",
    params(("id" = uuid::Uuid, Path, description = "The user")),
    responses(
        (status = 200, description = "The user", body = UserOut),
        Forbidden, NotFound, AuthErrors,
    )
)]
async fn load(
    State(state): State<AppState>,
    Administrator(principal): Administrator,
    Segment(id): Segment,
) -> Result<Json<UserOut>, ApiError> {
    let id = path(&id, UserId::parse)?;
    let member = user_admin::member(&state.members(), principal.tenant_id, id).await?;
    Ok(Json(member.into()))
}

/// Sets a user's names and role; what is left out (or null) stays as it is, an empty name
/// clears it. 403 when it would change the names of a user who also belongs to another tenant
/// (only the user changes their own name); 409 when it would leave the tenant without an
/// administrator.
#[utoipa::path(
    put,
    path = "/api/admin/1/users/{id}",
    tag = "Admin Users",
    params(("id" = uuid::Uuid, Path, description = "The user")),
    request_body = UserIn,
    responses(
        (status = 200, description = "The user", body = UserOut),
        Forbidden, NotFound, Conflict, BodyErrors, AuthErrors,
    )
)]
async fn update(
    State(state): State<AppState>,
    Administrator(principal): Administrator,
    Segment(id): Segment,
    JsonBody(mut request): JsonBody<UserIn>,
) -> Result<Json<UserOut>, ApiError> {
    let id = path(&id, UserId::parse)?;
    let tenant = principal.tenant_id;
    let actor = Actor::User(principal.user_id);
    let current = user_admin::member(&state.members(), tenant, id).await?;
    // A name left out stays: a role change must not wipe the names (nor, for a user of other
    // tenants too, be refused for changing them).
    request.first_name = request.first_name.or(current.first_name);
    request.last_name = request.last_name.or(current.last_name);
    let details = details(&request, current.role)?;
    let member = user_admin::update(&state.members(), actor, tenant, id, details).await?;
    Ok(Json(member.into()))
}

/// Removes a user from the tenant, or withdraws a pending invitation (its link then grants
/// nothing): their keys and tokens for it stop on the very next request, for good. 409 for
/// the tenant's last administrator.
#[utoipa::path(
    delete,
    path = "/api/admin/1/users/{id}",
    tag = "Admin Users",
    params(("id" = uuid::Uuid, Path, description = "The user")),
    responses(
        (status = 200, description = "Removed"),
        Forbidden, NotFound, Conflict, AuthErrors,
    )
)]
async fn remove(
    State(state): State<AppState>,
    Administrator(principal): Administrator,
    Segment(id): Segment,
) -> Result<(), ApiError> {
    let id = path(&id, UserId::parse)?;
    let actor = Actor::User(principal.user_id);
    user_admin::remove(&state.members(), actor, principal.tenant_id, id).await?;
    Ok(())
}

/// keyflow's extension: accepts an invitation with the token of its `setPasswordLink`. An
/// account with no password yet gets `password`; an account that has one must send that one
/// (401 otherwise, spending the address's failure budget), and keeps it. The link works once,
/// and only for its own tenant's invitation.
#[utoipa::path(
    post,
    path = "/api/admin/1/users/password",
    tag = "Admin Users",
    security(()),
    request_body = SetPassword,
    responses(
        (status = 200, description = "Accepted (and the password set): sign in with it"),
        BadRequest, Unauthorized, Conflict, BodyErrors, TooManyRequests, Internal,
    )
)]
async fn set_password(
    State(state): State<AppState>,
    ClientAddress(address): ClientAddress,
    JsonBody(request): JsonBody<SetPassword>,
) -> Result<(), ApiError> {
    // Only the address's budget: a wrong token names no account (and its 256 random bits
    // cannot be guessed), and a right one proves enough to pass an account's delay.
    state.throttle.guard(address)?;
    let password = Password::parse(request.password).map_err(ApiError::invalid)?;
    match user_admin::accept(&state.members(), &state.hasher, &request.token, password)
        .await
        .map_err(ApiError::from)
    {
        Ok(()) => Ok(()),
        Err(error @ ApiError::Unauthorized(_)) => Err(error.counted(&state.throttle, address)),
        Err(error) => Err(error),
    }
}
