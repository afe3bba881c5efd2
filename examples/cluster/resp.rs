//! The Redis front end: RESP2 (framed by the `redis-protocol` crate's codec) on a loopback
//! port, so `redis-cli`, `redis-benchmark` or any Redis client can drive the cluster.
//! Commands: PING, GET, SET, DEL, MGET, MSET, EXISTS, INFO (and the CONFIG / CLIENT / COMMAND
//! probes clients send on connect, answered emptily). Each connection is one client for the
//! GCRA rate limit.

use std::sync::Arc;
use std::time::Instant;

use bytes::{Bytes, BytesMut};
use futures_util::future::join_all;
use futures_util::{SinkExt, StreamExt};
use redis_protocol::codec::Resp2;
use redis_protocol::error::RedisProtocolError;
use redis_protocol::resp2::types::BytesFrame;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio_util::codec::{Decoder, Encoder, Framed};

use crate::coordinator::Coordinator;
use crate::report::Cause;

/// RESP2 frames through the `redis-protocol` codec, plus the inline commands (`PING\r\n`)
/// Redis also accepts from telnet-style clients and `redis-benchmark`'s `PING_INLINE`: a line
/// not starting with a RESP type byte is split on whitespace into an array of bulk strings.
#[derive(Debug, Default)]
struct Codec(Resp2);

impl Decoder for Codec {
    type Item = BytesFrame;
    type Error = RedisProtocolError;

    fn decode(&mut self, src: &mut BytesMut) -> Result<Option<BytesFrame>, RedisProtocolError> {
        match src.first() {
            None => Ok(None),
            Some(b'*' | b'$' | b'+' | b'-' | b':') => self.0.decode(src),
            Some(_) => {
                let Some(end) = src.iter().position(|&b| b == b'\n') else {
                    return Ok(None);
                };
                let line = src.split_to(end + 1);
                let words = line[..]
                    .split(|b: &u8| b.is_ascii_whitespace())
                    .filter(|w| !w.is_empty())
                    .map(|w| BytesFrame::BulkString(Bytes::copy_from_slice(w)))
                    .collect();
                Ok(Some(BytesFrame::Array(words)))
            }
        }
    }
}

impl Encoder<BytesFrame> for Codec {
    type Error = RedisProtocolError;

    fn encode(&mut self, item: BytesFrame, dst: &mut BytesMut) -> Result<(), RedisProtocolError> {
        self.0.encode(item, dst)
    }
}

pub(crate) async fn serve(
    listener: TcpListener,
    coordinator: Arc<Coordinator>,
    mut stop: watch::Receiver<bool>,
) {
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    let coordinator = Arc::clone(&coordinator);
                    tokio::spawn(async move {
                        if let Err(e) = connection(stream, coordinator, peer.to_string()).await {
                            tracing::debug!(error = %e, "RESP connection ended");
                        }
                    });
                }
                Err(e) => tracing::debug!(error = %e, "accept failed"),
            },
            _ = stop.changed() => return,
        }
    }
}

async fn connection(
    stream: TcpStream,
    coordinator: Arc<Coordinator>,
    client: String,
) -> Result<(), RedisProtocolError> {
    let _ = stream.set_nodelay(true);
    let mut framed = Framed::new(stream, Codec::default());
    while let Some(frame) = framed.next().await {
        let reply = match frame? {
            BytesFrame::Array(parts) => {
                let args: Option<Vec<Bytes>> = parts
                    .into_iter()
                    .map(|p| match p {
                        BytesFrame::BulkString(b) | BytesFrame::SimpleString(b) => Some(b),
                        _ => None,
                    })
                    .collect();
                match args {
                    Some(args) if !args.is_empty() => command(&coordinator, &client, args).await,
                    _ => error("ERR expected an array of bulk strings"),
                }
            }
            _ => error("ERR expected an array of bulk strings"),
        };
        let quit = matches!(&reply, BytesFrame::SimpleString(s) if s.as_ref() == b"BYE");
        let reply = if quit { ok() } else { reply };
        framed.send(reply).await?;
        if quit {
            break;
        }
    }
    Ok(())
}

fn error(message: &str) -> BytesFrame {
    BytesFrame::Error(message.to_owned().into())
}

fn ok() -> BytesFrame {
    BytesFrame::SimpleString(Bytes::from_static(b"OK"))
}

fn cause_error(cause: Cause) -> BytesFrame {
    match cause {
        Cause::RateLimited => error("ERR rate limited (GCRA): slow down"),
        Cause::Held => error("TRYAGAIN shard migrating, retry"),
        Cause::Timeout => error("ERR quorum not reached in time"),
        Cause::Unavailable => error("ERR not enough replicas for the consistency level"),
        Cause::Protocol => error("ERR replica answered unexpectedly"),
    }
}

fn bulk(value: Option<Vec<u8>>) -> BytesFrame {
    value.map_or(BytesFrame::Null, |v| BytesFrame::BulkString(Bytes::from(v)))
}

async fn command(coordinator: &Arc<Coordinator>, client: &str, args: Vec<Bytes>) -> BytesFrame {
    let name = String::from_utf8_lossy(&args[0]).to_ascii_uppercase();
    let keys = &args[1..];
    if !matches!(
        name.as_str(),
        "PING" | "INFO" | "QUIT" | "CONFIG" | "CLIENT" | "COMMAND"
    ) && coordinator.admit(client).is_err()
    {
        return cause_error(Cause::RateLimited);
    }
    let start = Instant::now();
    let (reply, outcome) = match name.as_str() {
        "PING" => match keys.first() {
            Some(m) => (BytesFrame::BulkString(m.clone()), None),
            None => (BytesFrame::SimpleString(Bytes::from_static(b"PONG")), None),
        },
        "QUIT" => (BytesFrame::SimpleString(Bytes::from_static(b"BYE")), None),
        "GET" if keys.len() == 1 => match coordinator.read(&keys[0]).await {
            Ok(v) => (bulk(v), Some(Ok(()))),
            Err(c) => (cause_error(c), Some(Err(c))),
        },
        // Options (EX, NX, ...) are not supported; a plain SET is.
        "SET" if keys.len() == 2 => {
            match coordinator
                .write(keys[0].to_vec(), Some(keys[1].to_vec()))
                .await
            {
                Ok(()) => (ok(), Some(Ok(()))),
                Err(c) => (cause_error(c), Some(Err(c))),
            }
        }
        "MGET" if !keys.is_empty() => {
            let reads = join_all(keys.iter().map(|k| coordinator.read(k))).await;
            match reads.into_iter().collect::<Result<Vec<_>, _>>() {
                Ok(values) => (
                    BytesFrame::Array(values.into_iter().map(bulk).collect()),
                    Some(Ok(())),
                ),
                Err(c) => (cause_error(c), Some(Err(c))),
            }
        }
        "MSET" if !keys.is_empty() && keys.len() % 2 == 0 => {
            let writes = keys
                .chunks(2)
                .map(|kv| coordinator.write(kv[0].to_vec(), Some(kv[1].to_vec())));
            match join_all(writes)
                .await
                .into_iter()
                .collect::<Result<Vec<_>, _>>()
            {
                Ok(_) => (ok(), Some(Ok(()))),
                Err(c) => (cause_error(c), Some(Err(c))),
            }
        }
        "EXISTS" | "DEL" if !keys.is_empty() => {
            let delete = name == "DEL";
            let mut count = 0i64;
            let mut failed = None;
            for key in keys {
                match coordinator.read(key).await {
                    Ok(Some(_)) => {
                        count += 1;
                        if delete {
                            if let Err(c) = coordinator.write(key.to_vec(), None).await {
                                failed = Some(c);
                            }
                        }
                    }
                    Ok(None) => {}
                    Err(c) => failed = Some(c),
                }
            }
            match failed {
                Some(c) => (cause_error(c), Some(Err(c))),
                None => (BytesFrame::Integer(count), Some(Ok(()))),
            }
        }
        "INFO" => {
            let mut text = String::from("# ha cluster\r\n");
            for (k, v) in coordinator.info() {
                text.push_str(&format!("{k}:{v}\r\n"));
            }
            (BytesFrame::BulkString(Bytes::from(text)), None)
        }
        "CONFIG" | "COMMAND" => (BytesFrame::Array(Vec::new()), None),
        "CLIENT" | "SELECT" => (ok(), None),
        "GET" | "SET" | "MGET" | "MSET" | "EXISTS" | "DEL" => (
            error(&format!(
                "ERR wrong number of arguments for '{}' command",
                name.to_lowercase()
            )),
            None,
        ),
        _ => (error(&format!("ERR unknown command '{name}'")), None),
    };
    if let Some(outcome) = outcome {
        coordinator.metrics.record(outcome, start.elapsed());
    }
    reply
}
