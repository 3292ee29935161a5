//! Query parameter names matched case-insensitively (`?Filter=`, `?PAGESIZE=`), as Boomi's
//! own server and the clients written against it treat them, for every query a handler reads
//! with [`crate::http::json::TextQuery`]. A parameter the handler reads, sent twice in
//! different cases, is refused (400) rather than one of the two being chosen silently.

use std::borrow::Cow;

use serde::de::{self, Deserialize, Deserializer, Visitor};

use crate::http::error::ApiError;

/// The query with each name that matches a field of `T` but for case spelled as the field is;
/// other names are left as they are (serde ignores them, as before). 400 when one field is
/// named in two spellings. One pass over the pairs, each compared with `T`'s few fields.
pub(crate) fn canonical<'de, T: Deserialize<'de>>(query: &str) -> Result<String, ApiError> {
    let fields = field_names::<T>();
    // The spelling each field was first sent in.
    let mut spellings: Vec<Option<Cow<'_, str>>> = vec![None; fields.len()];
    let mut out = form_urlencoded::Serializer::new(String::new());
    for (name, value) in form_urlencoded::parse(query.as_bytes()) {
        let Some(index) = fields
            .iter()
            .position(|field| field.eq_ignore_ascii_case(&name))
        else {
            out.append_pair(&name, &value);
            continue;
        };
        match &spellings[index] {
            Some(first) if *first != name => {
                return Err(ApiError::BadRequest(format!(
                    "the query parameter '{}' is sent more than once, in different cases",
                    crate::domain::shorten(&name)
                )));
            }
            Some(_) => {}
            None => spellings[index] = Some(name),
        }
        out.append_pair(fields[index], &value);
    }
    Ok(out.finish())
}

/// The names of a struct's fields as serde reads them (after `rename_all`), learnt by asking
/// `T` to deserialize from a deserializer that only records what it is asked for.
fn field_names<'de, T: Deserialize<'de>>() -> &'static [&'static str] {
    let mut fields: &'static [&'static str] = &[];
    let _ = T::deserialize(FieldNames {
        fields: &mut fields,
    });
    fields
}

struct FieldNames<'a> {
    fields: &'a mut &'static [&'static str],
}

#[derive(Debug)]
struct Recorded;

impl std::fmt::Display for Recorded {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("field names recorded")
    }
}

impl std::error::Error for Recorded {}

impl de::Error for Recorded {
    fn custom<M: std::fmt::Display>(_: M) -> Self {
        Recorded
    }
}

impl<'de> Deserializer<'de> for FieldNames<'_> {
    type Error = Recorded;

    fn deserialize_any<V: Visitor<'de>>(self, _: V) -> Result<V::Value, Recorded> {
        Err(Recorded)
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _: &'static str,
        fields: &'static [&'static str],
        _: V,
    ) -> Result<V::Value, Recorded> {
        *self.fields = fields;
        Err(Recorded)
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf
        option unit unit_struct newtype_struct seq tuple tuple_struct map enum identifier
        ignored_any
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(serde::Deserialize)]
    #[serde(rename_all = "camelCase")]
    #[allow(dead_code)]
    struct Paging {
        page: Option<String>,
        page_size: Option<String>,
    }

    #[test]
    fn names_take_the_fields_spelling_whatever_their_case() {
        assert_eq!(
            canonical::<Paging>("PAGE=2&PageSize=5&other=x").unwrap(),
            "page=2&pageSize=5&other=x"
        );
    }

    #[test]
    fn a_name_twice_in_different_cases_is_a_bad_request() {
        assert!(matches!(
            canonical::<Paging>("page=1&Page=2"),
            Err(ApiError::BadRequest(_))
        ));
        // The same spelling twice is left to serde, which refuses a duplicate field.
        assert!(canonical::<Paging>("page=1&page=2").is_ok());
        // A name no field has is ignored whatever its spellings.
        assert_eq!(
            canonical::<Paging>("other=1&OTHER=2").unwrap(),
            "other=1&OTHER=2"
        );
    }
}
