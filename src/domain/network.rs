//! Lists of address ranges: the networks an API key may be used from, and the proxies whose
//! `X-Forwarded-For` is believed. Cheap to clone (one shared slice), and checked by a walk over
//! at most [`Networks::MAX`] ranges without allocating.

use std::fmt;
use std::net::IpAddr;
use std::sync::Arc;

use ipnet::IpNet;

use super::Invalid;

/// A list of CIDR ranges (IPv4 and IPv6). Empty: no range at all, which a key reads as "from
/// anywhere" and the trusted proxies as "none".
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Networks(Option<Arc<[IpNet]>>);

impl Networks {
    /// At most this many ranges in a key's list.
    pub const MAX: usize = 20;

    /// The list of the given entries: each a range (`10.0.0.0/8`, `2001:db8::/32`) or a bare
    /// address (a range of one: /32 or /128). Host bits are cleared (`10.1.2.3/8` is
    /// `10.0.0.0/8`). An entry that is neither is refused, naming it; blank entries are skipped.
    pub fn parse<'a>(entries: impl IntoIterator<Item = &'a str>) -> Result<Networks, Invalid> {
        let mut ranges = Vec::new();
        for entry in entries {
            let entry = entry.trim();
            if entry.is_empty() {
                continue;
            }
            let range = match entry.parse::<IpNet>() {
                Ok(range) => range.trunc(),
                Err(_) => entry.parse::<IpAddr>().map(IpNet::from).map_err(|_| {
                    Invalid::new(format!(
                        "'{}' is not an address range: write a CIDR range such as \
                         203.0.113.0/24 or 2001:db8::/32, or a single address",
                        super::shorten(entry)
                    ))
                })?,
            };
            if !ranges.contains(&range) {
                ranges.push(range);
            }
        }
        Ok(Networks((!ranges.is_empty()).then(|| ranges.into())))
    }

    /// Like [`Networks::parse`], and at most [`Networks::MAX`] ranges: a key's list.
    pub fn parse_limited<'a>(
        entries: impl IntoIterator<Item = &'a str>,
    ) -> Result<Networks, Invalid> {
        let networks = Networks::parse(entries)?;
        if networks.ranges().len() > Networks::MAX {
            return Err(Invalid::new(format!(
                "at most {} address ranges; this list has {}",
                Networks::MAX,
                networks.ranges().len()
            )));
        }
        Ok(networks)
    }

    /// The entries of a text separated by commas, white space or new lines (a form's field,
    /// a flag, a stored column).
    pub fn split(text: &str) -> impl Iterator<Item = &str> {
        text.split(|c: char| c == ',' || c.is_whitespace())
            .filter(|entry| !entry.is_empty())
    }

    /// Read back from storage (comma-separated).
    pub fn from_stored(text: &str) -> Result<Networks, Invalid> {
        Networks::parse(Networks::split(text))
    }

    /// As storage keeps it: comma-separated (empty when there is none).
    pub fn to_stored(&self) -> String {
        self.to_string()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_none()
    }

    pub fn ranges(&self) -> &[IpNet] {
        self.0.as_deref().unwrap_or(&[])
    }

    /// Whether `address` is in one of the ranges. An IPv4 address mapped into IPv6
    /// (`::ffff:a.b.c.d`, how a dual-stack socket shows an IPv4 peer) counts as the IPv4 one.
    pub fn contains(&self, address: IpAddr) -> bool {
        let address = address.to_canonical();
        self.ranges().iter().any(|range| range.contains(&address))
    }

    /// Whether a key limited to these networks may be used from `address`: always when the
    /// list is empty.
    pub fn admits(&self, address: IpAddr) -> bool {
        self.is_empty() || self.contains(address)
    }
}

impl Networks {
    /// Each range as text, as lists show it: a range of one as its address.
    pub fn entries(&self) -> impl Iterator<Item = String> + '_ {
        self.ranges().iter().map(|range| {
            if range.prefix_len() == range.max_prefix_len() {
                range.addr().to_string()
            } else {
                range.to_string()
            }
        })
    }
}

impl fmt::Display for Networks {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.entries().collect::<Vec<_>>().join(","))
    }
}

/// Reads the column (`#[sqlx(try_from = "String")]`).
impl TryFrom<String> for Networks {
    type Error = Invalid;

    fn try_from(text: String) -> Result<Self, Invalid> {
        Networks::from_stored(&text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn ranges_and_bare_addresses_of_both_families() {
        let networks =
            Networks::parse(["10.1.2.3/8", "192.0.2.7", "2001:db8::/32", " ::1 "]).unwrap();
        assert_eq!(
            networks.to_stored(),
            "10.0.0.0/8,192.0.2.7,2001:db8::/32,::1"
        );
        assert!(networks.admits(ip("10.200.0.1")));
        assert!(networks.admits(ip("192.0.2.7")));
        assert!(!networks.admits(ip("192.0.2.8")), "a bare address is a /32");
        assert!(networks.admits(ip("2001:db8:1::5")));
        assert!(
            networks.admits(ip("::ffff:10.0.0.9")),
            "IPv4 mapped into IPv6"
        );
        assert!(!networks.admits(ip("2001:db9::1")));
        assert_eq!(Networks::from_stored(&networks.to_stored()), Ok(networks));
    }

    #[test]
    fn a_bad_entry_is_refused_by_name_and_the_list_is_bounded() {
        let error = Networks::parse(["10.0.0.0/8", "10.0.0.0/33"]).unwrap_err();
        assert!(error.0.contains("'10.0.0.0/33'"), "{error}");
        assert!(Networks::parse(["example.com"]).is_err());
        let many: Vec<String> = (0..21).map(|i| format!("10.0.{i}.0/24")).collect();
        assert!(Networks::parse_limited(many.iter().map(String::as_str)).is_err());
        assert!(Networks::parse_limited(many[..20].iter().map(String::as_str)).is_ok());
    }

    #[test]
    fn empty_admits_everyone_and_contains_no_one() {
        let none = Networks::parse(Networks::split(" , \n")).unwrap();
        assert!(none.is_empty());
        assert!(none.admits(ip("203.0.113.1")));
        assert!(!none.contains(ip("203.0.113.1")));
        assert_eq!(none.to_stored(), "");
    }
}
