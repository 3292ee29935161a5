//! Large cached answers kept a second time in the kernel's page cache, so that a connection
//! sends them with `sendfile(2)` instead of copying them into the socket: for a 25 kB flow list,
//! that copy was a quarter of the server's CPU time under load (`perf`, docs/BENCHMARKS-load.md),
//! and it is the copy nginx does not make when it serves a file.
//!
//! - One anonymous memory file (`memfd_create`) per process holds every kept body, each at its
//!   own page-aligned offset, never reused; a body's pages are freed (`fallocate` punching a
//!   hole) when the last holder of its [`PageBody`] lets go. A page being sent when that
//!   happens is held by the socket until it is sent, as any page `sendfile` sends is.
//! - The connection finds a body by the address of the bytes hyper asks it to write
//!   ([`find`]): a [`PageBody`] holds a clone of the body's `Bytes`, so while it is registered
//!   its address is its own and no other allocation can take it. Bytes that are not registered
//!   (every small or uncached answer, a body whose `PageBody` is gone) are written as usual.
//! - Anything that fails (no memory file on this system, a failed write) leaves the body to
//!   the usual write: this is a saving, never a condition for an answer.
//!
//! Written by hand: no crate of the ecosystem sends a `Bytes` through hyper with `sendfile`.
//! It imports nothing of keyflow. Linux only (`page_bodies_elsewhere.rs` keeps nothing).

use std::collections::BTreeMap;
use std::io::IoSlice;
use std::os::fd::{AsFd, OwnedFd};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock, RwLock, Weak};

use axum::body::Bytes;

/// Bodies smaller than this are copied: for a few kilobytes, the copy costs less than the
/// pages `sendfile` takes references to.
pub const MIN_BYTES: usize = 8 * 1024;

/// Offsets in the memory file are multiples of this, so that freeing a body frees whole pages
/// (and never zeroes part of a page another body is being sent from).
const PAGE: u64 = 4096;

/// The memory file and where the next body goes.
struct Arena {
    file: OwnedFd,
    next: AtomicU64,
}

/// Every kept body by the address of its first byte.
type Registry = RwLock<BTreeMap<usize, Weak<Region>>>;

fn registry() -> &'static Registry {
    static REGISTRY: OnceLock<Registry> = OnceLock::new();
    REGISTRY.get_or_init(Default::default)
}

/// The process's memory file, made on first use; `None` where none can be made.
fn arena() -> Option<&'static Arena> {
    static ARENA: OnceLock<Option<Arena>> = OnceLock::new();
    ARENA
        .get_or_init(|| {
            let file = rustix::fs::memfd_create("keyflow-answers", rustix::fs::MemfdFlags::CLOEXEC)
                .map_err(|error| {
                    tracing::info!(%error, "large answers are copied: no memory file");
                })
                .ok()?;
            Some(Arena {
                file,
                next: AtomicU64::new(0),
            })
        })
        .as_ref()
}

/// One body in the memory file.
struct Region {
    /// The body itself: its address identifies it while it is registered.
    bytes: Bytes,
    offset: u64,
    arena: &'static Arena,
}

impl Drop for Region {
    fn drop(&mut self) {
        let start = self.bytes.as_ptr() as usize;
        if let Ok(mut map) = registry().write() {
            map.remove(&start);
        }
        if let Err(error) = self.arena.free(self.offset, self.bytes.len() as u64) {
            tracing::warn!(%error, "cannot free a large answer's pages");
        }
    }
}

impl Arena {
    /// Frees the pages of `length` bytes at `offset` (a hole punched in the file: its size,
    /// and so every other body's offset, stays).
    fn free(&self, offset: u64, length: u64) -> rustix::io::Result<()> {
        let punch = rustix::fs::FallocateFlags::PUNCH_HOLE | rustix::fs::FallocateFlags::KEEP_SIZE;
        rustix::fs::fallocate(&self.file, punch, offset, length.div_ceil(PAGE) * PAGE)
    }
}

/// A body kept in the page cache while this (or a send from it) lives.
#[derive(Clone)]
pub struct PageBody {
    _region: Arc<Region>,
}

impl std::fmt::Debug for PageBody {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str("PageBody")
    }
}

impl PageBody {
    /// Keeps `body` in the page cache, if it is large enough to be worth it and the system
    /// allows; its bytes then count twice in memory (on the heap and in the page cache).
    pub fn keep(body: &Bytes) -> Option<Self> {
        if body.len() < MIN_BYTES {
            return None;
        }
        let arena = arena()?;
        let length = body.len() as u64;
        let offset = arena
            .next
            .fetch_add(length.div_ceil(PAGE) * PAGE, Ordering::Relaxed);
        let mut written = 0;
        while written < body.len() {
            match rustix::io::pwrite(&arena.file, &body[written..], offset + written as u64) {
                Ok(0) | Err(_) => {
                    // Nothing is registered: the pages written so far are freed.
                    let _ = arena.free(offset, length);
                    return None;
                }
                Ok(n) => written += n,
            }
        }
        let region = Arc::new(Region {
            bytes: body.clone(),
            offset,
            arena,
        });
        registry()
            .write()
            .ok()?
            .insert(body.as_ptr() as usize, Arc::downgrade(&region));
        Some(Self { _region: region })
    }
}

/// Bytes hyper is about to write that are (a part of) a kept body: where they are in the memory
/// file. Holding it keeps them there.
pub struct Found {
    region: Arc<Region>,
    offset: u64,
}

/// The kept body `bytes` lie in, if any.
pub fn find(bytes: &[u8]) -> Option<Found> {
    if bytes.len() < MIN_BYTES / 2 {
        // Not worth a lookup (hyper may have sent most of a body already).
        return None;
    }
    let address = bytes.as_ptr() as usize;
    let region = {
        let map = registry().read().ok()?;
        let (start, region) = map.range(..=address).next_back()?;
        let region = region.upgrade()?;
        let within = address + bytes.len() <= start + region.bytes.len();
        within.then_some(region)?
    };
    let offset = region.offset + (address - region.bytes.as_ptr() as usize) as u64;
    Some(Found { region, offset })
}

impl Found {
    /// Sends up to `count` of the bytes found to `socket` with `sendfile`; how many went.
    pub fn send_to(&self, socket: impl AsFd, count: usize) -> std::io::Result<usize> {
        let mut offset = self.offset;
        Ok(rustix::fs::sendfile(
            socket,
            &self.region.arena.file,
            Some(&mut offset),
            count,
        )?)
    }

    /// Sends `head` (what hyper writes before these bytes: the answer's head) and then up to
    /// `count` of the bytes found to `socket`, as one write would: how many bytes went, a head
    /// sent in part counting as much as went. The head is sent with `MSG_MORE`, so that it
    /// leaves in the body's segments rather than alone.
    pub fn send_after(
        &self,
        socket: impl AsFd,
        head: &[IoSlice<'_>],
        count: usize,
    ) -> std::io::Result<usize> {
        let head_bytes: usize = head.iter().map(|slice| slice.len()).sum();
        if head_bytes > 0 {
            let flags = rustix::net::SendFlags::MORE | rustix::net::SendFlags::NOSIGNAL;
            let mut control = rustix::net::SendAncillaryBuffer::default();
            let sent = rustix::net::sendmsg(&socket, head, &mut control, flags)?;
            if sent < head_bytes {
                return Ok(sent);
            }
        }
        match self.send_to(&socket, count) {
            Ok(sent) => Ok(head_bytes + sent),
            // The head went: that is this write's outcome; the body's error comes again at
            // the next one.
            Err(_) if head_bytes > 0 => Ok(head_bytes),
            Err(error) => Err(error),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(length: usize) -> Bytes {
        (0..length)
            .map(|n| (n % 251) as u8)
            .collect::<Vec<u8>>()
            .into()
    }

    #[test]
    fn a_large_body_is_found_by_any_part_of_it_and_a_small_one_is_not_kept() {
        let small = body(MIN_BYTES - 1);
        assert!(PageBody::keep(&small).is_none());
        let large = body(3 * MIN_BYTES);
        let kept = PageBody::keep(&large).expect("a memory file on Linux");
        let found = find(&large).expect("the whole body");
        let part = find(&large[MIN_BYTES..]).expect("its tail, once hyper has sent its head");
        assert_eq!(part.offset - found.offset, MIN_BYTES as u64);
        // Another allocation with the same bytes is not it.
        let copy = large.to_vec();
        assert!(find(&copy).is_none());
        drop((found, part, kept));
        assert!(find(&large).is_none(), "forgotten with its last holder");
    }

    #[test]
    fn what_is_sent_is_the_body() {
        use std::io::Read;
        let large = body(5 * MIN_BYTES + 17);
        let _kept = PageBody::keep(&large).unwrap();
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let mut client = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (server, _) = listener.accept().unwrap();
        let from = MIN_BYTES;
        let mut sent = 0;
        while sent < large.len() - from {
            let found = find(&large[from + sent..]).unwrap();
            sent += found.send_to(&server, large.len() - from - sent).unwrap();
        }
        drop(server);
        let mut received = Vec::new();
        client.read_to_end(&mut received).unwrap();
        assert_eq!(received, large[from..]);
    }
}
