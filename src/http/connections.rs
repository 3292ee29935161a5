//! The connections: the accept loop, and a task per connection that speaks HTTP/1.1 through
//! hyper to a copy of the `RequestService` that knows the connection's peer.
//!
//! - A client address may hold `--max-connections-per-address` connections at once
//!   ([`ConnectionLimit`]); a connection past that is closed as soon as it is accepted.
//! - A connection with no request being answered must send a whole request head within
//!   `--header-timeout-seconds` of connecting or of its last answer, else it is closed: a
//!   client that sends its head a byte at a time ("slowloris") holds its connection no longer
//!   than that, and neither does an idle keep-alive connection, nor one that leaves an answer
//!   unread that long (the deadline runs from when the answer is made, not from when the client
//!   has taken all of it). The body has its own deadline, [`crate::http::request_body`].
//! - On shutdown no connection is accepted any more, idle ones are closed, and the requests in
//!   flight are answered before [`serve`] returns.
//!
//! keyflow serves with hyper itself rather than with `axum::serve`, which has neither a head
//! deadline nor a way to turn a connection away. The head deadline is a watchdog timer per
//! connection rather than hyper's `header_read_timeout`, which allocates and registers a new
//! timer for every request head: the watchdog's one timer is reset at most once per deadline,
//! and a request costs it a clock read and two stores (under callgrind, about 60 instructions a
//! request against hyper's 1,400: docs/BENCHMARKS-load.md).

use std::convert::Infallible;
use std::pin::{Pin, pin};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll, ready};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::Request;
use axum::response::Response;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;
use tokio::time::Instant;
use tower::ServiceExt;
use tower::util::Oneshot;

use crate::http::connection_limit::{Admitted, ConnectionLimit};
use crate::http::page_io::PageIo;
use crate::http::request_service::{EarlyAnswer, RequestService};
use crate::metrics::Metrics;

/// The most a connection's read buffer may grow to. hyper grows it while reads fill it (a body
/// streaming in), and a buffer outgrown stays with the allocator: with hyper's default of about
/// 400 KiB, 1,024 connections stalled after sending large bodies held some 300 MiB beside the
/// bodies' own budget (`bench/slow_clients.sh`). 64 KiB still takes any head keyflow reads
/// whole (8 KiB of target and 32 KiB of headers, each refused with its own status past that);
/// hyper answers a longer head 431 itself.
pub const READ_BUFFER_BYTES: usize = 64 * 1024;

/// What bounds the connections: how many one address may hold, and how long a connection may
/// take to send a whole request head.
pub struct ConnectionRules {
    pub max_per_address: usize,
    pub head_timeout: Duration,
}

/// Serves `service` on the connections `listener` accepts until `shutdown` completes, then
/// lets the requests in flight finish.
pub async fn serve<E: EarlyAnswer>(
    listener: TcpListener,
    service: RequestService<Router, E>,
    rules: ConnectionRules,
    metrics: &Arc<Metrics>,
    shutdown: impl Future<Output = ()>,
) {
    let limit = ConnectionLimit::new(rules.max_per_address);
    let head_timeout = rules.head_timeout;
    let mut http = http1::Builder::new();
    // The watchdog below is the head deadline, in place of hyper's (see the module's description).
    http.header_read_timeout(None);
    http.max_buf_size(READ_BUFFER_BYTES);
    let graceful = GracefulShutdown::new();
    let mut shutdown = pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            biased;
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    accept_failed(error).await;
                    continue;
                }
            },
        };
        let peer = peer.ip();
        let Some(admitted) = limit.admit(peer) else {
            // Not logged: under a flood that would be a line per connection.
            Metrics::bump(&metrics.connections_refused);
            drop(stream);
            continue;
        };
        let activity = Arc::new(Activity::new());
        let served = Served {
            service: service.for_peer(peer),
            activity: activity.clone(),
        };
        let connection =
            graceful.watch(http.serve_connection(PageIo::new(stream, metrics.clone()), served));
        let watchdog = Watchdog {
            activity,
            head_timeout,
            metrics: metrics.clone(),
        };
        tokio::spawn(watchdog.run(connection, admitted));
    }
    drop(listener);
    graceful.shutdown().await;
}

/// What an accept that failed costs: nothing when the failure was the client's, else (say, out
/// of file descriptors) a second's pause, in which connections may end and free some, as
/// `axum::serve` does.
async fn accept_failed(error: std::io::Error) {
    use std::io::ErrorKind::{ConnectionAborted, ConnectionRefused, ConnectionReset};
    if matches!(
        error.kind(),
        ConnectionAborted | ConnectionRefused | ConnectionReset
    ) {
        return;
    }
    tracing::error!(%error, "cannot accept a connection");
    tokio::time::sleep(Duration::from_secs(1)).await;
}

/// Whether a connection is answering a request, or else since when it has not been.
struct Activity {
    accepted: Instant,
    /// Milliseconds from `accepted` to when the last answer was made, or [`BUSY`].
    idle_since: AtomicU64,
}

const BUSY: u64 = u64::MAX;

impl Activity {
    fn new() -> Self {
        Self {
            accepted: Instant::now(),
            idle_since: AtomicU64::new(0),
        }
    }

    fn busy(&self) {
        // Relaxed: the connection and its watchdog run in one task, never at once.
        self.idle_since.store(BUSY, Ordering::Relaxed);
    }

    fn idle(&self) {
        let since = self.accepted.elapsed().as_millis() as u64;
        self.idle_since.store(since, Ordering::Relaxed);
    }

    /// When the next head is due, or none while a request is being answered.
    fn head_due(&self, head_timeout: Duration) -> Option<Instant> {
        match self.idle_since.load(Ordering::Relaxed) {
            BUSY => None,
            since => Some(self.accepted + Duration::from_millis(since) + head_timeout),
        }
    }
}

/// The connection's service for hyper: the request context, which tells the watchdog when a
/// request starts and when its answer is made.
struct Served<E> {
    service: RequestService<Router, E>,
    activity: Arc<Activity>,
}

impl<E: EarlyAnswer> hyper::service::Service<Request<Incoming>> for Served<E> {
    type Response = Response;
    type Error = Infallible;
    type Future = Answering<E>;

    fn call(&self, request: Request<Incoming>) -> Answering<E> {
        self.activity.busy();
        Answering {
            // What `axum::serve` does: a copy of the service per request, readied and called.
            answer: self.service.clone().oneshot(request.map(Body::new)),
            activity: self.activity.clone(),
        }
    }
}

/// A request being answered; once it is, its connection is idle.
struct Answering<E: EarlyAnswer> {
    answer: Oneshot<RequestService<Router, E>, Request>,
    activity: Arc<Activity>,
}

impl<E: EarlyAnswer> Future for Answering<E> {
    type Output = Result<Response, Infallible>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let answer = ready!(Pin::new(&mut self.answer).poll(cx));
        self.activity.idle();
        Poll::Ready(answer)
    }
}

/// Closes a connection that has sent no whole head by its deadline.
struct Watchdog {
    activity: Arc<Activity>,
    head_timeout: Duration,
    metrics: Arc<Metrics>,
}

impl Watchdog {
    /// Serves `connection` until it ends or misses a deadline; `_admitted` counts it against
    /// its address until then.
    async fn run(
        self,
        connection: impl Future<Output = Result<(), hyper::Error>>,
        _admitted: Admitted,
    ) {
        let mut connection = pin!(connection);
        let mut due = pin!(tokio::time::sleep(self.head_timeout));
        loop {
            tokio::select! {
                biased;
                ended = connection.as_mut() => {
                    if let Err(error) = ended {
                        tracing::trace!(%error, "a connection ended with an error");
                    }
                    return;
                }
                () = due.as_mut() => match self.activity.head_due(self.head_timeout) {
                    None => due.as_mut().reset(Instant::now() + self.head_timeout),
                    Some(at) if at > Instant::now() => due.as_mut().reset(at),
                    Some(_) => {
                        // Dropping the connection closes it. Not logged: a line per slow
                        // client would let slow clients fill the log.
                        Metrics::bump(&self.metrics.deadlines_missed);
                        return;
                    }
                },
            }
        }
    }
}
