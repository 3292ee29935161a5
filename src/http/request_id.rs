//! Request ids: made for every request that did not bring its own, without a system call.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};

use axum::http::HeaderValue;

/// A new request id in the form of a UUID, unique within the process and made without a
/// system call: a random per-process half, and a counter scrambled by a bijective mix, so ids
/// never repeat and do not read as a count of requests.
pub fn new() -> HeaderValue {
    static KEY: OnceLock<(u64, u64)> = OnceLock::new();
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let (high, low) = *KEY.get_or_init(rand::random);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let id = uuid::Uuid::from_u64_pair(high, mix(n ^ low));
    let mut text = [0u8; uuid::fmt::Hyphenated::LENGTH];
    HeaderValue::from_str(id.hyphenated().encode_lower(&mut text)).expect("hex and hyphens")
}

/// The splitmix64 finalizer: a bijection of u64, so distinct counters give distinct ids.
fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_uuids_and_do_not_repeat() {
        let ids: std::collections::HashSet<String> = (0..1000)
            .map(|_| new().to_str().unwrap().to_string())
            .collect();
        assert_eq!(ids.len(), 1000);
        for id in ids.iter().take(5) {
            assert!(uuid::Uuid::parse_str(id).is_ok(), "{id}");
        }
    }
}
