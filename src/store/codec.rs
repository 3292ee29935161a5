//! How each column type that the two backends spell differently is bound and read, so that the
//! shared statements (`store/sql/`) bind domain values and decode rows by column name into the
//! same structs on both: ids are lower-case hyphenated text in SQLite and native `uuid` in
//! PostgreSQL; moments are fixed-width RFC 3339 text in SQLite (text order is time order) and
//! `timestamptz` in PostgreSQL. Roles, element kinds and digests are the same on both (text,
//! text, bytes) and are read here once, so a corrupt value is an error in one place.
//!
//! A raw [`Uuid`] must never be bound by shared code: sqlx writes it to SQLite as a blob, which
//! no text id column matches. Shared code binds a domain id or [`DbUuid`].

use sqlx::encode::IsNull;
use sqlx::error::BoxDynError;
use sqlx::postgres::{PgTypeInfo, PgValueRef};
use sqlx::sqlite::{SqliteTypeInfo, SqliteValueRef};
use sqlx::{Database, Decode, Encode, Postgres, Sqlite, Type};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::domain::element::{ElementKind, FlowElementKind};
use crate::domain::{
    Digest, FlowId, KeyId, Role, StateId, StateToken, TenantId, Timestamp, UserId, VersionId,
};

/// A UUID column that has no domain id type of its own (element ids, editing tokens, audit ids).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct DbUuid(pub Uuid);

/// Lets a row struct keep a plain `Uuid` field read through the column codec
/// (`#[sqlx(try_from = "DbUuid")]`).
impl From<DbUuid> for Uuid {
    fn from(id: DbUuid) -> Self {
        id.0
    }
}

/// Implements both backends' codecs for a type stored as text in SQLite and as `$native` in
/// PostgreSQL, given how it becomes text, how text becomes it, and how the native value
/// converts each way.
macro_rules! text_in_sqlite {
    ($type:ty, $native:ty, to_text: $to_text:expr, from_text: $from_text:expr,
     to_native: $to_native:expr, from_native: $from_native:expr) => {
        impl Type<Sqlite> for $type {
            fn type_info() -> SqliteTypeInfo {
                <str as Type<Sqlite>>::type_info()
            }
            fn compatible(ty: &SqliteTypeInfo) -> bool {
                <str as Type<Sqlite>>::compatible(ty)
            }
        }

        impl<'q> Encode<'q, Sqlite> for $type {
            fn encode_by_ref(
                &self,
                buf: &mut <Sqlite as Database>::ArgumentBuffer<'q>,
            ) -> Result<IsNull, BoxDynError> {
                let text: String = ($to_text)(self);
                <String as Encode<'q, Sqlite>>::encode(text, buf)
            }
        }

        impl<'r> Decode<'r, Sqlite> for $type {
            fn decode(value: SqliteValueRef<'r>) -> Result<Self, BoxDynError> {
                let text = <&str as Decode<'r, Sqlite>>::decode(value)?;
                ($from_text)(text)
            }
        }

        impl Type<Postgres> for $type {
            fn type_info() -> PgTypeInfo {
                <$native as Type<Postgres>>::type_info()
            }
            fn compatible(ty: &PgTypeInfo) -> bool {
                <$native as Type<Postgres>>::compatible(ty)
            }
        }

        impl<'q> Encode<'q, Postgres> for $type {
            fn encode_by_ref(
                &self,
                buf: &mut <Postgres as Database>::ArgumentBuffer<'q>,
            ) -> Result<IsNull, BoxDynError> {
                let native: $native = ($to_native)(self);
                <$native as Encode<'q, Postgres>>::encode_by_ref(&native, buf)
            }
        }

        impl<'r> Decode<'r, Postgres> for $type {
            fn decode(value: PgValueRef<'r>) -> Result<Self, BoxDynError> {
                let native = <$native as Decode<'r, Postgres>>::decode(value)?;
                Ok(($from_native)(native))
            }
        }
    };
}

/// An id: hyphenated lower-case text in SQLite, `uuid` in PostgreSQL.
macro_rules! uuid_column {
    ($($type:ident),*) => {$(
        text_in_sqlite!(
            $type,
            Uuid,
            to_text: |id: &$type| id.0.hyphenated().to_string(),
            from_text: |text: &str| -> Result<$type, BoxDynError> {
                Uuid::parse_str(text).map($type).map_err(|_| "malformed id in the database".into())
            },
            to_native: |id: &$type| id.0,
            from_native: $type
        );
    )*};
}

uuid_column!(
    DbUuid, TenantId, UserId, KeyId, FlowId, VersionId, StateId, StateToken
);

text_in_sqlite!(
    Timestamp,
    OffsetDateTime,
    to_text: |at: &Timestamp| at.to_rfc3339(),
    from_text: |text: &str| -> Result<Timestamp, BoxDynError> {
        Timestamp::parse(text).map_err(|_| "malformed timestamp in the database".into())
    },
    to_native: |at: &Timestamp| at.as_offset(),
    from_native: Timestamp::from_offset
);

/// Implements both backends' codecs for a type stored the same way on both, as `$stored`
/// (text or bytes): bound as `$bound`, which `$to` makes of a value, and read from a borrowed
/// `$stored`, which `$from` turns back into one.
macro_rules! same_on_both {
    ($type:ty, $stored:ty, bound as $bound:ty, to: $to:expr, from: $from:expr) => {
        impl<DB: Database> Type<DB> for $type
        where
            $stored: Type<DB>,
        {
            fn type_info() -> DB::TypeInfo {
                <$stored as Type<DB>>::type_info()
            }
            fn compatible(ty: &DB::TypeInfo) -> bool {
                <$stored as Type<DB>>::compatible(ty)
            }
        }

        impl<'q, DB: Database> Encode<'q, DB> for $type
        where
            $bound: Encode<'q, DB>,
        {
            fn encode_by_ref(
                &self,
                buf: &mut <DB as Database>::ArgumentBuffer<'q>,
            ) -> Result<IsNull, BoxDynError> {
                let bound: $bound = ($to)(*self);
                <$bound as Encode<'q, DB>>::encode(bound, buf)
            }
        }

        impl<'r, DB: Database> Decode<'r, DB> for $type
        where
            &'r $stored: Decode<'r, DB>,
        {
            fn decode(value: <DB as Database>::ValueRef<'r>) -> Result<Self, BoxDynError> {
                let stored = <&'r $stored as Decode<'r, DB>>::decode(value)?;
                ($from)(stored)
            }
        }
    };
}

/// A kind stored as its name, `$what` in the message when the database holds another.
macro_rules! name_column {
    ($type:ty, $what:literal, to: $to:expr, parse: $parse:expr) => {
        // Bound as `&'q str`, not `&'static str`: SQLite's `Encode<'q>` is for `&'q str` only,
        // and a `'static` bound would make every query that binds one `'static`.
        same_on_both!(
            $type,
            str,
            bound as &'q str,
            to: $to,
            from: |text: &str| -> Result<$type, BoxDynError> {
                ($parse)(text).map_err(|_| concat!("unknown ", $what, " in the database").into())
            }
        );
    };
}

name_column!(Role, "role", to: Role::wire_name, parse: str::parse);
name_column!(ElementKind, "element kind", to: ElementKind::path, parse: ElementKind::parse);
name_column!(
    FlowElementKind,
    "flow element kind",
    to: FlowElementKind::path,
    parse: FlowElementKind::parse
);

// A digest: 32 bytes.
same_on_both!(
    Digest,
    [u8],
    bound as Vec<u8>,
    to: |digest: Digest| digest.as_bytes().to_vec(),
    from: |bytes: &[u8]| -> Result<Digest, BoxDynError> {
        let bytes: [u8; 32] = bytes.try_into().map_err(|_| "malformed digest in the database")?;
        Ok(Digest::from_bytes(bytes))
    }
);
