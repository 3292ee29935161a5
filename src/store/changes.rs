//! What a write announces to every instance that may have cached what it changed, and how an
//! instance hears it. A backend that several instances share (PostgreSQL) raises its change
//! counter and sends the announcement in the same transaction as the write, so an instance
//! never hears of a change that did not commit, and a commit is never silent.

use async_trait::async_trait;

use super::StoreResult;
use crate::domain::TenantId;

/// What a committed write changed, as far as a cache elsewhere cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    /// A key was deleted (or will be expired or rotated): cached key grants may be stale.
    Keys { tenant: TenantId },
    /// A membership was removed, demoted or changed, with the member's keys and tokens.
    Members { tenant: TenantId },
    /// A user's password changed, ending their other sign-ins and tokens, or a web session
    /// was signed out: cached tokens and sessions may be stale (API keys are not).
    Credentials,
    /// A flow, its snapshots or the tenant's elements were written: the tenant's cached reads
    /// of them are stale.
    Flows { tenant: TenantId },
    /// A tenant's own settings changed.
    Tenant { tenant: TenantId },
    /// A user's names changed: they show as a builder in any tenant's flow lists.
    Names,
    /// A member, an invitation or a key was added, or an invitation withdrawn, revoking
    /// nothing: the tenant's cached administration reads, and what users read of themselves,
    /// are stale.
    People { tenant: TenantId },
    /// Keys' last uses were written: cached key lists, which show them, are stale.
    Usage,
}

impl Change {
    /// Whether cached credentials may be affected (as opposed to cached reads only): sign-ins'
    /// grants for every such change, and key grants for all but [`Change::Credentials`]
    /// ([`Change::revokes_keys`]).
    pub fn revokes_credentials(self) -> bool {
        !matches!(
            self,
            Change::Flows { .. } | Change::Names | Change::People { .. } | Change::Usage
        )
    }

    /// Whether cached key grants may be affected: a password change or a sign-out leaves every
    /// API key as it was.
    pub fn revokes_keys(self) -> bool {
        self.revokes_credentials() && self != Change::Credentials
    }

    /// The tenant whose cached data changed, if the change is confined to one.
    pub fn tenant(self) -> Option<TenantId> {
        match self {
            Change::Keys { tenant }
            | Change::Members { tenant }
            | Change::Flows { tenant }
            | Change::Tenant { tenant }
            | Change::People { tenant } => Some(tenant),
            Change::Credentials | Change::Names | Change::Usage => None,
        }
    }

    fn kind(self) -> &'static str {
        match self {
            Change::Keys { .. } => "keys",
            Change::Members { .. } => "members",
            Change::Credentials => "credentials",
            Change::Flows { .. } => "flows",
            Change::Tenant { .. } => "tenant",
            Change::Names => "names",
            Change::People { .. } => "people",
            Change::Usage => "usage",
        }
    }
}

/// One announcement: the change and the value of the change counter its write left.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Announcement {
    pub counter: i64,
    pub change: Change,
}

impl Announcement {
    /// The notification's text: `COUNTER KIND [TENANT]`, well under PostgreSQL's 8000 bytes.
    pub fn to_payload(self) -> String {
        match self.change.tenant() {
            Some(tenant) => format!("{} {} {}", self.counter, self.change.kind(), tenant),
            None => format!("{} {}", self.counter, self.change.kind()),
        }
    }

    /// Reads a notification's text back; None for anything this version does not know (a
    /// newer instance's announcement: the listener then drops every cache, to be safe).
    pub fn from_payload(text: &str) -> Option<Self> {
        let mut parts = text.split(' ');
        let counter = parts.next()?.parse().ok()?;
        let kind = parts.next()?;
        let tenant = match parts.next() {
            Some(id) => Some(TenantId(id.parse().ok()?)),
            None => None,
        };
        if parts.next().is_some() {
            return None;
        }
        let change = match (kind, tenant) {
            ("keys", Some(tenant)) => Change::Keys { tenant },
            ("members", Some(tenant)) => Change::Members { tenant },
            ("credentials", None) => Change::Credentials,
            ("names", None) => Change::Names,
            ("flows", Some(tenant)) => Change::Flows { tenant },
            ("tenant", Some(tenant)) => Change::Tenant { tenant },
            ("people", Some(tenant)) => Change::People { tenant },
            ("usage", None) => Change::Usage,
            _ => return None,
        };
        Some(Self { counter, change })
    }
}

/// What an instance hears from the shared database.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Heard {
    /// An announcement, in commit order.
    Change(Announcement),
    /// A notification this version cannot read.
    Unknown,
}

/// A subscription to the announcements of every writer of the shared database.
#[async_trait]
pub trait ChangeListener: Send {
    /// The next thing heard. An error when the listening connection is lost: announcements
    /// sent from then on are lost, so the caller polls the change counter until it has
    /// listened again with [`ChangeFeed::listen`].
    async fn next(&mut self) -> StoreResult<Heard>;
}

#[async_trait]
pub trait ChangeFeed {
    /// A counter every announced write raises in its own transaction (SQLite: every write that
    /// may revoke a key). An instance that sees it move drops its caches: the bound on
    /// staleness when announcements cannot be heard.
    async fn change_counter(&self) -> StoreResult<i64>;
    /// Subscribes to the announcements of every writer. None when the backend has no other
    /// writer to hear: SQLite's other writer, the command line, uses the control socket.
    async fn listen(&self) -> StoreResult<Option<Box<dyn ChangeListener>>>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_announcement_reads_back_from_its_payload() {
        let tenant = TenantId::generate();
        for change in [
            Change::Keys { tenant },
            Change::Members { tenant },
            Change::Credentials,
            Change::Names,
            Change::Flows { tenant },
            Change::Tenant { tenant },
            Change::People { tenant },
            Change::Usage,
        ] {
            let sent = Announcement {
                counter: 42,
                change,
            };
            assert_eq!(Announcement::from_payload(&sent.to_payload()), Some(sent));
        }
    }

    #[test]
    fn a_payload_this_version_does_not_know_is_none() {
        for text in [
            "",
            "x keys",
            "1 keys",
            "1 unknown",
            "1 credentials extra",
            "1 keys a b",
        ] {
            assert_eq!(Announcement::from_payload(text), None, "{text:?}");
        }
    }
}
