//! A request's body is read whole before the request takes an in-flight slot
//! (`crate::http::request_service`): a client that sends its body slowly then holds no slot and
//! keeps no one else waiting, and a sign-in, whose credentials are in its body, needs no slot
//! until they have all arrived. The slots bound the work, which starts only with the whole
//! body. The read itself is bounded three ways:
//!
//! - the whole body must arrive within `--body-timeout-seconds` of the head, else the request
//!   is answered 408 and its connection closed (a deadline for the whole body, not for each
//!   piece of it: a client sending a byte now and then would pass any per-piece timeout);
//! - it may be no larger than the body limit (413, before anything is read when its length
//!   says so);
//! - every body being read at once counts against one budget of bytes (503 with `Retry-After`
//!   beyond it), counted as the bytes arrive rather than as announced, so a client cannot spend
//!   it by announcing long bodies it never sends. The budget is what the bodies of
//!   `--max-in-flight` requests could hold when each read its body in its slot, so reading
//!   before the slot holds no more memory than that did.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::body::{Body, Bytes, HttpBody};
use axum::extract::Request;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytes::BytesMut;
use http_body_util::BodyExt;

use crate::http::error::{ApiError, message_response};
use crate::http::limits;
use crate::metrics::Metrics;

/// How request bodies are read: the limit of one, the deadline for all of it, and the budget
/// of the bodies being received at once.
pub struct BodyReader {
    pub limit_bytes: usize,
    pub timeout: std::time::Duration,
    pub budget: BodyBudget,
}

impl BodyReader {
    /// The request with its whole body in memory, or the answer that refuses it.
    pub async fn read_whole(
        &self,
        request: Request,
        metrics: &Metrics,
    ) -> Result<Request, Response> {
        read_whole(request, self, metrics).await
    }

    /// The bytes of the bodies being received now.
    pub fn in_use(&self) -> usize {
        self.budget.in_use()
    }
}

/// The bytes of the bodies being read at once, and their bound.
pub struct BodyBudget {
    received: AtomicUsize,
    max: usize,
}

/// One body's bytes counted against the budget; given back when it is dropped.
struct Charge<'a> {
    budget: &'a BodyBudget,
    bytes: usize,
}

impl BodyBudget {
    pub fn new(max: usize) -> Self {
        Self {
            received: AtomicUsize::new(0),
            max,
        }
    }

    /// Counts `bytes` more against the budget for `charge`; false when that passes the bound.
    /// (Counted either way, and given back with the charge.)
    fn charge(&self, charge: &mut Charge<'_>, bytes: usize) -> bool {
        let before = self.received.fetch_add(bytes, Ordering::AcqRel);
        charge.bytes += bytes;
        before + bytes <= self.max
    }

    /// The bytes being received now.
    pub fn in_use(&self) -> usize {
        self.received.load(Ordering::Acquire)
    }
}

impl Drop for Charge<'_> {
    fn drop(&mut self) {
        self.budget.received.fetch_sub(self.bytes, Ordering::AcqRel);
    }
}

/// Whether the request has a body to wait for (a bodiless one pays only this check).
pub fn has_body(request: &Request) -> bool {
    !request.body().is_end_stream()
}

async fn read_whole(
    request: Request,
    reader: &BodyReader,
    metrics: &Metrics,
) -> Result<Request, Response> {
    let (parts, body) = request.into_parts();
    let limit = reader.limit_bytes;
    if body.size_hint().lower() > limit as u64 {
        return Err(ApiError::PayloadTooLarge { limit_bytes: limit }.into_response());
    }
    let deadline = reader.timeout;
    match tokio::time::timeout(deadline, collect(body, limit, &reader.budget)).await {
        Ok(Ok(bytes)) => Ok(Request::from_parts(parts, Body::from(bytes))),
        Ok(Err(refusal)) => Err(refusal),
        Err(_elapsed) => {
            Metrics::bump(&metrics.deadlines_missed);
            Err(too_slow(deadline))
        }
    }
}

/// Reads the body's data within `limit` bytes and the budget. A body that arrives in one
/// piece (most do) is kept as it came, without a copy.
async fn collect(mut body: Body, limit: usize, budget: &BodyBudget) -> Result<Bytes, Response> {
    let mut charge = Charge { budget, bytes: 0 };
    let mut first = Bytes::new();
    let mut joined = BytesMut::new();
    while let Some(frame) = body.frame().await {
        let Ok(frame) = frame else {
            return Err(
                ApiError::BadRequest("the request body could not be read".into()).into_response(),
            );
        };
        // Trailers: nothing in keyflow reads them.
        let Ok(data) = frame.into_data() else {
            continue;
        };
        let received = charge.bytes;
        if received + data.len() > limit {
            return Err(ApiError::PayloadTooLarge { limit_bytes: limit }.into_response());
        }
        if !budget.charge(&mut charge, data.len()) {
            return Err(limits::unavailable(&format!(
                "keyflow is receiving as many request bodies as it can hold at once; \
                 try again in {} s",
                limits::RETRY_AFTER_SECS
            )));
        }
        if received == 0 {
            first = data;
        } else {
            if joined.is_empty() {
                joined.extend_from_slice(&first);
            }
            joined.extend_from_slice(&data);
        }
    }
    Ok(if joined.is_empty() {
        first
    } else {
        joined.freeze()
    })
}

/// The answer to a body that did not arrive in time. The connection closes after it: what is
/// left of the body would otherwise be read as the next request.
fn too_slow(deadline: Duration) -> Response {
    let mut response = message_response(
        StatusCode::REQUEST_TIMEOUT,
        &format!(
            "the request body did not arrive within {} s",
            deadline.as_secs_f64()
        ),
    );
    response
        .headers_mut()
        .insert(header::CONNECTION, HeaderValue::from_static("close"));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_budget_counts_bytes_until_their_charge_is_dropped() {
        let budget = BodyBudget::new(10);
        let mut one = Charge {
            budget: &budget,
            bytes: 0,
        };
        assert!(budget.charge(&mut one, 6));
        let mut two = Charge {
            budget: &budget,
            bytes: 0,
        };
        assert!(!budget.charge(&mut two, 6), "12 bytes of 10");
        drop(two);
        assert_eq!(budget.in_use(), 6);
        assert!(budget.charge(&mut one, 4));
        drop(one);
        assert_eq!(budget.in_use(), 0);
    }
}
