//! What keys, memberships, users and sign-in may do: the rules the API, the web pages and the
//! command line all follow, in one place.

pub mod keys;
pub mod members;
pub mod sign_in;
