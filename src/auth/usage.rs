//! When each key was last used, and from where, written behind the hot path: a key's first
//! use in each coarse minute is handed (`try_send`, never waiting) to a bounded channel, and
//! one background writer stores what it finds there in batches, one transaction each. At a
//! graceful stop the writer drains the channel before the store closes.
//!
//! A full channel drops the record (counted in `keyflow_key_usage_dropped_total`): the
//! request never waits for storage, and the key's next minute records it again.

use std::net::IpAddr;
use std::sync::Arc;

use tokio::sync::{mpsc, oneshot};

use crate::domain::{KeyId, Timestamp};
use crate::metrics::Metrics;
use crate::store::{KeyUsage, Store};

/// Records waiting for the writer, at most.
const CHANNEL: usize = 4096;
/// Records written in one transaction, at most.
const BATCH: usize = 256;

/// The hot path's end of the channel.
pub struct UsageSender {
    sender: mpsc::Sender<KeyUsage>,
    metrics: Arc<Metrics>,
}

/// The writer's end, taken once by the server that runs the writer.
pub struct UsageReceiver(mpsc::Receiver<KeyUsage>);

/// A new channel between the hot path and the writer.
pub fn channel(metrics: Arc<Metrics>) -> (UsageSender, UsageReceiver) {
    let (sender, receiver) = mpsc::channel(CHANNEL);
    (UsageSender { sender, metrics }, UsageReceiver(receiver))
}

impl UsageSender {
    /// Hands a key's use to the writer without waiting (called at most once a minute a key).
    pub fn send(&self, key_id: KeyId, address: IpAddr) {
        let usage = KeyUsage {
            key_id,
            at: Timestamp::now(),
            address: address.to_string(),
        };
        if self.sender.try_send(usage).is_err() {
            Metrics::bump(&self.metrics.key_usage_dropped);
        }
    }
}

/// Writes the uses it receives until `stop` fires (or every sender is gone), then writes
/// what is still waiting and returns.
pub async fn write(
    store: Arc<dyn Store>,
    UsageReceiver(mut receiver): UsageReceiver,
    metrics: Arc<Metrics>,
    mut stop: oneshot::Receiver<()>,
) {
    let mut batch = Vec::with_capacity(BATCH);
    loop {
        tokio::select! {
            received = receiver.recv_many(&mut batch, BATCH) => {
                if received == 0 {
                    return;
                }
                store_batch(store.as_ref(), &mut batch, &metrics).await;
            }
            _ = &mut stop => break,
        }
    }
    // The graceful stop: nothing handed over is lost.
    receiver.close();
    while receiver.recv_many(&mut batch, BATCH).await > 0 {
        store_batch(store.as_ref(), &mut batch, &metrics).await;
    }
}

async fn store_batch(store: &dyn Store, batch: &mut Vec<KeyUsage>, metrics: &Metrics) {
    match store.record_key_usage(batch).await {
        Ok(()) => Metrics::bump(&metrics.key_usage_batches),
        // Logged without the records: a key's id and an address are no secret, but a line
        // per record under a storage outage would flood the log.
        Err(error) => tracing::warn!(%error, records = batch.len(), "could not record key usage"),
    }
    batch.clear();
}
