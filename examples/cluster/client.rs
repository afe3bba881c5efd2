//! A client of one storage node: a small pool of TCP connections, one request at a time on
//! each, every call bounded by a timeout. A broken connection is dropped and redialled on the
//! next call; the node's address can change (a restarted node listens on a new port).

use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use parking_lot::RwLock;
use tokio::io::BufReader;
use tokio::net::TcpStream;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::sync::Mutex;

use crate::protocol::{Request, Response, read_frame, write_frame};

type Conn = (BufReader<OwnedReadHalf>, OwnedWriteHalf);

/// Why a call to a node failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) enum CallError {
    /// No answer within the timeout.
    Timeout,
    /// The connection was refused or broke.
    Connection,
    /// The node answered with an error, or something unexpected.
    Protocol,
}

#[derive(Debug)]
pub(crate) struct NodeClient {
    addr: RwLock<SocketAddr>,
    pool: Vec<Mutex<Option<Conn>>>,
    next: AtomicUsize,
    timeout: Duration,
}

impl NodeClient {
    pub(crate) fn new(addr: SocketAddr, connections: usize, timeout: Duration) -> NodeClient {
        NodeClient {
            addr: RwLock::new(addr),
            pool: (0..connections.max(1)).map(|_| Mutex::new(None)).collect(),
            next: AtomicUsize::new(0),
            timeout,
        }
    }

    pub(crate) fn addr(&self) -> SocketAddr {
        *self.addr.read()
    }

    /// Points the client at a new address; pooled connections redial lazily.
    pub(crate) fn set_addr(&self, addr: SocketAddr) {
        *self.addr.write() = addr;
    }

    pub(crate) async fn call(&self, request: &Request) -> Result<Response, CallError> {
        self.call_within(request, self.timeout).await
    }

    pub(crate) async fn call_within(
        &self,
        request: &Request,
        timeout: Duration,
    ) -> Result<Response, CallError> {
        let i = self.next.fetch_add(1, Ordering::Relaxed) % self.pool.len();
        let mut slot = self.pool[i].lock().await;
        let body = request.encode();
        let addr = self.addr();
        let outcome = tokio::time::timeout(timeout, exchange(&mut slot, addr, &body)).await;
        match outcome {
            Ok(Ok(Response::Error(e))) => {
                tracing::debug!(%addr, error = %e, "node refused");
                Err(CallError::Protocol)
            }
            Ok(Ok(response)) => Ok(response),
            Ok(Err(e)) => {
                *slot = None;
                tracing::debug!(%addr, error = %e, "node call failed");
                Err(CallError::Connection)
            }
            Err(_) => {
                // The answer may still come on this connection: drop it to stay in step.
                *slot = None;
                Err(CallError::Timeout)
            }
        }
    }
}

async fn exchange(slot: &mut Option<Conn>, addr: SocketAddr, body: &[u8]) -> io::Result<Response> {
    if slot.is_none() {
        let stream = TcpStream::connect(addr).await?;
        stream.set_nodelay(true)?;
        let (read, write) = stream.into_split();
        *slot = Some((BufReader::new(read), write));
    }
    let Some((read, write)) = slot.as_mut() else {
        return Err(io::Error::other("no connection"));
    };
    let result = async {
        write_frame(write, body).await?;
        match read_frame(read).await? {
            Some(frame) => Response::decode(&frame),
            None => Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "node closed the connection",
            )),
        }
    }
    .await;
    if result.is_err() {
        *slot = None;
    }
    result
}
