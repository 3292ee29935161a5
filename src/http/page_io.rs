//! A connection's transport for hyper: its TCP stream, through which a large cached answer's
//! body ([`crate::page_bodies`]) leaves with `sendfile` from the page cache, and everything else
//! is written as `TokioIo` writes it.

use std::io::{self, IoSlice};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};

use hyper::rt::{Read, ReadBufCursor, Write};
use hyper_util::rt::TokioIo;
use tokio::io::Interest;
use tokio::net::TcpStream;

use crate::metrics::Metrics;
use crate::page_bodies;

/// A TCP stream as hyper reads and writes it.
pub struct PageIo {
    inner: TokioIo<TcpStream>,
    metrics: Arc<Metrics>,
}

impl PageIo {
    pub fn new(stream: TcpStream, metrics: Arc<Metrics>) -> Self {
        Self {
            inner: TokioIo::new(stream),
            metrics,
        }
    }
}

impl Read for PageIo {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: ReadBufCursor<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_read(cx, buf)
    }
}

impl Write for PageIo {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write(cx, buf)
    }

    /// hyper writes an answer as its head and its body's bytes: when the body is a kept one,
    /// the head and the body go with `sendmsg` and `sendfile`; otherwise as one `writev`.
    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let kept = bufs
            .iter()
            .enumerate()
            .find_map(|(index, buf)| page_bodies::find(buf).map(|found| (index, found)));
        let Some((index, found)) = kept else {
            return Pin::new(&mut this.inner).poll_write_vectored(cx, bufs);
        };
        let (head, count) = (&bufs[..index], bufs[index].len());
        let stream = this.inner.inner();
        loop {
            ready!(stream.poll_write_ready(cx))?;
            match stream.try_io(Interest::WRITABLE, || found.send_after(stream, head, count)) {
                Err(error) if error.kind() == io::ErrorKind::WouldBlock => continue,
                written => {
                    if written.is_ok() {
                        Metrics::bump(&this.metrics.page_sends);
                    }
                    return Poll::Ready(written);
                }
            }
        }
    }

    fn is_write_vectored(&self) -> bool {
        true
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;
    use axum::body::Bytes;
    use tokio::io::AsyncReadExt;

    /// Through a send buffer of 4 KiB, hyper's writes of a head and a kept body each send a
    /// piece; what arrives is the head and the body, whole.
    #[tokio::test]
    async fn a_kept_body_goes_whole_through_a_small_send_buffer_a_piece_at_a_time() {
        let body: Bytes = (0..300_000)
            .map(|n| (n % 251) as u8)
            .collect::<Vec<u8>>()
            .into();
        let _kept = page_bodies::PageBody::keep(&body).expect("a memory file");
        let listening = tokio::net::TcpSocket::new_v4().unwrap();
        listening.set_send_buffer_size(4096).unwrap();
        listening.bind("127.0.0.1:0".parse().unwrap()).unwrap();
        let listener = listening.listen(1).unwrap();
        let address = listener.local_addr().unwrap();
        let reader = tokio::spawn(async move {
            let mut client = TcpStream::connect(address).await.unwrap();
            let mut received = Vec::new();
            client.read_to_end(&mut received).await.unwrap();
            received
        });
        let (server, _) = listener.accept().await.unwrap();
        let metrics = Arc::new(Metrics::default());
        let mut io = PageIo::new(server, metrics.clone());
        let head = b"HTTP/1.1 200 OK\r\ncontent-length: 300000\r\n\r\n";
        let total = head.len() + body.len();
        let mut written = 0;
        while written < total {
            let slices = if written < head.len() {
                vec![IoSlice::new(&head[written..]), IoSlice::new(&body)]
            } else {
                vec![IoSlice::new(&body[written - head.len()..])]
            };
            written +=
                std::future::poll_fn(|cx| Pin::new(&mut io).poll_write_vectored(cx, &slices))
                    .await
                    .unwrap();
        }
        drop(io);
        let received = reader.await.unwrap();
        assert_eq!(&received[..head.len()], head);
        assert_eq!(&received[head.len()..], &body[..]);
        let pieces = metrics
            .page_sends
            .load(std::sync::atomic::Ordering::Relaxed);
        assert!(pieces > 1, "{pieces} sends");
    }
}
