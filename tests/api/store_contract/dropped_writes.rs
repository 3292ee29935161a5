//! Writes whose callers go away at any moment (a client gone mid-request) leave the store
//! writable: no pooled connection stays inside a transaction. SQLite's `begin_write` once left
//! one open when dropped between its BEGIN and sqlx's check after it, and every later write on
//! that connection failed ("non-zero transaction depth"). The moment is a race, so many writes
//! are dropped at spread-out moments; the check after them is exact.

use std::time::Duration;

use futures_util::future::join_all;
use keyflow::domain::Role;

use super::{draft, each, member, tenant};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writes_dropped_at_any_moment_leave_every_connection_writable() {
    each(|store| async move {
        let tenant = tenant(&*store, "Dropped writes").await.id;
        let author = member(&*store, tenant, "dropped@example.com", Role::Administrator).await;
        for round in 0..60u64 {
            let writes = (0..8u64).map(|i| {
                let store = store.clone();
                async move {
                    let flow = draft(&format!("Dropped {round} {i}"));
                    let wait = Duration::from_micros((round * 37 + i * 113) % 3000);
                    let _ =
                        tokio::time::timeout(wait, store.create_flow(tenant, &flow, author)).await;
                }
            });
            join_all(writes).await;
        }
        // More writes at once than the pool has connections: every connection writes again.
        let writes = (0..16).map(|i| {
            let store = store.clone();
            async move {
                let flow = draft(&format!("After {i}"));
                store.create_flow(tenant, &flow, author).await
            }
        });
        for written in join_all(writes).await {
            written.expect("a write after the dropped ones");
        }
    })
    .await;
}
