//! One multiplexed, pipelined connection to a Redis server.
//!
//! Every client session sends its commands for this server as one batch of already-encoded
//! frames; a writer task drains every batch waiting, writes them with a single syscall and
//! remembers how many replies each batch expects; a reader task decodes the replies
//! (redis-protocol, zero-copy) and hands each batch its own, in order. Redis answers a
//! connection's commands in the order sent, so replies need no tagging.

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use bytes::{Bytes, BytesMut};
use parking_lot::Mutex;
use redis_protocol::resp2::decode::decode_bytes_mut;
use redis_protocol::resp2::types::BytesFrame;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, oneshot};

/// A reply as decoded, with its raw bytes to forward unchanged.
#[derive(Debug, Clone)]
pub(crate) struct Reply {
    pub(crate) frame: BytesFrame,
    pub(crate) raw: Bytes,
}

impl Reply {
    /// A reply made here (an error or a merged answer), encoded once.
    pub(crate) fn made(frame: BytesFrame) -> Reply {
        let mut buf = BytesMut::new();
        // Encoding an in-memory frame into a growable buffer cannot fail.
        let _ = redis_protocol::resp2::encode::extend_encode(&mut buf, &frame, false);
        Reply {
            frame,
            raw: buf.freeze(),
        }
    }

    /// An error reply.
    pub(crate) fn error(message: impl Into<String>) -> Reply {
        Reply::made(BytesFrame::Error(message.into().into()))
    }
}

type Batch = (Vec<Bytes>, oneshot::Sender<Vec<Reply>>);

/// Expected replies of one batch, and where they go.
struct Pending {
    expected: usize,
    got: Vec<Reply>,
    reply: oneshot::Sender<Vec<Reply>>,
}

/// A handle on one server's connection; cheap to clone.
#[derive(Debug, Clone)]
pub(crate) struct Backend {
    tx: mpsc::UnboundedSender<Batch>,
    /// `host:port`.
    pub(crate) address: Arc<str>,
}

impl Backend {
    /// Connects to `address` and starts the writer and reader tasks.
    pub(crate) async fn connect(address: &str) -> std::io::Result<Backend> {
        let stream = TcpStream::connect(address).await?;
        stream.set_nodelay(true)?;
        let (mut read, mut write) = stream.into_split();
        let (tx, mut rx) = mpsc::unbounded_channel::<Batch>();
        let pending: Arc<Mutex<VecDeque<Pending>>> = Arc::default();
        let writer_pending = Arc::clone(&pending);
        let closed = Arc::new(AtomicBool::new(false));
        let writer_closed = Arc::clone(&closed);
        let name: Arc<str> = address.into();
        tokio::spawn(async move {
            let mut out = BytesMut::with_capacity(64 * 1024);
            'write: while let Some(first) = rx.recv().await {
                let mut next = Some(first);
                while let Some((frames, reply)) = next {
                    if frames.is_empty() {
                        let _ = reply.send(Vec::new());
                    } else {
                        let mut queue = writer_pending.lock();
                        if writer_closed.load(Ordering::Acquire) {
                            // The reader is gone: drop this and every later batch, failing
                            // their callers. Checked under the queue's lock, which the reader
                            // holds while it closes, so no batch waits forever.
                            break 'write;
                        }
                        for f in &frames {
                            out.extend_from_slice(f);
                        }
                        queue.push_back(Pending {
                            expected: frames.len(),
                            got: Vec::with_capacity(frames.len()),
                            reply,
                        });
                    }
                    next = rx.try_recv().ok();
                }
                if write.write_all(&out).await.is_err() {
                    break;
                }
                out.clear();
            }
        });
        let reader_name = Arc::clone(&name);
        tokio::spawn(async move {
            let mut buf = BytesMut::with_capacity(64 * 1024);
            'read: loop {
                match read.read_buf(&mut buf).await {
                    Ok(0) | Err(_) => break,
                    Ok(_) => {}
                }
                loop {
                    match decode_bytes_mut(&mut buf) {
                        Ok(Some((frame, _, raw))) => {
                            let mut queue = pending.lock();
                            let Some(head) = queue.front_mut() else {
                                eprintln!("{reader_name}: a reply nobody asked for");
                                break 'read;
                            };
                            head.got.push(Reply { frame, raw });
                            if head.got.len() == head.expected {
                                if let Some(done) = queue.pop_front() {
                                    let _ = done.reply.send(done.got);
                                }
                            }
                        }
                        Ok(None) => break,
                        Err(e) => {
                            eprintln!("{reader_name}: bad reply: {e}");
                            break 'read;
                        }
                    }
                }
            }
            // The connection is gone: fail every waiting batch (their senders drop), and the
            // writer drops later ones.
            let mut queue = pending.lock();
            closed.store(true, Ordering::Release);
            queue.clear();
        });
        Ok(Backend { tx, address: name })
    }

    /// Queues `frames` (each one encoded command) and returns the receiver of their replies.
    /// Queuing is synchronous, so batches are sent in the order this is called.
    pub(crate) fn send(&self, frames: Vec<Bytes>) -> oneshot::Receiver<Vec<Reply>> {
        let (reply, rx) = oneshot::channel();
        // A closed connection drops `reply`, which the caller sees as an error.
        let _ = self.tx.send((frames, reply));
        rx
    }

    /// Sends one command and waits for its reply.
    pub(crate) async fn call(&self, frame: Bytes) -> Reply {
        match self.send(vec![frame]).await {
            Ok(mut replies) if replies.len() == 1 => replies.swap_remove(0),
            _ => Reply::error(format!("ERR backend {} unavailable", self.address)),
        }
    }
}

/// Encodes a command of bulk strings.
pub(crate) fn command(parts: &[&[u8]]) -> Bytes {
    let frame = BytesFrame::Array(
        parts
            .iter()
            .map(|p| BytesFrame::BulkString(Bytes::copy_from_slice(p)))
            .collect(),
    );
    Reply::made(frame).raw
}
