//! Where there is no `memfd_create` and `sendfile` as Linux has them, no answer is kept in the
//! page cache: every body is written as usual (`page_bodies.rs` on Linux).

use std::io::IoSlice;
use std::os::fd::AsFd;

use axum::body::Bytes;

/// Never kept here.
#[derive(Clone, Debug)]
pub struct PageBody;

impl PageBody {
    pub fn keep(_body: &Bytes) -> Option<Self> {
        None
    }
}

/// Never found here.
pub enum Found {}

pub fn find(_bytes: &[u8]) -> Option<Found> {
    None
}

impl Found {
    pub fn send_after(
        &self,
        _socket: impl AsFd,
        _head: &[IoSlice<'_>],
        _count: usize,
    ) -> std::io::Result<usize> {
        match *self {}
    }
}
