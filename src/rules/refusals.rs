//! Refused credentials, aggregated before they reach the audit trail, so a flood of them
//! cannot fill the disk.
//!
//! The rule: refusals are counted in memory per (action, reason, address, tenant, key
//! preview); each flush (every `FLUSH_EVERY`, and at a graceful stop) writes one event per
//! such group with `count` in its data, dated at the group's first refusal. At most
//! `capacity` groups are held between flushes; a refusal that would start a group past it is
//! counted into one overflow event (`credential.refused_overflow`, `count`), so memory and the
//! rows a window writes are bounded whatever arrives: at most `capacity + 1` per window.
//!
//! What a group keeps is safe to log: the reason, the tenant `manywhotenant` named, the key's
//! preview for a well-formed key (never for a malformed value, never the value), the address,
//! and the id of the group's first request.

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::Duration;

use serde_json::json;

use crate::domain::{TenantId, Timestamp};
use crate::rules::RuleError;
use crate::store::{AuditEvent, Store};

/// How often the server writes what it counted.
pub const FLUSH_EVERY: Duration = Duration::from_secs(60);
/// How many groups a window holds by default.
pub const CAPACITY: usize = 10_000;

/// One refused credential, as the edge (or the sign-in rule) saw it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Refusal {
    /// The event's action: `key.refused`, `token.refused`, `user.sign_in_failed`, and
    /// `run.refused` (a run the flow's authorization refused: `rules::run::refused`).
    pub action: &'static str,
    /// Why, as far as the caller can tell: `malformed`, `refused` (unknown, revoked or for
    /// another tenant: the verifier answers these alike), `expired`, `network`, `scope`,
    /// `wrong_password`…
    pub reason: &'static str,
    pub address: IpAddr,
    /// The tenant the request named (`manywhotenant`), if any.
    pub tenant: Option<TenantId>,
    /// A well-formed key's preview (`kf_ab…wxyz`); `None` for anything else.
    pub preview: Option<String>,
}

struct Group {
    count: u64,
    first_at: Timestamp,
    request_id: Option<String>,
}

#[derive(Default)]
struct Window {
    groups: HashMap<Refusal, Group>,
    overflow: u64,
    overflow_since: Option<Timestamp>,
}

/// The refusals counted since the last flush.
pub struct Refusals {
    window: Mutex<Window>,
    capacity: usize,
}

impl Default for Refusals {
    fn default() -> Self {
        Self::new(CAPACITY)
    }
}

impl Refusals {
    pub fn new(capacity: usize) -> Self {
        Refusals {
            window: Mutex::new(Window::default()),
            capacity,
        }
    }

    /// Counts one refusal at `at`, from the request `request_id`.
    pub fn note(&self, refusal: Refusal, at: Timestamp, request_id: Option<String>) {
        let mut window = self
            .window
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let full = window.groups.len() >= self.capacity;
        match window.groups.entry(refusal) {
            Entry::Occupied(mut group) => group.get_mut().count += 1,
            Entry::Vacant(_) if full => {
                window.overflow += 1;
                window.overflow_since.get_or_insert(at);
            }
            Entry::Vacant(slot) => {
                slot.insert(Group {
                    count: 1,
                    first_at: at,
                    request_id: request_id.filter(|id| !id.is_empty()),
                });
            }
        }
    }

    /// Takes what was counted, as the events a flush writes, and starts a new window.
    pub fn take(&self) -> Vec<AuditEvent> {
        let window = {
            let mut held = self
                .window
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            std::mem::take(&mut *held)
        };
        let mut events: Vec<AuditEvent> = window
            .groups
            .into_iter()
            .map(|(refusal, group)| AuditEvent {
                actor: None,
                tenant: refusal.tenant,
                action: refusal.action,
                subject: refusal.preview.clone(),
                address: Some(refusal.address.to_string()),
                request_id: group.request_id,
                data: Some(json!({
                    "reason": refusal.reason,
                    "count": group.count,
                    "preview": refusal.preview,
                    "address": refusal.address.to_string(),
                })),
                at: Some(group.first_at),
            })
            .collect();
        if window.overflow > 0 {
            events.push(AuditEvent {
                action: "credential.refused_overflow",
                data: Some(json!({ "count": window.overflow })),
                at: window.overflow_since,
                ..AuditEvent::default()
            });
        }
        events
    }

    /// Writes what was counted: one event per group (and one for the overflow). Returns how
    /// many events it wrote.
    pub async fn flush(&self, store: &dyn Store) -> Result<usize, RuleError> {
        let events = self.take();
        let written = events.len();
        for event in events {
            store.record_audit(event).await?;
        }
        Ok(written)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refusal(address: [u8; 4], reason: &'static str) -> Refusal {
        Refusal {
            action: "key.refused",
            reason,
            address: IpAddr::from(address),
            tenant: None,
            preview: None,
        }
    }

    fn count(event: &AuditEvent) -> u64 {
        event.data.as_ref().unwrap()["count"].as_u64().unwrap()
    }

    #[test]
    fn a_flood_makes_one_event_per_group_with_its_count() {
        let refusals = Refusals::new(100);
        for n in 0..10_000u32 {
            let reason = if n % 4 == 0 { "malformed" } else { "refused" };
            refusals.note(
                refusal([10, 0, 0, (n % 3) as u8], reason),
                Timestamp::now(),
                None,
            );
        }
        let events = refusals.take();
        assert_eq!(events.len(), 6);
        assert_eq!(events.iter().map(count).sum::<u64>(), 10_000);
        assert!(refusals.take().is_empty(), "a flush starts a new window");
    }

    #[test]
    fn past_the_cap_refusals_count_into_one_overflow_event() {
        let refusals = Refusals::new(3);
        for n in 0..1_000u32 {
            refusals.note(
                refusal([10, 0, (n % 7) as u8, 1], "refused"),
                Timestamp::now(),
                None,
            );
        }
        let events = refusals.take();
        // Three groups held, and one event for the other four addresses' refusals.
        assert_eq!(events.len(), 4);
        let overflow: Vec<&AuditEvent> = events
            .iter()
            .filter(|event| event.action == "credential.refused_overflow")
            .collect();
        assert_eq!(overflow.len(), 1);
        assert!(count(overflow[0]) > 0);
        assert_eq!(events.iter().map(count).sum::<u64>(), 1_000);
    }
}
