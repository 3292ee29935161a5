//! When each key was last used, and from where, written behind the hot path: a key's first
//! use in each coarse minute is handed (`try_send`, never waiting) to a bounded channel, and
//! one background writer stores what it finds there in batches, one transaction each. At a
//! graceful stop the writer drains the channel before the store closes.
//!
//! A full channel drops the record (counted in `keyflow_key_usage_dropped_total`): the
//! request never waits for storage, and the key's next minute records it again.

use std::net::IpAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;

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
/// what is still waiting and returns. `written` is called after each batch is stored: this
/// instance's cached key lists, which show the last uses, are stale (the store announces the
/// batch to the other instances).
pub async fn write(
    store: Arc<dyn Store>,
    UsageReceiver(mut receiver): UsageReceiver,
    metrics: Arc<Metrics>,
    mut stop: oneshot::Receiver<()>,
    written: impl Fn() + Send,
) {
    let mut batch = Vec::with_capacity(BATCH);
    loop {
        tokio::select! {
            received = receiver.recv_many(&mut batch, BATCH) => {
                if received == 0 {
                    return;
                }
                store_batch(store.as_ref(), &mut batch, &metrics).await;
                written();
            }
            _ = &mut stop => break,
        }
    }
    // The graceful stop: nothing handed over is lost.
    receiver.close();
    while receiver.recv_many(&mut batch, BATCH).await > 0 {
        store_batch(store.as_ref(), &mut batch, &metrics).await;
        written();
    }
}

async fn store_batch(store: &dyn Store, batch: &mut Vec<KeyUsage>, metrics: &Metrics) {
    match store.record_key_usage(batch).await {
        Ok(()) => {
            Metrics::bump(&metrics.key_usage_batches);
            let records = u64::try_from(batch.len()).unwrap_or(u64::MAX);
            metrics
                .key_usage_records
                .fetch_add(records, Ordering::Relaxed);
        }
        // Logged without the records: a key's id and an address are no secret, but a line
        // per record under a storage outage would flood the log.
        Err(error) => tracing::warn!(%error, records = batch.len(), "could not record key usage"),
    }
    batch.clear();
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{Email, KeyName, Role, TenantName, UserId};
    use crate::store::{NewKey, NewUser, StoreConfig};

    /// The graceful stop's promise: uses handed over before the stop are all written, even
    /// when the stop comes before the writer has taken any of them.
    #[tokio::test]
    async fn uses_queued_before_the_stop_are_all_written() {
        let dir = tempfile::tempdir().unwrap();
        let store = crate::store::open(&StoreConfig::in_data_dir(dir.path()))
            .await
            .unwrap();
        let tenant = store
            .create_tenant(&TenantName::parse("Used").unwrap())
            .await
            .unwrap()
            .id;
        let owner = UserId::generate();
        let user = NewUser {
            id: owner,
            email: Email::parse("used@example.com").unwrap(),
            first_name: None,
            last_name: None,
            password_hash: Some("$argon2id$stand-in".into()),
        };
        store
            .create_user(user, tenant, Role::Standard)
            .await
            .unwrap();
        let mut ids = Vec::new();
        for i in 0..300 {
            let id = KeyId::generate();
            ids.push(id);
            let key = NewKey {
                id,
                user_id: owner,
                tenant_id: tenant,
                name: KeyName::parse(&format!("key {i}")).unwrap(),
                digest: crate::domain::Digest::from_bytes({
                    let mut bytes = [0; 32];
                    bytes[..4].copy_from_slice(&(i as u32).to_be_bytes());
                    bytes
                }),
                preview: "kf_…abcd".into(),
                sealed: None,
                created_at: Timestamp::now(),
                expires_at: None,
                scopes: Default::default(),
                allowed_networks: Default::default(),
                rate_per_second: None,
                rate_burst: None,
            };
            store.insert_key(key).await.unwrap();
        }
        let metrics = Arc::new(Metrics::default());
        let (sender, receiver) = channel(metrics.clone());
        for id in &ids {
            sender.send(*id, "192.0.2.1".parse().unwrap());
        }
        let (stop, stopped) = oneshot::channel();
        stop.send(()).unwrap();
        write(store.clone(), receiver, metrics.clone(), stopped, || {}).await;

        let keys = store.keys_of_user(owner).await.unwrap();
        assert_eq!(keys.len(), 300);
        assert!(keys.iter().all(|key| key.last_used_at.is_some()
            && key.last_used_address.as_deref() == Some("192.0.2.1")));
        assert_eq!(metrics.key_usage_records.load(Ordering::Relaxed), 300);
        assert_eq!(
            metrics.key_usage_batches.load(Ordering::Relaxed),
            2,
            "in batches of at most {BATCH}"
        );
        assert_eq!(metrics.key_usage_dropped.load(Ordering::Relaxed), 0);
    }
}
