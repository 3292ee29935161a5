//! The HTTP edge: what every request goes through first (`request_service`, its id in
//! `request_id`, the bounds in `limits`, the task-local `scope` it sets), the extractors that
//! turn a request into a principal ([`extract`]) or a body ([`json`], `strict_json`), and the
//! one error type whose mapping to status codes is in [`error`]. It imports no area and not
//! the server's state: the extractors ask for small traits the state implements, and the
//! request service is given its early answer.

pub mod error;
pub mod extract;
pub mod json;
pub(crate) mod limits;
pub(crate) mod request_id;
pub(crate) mod request_service;
pub(crate) mod scope;
pub(crate) mod strict_json;

pub(crate) use extract::{Administrator, Interactive, Principal};
