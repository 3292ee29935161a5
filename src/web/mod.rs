//! The web pages: sign-in, the User Settings page (profile, API keys), the Flows page and the
//! player that runs a flow.
//! Server-rendered with askama templates compiled into the binary; one vendored script; every
//! answer carries a Content-Security-Policy without inline script and `X-Frame-Options: DENY`.

mod assets;
mod csrf;
mod flows;
mod form;
mod keys;
mod login;
mod page;
mod password;
mod player;
mod player_view;
mod session;
mod settings;

use axum::Router;
use axum::http::{HeaderName, HeaderValue, header};
use axum::response::Redirect;
use axum::routing::get;
use tower_http::set_header::SetResponseHeaderLayer;

use crate::state::AppState;

/// No inline script or style, nothing from elsewhere, no framing, forms post only here.
const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; \
     style-src 'self'; img-src 'self' data:; connect-src 'self'; object-src 'none'; \
     base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/// Every page route's template (the latency histogram's labels for the pages; a unit test
/// keeps it in step with the routes below).
pub(crate) const PAGES: &[&str] = &[
    "/",
    "/login",
    "/logout",
    "/settings",
    "/settings/keys",
    "/settings/keys/delete",
    "/settings/keys/reveal",
    "/settings/keys/rotate",
    "/settings/password",
    "/flows",
    "/{tenantId}/play/{player}",
    "/assets/{file}",
];

/// Every page route, with the security headers.
pub fn router() -> Router<AppState> {
    let headers = [
        (
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(CONTENT_SECURITY_POLICY),
        ),
        (header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY")),
        (
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ),
        (
            header::REFERRER_POLICY,
            HeaderValue::from_static("same-origin"),
        ),
        (
            HeaderName::from_static("cross-origin-opener-policy"),
            HeaderValue::from_static("same-origin"),
        ),
    ];
    let mut router = Router::new()
        .route("/", get(|| async { Redirect::to("/settings") }))
        .merge(login::router())
        .merge(settings::router())
        .merge(keys::router())
        .merge(password::router())
        .merge(flows::router())
        .merge(player::router())
        .merge(assets::router());
    for (name, value) in headers {
        router = router.layer(SetResponseHeaderLayer::overriding(name, value));
    }
    // A page may hold a key's value: no cache keeps it. The assets say otherwise themselves.
    router.layer(SetResponseHeaderLayer::if_not_present(
        header::CACHE_CONTROL,
        HeaderValue::from_static("no-store"),
    ))
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    /// Every route the pages' sources add is in [`super::PAGES`], and nothing else: a
    /// page added without its label would be timed as unmatched.
    #[test]
    fn every_page_route_is_listed_in_pages() {
        let sources = [
            include_str!("mod.rs"),
            include_str!("assets.rs"),
            include_str!("flows.rs"),
            include_str!("keys.rs"),
            include_str!("login.rs"),
            include_str!("password.rs"),
            include_str!("player.rs"),
            include_str!("settings.rs"),
        ];
        let marker = concat!(".route", "(\"");
        let mut routed = BTreeSet::new();
        for source in sources {
            for (at, _) in source.match_indices(marker) {
                let rest = &source[at + marker.len()..];
                routed.insert(&rest[..rest.find('"').unwrap()]);
            }
        }
        let listed: BTreeSet<&str> = super::PAGES.iter().copied().collect();
        assert_eq!(routed, listed);
    }
}
