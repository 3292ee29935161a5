//! Credentials: the API key codec and its crypto, tokens, passwords, the key verifier with its
//! cache, the failure throttles (per address and per account), and the extractors that turn
//! headers into a principal.

pub mod account_throttle;
pub mod api_key;
pub mod extract;
pub mod password;
pub mod sign_in;
pub mod throttle;
pub mod token;
pub mod verifier;

pub use extract::{Administrator, Interactive, Principal, Via};
