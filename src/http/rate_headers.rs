//! The `RateLimit-Limit`, `RateLimit-Remaining` and `RateLimit-Reset` headers on every answer
//! to a request with an API key (or a token bound to one), from its [`Quota`]. The values come
//! from a table of numbers made once, so a header costs no allocation (a `HeaderValue` made
//! from a number at each request would allocate its bytes); only a figure past the table (a
//! burst above 4096) is formatted each time.

use std::sync::LazyLock;

use axum::http::{HeaderMap, HeaderName, HeaderValue};

use crate::auth::rate_limit::Quota;

pub static LIMIT: HeaderName = HeaderName::from_static("ratelimit-limit");
pub static REMAINING: HeaderName = HeaderName::from_static("ratelimit-remaining");
pub static RESET: HeaderName = HeaderName::from_static("ratelimit-reset");

/// The numbers made once.
const TABLE: usize = 4097;

static NUMBERS: LazyLock<Box<[HeaderValue]>> = LazyLock::new(|| {
    (0..TABLE)
        .map(|n| {
            // Leaked once: a static value's clone copies a pointer, where an owned one's
            // clone would share (and at first copy) its bytes.
            let text: &'static str = Box::leak(n.to_string().into_boxed_str());
            HeaderValue::from_static(text)
        })
        .collect()
});

fn number(n: u32) -> HeaderValue {
    match NUMBERS.get(n as usize) {
        Some(value) => value.clone(),
        None => HeaderValue::from(n),
    }
}

/// Sets the three headers from `quota`.
pub fn apply(headers: &mut HeaderMap, quota: &Quota) {
    headers.insert(&LIMIT, number(quota.limit));
    headers.insert(&REMAINING, number(quota.remaining));
    headers.insert(&RESET, number(quota.reset_secs));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_in_and_past_the_table() {
        for n in [0u32, 1, 200, 4096, 4097, 1_000_000] {
            assert_eq!(number(n).to_str().unwrap(), n.to_string());
        }
    }
}
