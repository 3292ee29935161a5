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
//!   says so). A request that carries no credential at all (no `Authorization`, API key or
//!   cookie) has a smaller limit: only sign-in and accepting an invitation take a body before
//!   credentials are checked, and neither needs more than a few hundred bytes;
//! - every body held at once counts against one budget of bytes (503 with `Retry-After`
//!   beyond it): the budget is what the bodies of `--max-in-flight` requests could hold when
//!   each read its body in its slot, so reading before the slot holds no more than that did.
//!
//! What a body is charged is what it costs, not what has arrived of it: the capacity of the
//! one buffer it is read into, reserved from the budget before a byte is read (its announced
//! length, else the limit) and given back only once the request is answered. Each piece is
//! copied into that buffer as it arrives and dropped, so no piece keeps the connection's read
//! buffer alive and nothing grows by doubling. A client that announces long bodies and sends
//! nothing spends budget without memory, but no more budget than one that sends them: the
//! connections per address and the body deadline bound both.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::body::{Body, Bytes, HttpBody};
use axum::extract::Request;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use http_body_util::BodyExt;

use crate::http::error::{ApiError, message_response};
use crate::http::extract::API_KEY_HEADER;
use crate::http::limits;
use crate::metrics::Metrics;

/// How request bodies are read: the limit of one (with credentials, and without any), the
/// deadline for all of it, and the budget of the bodies held at once.
pub struct BodyReader {
    pub limit_bytes: usize,
    /// The limit of a body whose request carries no credential header.
    pub anonymous_limit_bytes: usize,
    pub timeout: std::time::Duration,
    pub budget: BodyBudget,
}

impl BodyReader {
    /// The request with its whole body in memory and the body's charge against the budget
    /// (to drop once the request is answered), or the answer that refuses it.
    pub async fn read_whole(
        &self,
        request: Request,
        metrics: &Metrics,
    ) -> Result<(Request, Charge), Response> {
        read_whole(request, self, metrics).await
    }

    /// The bytes charged for the bodies held now.
    pub fn in_use(&self) -> usize {
        self.budget.in_use()
    }
}

/// The bytes charged for the bodies held at once, and their bound.
pub struct BodyBudget {
    charged: Arc<AtomicUsize>,
    max: usize,
}

/// One body's bytes charged against the budget; given back when it is dropped.
#[must_use = "the bytes are given back when the charge is dropped"]
pub struct Charge {
    charged: Arc<AtomicUsize>,
    bytes: usize,
}

impl BodyBudget {
    pub fn new(max: usize) -> Self {
        Self {
            charged: Arc::new(AtomicUsize::new(0)),
            max,
        }
    }

    /// Charges `bytes` against the budget, or None (charging nothing) when that would pass
    /// its bound.
    fn reserve(&self, bytes: usize) -> Option<Charge> {
        let before = self.charged.fetch_add(bytes, Ordering::AcqRel);
        let charge = Charge {
            charged: self.charged.clone(),
            bytes,
        };
        (before.saturating_add(bytes) <= self.max).then_some(charge)
    }

    /// The bytes charged now.
    pub fn in_use(&self) -> usize {
        self.charged.load(Ordering::Acquire)
    }
}

impl Drop for Charge {
    fn drop(&mut self) {
        self.charged.fetch_sub(self.bytes, Ordering::AcqRel);
    }
}

/// Whether the request has a body to wait for (a bodiless one pays only this check).
pub fn has_body(request: &Request) -> bool {
    !request.body().is_end_stream()
}

/// Whether the request carries any credential (valid or not: that is checked later).
fn carries_credentials(headers: &HeaderMap) -> bool {
    headers.contains_key(header::AUTHORIZATION)
        || headers.contains_key(API_KEY_HEADER)
        || headers.contains_key(header::COOKIE)
}

async fn read_whole(
    request: Request,
    reader: &BodyReader,
    metrics: &Metrics,
) -> Result<(Request, Charge), Response> {
    let (parts, body) = request.into_parts();
    let limit = if carries_credentials(&parts.headers) {
        reader.limit_bytes
    } else {
        reader.anonymous_limit_bytes.min(reader.limit_bytes)
    };
    let hint = body.size_hint();
    if hint.lower() > limit as u64 {
        return Err(ApiError::PayloadTooLarge { limit_bytes: limit }.into_response());
    }
    // The announced length (within the limit, as just checked), else room for the limit.
    let capacity = hint.exact().map_or(limit, |exact| exact as usize);
    let Some(charge) = reader.budget.reserve(capacity) else {
        return Err(limits::unavailable(&format!(
            "keyflow is receiving as many request bodies as it can hold at once; \
             try again in {} s",
            limits::RETRY_AFTER_SECS
        )));
    };
    let deadline = reader.timeout;
    match tokio::time::timeout(deadline, collect(body, limit, capacity)).await {
        Ok(Ok(bytes)) => Ok((Request::from_parts(parts, Body::from(bytes)), charge)),
        Ok(Err(refusal)) => Err(refusal),
        Err(_elapsed) => {
            Metrics::bump(&metrics.deadlines_missed);
            Err(too_slow(deadline))
        }
    }
}

/// Reads the body's data into one buffer of `capacity` bytes (what was charged for it); more
/// than that is a 413 when it passes `limit` (a body without a length) and a 400 otherwise (a
/// body longer than its length, which hyper refuses first). Each piece is copied and dropped
/// at once: kept, it would hold the connection's whole read buffer.
async fn collect(mut body: Body, limit: usize, capacity: usize) -> Result<Bytes, Response> {
    let mut buffer: Vec<u8> = Vec::with_capacity(capacity);
    while let Some(frame) = body.frame().await {
        let Ok(frame) = frame else {
            return Err(unreadable());
        };
        // Trailers: nothing in keyflow reads them.
        let Ok(data) = frame.into_data() else {
            continue;
        };
        let received = buffer.len() + data.len();
        if received > limit {
            return Err(ApiError::PayloadTooLarge { limit_bytes: limit }.into_response());
        }
        if received > capacity {
            return Err(unreadable());
        }
        buffer.extend_from_slice(&data);
    }
    debug_assert_eq!(buffer.capacity(), capacity, "the buffer never grew");
    Ok(Bytes::from(buffer))
}

fn unreadable() -> Response {
    ApiError::BadRequest("the request body could not be read".into()).into_response()
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
    fn the_budget_holds_charges_until_they_are_dropped() {
        let budget = BodyBudget::new(10);
        let one = budget.reserve(6).unwrap();
        assert!(budget.reserve(6).is_none(), "12 bytes of 10");
        assert_eq!(budget.in_use(), 6, "a refused charge is given back");
        let two = budget.reserve(4).unwrap();
        assert_eq!(budget.in_use(), 10);
        drop(one);
        drop(two);
        assert_eq!(budget.in_use(), 0);
    }

    fn reader(budget: usize) -> BodyReader {
        BodyReader {
            limit_bytes: 1000,
            anonymous_limit_bytes: 100,
            timeout: Duration::from_secs(5),
            budget: BodyBudget::new(budget),
        }
    }

    fn post(body: Body, credentials: bool) -> Request {
        let mut request = Request::post("/").body(body).unwrap();
        if credentials {
            let value = HeaderValue::from_static("Bearer made-up");
            request.headers_mut().insert(header::AUTHORIZATION, value);
        }
        request
    }

    /// A body of a known length whose pieces arrive as the test sends them.
    struct Pieces {
        receiver: tokio::sync::mpsc::Receiver<Bytes>,
        length: u64,
    }

    impl HttpBody for Pieces {
        type Data = Bytes;
        type Error = std::convert::Infallible;

        fn poll_frame(
            mut self: std::pin::Pin<&mut Self>,
            cx: &mut std::task::Context<'_>,
        ) -> std::task::Poll<Option<Result<hyper::body::Frame<Bytes>, Self::Error>>> {
            self.receiver
                .poll_recv(cx)
                .map(|piece| piece.map(|bytes| Ok(hyper::body::Frame::data(bytes))))
        }

        fn size_hint(&self) -> hyper::body::SizeHint {
            hyper::body::SizeHint::with_exact(self.length)
        }
    }

    /// A body in pieces: what arrives is copied into the buffer charged for its announced
    /// length, and the charge is held until the request is done with.
    #[tokio::test]
    async fn a_body_is_charged_its_length_before_it_arrives_and_until_it_is_dropped() {
        let reader = Arc::new(reader(2000));
        let (sender, receiver) = tokio::sync::mpsc::channel(1);
        let body = Body::new(Pieces {
            receiver,
            length: 600,
        });
        let reading = {
            let reader = reader.clone();
            tokio::spawn(async move {
                reader
                    .read_whole(post(body, true), &Metrics::default())
                    .await
            })
        };
        sender.send(Bytes::from(vec![b'a'; 10])).await.unwrap();
        // Charged the whole length, once, however little has arrived.
        let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
        while reader.in_use() != 600 {
            assert!(
                tokio::time::Instant::now() < deadline,
                "{}",
                reader.in_use()
            );
            tokio::task::yield_now().await;
        }
        sender.send(Bytes::from(vec![b'b'; 590])).await.unwrap();
        drop(sender);
        let (request, charge) = reading.await.unwrap().ok().unwrap();
        assert_eq!(reader.in_use(), 600, "held while the request is served");
        let bytes = axum::body::to_bytes(request.into_body(), 1000)
            .await
            .unwrap();
        assert_eq!(bytes.len(), 600);
        drop(charge);
        assert_eq!(reader.in_use(), 0);
    }

    /// Past the budget a body is refused before a byte of it is read; without credentials the
    /// smaller limit applies, with any the whole one.
    #[tokio::test]
    async fn the_budget_and_the_limits_refuse_before_reading() {
        let reader = reader(1000);
        let metrics = Metrics::default();
        let held = reader.budget.reserve(500).unwrap();
        let body = || Body::from(vec![b'x'; 600]);
        let refused = reader.read_whole(post(body(), true), &metrics).await;
        assert_eq!(
            refused.err().unwrap().status(),
            StatusCode::SERVICE_UNAVAILABLE
        );
        drop(held);
        let anonymous = reader.read_whole(post(body(), false), &metrics).await;
        assert_eq!(
            anonymous.err().unwrap().status(),
            StatusCode::PAYLOAD_TOO_LARGE
        );
        let small = reader
            .read_whole(post(Body::from("{}"), false), &metrics)
            .await;
        assert_eq!(small.ok().unwrap().1.bytes, 2, "charged its length");
        let (_, charge) = reader
            .read_whole(post(body(), true), &metrics)
            .await
            .ok()
            .unwrap();
        assert_eq!(charge.bytes, 600);
        assert_eq!(reader.in_use(), 600);
    }

    /// A body of unknown length is charged the limit, and refused once it passes it.
    #[tokio::test]
    async fn a_body_without_a_length_is_charged_the_limit() {
        let reader = reader(5000);
        let metrics = Metrics::default();
        let pieces = |n: usize| {
            let stream = futures_util::stream::iter(
                (0..n).map(|_| Ok::<_, std::io::Error>(Bytes::from(vec![b'x'; 100]))),
            );
            Body::from_stream(stream)
        };
        let (request, charge) = reader
            .read_whole(post(pieces(9), true), &metrics)
            .await
            .ok()
            .unwrap();
        assert_eq!(charge.bytes, 1000);
        let bytes = axum::body::to_bytes(request.into_body(), 1000)
            .await
            .unwrap();
        assert_eq!(bytes.len(), 900);
        let refused = reader.read_whole(post(pieces(11), true), &metrics).await;
        assert_eq!(
            refused.err().unwrap().status(),
            StatusCode::PAYLOAD_TOO_LARGE
        );
        drop(charge);
        assert_eq!(reader.in_use(), 0);
    }
}
