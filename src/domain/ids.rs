//! Typed UUID identifiers, so a tenant id can never be passed where a user id is expected.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::Invalid;

/// A fresh UUID v7: time-ordered, so new rows land at the end of their indexes.
pub fn new_id() -> Uuid {
    Uuid::now_v7()
}

macro_rules! uuid_id {
    ($(#[$doc:meta])* $name:ident, $what:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub Uuid);

        impl $name {
            /// A new time-ordered id.
            pub fn generate() -> Self {
                Self(new_id())
            }

            /// Parses the textual form, with a message naming what was expected.
            pub fn parse(text: &str) -> Result<Self, Invalid> {
                Uuid::parse_str(text.trim()).map(Self).map_err(|_| {
                    Invalid::new(format!(concat!("'{}' is not a valid ", $what, " (a UUID)"), shorten(text)))
                })
            }
        }

        impl FromStr for $name {
            type Err = Invalid;
            fn from_str(text: &str) -> Result<Self, Invalid> {
                Self::parse(text)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.hyphenated().fmt(f)
            }
        }

        // On the wire an id is a plain UUID string; the description names which kind.
        impl utoipa::PartialSchema for $name {
            fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
                uuid_schema(concat!("A ", $what, "."))
            }
        }

        impl utoipa::ToSchema for $name {}
    };
}

uuid_id!(
    /// A tenant: the unit that owns flows and that a key authenticates for.
    TenantId, "tenant id"
);
uuid_id!(
    /// A user account, the same across all of its tenants.
    UserId, "user id"
);
uuid_id!(
    /// An API key's row id (never its value).
    KeyId, "key id"
);
uuid_id!(
    /// A flow; the same through all of its versions.
    FlowId, "flow id"
);
uuid_id!(
    /// One version of a flow: each save makes a new one.
    VersionId, "flow version id"
);
uuid_id!(
    /// A running flow's state. Made with [`StateId::random`], never `generate`: whoever
    /// knows a public flow's state id may run it on, so it must not be guessable.
    StateId, "state id"
);
uuid_id!(
    /// The token a state holds between two invokes: each invoke must send the one it read,
    /// and gets a new one ([`StateToken::random`]).
    StateToken, "state token"
);

/// A UUID v4 from the thread's cryptographic generator.
fn random_v4() -> Uuid {
    uuid::Builder::from_random_bytes(rand::random()).into_uuid()
}

impl StateId {
    /// A new id of 122 random bits (UUID v4), unguessable.
    pub fn random() -> Self {
        Self(random_v4())
    }
}

impl StateToken {
    /// A new token of 122 random bits (UUID v4).
    pub fn random() -> Self {
        Self(random_v4())
    }
}

/// The schema of an id: a string in UUID format.
fn uuid_schema(description: &str) -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
    utoipa::openapi::ObjectBuilder::new()
        .schema_type(utoipa::openapi::schema::Type::String)
        .format(Some(utoipa::openapi::SchemaFormat::KnownFormat(
            utoipa::openapi::KnownFormat::Uuid,
        )))
        .description(Some(description))
        .into()
}

/// Echoes at most 64 characters of client input back in a message.
pub(crate) fn shorten(text: &str) -> String {
    const MAX: usize = 64;
    if text.chars().count() <= MAX {
        text.to_string()
    } else {
        let cut: String = text.chars().take(MAX).collect();
        format!("{cut}…")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_seed_tenant_id_is_refused_because_it_holds_a_g() {
        let error = TenantId::parse("b70ef1d6-edc9-4481-94b9-d81g126e32d1").unwrap_err();
        assert!(error.0.contains("not a valid tenant id"), "{error}");
    }

    #[test]
    fn a_uuid_round_trips() {
        let id = TenantId::generate();
        assert_eq!(TenantId::parse(&id.to_string()).unwrap(), id);
    }
}
