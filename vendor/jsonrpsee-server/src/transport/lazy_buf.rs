//! chatroom patch: read and write buffering for a WebSocket connection that holds no
//! buffer while the connection is idle.
//!
//! `futures_util::io::{BufReader, BufWriter}` keep their buffers (4 KiB each way here) for
//! the whole life of a connection, so ten thousand idle members hold 80 MB of empty
//! buffers. [`LazyBuf`] buffers the same way, but its write buffer lives only from the
//! first write of a batch until the flush that sends it, and its read buffer only while it
//! holds bytes read from the socket that the reader has not taken yet.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use futures_util::io::{AsyncRead, AsyncWrite};

/// The most bytes buffered each way: one socket read, or the writes joined into one
/// socket write.
pub(crate) const WS_BUFFER_BYTES: usize = 4096;

/// Where the first write of a batch starts its buffer: a typical frame fits, and the
/// buffer doubles up to [`WS_BUFFER_BYTES`] for more.
const FIRST_WRITE_BYTES: usize = 512;

/// Buffers reads and writes on `inner` as `BufReader<BufWriter<_>>` would, holding no
/// memory while there is nothing buffered.
#[derive(Debug)]
pub(crate) struct LazyBuf<T> {
	inner: T,
	/// Bytes read from `inner` and not taken yet: `read[read_pos..]`. Empty, with no
	/// allocation, once they have all been taken.
	read: Vec<u8>,
	read_pos: usize,
	/// Bytes written and not yet passed to `inner`: `write[written..]`. Empty, with no
	/// allocation, once a flush has passed them all on.
	write: Vec<u8>,
	written: usize,
}

impl<T> LazyBuf<T> {
	pub(crate) fn new(inner: T) -> Self {
		Self { inner, read: Vec::new(), read_pos: 0, write: Vec::new(), written: 0 }
	}

	/// The bytes held in memory for reading and for writing.
	#[cfg(test)]
	fn held(&self) -> (usize, usize) {
		(self.read.capacity(), self.write.capacity())
	}
}

impl<T: AsyncWrite + Unpin> LazyBuf<T> {
	/// Passes every buffered byte to `inner`, then gives the buffer back.
	fn flush_buf(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
		while self.written < self.write.len() {
			match ready!(Pin::new(&mut self.inner).poll_write(cx, &self.write[self.written..])) {
				Ok(0) => {
					return Poll::Ready(Err(io::Error::new(
						io::ErrorKind::WriteZero,
						"failed to write the buffered data",
					)));
				}
				Ok(n) => self.written += n,
				Err(err) => return Poll::Ready(Err(err)),
			}
		}
		self.write = Vec::new();
		self.written = 0;
		Poll::Ready(Ok(()))
	}
}

impl<T: AsyncRead + Unpin> AsyncRead for LazyBuf<T> {
	fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, out: &mut [u8]) -> Poll<io::Result<usize>> {
		let this = &mut *self;
		if this.read_pos < this.read.len() {
			let n = (this.read.len() - this.read_pos).min(out.len());
			out[..n].copy_from_slice(&this.read[this.read_pos..this.read_pos + n]);
			this.read_pos += n;
			if this.read_pos == this.read.len() {
				this.read = Vec::new();
				this.read_pos = 0;
			}
			return Poll::Ready(Ok(n));
		}
		if out.len() >= WS_BUFFER_BYTES {
			return Pin::new(&mut this.inner).poll_read(cx, out);
		}
		// One socket read of up to a buffer's worth, into the stack: only what the caller
		// does not take now is kept, in a buffer of its size.
		let mut scratch = [0u8; WS_BUFFER_BYTES];
		let n = ready!(Pin::new(&mut this.inner).poll_read(cx, &mut scratch))?;
		let taken = n.min(out.len());
		out[..taken].copy_from_slice(&scratch[..taken]);
		if taken < n {
			this.read = scratch[taken..n].to_vec();
			this.read_pos = 0;
		}
		Poll::Ready(Ok(taken))
	}
}

impl<T: AsyncWrite + Unpin> AsyncWrite for LazyBuf<T> {
	fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, data: &[u8]) -> Poll<io::Result<usize>> {
		let this = &mut *self;
		if this.write.len() + data.len() > WS_BUFFER_BYTES {
			ready!(this.flush_buf(cx))?;
		}
		if data.len() >= WS_BUFFER_BYTES {
			return Pin::new(&mut this.inner).poll_write(cx, data);
		}
		let needed = this.write.len() + data.len();
		if needed > this.write.capacity() {
			let grown = (this.write.capacity() * 2).max(FIRST_WRITE_BYTES).max(needed).min(WS_BUFFER_BYTES);
			this.write.reserve_exact(grown - this.write.len());
		}
		this.write.extend_from_slice(data);
		Poll::Ready(Ok(data.len()))
	}

	fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
		ready!(self.flush_buf(cx))?;
		Pin::new(&mut self.inner).poll_flush(cx)
	}

	fn poll_close(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
		ready!(self.flush_buf(cx))?;
		Pin::new(&mut self.inner).poll_close(cx)
	}
}

#[cfg(test)]
mod tests {
	use super::*;
	use futures_util::FutureExt;
	use futures_util::io::{AsyncReadExt, AsyncWriteExt, Cursor};

	/// A socket that takes at most `chunk` bytes per write and counts its writes.
	struct Socket {
		taken: Vec<u8>,
		writes: usize,
		chunk: usize,
	}

	impl AsyncWrite for Socket {
		fn poll_write(mut self: Pin<&mut Self>, _: &mut Context<'_>, data: &[u8]) -> Poll<io::Result<usize>> {
			let n = data.len().min(self.chunk);
			self.taken.extend_from_slice(&data[..n]);
			self.writes += 1;
			Poll::Ready(Ok(n))
		}
		fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
			Poll::Ready(Ok(()))
		}
		fn poll_close(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
			Poll::Ready(Ok(()))
		}
	}

	/// Every I/O here is ready at once, so a future finishes on its first poll.
	fn run(test: impl std::future::Future<Output = ()>) {
		test.now_or_never().expect("nothing here waits");
	}

	#[test]
	fn small_reads_come_from_one_socket_read_and_the_buffer_goes_once_taken() {
		let wire: Vec<u8> = (0..3000u32).map(|i| i as u8).collect();
		let mut io = LazyBuf::new(Cursor::new(wire.clone()));
		assert_eq!(io.held(), (0, 0));
		let mut got = Vec::new();
		let mut two = [0u8; 2];
		run(async {
			io.read_exact(&mut two).await.unwrap();
			got.extend_from_slice(&two);
			// The rest of that socket read is held, and only that.
			assert_eq!(io.held().0, 2998);
			let mut rest = vec![0u8; 2998];
			io.read_exact(&mut rest).await.unwrap();
			got.extend_from_slice(&rest);
		});
		assert_eq!(got, wire);
		assert_eq!(io.inner.position(), 3000, "one read took it all");
		assert_eq!(io.held(), (0, 0), "nothing is held once everything is taken");
	}

	#[test]
	fn writes_are_joined_into_one_and_the_buffer_goes_with_the_flush() {
		let mut io = LazyBuf::new(Socket { taken: Vec::new(), writes: 0, chunk: usize::MAX });
		run(async {
			for frame in 0..10u8 {
				io.write_all(&[frame; 300]).await.unwrap();
			}
			assert_eq!(io.inner.writes, 0, "buffered until the flush");
			assert!(io.held().1 <= WS_BUFFER_BYTES);
			io.flush().await.unwrap();
		});
		assert_eq!(io.inner.writes, 1);
		assert_eq!(io.inner.taken.len(), 3000);
		assert_eq!(io.held(), (0, 0), "nothing is held once flushed");
	}

	#[test]
	fn a_full_buffer_is_written_out_before_more_and_partial_writes_resume() {
		let mut io = LazyBuf::new(Socket { taken: Vec::new(), writes: 0, chunk: 1000 });
		let sent: Vec<u8> = (0..9000u32).map(|i| (i % 251) as u8).collect();
		run(async {
			for piece in sent.chunks(700) {
				io.write_all(piece).await.unwrap();
				assert!(io.held().1 <= WS_BUFFER_BYTES, "never more than a buffer");
			}
			io.flush().await.unwrap();
		});
		assert_eq!(io.inner.taken, sent, "every byte, in order");
		assert_eq!(io.held(), (0, 0));
	}
}
