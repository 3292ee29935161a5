//! Credentials: the API key codec and its crypto, tokens, passwords, the key verifier with its
//! cache, the cache of tokens' and web sessions' grants, and the failure throttles (per address and per account).

pub mod account_throttle;
pub mod api_key;
pub mod credential_cache;
pub mod password;
pub mod rate_limit;
pub(crate) mod throttle;
pub(crate) mod token;
pub mod usage;
pub mod verifier;
