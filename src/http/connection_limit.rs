//! The bound on the connections one client address holds open at once
//! (`--max-connections-per-address`), so that one client cannot take every connection the
//! server can hold. An IPv6 client is counted by its /64, the block a single host or site is
//! usually given, so it cannot step around the bound by using more of its own addresses.
//!
//! A mutex over a map rather than a lock-free one: it is taken twice per connection (when it is
//! accepted and when it ends), never per request, and no crate in use offers a counting map.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv6Addr};
use std::sync::{Arc, Mutex, PoisonError};

/// The connections open per client address.
pub struct ConnectionLimit {
    /// 0: no bound (and nothing counted).
    max: usize,
    open: Mutex<HashMap<IpAddr, usize>>,
}

/// One admitted connection; its address's count goes down when it is dropped.
pub struct Admitted {
    counted: Option<(Arc<ConnectionLimit>, IpAddr)>,
}

impl ConnectionLimit {
    pub fn new(max: usize) -> Arc<Self> {
        Arc::new(Self {
            max,
            open: Mutex::new(HashMap::new()),
        })
    }

    /// The connection from `peer` is admitted, or none when its address already holds `max`.
    pub fn admit(self: &Arc<Self>, peer: IpAddr) -> Option<Admitted> {
        if self.max == 0 {
            return Some(Admitted { counted: None });
        }
        let client = client_of(peer);
        // A panic while the lock is held cannot leave a count half-written.
        let mut open = self.open.lock().unwrap_or_else(PoisonError::into_inner);
        let count = open.entry(client).or_insert(0);
        if *count >= self.max {
            return None;
        }
        *count += 1;
        Some(Admitted {
            counted: Some((self.clone(), client)),
        })
    }

    /// How many connections `peer`'s address holds open.
    pub fn open(&self, peer: IpAddr) -> usize {
        let open = self.open.lock().unwrap_or_else(PoisonError::into_inner);
        open.get(&client_of(peer)).copied().unwrap_or(0)
    }
}

impl Drop for Admitted {
    fn drop(&mut self) {
        let Some((limit, client)) = self.counted.take() else {
            return;
        };
        let mut open = limit.open.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(count) = open.get_mut(&client) {
            *count -= 1;
            if *count == 0 {
                // Only addresses with a connection open take room in the map.
                open.remove(&client);
            }
        }
    }
}

/// What a peer is counted as: an IPv4 address (also when it arrives mapped into IPv6 on a
/// dual-stack socket), or an IPv6 address's /64.
fn client_of(peer: IpAddr) -> IpAddr {
    match peer.to_canonical() {
        IpAddr::V6(v6) => {
            let prefix = u128::from(v6) & !((1u128 << 64) - 1);
            IpAddr::V6(Ipv6Addr::from(prefix))
        }
        v4 => v4,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_address_holds_at_most_max_and_gets_room_back_as_connections_end() {
        let limit = ConnectionLimit::new(2);
        let a: IpAddr = "192.0.2.1".parse().unwrap();
        let b: IpAddr = "192.0.2.2".parse().unwrap();
        let first = limit.admit(a).unwrap();
        let _second = limit.admit(a).unwrap();
        assert!(limit.admit(a).is_none(), "a third from the same address");
        assert!(
            limit.admit(b).is_some(),
            "another address has its own bound"
        );
        drop(first);
        assert_eq!(limit.open(a), 1);
        assert!(limit.admit(a).is_some());
    }

    #[test]
    fn an_ipv6_client_is_its_64_and_a_mapped_ipv4_is_the_ipv4_address() {
        let limit = ConnectionLimit::new(1);
        let _one = limit.admit("2001:db8:1:2::1".parse().unwrap()).unwrap();
        assert!(
            limit
                .admit("2001:db8:1:2:ffff::9".parse().unwrap())
                .is_none()
        );
        assert!(limit.admit("2001:db8:1:3::1".parse().unwrap()).is_some());
        let _v4 = limit.admit("192.0.2.7".parse().unwrap()).unwrap();
        assert!(limit.admit("::ffff:192.0.2.7".parse().unwrap()).is_none());
    }

    #[test]
    fn zero_is_no_bound_and_counts_nothing() {
        let limit = ConnectionLimit::new(0);
        let peer: IpAddr = "192.0.2.1".parse().unwrap();
        let held: Vec<_> = (0..1000).map(|_| limit.admit(peer).unwrap()).collect();
        assert_eq!(limit.open(peer), 0);
        drop(held);
    }
}
