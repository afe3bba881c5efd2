//! The storage nodes' wire protocol: length-prefixed binary frames.
//!
//! A frame is a big-endian `u32` body length and the body; a body is a one-byte tag and the
//! fields, integers big-endian, byte strings as a `u32` length and the bytes. Requests: get,
//! put with a version, heartbeat, stream-from-position (the replication log, optionally one
//! shard's keys), and purge (a migrated shard's keys). Every request gets one response.

use std::io;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// The largest frame accepted, so a bad length cannot make a node allocate gigabytes.
const MAX_FRAME: u32 = 64 << 20;

/// A value's version: `(major, minor, writer)` ordered lexicographically. Last-writer-wins
/// writes use a hybrid logical clock (`wall_nanos`, `logical`); ABD writes use `(seq, 0)`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) struct Version {
    pub(crate) major: u64,
    pub(crate) minor: u32,
    pub(crate) writer: String,
}

/// A stored value with its version; `None` is a deletion (a tombstone).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Versioned {
    pub(crate) version: Version,
    pub(crate) value: Option<Vec<u8>>,
}

/// One shard of a hash shard map, to filter a log stream by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ShardFilter {
    pub(crate) shards: u32,
    pub(crate) shard: u32,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Request {
    Get {
        key: Vec<u8>,
    },
    Put {
        key: Vec<u8>,
        item: Versioned,
    },
    Heartbeat,
    /// Log entries from `position` on, at most `max`, only `filter`'s shard if given.
    StreamFrom {
        position: u64,
        max: u32,
        filter: Option<ShardFilter>,
    },
    Purge {
        filter: ShardFilter,
    },
    /// The node's service time per request (the script's "slowed 10×"), for process nodes.
    SetDelay {
        micros: u64,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Response {
    Value(Option<Versioned>),
    /// A put's answer: whether it changed the store, and the log length after it.
    Ack {
        applied: bool,
        position: u64,
    },
    Heartbeat {
        position: u64,
        keys: u64,
    },
    Entries {
        entries: Vec<(Vec<u8>, Versioned)>,
        /// Where to continue from.
        next: u64,
        /// The log's length when answered.
        end: u64,
    },
    Purged(u64),
    Error(String),
    Done,
}

fn bad(what: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, what.to_owned())
}

/// Writes one frame.
pub(crate) async fn write_frame<W: AsyncWrite + Unpin>(w: &mut W, body: &[u8]) -> io::Result<()> {
    let len = u32::try_from(body.len()).map_err(|_| bad("frame too long"))?;
    let mut buf = Vec::with_capacity(body.len() + 4);
    buf.extend_from_slice(&len.to_be_bytes());
    buf.extend_from_slice(body);
    w.write_all(&buf).await?;
    w.flush().await
}

/// Reads one frame; `Ok(None)` at a clean end of stream.
pub(crate) async fn read_frame<R: AsyncRead + Unpin>(r: &mut R) -> io::Result<Option<Vec<u8>>> {
    let mut len = [0u8; 4];
    match r.read_exact(&mut len).await {
        Ok(_) => {}
        Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) => return Err(e),
    }
    let len = u32::from_be_bytes(len);
    if len > MAX_FRAME {
        return Err(bad("frame too long"));
    }
    let mut body = vec![0u8; len as usize];
    r.read_exact(&mut body).await?;
    Ok(Some(body))
}

struct Writer(Vec<u8>);

impl Writer {
    fn u8(&mut self, v: u8) {
        self.0.push(v);
    }
    fn u32(&mut self, v: u32) {
        self.0.extend_from_slice(&v.to_be_bytes());
    }
    fn u64(&mut self, v: u64) {
        self.0.extend_from_slice(&v.to_be_bytes());
    }
    fn bytes(&mut self, v: &[u8]) {
        // Keys and values are bounded by MAX_FRAME, far below u32::MAX.
        self.u32(u32::try_from(v.len()).unwrap_or(u32::MAX));
        self.0.extend_from_slice(v);
    }
    fn versioned(&mut self, v: &Versioned) {
        self.u64(v.version.major);
        self.u32(v.version.minor);
        self.bytes(v.version.writer.as_bytes());
        match &v.value {
            Some(value) => {
                self.u8(1);
                self.bytes(value);
            }
            None => self.u8(0),
        }
    }
    fn filter(&mut self, f: ShardFilter) {
        self.u32(f.shards);
        self.u32(f.shard);
    }
}

struct Reader<'a>(&'a [u8]);

impl Reader<'_> {
    fn take(&mut self, n: usize) -> io::Result<&[u8]> {
        if self.0.len() < n {
            return Err(bad("truncated frame"));
        }
        let (head, tail) = self.0.split_at(n);
        self.0 = tail;
        Ok(head)
    }
    fn u8(&mut self) -> io::Result<u8> {
        Ok(self.take(1)?[0])
    }
    fn u32(&mut self) -> io::Result<u32> {
        let mut b = [0u8; 4];
        b.copy_from_slice(self.take(4)?);
        Ok(u32::from_be_bytes(b))
    }
    fn u64(&mut self) -> io::Result<u64> {
        let mut b = [0u8; 8];
        b.copy_from_slice(self.take(8)?);
        Ok(u64::from_be_bytes(b))
    }
    fn bytes(&mut self) -> io::Result<Vec<u8>> {
        let n = self.u32()? as usize;
        Ok(self.take(n)?.to_vec())
    }
    fn string(&mut self) -> io::Result<String> {
        String::from_utf8(self.bytes()?).map_err(|_| bad("writer is not UTF-8"))
    }
    fn versioned(&mut self) -> io::Result<Versioned> {
        let version = Version {
            major: self.u64()?,
            minor: self.u32()?,
            writer: self.string()?,
        };
        let value = match self.u8()? {
            0 => None,
            _ => Some(self.bytes()?),
        };
        Ok(Versioned { version, value })
    }
    fn filter(&mut self) -> io::Result<ShardFilter> {
        Ok(ShardFilter {
            shards: self.u32()?,
            shard: self.u32()?,
        })
    }
}

impl Request {
    pub(crate) fn encode(&self) -> Vec<u8> {
        let mut w = Writer(Vec::with_capacity(64));
        match self {
            Request::Get { key } => {
                w.u8(1);
                w.bytes(key);
            }
            Request::Put { key, item } => {
                w.u8(2);
                w.bytes(key);
                w.versioned(item);
            }
            Request::Heartbeat => w.u8(3),
            Request::StreamFrom {
                position,
                max,
                filter,
            } => {
                w.u8(4);
                w.u64(*position);
                w.u32(*max);
                match filter {
                    Some(f) => {
                        w.u8(1);
                        w.filter(*f);
                    }
                    None => w.u8(0),
                }
            }
            Request::Purge { filter } => {
                w.u8(5);
                w.filter(*filter);
            }
            Request::SetDelay { micros } => {
                w.u8(6);
                w.u64(*micros);
            }
        }
        w.0
    }

    pub(crate) fn decode(body: &[u8]) -> io::Result<Request> {
        let mut r = Reader(body);
        Ok(match r.u8()? {
            1 => Request::Get { key: r.bytes()? },
            2 => Request::Put {
                key: r.bytes()?,
                item: r.versioned()?,
            },
            3 => Request::Heartbeat,
            4 => Request::StreamFrom {
                position: r.u64()?,
                max: r.u32()?,
                filter: match r.u8()? {
                    0 => None,
                    _ => Some(r.filter()?),
                },
            },
            5 => Request::Purge {
                filter: r.filter()?,
            },
            6 => Request::SetDelay { micros: r.u64()? },
            _ => return Err(bad("unknown request tag")),
        })
    }
}

impl Response {
    pub(crate) fn encode(&self) -> Vec<u8> {
        let mut w = Writer(Vec::with_capacity(64));
        match self {
            Response::Value(v) => {
                w.u8(1);
                match v {
                    Some(v) => {
                        w.u8(1);
                        w.versioned(v);
                    }
                    None => w.u8(0),
                }
            }
            Response::Ack { applied, position } => {
                w.u8(2);
                w.u8(u8::from(*applied));
                w.u64(*position);
            }
            Response::Heartbeat { position, keys } => {
                w.u8(3);
                w.u64(*position);
                w.u64(*keys);
            }
            Response::Entries { entries, next, end } => {
                w.u8(4);
                w.u64(*next);
                w.u64(*end);
                w.u32(u32::try_from(entries.len()).unwrap_or(u32::MAX));
                for (key, item) in entries {
                    w.bytes(key);
                    w.versioned(item);
                }
            }
            Response::Purged(n) => {
                w.u8(5);
                w.u64(*n);
            }
            Response::Error(message) => {
                w.u8(6);
                w.bytes(message.as_bytes());
            }
            Response::Done => w.u8(7),
        }
        w.0
    }

    pub(crate) fn decode(body: &[u8]) -> io::Result<Response> {
        let mut r = Reader(body);
        Ok(match r.u8()? {
            1 => Response::Value(match r.u8()? {
                0 => None,
                _ => Some(r.versioned()?),
            }),
            2 => Response::Ack {
                applied: r.u8()? != 0,
                position: r.u64()?,
            },
            3 => Response::Heartbeat {
                position: r.u64()?,
                keys: r.u64()?,
            },
            4 => {
                let next = r.u64()?;
                let end = r.u64()?;
                let n = r.u32()?;
                let mut entries = Vec::with_capacity(n.min(4096) as usize);
                for _ in 0..n {
                    entries.push((r.bytes()?, r.versioned()?));
                }
                Response::Entries { entries, next, end }
            }
            5 => Response::Purged(r.u64()?),
            6 => Response::Error(r.string()?),
            7 => Response::Done,
            _ => return Err(bad("unknown response tag")),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_round_trip() {
        let item = Versioned {
            version: Version {
                major: 7,
                minor: 1,
                writer: "c".into(),
            },
            value: Some(b"v".to_vec()),
        };
        let requests = [
            Request::Get { key: b"k".to_vec() },
            Request::Put {
                key: b"k".to_vec(),
                item: item.clone(),
            },
            Request::Heartbeat,
            Request::StreamFrom {
                position: 3,
                max: 10,
                filter: Some(ShardFilter {
                    shards: 64,
                    shard: 5,
                }),
            },
        ];
        for r in requests {
            assert_eq!(Request::decode(&r.encode()).ok(), Some(r));
        }
        let entries = Response::Entries {
            entries: vec![(b"k".to_vec(), item)],
            next: 4,
            end: 9,
        };
        assert_eq!(Response::decode(&entries.encode()).ok(), Some(entries));
        assert!(Request::decode(&[9]).is_err());
        assert!(Request::decode(&[1, 0, 0, 0, 9]).is_err());
    }
}
