//! A storage node as the script sees it: in this process (the default) or its own OS process
//! (`--processes`: the example re-executes itself with the hidden `node` subcommand, which prints
//! `listening ADDR` and serves until its stdin closes). A process node's store lives and dies with
//! the process, so a restarted one comes back empty and is refilled by hints and read repair.

use std::io;
use std::net::SocketAddr;
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

use crate::client::NodeClient;
use crate::node::StorageNode;
use crate::protocol::{Request, Response};

#[derive(Debug)]
enum Kind {
    Local(StorageNode),
    Process {
        child: Mutex<Option<Child>>,
        control: Mutex<Option<Arc<NodeClient>>>,
        delay: Duration,
    },
}

#[derive(Debug)]
pub(crate) struct NodeHandle {
    pub(crate) name: String,
    pub(crate) zone: String,
    kind: Kind,
}

impl NodeHandle {
    pub(crate) fn new(name: String, zone: String, delay: Duration, process: bool) -> NodeHandle {
        let kind = if process {
            Kind::Process {
                child: Mutex::new(None),
                control: Mutex::new(None),
                delay,
            }
        } else {
            Kind::Local(StorageNode::new(delay))
        };
        NodeHandle { name, zone, kind }
    }

    /// Starts serving (again) on a fresh loopback port.
    pub(crate) async fn start(&self) -> io::Result<SocketAddr> {
        match &self.kind {
            Kind::Local(node) => node.start().await,
            Kind::Process {
                child,
                control,
                delay,
            } => {
                let exe = std::env::current_exe()?;
                let mut spawned = Command::new(exe)
                    .args(["node", "--name", &self.name, "--delay-us"])
                    .arg(delay.as_micros().to_string())
                    .stdin(Stdio::piped())
                    .stdout(Stdio::piped())
                    .kill_on_drop(true)
                    .spawn()?;
                let stdout = spawned
                    .stdout
                    .take()
                    .ok_or_else(|| io::Error::other("node process has no stdout"))?;
                let mut lines = BufReader::new(stdout).lines();
                let line = tokio::time::timeout(Duration::from_secs(20), lines.next_line())
                    .await
                    .map_err(|_| io::Error::other("node process did not start in time"))??
                    .unwrap_or_default();
                let addr: SocketAddr = line
                    .strip_prefix("listening ")
                    .and_then(|a| a.trim().parse().ok())
                    .ok_or_else(|| io::Error::other(format!("node process said {line:?}")))?;
                *child.lock() = Some(spawned);
                *control.lock() = Some(Arc::new(NodeClient::new(addr, 1, Duration::from_secs(2))));
                Ok(addr)
            }
        }
    }

    /// Kills the node: in this process its server stops (the store stays); a process is killed.
    pub(crate) fn kill(&self) {
        match &self.kind {
            Kind::Local(node) => node.kill(),
            Kind::Process { child, .. } => {
                if let Some(mut c) = child.lock().take() {
                    let _ = c.start_kill();
                }
            }
        }
    }

    pub(crate) async fn set_delay(&self, delay: Duration) -> io::Result<()> {
        match &self.kind {
            Kind::Local(node) => {
                node.set_delay(delay);
                Ok(())
            }
            Kind::Process { control, .. } => {
                let client = control.lock().clone();
                let client = client.ok_or_else(|| io::Error::other("node process not started"))?;
                let micros = u64::try_from(delay.as_micros()).unwrap_or(u64::MAX);
                match client.call(&Request::SetDelay { micros }).await {
                    Ok(Response::Done) => Ok(()),
                    _ => Err(io::Error::other("node process refused the delay")),
                }
            }
        }
    }
}

/// The hidden `node` subcommand: serve one node until stdin closes (the parent is gone).
pub(crate) async fn run_node(name: String, delay: Duration) -> io::Result<()> {
    let _ = name; // the parent knows the node by its name; the node itself needs none
    let node = StorageNode::new(delay);
    let addr = node.start().await?;
    println!("listening {addr}");
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    std::thread::spawn(move || {
        let mut sink = String::new();
        while std::io::stdin().read_line(&mut sink).is_ok_and(|n| n > 0) {
            sink.clear();
        }
        let _ = tx.send(());
    });
    tokio::select! {
        _ = rx => {}
        _ = tokio::signal::ctrl_c() => {}
    }
    node.kill();
    Ok(())
}
