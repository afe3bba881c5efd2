//! A storage node: a tokio TCP server on a loopback port with an in-memory store and a
//! replication log. A put applies only if its version is newer than the stored one (so repairs,
//! hints and copies can be replayed safely) and is appended to the log either way it changes the
//! store; the log is what `StreamFrom` serves to a migration's copy and catch-up.

use std::collections::HashMap;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use ha::shard::HashShards;
use parking_lot::Mutex;
use tokio::io::BufReader;
use tokio::net::{TcpListener, TcpStream};
use tokio::task::{JoinHandle, JoinSet};

use crate::protocol::{Request, Response, ShardFilter, Versioned, read_frame, write_frame};

/// A node's data; it outlives restarts of the server (as a disk would).
#[derive(Debug, Default)]
pub(crate) struct Store {
    data: HashMap<Vec<u8>, Versioned>,
    log: Vec<(Vec<u8>, Versioned)>,
}

impl Store {
    fn put(&mut self, key: Vec<u8>, item: Versioned) -> bool {
        let newer = self
            .data
            .get(&key)
            .is_none_or(|old| item.version > old.version);
        if newer {
            self.data.insert(key.clone(), item.clone());
            self.log.push((key, item));
        }
        newer
    }

    fn stream(&self, position: u64, max: u32, filter: Option<ShardFilter>) -> Response {
        let shards = filter.and_then(|f| HashShards::new(f.shards).ok().map(|s| (s, f.shard)));
        let start = usize::try_from(position)
            .unwrap_or(usize::MAX)
            .min(self.log.len());
        let mut entries = Vec::new();
        let mut next = start;
        for (key, item) in &self.log[start..] {
            if entries.len() >= max as usize {
                break;
            }
            next += 1;
            if shards
                .as_ref()
                .is_none_or(|(s, shard)| s.shard_of(key).0 == *shard)
            {
                entries.push((key.clone(), item.clone()));
            }
        }
        Response::Entries {
            entries,
            next: next as u64,
            end: self.log.len() as u64,
        }
    }

    fn purge(&mut self, filter: ShardFilter) -> Response {
        let Ok(shards) = HashShards::new(filter.shards) else {
            return Response::Error("bad shard count".into());
        };
        let before = self.data.len();
        self.data
            .retain(|k, _| shards.shard_of(k).0 != filter.shard);
        Response::Purged((before - self.data.len()) as u64)
    }
}

/// One node: its store, its artificial service delay and, while up, its server task.
#[derive(Debug)]
pub(crate) struct StorageNode {
    store: Arc<Mutex<Store>>,
    /// Microseconds each request waits before it is served (the node's "disk").
    delay_us: Arc<AtomicU64>,
    server: Mutex<Option<JoinHandle<()>>>,
}

impl StorageNode {
    pub(crate) fn new(delay: Duration) -> StorageNode {
        StorageNode {
            store: Arc::default(),
            delay_us: Arc::new(AtomicU64::new(micros(delay))),
            server: Mutex::new(None),
        }
    }

    /// Starts serving on a fresh loopback port; returns the address.
    pub(crate) async fn start(&self) -> io::Result<SocketAddr> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let store = Arc::clone(&self.store);
        let delay = Arc::clone(&self.delay_us);
        let task = tokio::spawn(async move {
            // Dropping the set (when this task is aborted) aborts every connection.
            let mut connections = JoinSet::new();
            loop {
                tokio::select! {
                    accepted = listener.accept() => match accepted {
                        Ok((stream, _)) => {
                            let (store, delay) = (Arc::clone(&store), Arc::clone(&delay));
                            connections.spawn(serve(stream, store, delay));
                        }
                        Err(e) => tracing::debug!(error = %e, "accept failed"),
                    },
                    Some(_) = connections.join_next(), if !connections.is_empty() => {}
                }
            }
        });
        if let Some(old) = self.server.lock().replace(task) {
            old.abort();
        }
        Ok(addr)
    }

    /// Kills the server: the port closes and every open connection drops. The store stays.
    pub(crate) fn kill(&self) {
        if let Some(task) = self.server.lock().take() {
            task.abort();
        }
    }

    pub(crate) fn set_delay(&self, delay: Duration) {
        self.delay_us.store(micros(delay), Ordering::Relaxed);
    }
}

fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
}

async fn serve(stream: TcpStream, store: Arc<Mutex<Store>>, delay: Arc<AtomicU64>) {
    if let Err(e) = serve_inner(stream, store, delay).await {
        tracing::debug!(error = %e, "node connection ended");
    }
}

async fn serve_inner(
    stream: TcpStream,
    store: Arc<Mutex<Store>>,
    delay: Arc<AtomicU64>,
) -> io::Result<()> {
    stream.set_nodelay(true)?;
    let (read, mut write) = stream.into_split();
    let mut read = BufReader::new(read);
    while let Some(body) = read_frame(&mut read).await? {
        let response = match Request::decode(&body) {
            Ok(Request::SetDelay { micros }) => {
                delay.store(micros, Ordering::Relaxed);
                Response::Done
            }
            Ok(request) => {
                let wait = delay.load(Ordering::Relaxed);
                if wait > 0 && !matches!(request, Request::Heartbeat) {
                    tokio::time::sleep(Duration::from_micros(wait)).await;
                }
                handle(&store, request)
            }
            Err(e) => Response::Error(e.to_string()),
        };
        write_frame(&mut write, &response.encode()).await?;
    }
    Ok(())
}

fn handle(store: &Mutex<Store>, request: Request) -> Response {
    let mut store = store.lock();
    match request {
        Request::Get { key } => Response::Value(store.data.get(&key).cloned()),
        Request::Put { key, item } => {
            let applied = store.put(key, item);
            Response::Ack {
                applied,
                position: store.log.len() as u64,
            }
        }
        Request::Heartbeat => Response::Heartbeat {
            position: store.log.len() as u64,
            keys: store.data.len() as u64,
        },
        Request::StreamFrom {
            position,
            max,
            filter,
        } => store.stream(position, max, filter),
        Request::Purge { filter } => store.purge(filter),
        Request::SetDelay { .. } => {
            Response::Error("set-delay is handled by the connection".into())
        }
    }
}
