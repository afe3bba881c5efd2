//! `redis-server` processes on loopback, started on free ports and killed when dropped.

use std::error::Error;
use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A port the OS says is free now (bound, then released).
pub(crate) fn free_port() -> std::io::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// A `redis-server` child process, killed on drop.
#[derive(Debug)]
pub(crate) struct RedisServer {
    child: Child,
    /// `127.0.0.1:port`.
    pub(crate) address: String,
}

impl RedisServer {
    /// Starts `redis-server` on a free loopback port, with no persistence, and waits until it
    /// answers PING (at most 10 s).
    pub(crate) fn start() -> Result<RedisServer, Box<dyn Error>> {
        RedisServer::start_on(free_port()?)
    }

    /// Starts `redis-server` on `port` of loopback, as [`RedisServer::start`] does.
    #[allow(dead_code)] // used by tests/redis_shards.rs, which includes this file
    pub(crate) fn start_on(port: u16) -> Result<RedisServer, Box<dyn Error>> {
        let child = Command::new("redis-server")
            .args([
                "--port",
                &port.to_string(),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--protected-mode",
                "no",
                "--loglevel",
                "warning",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("cannot start redis-server: {e}"))?;
        let server = RedisServer {
            child,
            address: format!("127.0.0.1:{port}"),
        };
        wait_for_ping(&server.address, Duration::from_secs(10))?;
        Ok(server)
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Waits until the Redis-speaking server at `address` answers PING.
pub(crate) fn wait_for_ping(address: &str, limit: Duration) -> Result<(), Box<dyn Error>> {
    let started = Instant::now();
    let client = redis::Client::open(format!("redis://{address}/"))?;
    loop {
        let answer = client
            .get_connection_with_timeout(Duration::from_millis(200))
            .and_then(|mut c| redis::cmd("PING").query::<String>(&mut c));
        match answer {
            Ok(_) => return Ok(()),
            Err(e) if started.elapsed() > limit => {
                return Err(format!("{address} did not answer PING within {limit:?}: {e}").into());
            }
            Err(_) => std::thread::sleep(Duration::from_millis(20)),
        }
    }
}
