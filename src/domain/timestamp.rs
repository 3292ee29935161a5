//! UTC timestamps: RFC 3339 on the wire and in storage, with a fixed width so text order is
//! time order.

use std::fmt;

use serde::{Serialize, Serializer};
use time::{OffsetDateTime, format_description::well_known::Rfc3339};

use super::Invalid;

/// A moment in UTC, to the microsecond.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(OffsetDateTime);

impl Timestamp {
    pub fn now() -> Self {
        let now = OffsetDateTime::now_utc();
        // Storage keeps microseconds; dropping the rest here makes a value read back equal.
        Self(
            now.replace_nanosecond(now.nanosecond() / 1000 * 1000)
                .unwrap_or(now),
        )
    }

    pub fn from_offset(value: OffsetDateTime) -> Self {
        Self(value.to_offset(time::UtcOffset::UTC))
    }

    /// The moment itself, for a store that binds native date-times (PostgreSQL).
    pub(crate) fn as_offset(self) -> OffsetDateTime {
        self.0
    }

    pub fn plus(self, duration: std::time::Duration) -> Self {
        Self(self.0 + duration)
    }

    pub fn minus(self, duration: std::time::Duration) -> Self {
        Self(self.0 - duration)
    }

    pub fn parse(text: &str) -> Result<Self, Invalid> {
        OffsetDateTime::parse(text, &Rfc3339)
            .map(Self::from_offset)
            .map_err(|_| Invalid::new(format!("'{text}' is not an RFC 3339 date-time")))
    }

    /// `2026-11-26T06:31:00.123456Z`: fixed width, so comparing the text compares the time.
    pub fn to_rfc3339(self) -> String {
        let t = self.0;
        format!(
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:06}Z",
            t.year(),
            u8::from(t.month()),
            t.day(),
            t.hour(),
            t.minute(),
            t.second(),
            t.microsecond()
        )
    }

    pub fn unix_seconds(self) -> i64 {
        self.0.unix_timestamp()
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_rfc3339())
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.to_rfc3339())
    }
}

impl utoipa::PartialSchema for Timestamp {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::String)
            .format(Some(utoipa::openapi::SchemaFormat::KnownFormat(
                utoipa::openapi::KnownFormat::DateTime,
            )))
            .description(Some("A moment in UTC, RFC 3339."))
            .into()
    }
}

impl utoipa::ToSchema for Timestamp {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_round_trips() {
        let now = Timestamp::now();
        assert_eq!(Timestamp::parse(&now.to_rfc3339()).unwrap(), now);
    }
}
