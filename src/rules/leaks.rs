//! Leak reports: anyone who finds keyflow keys somewhere public sends them, and every live
//! key among them is revoked at once, on every instance, with a notice for its owner (on the
//! settings page, and a `key.reported_leaked` event).
//!
//! The answer must not tell whether a value was a live key: [`digests`] does the same work for
//! every value (a digest each, well-formed or not, the malformed ones' thrown away), and the
//! edge answers before the revocation ([`revoke`]) runs, so the answer and its time are the
//! same whether or not anything matched.

use std::net::IpAddr;

use crate::auth::api_key::{ApiKey, Hasher};
use crate::domain::{Digest, Timestamp};
use crate::rules::{Revoker, RuleError};
use crate::store::{LeakReport, LeakedKey, Store};

/// How many values one report may carry.
pub const MAX_KEYS: usize = 100;
/// How long the URL where they were found may be.
pub const MAX_URL_LEN: usize = 2_048;

/// What the leak rules work with.
pub struct Leaks<'a> {
    pub store: &'a dyn Store,
    /// Told when a report revoked keys, so this instance drops its cached grants at once
    /// (other instances hear the store's announcement).
    pub revoker: &'a dyn Revoker,
}

/// A report as checked: the digests of its well-formed values, and where they were found.
pub struct Checked {
    digests: Vec<Digest>,
    url: Option<String>,
}

/// Checks a report (1 to [`MAX_KEYS`] values; an `http(s)` URL of at most [`MAX_URL_LEN`]
/// characters, if any) and digests every value the same way, keeping the well-formed ones.
pub fn check(hasher: &Hasher, values: &[String], url: Option<&str>) -> Result<Checked, RuleError> {
    if values.is_empty() {
        return Err(RuleError::Invalid(
            "keys: send at least one key value".into(),
        ));
    }
    if values.len() > MAX_KEYS {
        return Err(RuleError::Invalid(format!(
            "keys: a report carries at most {MAX_KEYS} values; this one has {}",
            values.len()
        )));
    }
    let url = match url.map(str::trim).filter(|url| !url.is_empty()) {
        None => None,
        Some(url) if url.chars().count() > MAX_URL_LEN => {
            return Err(RuleError::Invalid(format!(
                "url: at most {MAX_URL_LEN} characters"
            )));
        }
        Some(url) => {
            let lower = url.to_ascii_lowercase();
            if !(lower.starts_with("https://") || lower.starts_with("http://"))
                || url.chars().any(char::is_control)
            {
                return Err(RuleError::Invalid(
                    "url: an http:// or https:// address where the keys were found".into(),
                ));
            }
            Some(url.to_string())
        }
    };
    Ok(Checked {
        digests: digests(hasher, values),
        url,
    })
}

/// One digest per value, computed for every value alike; only the well-formed values' are
/// kept (a malformed value cannot be a key).
fn digests(hasher: &Hasher, values: &[String]) -> Vec<Digest> {
    let mut kept = Vec::with_capacity(values.len());
    for value in values {
        let value = value.trim();
        let digest = hasher.digest(value);
        if ApiKey::check(value).is_ok() && !kept.contains(&digest) {
            kept.push(digest);
        }
    }
    kept
}

/// Revokes every live key of the report (one store call for all of them), records where it
/// was found, and drops this instance's cached grants. Returns the keys it revoked.
pub async fn revoke(
    leaks: &Leaks<'_>,
    checked: Checked,
    address: Option<IpAddr>,
    request_id: Option<String>,
) -> Result<Vec<LeakedKey>, RuleError> {
    let report = LeakReport {
        url: checked.url,
        address: address.map(|address| address.to_string()),
        request_id: request_id.filter(|id| !id.is_empty()),
        at: Timestamp::now(),
    };
    let revoked = leaks.store.report_leaks(&checked.digests, &report).await?;
    if !revoked.is_empty() {
        leaks.revoker.revoke_cached().await;
        for key in &revoked {
            tracing::warn!(
                user = %key.user_id,
                tenant = %key.tenant_id,
                preview = %key.preview,
                "an API key was reported leaked and revoked"
            );
        }
    }
    Ok(revoked)
}

/// The leak notices of the user's keys, newest first.
pub async fn notices(
    store: &dyn Store,
    user: crate::domain::UserId,
) -> Result<Vec<LeakedKey>, RuleError> {
    Ok(store.leak_reports_of(user).await?)
}
