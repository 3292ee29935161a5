//! The HTTP edge: the connections (`connections`, with a head deadline and a bound per
//! address in `connection_limit`), what every request goes through first (`request_service`,
//! its id in `request_id`, an API path's trailing slash taken off by `trailing_slash`, its body read within its deadline by `request_body`, the bounds in
//! `limits`, the task-local `scope` it sets, with the client's address from `client_address`,
//! the `RateLimit-*` headers of `rate_headers`), the extractors that turn a request into a
//! principal ([`extract`], which holds a key to the scope each route needs, [`route_scopes`])
//! or a body ([`json`], `strict_json`) or a query (`query`), and the
//! one error type whose mapping to status codes is in [`error`]. It imports no area and not
//! the server's state: the extractors ask for small traits the state implements, and the
//! request service is given its early answer.

pub(crate) mod client_address;
pub mod connection_limit;
pub mod connections;
pub mod error;
pub mod extract;
pub mod json;
pub(crate) mod limits;
pub(crate) mod page_io;
pub(crate) mod query;
pub(crate) mod rate_headers;
pub mod request_body;
pub(crate) mod request_id;
pub(crate) mod request_service;
pub(crate) mod route_labels;
pub mod route_scopes;
pub(crate) mod scope;
pub(crate) mod strict_json;
pub(crate) mod trailing_slash;

pub(crate) use extract::{Administrator, ChangeAccount, Interactive, Principal};
