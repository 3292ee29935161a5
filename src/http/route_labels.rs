//! Which route template a request's path matches, as a small index into the latency
//! histogram's series ([`crate::metrics::Latency`]): the label is the template axum's
//! `MatchedPath` names, never the raw path (whose ids would make a series per request).
//!
//! The request service asks before routing, so it does not depend on anything the router
//! leaves behind: reading axum's `MatchedPath` after routing would take a layer on every route,
//! which costs each request a clone of the route's boxed service and one more boxed future.
//! Here the same templates go into the same matcher axum routes with (matchit), built once at
//! start; a lookup walks its tree without allocating (a template of more than three parameters
//! aside). A unit test checks that it names what axum's `MatchedPath` names, for every route.

use matchit::Router;

use crate::metrics::UNMATCHED;

/// The route templates of the server, and the matcher that finds a path's.
pub struct RouteLabels {
    matcher: Router<usize>,
    /// The labels in the histogram's order: [`UNMATCHED`] first, then each template once.
    names: Vec<&'static str>,
}

impl RouteLabels {
    /// The labels of these templates (a template repeated, e.g. once per method, counts once).
    pub fn new(templates: impl IntoIterator<Item = &'static str>) -> Self {
        let mut matcher = Router::new();
        let mut names = vec![UNMATCHED];
        for template in templates {
            if names.contains(&template) {
                continue;
            }
            // The router accepted the same template: only a template outside it can fail,
            // and it then counts as unmatched rather than stopping the server.
            if matcher.insert(template, names.len()).is_ok() {
                names.push(template);
            }
        }
        Self { matcher, names }
    }

    /// The index of the label of `path`: its template's, or [`UNMATCHED`]'s (0).
    pub fn of(&self, path: &str) -> usize {
        self.matcher.at(path).map_or(0, |matched| *matched.value)
    }

    /// Every label, in index order, for [`crate::metrics::Latency::set_routes`].
    pub fn names(&self) -> Vec<&'static str> {
        self.names.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::route_scopes::ROUTES;

    #[test]
    fn a_path_is_labelled_by_its_template_and_anything_else_as_unmatched() {
        let labels = RouteLabels::new(ROUTES.iter().map(|&(_, template, _)| template));
        let name = |path: &str| labels.names[labels.of(path)];
        assert_eq!(
            name("/api/admin/1/users/01a2523f-c21d-7783-8268-d417cd413e9f"),
            "/api/admin/1/users/{id}"
        );
        assert_eq!(name("/api/admin/1/users/me"), "/api/admin/1/users/me");
        assert_eq!(name("/api/draw/1/flow"), "/api/draw/1/flow");
        assert_eq!(name("/api/nothing/here"), UNMATCHED);
        assert_eq!(name(""), UNMATCHED);
        assert_eq!(labels.names[0], UNMATCHED);
    }
}
