//! Credentials: the API key codec and its crypto, tokens, passwords, the key verifier with its
//! cache, the failure throttles (per address and per account), the extractors that turn
//! headers into a principal, and which tenants a sign-in reaches.

pub mod access;
pub mod account_throttle;
pub mod api_key;
pub mod extract;
pub mod password;
pub mod sign_in;
pub mod throttle;
pub mod token;
pub mod verifier;

pub use extract::{Administrator, Interactive, Principal, Via};
