//! The one table of which scope each route needs of a narrowed API key (route template and
//! method). `http::extract` checks it once per request, for a key or a token an API key
//! obtained, against the route axum matched; a unit test in `api` walks every route of the
//! router and fails when one has no row here, or a row names no route.
//!
//! A scope only narrows a key: the role checks stay where they are, so a standard user's key
//! with `admin:write` still cannot do what only an administrator may.

use std::collections::HashMap;
use std::sync::LazyLock;

use axum::http::Method;

use crate::domain::Scope;

/// What a route asks of a narrowed key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Need {
    /// Nothing: open without a credential (sign-in, the description, health), or what any
    /// key may ask (whose it is; a token for its own tenant, which keeps the key's scopes).
    Nothing,
    Scope(Scope),
}

use Need::Nothing;
use Scope::*;

const fn s(scope: Scope) -> Need {
    Need::Scope(scope)
}

/// Every route: method, template (as axum matches it), need.
pub const ROUTES: &[(&str, &str, Need)] = &[
    // Administration: the tenant, its users, the user's own account and keys (the keys' own
    // routes refuse every key anyway: `Interactive`).
    ("GET", "/api/admin/1/tenant", s(AdminRead)),
    ("POST", "/api/admin/1/tenant", s(AdminWrite)),
    ("GET", "/api/admin/1/users", s(AdminRead)),
    ("POST", "/api/admin/1/users", s(AdminWrite)),
    ("GET", "/api/admin/1/users/me", Nothing),
    ("PUT", "/api/admin/1/users/me", s(AdminWrite)),
    ("GET", "/api/admin/1/users/me/keys", s(AdminRead)),
    ("POST", "/api/admin/1/users/me/keys", s(AdminWrite)),
    ("DELETE", "/api/admin/1/users/me/keys/{name}", s(AdminWrite)),
    (
        "POST",
        "/api/admin/1/users/me/keys/{name}/rotate",
        s(AdminWrite),
    ),
    (
        "POST",
        "/api/admin/1/users/me/keys/{name}/reveal",
        s(AdminRead),
    ),
    ("POST", "/api/admin/1/users/password", Nothing),
    ("GET", "/api/admin/1/users/{id}", s(AdminRead)),
    ("PUT", "/api/admin/1/users/{id}", s(AdminWrite)),
    ("DELETE", "/api/admin/1/users/{id}", s(AdminWrite)),
    // The states of the tenant's running flows: administration, not running.
    ("GET", "/api/admin/1/states", s(AdminRead)),
    ("DELETE", "/api/admin/1/states", s(AdminWrite)),
    ("GET", "/api/admin/1/states/{id}", s(AdminRead)),
    ("DELETE", "/api/admin/1/states/{id}", s(AdminWrite)),
    ("GET", "/api/admin/1/states/flow/{id}", s(AdminRead)),
    (
        "GET",
        "/api/admin/1/states/flow/{id}/{version}",
        s(AdminRead),
    ),
    // Authentication.
    ("POST", "/api/draw/1/authentication", Nothing),
    ("GET", "/api/draw/1/authentication/{tenantId}", Nothing),
    // The tenant's elements.
    (
        "GET",
        "/api/draw/1/element/customPageComponent",
        s(ElementsRead),
    ),
    (
        "POST",
        "/api/draw/1/element/customPageComponent",
        s(ElementsWrite),
    ),
    (
        "GET",
        "/api/draw/1/element/customPageComponent/{id}",
        s(ElementsRead),
    ),
    (
        "DELETE",
        "/api/draw/1/element/customPageComponent/{id}",
        s(ElementsWrite),
    ),
    (
        "GET",
        "/api/draw/1/element/identityprovider",
        s(ElementsRead),
    ),
    (
        "POST",
        "/api/draw/1/element/identityprovider",
        s(ElementsWrite),
    ),
    (
        "GET",
        "/api/draw/1/element/identityprovider/{id}",
        s(ElementsRead),
    ),
    (
        "DELETE",
        "/api/draw/1/element/identityprovider/{id}",
        s(ElementsWrite),
    ),
    ("GET", "/api/draw/1/element/macro", s(ElementsRead)),
    ("POST", "/api/draw/1/element/macro", s(ElementsWrite)),
    ("GET", "/api/draw/1/element/macro/{id}", s(ElementsRead)),
    ("DELETE", "/api/draw/1/element/macro/{id}", s(ElementsWrite)),
    ("GET", "/api/draw/1/element/page", s(ElementsRead)),
    ("POST", "/api/draw/1/element/page", s(ElementsWrite)),
    ("GET", "/api/draw/1/element/page/{id}", s(ElementsRead)),
    ("DELETE", "/api/draw/1/element/page/{id}", s(ElementsWrite)),
    ("GET", "/api/draw/1/element/service", s(ElementsRead)),
    ("POST", "/api/draw/1/element/service", s(ElementsWrite)),
    (
        "POST",
        "/api/draw/1/element/service/install",
        s(ElementsWrite),
    ),
    ("GET", "/api/draw/1/element/service/{id}", s(ElementsRead)),
    (
        "DELETE",
        "/api/draw/1/element/service/{id}",
        s(ElementsWrite),
    ),
    ("GET", "/api/draw/1/element/tag", s(ElementsRead)),
    ("POST", "/api/draw/1/element/tag", s(ElementsWrite)),
    ("GET", "/api/draw/1/element/tag/{id}", s(ElementsRead)),
    ("DELETE", "/api/draw/1/element/tag/{id}", s(ElementsWrite)),
    ("GET", "/api/draw/1/element/type", s(ElementsRead)),
    ("POST", "/api/draw/1/element/type", s(ElementsWrite)),
    ("GET", "/api/draw/1/element/type/{id}", s(ElementsRead)),
    ("DELETE", "/api/draw/1/element/type/{id}", s(ElementsWrite)),
    ("GET", "/api/draw/1/element/value", s(ElementsRead)),
    ("POST", "/api/draw/1/element/value", s(ElementsWrite)),
    ("GET", "/api/draw/1/element/value/{id}", s(ElementsRead)),
    ("DELETE", "/api/draw/1/element/value/{id}", s(ElementsWrite)),
    ("GET", "/api/draw/2/element/page", s(ElementsRead)),
    ("GET", "/api/draw/2/element/service", s(ElementsRead)),
    ("GET", "/api/draw/2/element/type", s(ElementsRead)),
    ("GET", "/api/draw/2/element/value", s(ElementsRead)),
    // Flows: the flows, their own elements (map, group, navigation), graphs and snapshots.
    (
        "GET",
        "/api/draw/1/element/flow/{flow}/{elementType}",
        s(FlowsRead),
    ),
    (
        "POST",
        "/api/draw/1/element/flow/{flow}/{elementType}/{id}",
        s(FlowsWrite),
    ),
    (
        "DELETE",
        "/api/draw/1/element/flow/{flow}/{elementType}/{id}",
        s(FlowsWrite),
    ),
    ("GET", "/api/draw/1/flow", s(FlowsRead)),
    ("POST", "/api/draw/1/flow", s(FlowsWrite)),
    (
        "POST",
        "/api/draw/1/flow/activation/{flow}/{version}/{isDefault}/{isActivated}",
        s(FlowsWrite),
    ),
    ("GET", "/api/draw/1/flow/active", s(FlowsRead)),
    ("GET", "/api/draw/1/flow/active/name/{name}", s(FlowsRead)),
    ("GET", "/api/draw/1/flow/active/{id}", s(FlowsRead)),
    ("POST", "/api/draw/1/flow/deactivate/{flow}", s(FlowsWrite)),
    (
        "POST",
        "/api/draw/1/flow/revert/{flow}/{version}",
        s(FlowsWrite),
    ),
    ("GET", "/api/draw/1/flow/snap/{flow}", s(FlowsRead)),
    ("POST", "/api/draw/1/flow/snap/{flow}", s(FlowsWrite)),
    (
        "GET",
        "/api/draw/1/flow/snap/{flow}/diff/{versionBefore}/{versionAfter}",
        s(FlowsRead),
    ),
    (
        "GET",
        "/api/draw/1/flow/snap/{flow}/{version}",
        s(FlowsRead),
    ),
    ("GET", "/api/draw/1/flow/{id}", s(FlowsRead)),
    ("DELETE", "/api/draw/1/flow/{id}", s(FlowsWrite)),
    (
        "GET",
        "/api/draw/1/flow/{id}/{editingToken}/element/group",
        s(FlowsRead),
    ),
    (
        "POST",
        "/api/draw/1/flow/{id}/{editingToken}/element/group",
        s(FlowsWrite),
    ),
    (
        "GET",
        "/api/draw/1/flow/{id}/{editingToken}/element/group/{elementId}",
        s(FlowsRead),
    ),
    (
        "DELETE",
        "/api/draw/1/flow/{id}/{editingToken}/element/group/{elementId}",
        s(FlowsWrite),
    ),
    (
        "GET",
        "/api/draw/1/flow/{id}/{editingToken}/element/map",
        s(FlowsRead),
    ),
    (
        "POST",
        "/api/draw/1/flow/{id}/{editingToken}/element/map",
        s(FlowsWrite),
    ),
    (
        "GET",
        "/api/draw/1/flow/{id}/{editingToken}/element/map/{elementId}",
        s(FlowsRead),
    ),
    (
        "DELETE",
        "/api/draw/1/flow/{id}/{editingToken}/element/map/{elementId}",
        s(FlowsWrite),
    ),
    (
        "GET",
        "/api/draw/1/flow/{id}/{editingToken}/element/navigation",
        s(FlowsRead),
    ),
    (
        "POST",
        "/api/draw/1/flow/{id}/{editingToken}/element/navigation",
        s(FlowsWrite),
    ),
    (
        "GET",
        "/api/draw/1/flow/{id}/{editingToken}/element/navigation/{elementId}",
        s(FlowsRead),
    ),
    (
        "DELETE",
        "/api/draw/1/flow/{id}/{editingToken}/element/navigation/{elementId}",
        s(FlowsWrite),
    ),
    ("POST", "/api/draw/1/graph/flow", s(FlowsWrite)),
    ("GET", "/api/draw/1/graph/flow/{flow}", s(FlowsRead)),
    // A read sent as a POST (the ids are its body).
    (
        "POST",
        "/api/draw/1/graph/flow/{flow}/elements/load",
        s(FlowsRead),
    ),
    (
        "POST",
        "/api/draw/1/graph/flow/{flow}/elements/save",
        s(FlowsWrite),
    ),
    (
        "POST",
        "/api/draw/2/flow/revert/{flow}/{version}",
        s(FlowsWrite),
    ),
    ("GET", "/api/draw/2/flow/snap/{flow}", s(FlowsRead)),
    ("PUT", "/api/draw/2/graph/flow", s(FlowsWrite)),
    ("GET", "/api/draw/2/graph/flow/{flow}", s(FlowsRead)),
    (
        "DELETE",
        "/api/draw/2/graph/flow/{flow}/elements/delete",
        s(FlowsWrite),
    ),
    // Packages: export, import, sharing.
    ("POST", "/api/package/1/flow", s(PackagesWrite)),
    ("GET", "/api/package/1/flow/{id}", s(PackagesRead)),
    ("POST", "/api/package/1/flow/{id}/share", s(PackagesWrite)),
    ("DELETE", "/api/package/1/flow/{id}/share", s(PackagesWrite)),
    (
        "DELETE",
        "/api/package/1/flow/{id}/shares",
        s(PackagesWrite),
    ),
    ("GET", "/api/package/1/flow/{id}/{version}", s(PackagesRead)),
    (
        "POST",
        "/api/package/1/flow/{id}/{version}/share",
        s(PackagesWrite),
    ),
    ("POST", "/api/package/1/shared/flow", s(PackagesWrite)),
    ("GET", "/api/package/1/tenant", s(PackagesRead)),
    ("POST", "/api/package/1/tenant", s(PackagesWrite)),
    // The service itself: open.
    ("GET", "/api/audit/1/search", s(AdminRead)),
    ("GET", "/api/audit/1/csv", s(AdminRead)),
    // Unauthenticated: whoever found a key reports it.
    ("POST", "/api/keys/report-leak", Nothing),
    ("GET", "/api/openapi.json", Nothing),
    ("GET", "/health", Nothing),
    ("GET", "/metrics", Nothing),
    // Running flows: the runtime API. A caller with no credential passes no scope check (a
    // public flow); a narrowed key needs `flows:run`.
    ("POST", "/api/run/1", s(FlowsRun)),
    ("POST", "/api/run/1/state", s(FlowsRun)),
    ("POST", "/api/run/1/state/{stateId}", s(FlowsRun)),
    ("GET", "/api/run/1/state/{stateId}", s(FlowsRun)),
    ("GET", "/api/run/1/state/{stateId}/history", s(FlowsRun)),
    ("GET", "/api/run/1/state/{stateId}/values", s(FlowsRun)),
    ("POST", "/api/run/1/state/{stateId}/values", s(FlowsRun)),
    ("GET", "/api/run/1/state/{stateId}/values/{id}", s(FlowsRun)),
    (
        "GET",
        "/api/run/1/state/{stateId}/values/name/{name}",
        s(FlowsRun),
    ),
    ("POST", "/api/run/1/navigation/{stateId}", s(FlowsRun)),
    ("GET", "/api/run/1/flow", s(FlowsRun)),
    ("GET", "/api/run/1/flow/{id}", s(FlowsRun)),
    ("GET", "/api/run/1/flow/name/{name}", s(FlowsRun)),
];

static TABLE: LazyLock<HashMap<(&'static str, &'static str), Need>> = LazyLock::new(|| {
    ROUTES
        .iter()
        .map(|&(method, path, need)| ((method, path), need))
        .collect()
});

/// What the route `template` (as axum matched it) asks for `method`; `None` when the table
/// has no row for it. A HEAD is a GET without its body.
pub fn needed(method: &Method, template: &str) -> Option<Need> {
    let method = if method == Method::HEAD {
        "GET"
    } else {
        method.as_str()
    };
    TABLE.get(&(method, template)).copied()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_route_has_one_row() {
        assert_eq!(TABLE.len(), ROUTES.len(), "a route listed twice");
        assert_eq!(
            needed(&Method::HEAD, "/api/draw/1/flow"),
            Some(Need::Scope(Scope::FlowsRead))
        );
        assert_eq!(needed(&Method::PATCH, "/api/draw/1/flow"), None);
    }
}
