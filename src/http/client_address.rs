//! Who the client is: the TCP peer, or, when the peer is a trusted proxy
//! (`--trusted-proxies`), the rightmost `X-Forwarded-For` hop that is not itself a trusted
//! proxy. Each proxy appends the address it received the request from, so hops to the right
//! of the first untrusted one were written by proxies keyflow trusts, and those to its left
//! by whoever the client is (who may write anything there). Computed once per request by the
//! request service; nothing is read, and nothing parsed, when no proxy is trusted.

use std::net::{IpAddr, SocketAddr};

use axum::http::{HeaderMap, HeaderName};

use crate::domain::Networks;

static FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");

/// The client of a request from `peer` with these headers. A header from a trusted peer that
/// is malformed anywhere in the hops read (not an address), or absent, leaves the peer: a
/// proxy that sends it well never sends it so, and guessing would let a client choose.
pub fn resolve(peer: IpAddr, headers: &HeaderMap, trusted: &Networks) -> IpAddr {
    if trusted.is_empty() || !trusted.contains(peer) {
        return peer;
    }
    let mut client = peer;
    // Several header lines read as one list, in order: walk them and their hops from the right.
    for value in headers.get_all(&FORWARDED_FOR).iter().rev() {
        let Ok(text) = value.to_str() else {
            return peer;
        };
        for hop in text.rsplit(',') {
            let Some(address) = hop_address(hop.trim()) else {
                return peer;
            };
            if !trusted.contains(address) {
                return address;
            }
            // Every hop so far a trusted proxy: the farthest one is the client so far.
            client = address;
        }
    }
    client
}

/// A hop: an address, maybe with a port (`203.0.113.7:5123`, `[2001:db8::1]:443`).
fn hop_address(hop: &str) -> Option<IpAddr> {
    hop.parse::<IpAddr>()
        .or_else(|_| hop.parse::<SocketAddr>().map(|socket| socket.ip()))
        .ok()
        .map(|address| address.to_canonical())
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    fn forwarded(values: &[&'static str]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for value in values {
            headers.append(&FORWARDED_FOR, HeaderValue::from_static(value));
        }
        headers
    }

    fn proxies() -> Networks {
        Networks::parse(["10.0.0.0/8", "192.0.2.1"]).unwrap()
    }

    #[test]
    fn without_trusted_proxies_the_header_is_ignored() {
        let headers = forwarded(&["198.51.100.9"]);
        let peer = ip("10.0.0.1");
        assert_eq!(resolve(peer, &headers, &Networks::default()), peer);
    }

    #[test]
    fn from_an_untrusted_peer_the_header_is_ignored() {
        let headers = forwarded(&["198.51.100.9"]);
        let peer = ip("203.0.113.5");
        assert_eq!(resolve(peer, &headers, &proxies()), peer);
    }

    #[test]
    fn from_a_trusted_peer_the_rightmost_untrusted_hop_is_the_client() {
        let peer = ip("10.0.0.1");
        // The client wrote a lie on the left; the proxies appended what they saw.
        let headers = forwarded(&["1.2.3.4, 198.51.100.9, 10.1.1.1"]);
        assert_eq!(resolve(peer, &headers, &proxies()), ip("198.51.100.9"));
        // The same list over two header lines, with a port and IPv6.
        let headers = forwarded(&["1.2.3.4", "[2001:db8::7]:443, 192.0.2.1"]);
        assert_eq!(resolve(peer, &headers, &proxies()), ip("2001:db8::7"));
        let headers = forwarded(&["198.51.100.9:5123"]);
        assert_eq!(resolve(peer, &headers, &proxies()), ip("198.51.100.9"));
    }

    #[test]
    fn every_hop_trusted_leaves_the_farthest_and_none_leaves_the_peer() {
        let peer = ip("10.0.0.1");
        let headers = forwarded(&["10.9.9.9, 192.0.2.1"]);
        assert_eq!(resolve(peer, &headers, &proxies()), ip("10.9.9.9"));
        assert_eq!(resolve(peer, &HeaderMap::new(), &proxies()), peer);
    }

    #[test]
    fn a_malformed_header_from_a_trusted_peer_leaves_the_peer() {
        let peer = ip("10.0.0.1");
        for value in ["unknown", "198.51.100.9,,", "not an address, 10.1.1.1", ""] {
            let headers = forwarded(&[value]);
            assert_eq!(resolve(peer, &headers, &proxies()), peer, "{value:?}");
        }
        // A malformed hop beyond the first untrusted one is never read.
        let headers = forwarded(&["garbage, 198.51.100.9"]);
        assert_eq!(resolve(peer, &headers, &proxies()), ip("198.51.100.9"));
    }
}
