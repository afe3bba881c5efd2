//! ha-replication's `ElectionBackend` over etcd: a leader key bound to an etcd lease.
//!
//! Campaigning grants a lease and, in one transaction, creates the leader key under it only if
//! the key does not exist (`create_revision == 0`). The key's create revision is the epoch: etcd
//! revisions only grow, so every newly won lease has a higher epoch than all before it, and it
//! is the fencing token of the leader's writes. Renewing is one lease keep-alive; a lease that
//! lapsed (the leader stopped renewing, or was killed) takes the key with it, and the next
//! campaign can win. No consensus is written here: etcd's Raft does it.

use std::collections::HashMap;
use std::fmt;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use etcd_client::{Client, Compare, CompareOp, PutOptions, Txn, TxnOp, TxnOpResponse};
use ha::core::NodeId;
use ha::replication::{Campaign, ElectionBackend, Epoch, Lease};

/// What can go wrong talking to etcd.
#[derive(Debug)]
pub(crate) enum EtcdElectionError {
    /// etcd refused or could not be reached.
    Etcd(etcd_client::Error),
    /// The lease lapsed or the key was taken over.
    LeaseLost { holder: NodeId, epoch: Epoch },
    /// The leader key holds something that is not a node id.
    BadLeaderKey(String),
}

impl fmt::Display for EtcdElectionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EtcdElectionError::Etcd(e) => write!(f, "etcd: {e}"),
            EtcdElectionError::LeaseLost { holder, epoch } => {
                write!(f, "the lease of {holder} for {epoch} is no longer held")
            }
            EtcdElectionError::BadLeaderKey(v) => write!(f, "leader key holds {v:?}"),
        }
    }
}

impl std::error::Error for EtcdElectionError {}

impl From<etcd_client::Error> for EtcdElectionError {
    fn from(e: etcd_client::Error) -> Self {
        EtcdElectionError::Etcd(e)
    }
}

/// An election over one etcd key.
pub(crate) struct EtcdElection {
    client: Client,
    key: String,
    /// Our etcd lease id per epoch we won.
    leases: Mutex<HashMap<Epoch, i64>>,
}

impl fmt::Debug for EtcdElection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EtcdElection")
            .field("key", &self.key)
            .finish()
    }
}

impl EtcdElection {
    pub(crate) fn new(client: Client, key: impl Into<String>) -> EtcdElection {
        EtcdElection {
            client,
            key: key.into(),
            leases: Mutex::new(HashMap::new()),
        }
    }

    fn lease_id(&self, epoch: Epoch) -> Option<i64> {
        self.leases.lock().ok()?.get(&epoch).copied()
    }

    /// The current leader from the key, with its remaining time from etcd.
    async fn leader(&self) -> Result<Option<Lease>, EtcdElectionError> {
        let mut client = self.client.clone();
        let got = client.get(self.key.as_str(), None).await?;
        let Some(kv) = got.kvs().first() else {
            return Ok(None);
        };
        let holder = kv
            .value_str()
            .ok()
            .and_then(|v| NodeId::new(v).ok())
            .ok_or_else(|| EtcdElectionError::BadLeaderKey(format!("{:?}", kv.value())))?;
        let remaining = client.lease_time_to_live(kv.lease(), None).await?;
        let ttl = secs(remaining.granted_ttl());
        Ok(Some(Lease {
            holder,
            epoch: Epoch(u64::try_from(kv.create_revision()).unwrap_or(0)),
            ttl,
            expires_at: Instant::now() + secs(remaining.ttl()),
        }))
    }
}

fn secs(s: i64) -> Duration {
    Duration::from_secs(u64::try_from(s).unwrap_or(0))
}

#[async_trait]
impl ElectionBackend for EtcdElection {
    type Error = EtcdElectionError;

    async fn campaign(&self, candidate: &NodeId, ttl: Duration) -> Result<Campaign, Self::Error> {
        if let Some(leader) = self.leader().await? {
            return Ok(
                if leader.holder == *candidate && self.lease_id(leader.epoch).is_some() {
                    Campaign::Won(leader)
                } else {
                    Campaign::Lost { leader }
                },
            );
        }
        let mut client = self.client.clone();
        let ttl_secs = i64::try_from(ttl.as_secs().max(1)).unwrap_or(i64::MAX);
        let granted = client.lease_grant(ttl_secs, None).await?;
        let started = Instant::now();
        let txn = Txn::new()
            .when([Compare::create_revision(
                self.key.as_str(),
                CompareOp::Equal,
                0,
            )])
            .and_then([TxnOp::put(
                self.key.as_str(),
                candidate.as_str(),
                Some(PutOptions::new().with_lease(granted.id())),
            )])
            .or_else([TxnOp::get(self.key.as_str(), None)]);
        let response = client.txn(txn).await?;
        if response.succeeded() {
            let revision = response.header().map_or(0, |h| h.revision());
            let epoch = Epoch(u64::try_from(revision).unwrap_or(0));
            if let Ok(mut leases) = self.leases.lock() {
                leases.insert(epoch, granted.id());
            }
            return Ok(Campaign::Won(Lease {
                holder: candidate.clone(),
                epoch,
                ttl: secs(granted.ttl()),
                expires_at: started + secs(granted.ttl()),
            }));
        }
        // Someone else got there first: give our lease back and report theirs.
        client.lease_revoke(granted.id()).await?;
        for op in response.op_responses() {
            if let TxnOpResponse::Get(got) = op {
                if !got.kvs().is_empty() {
                    if let Some(leader) = self.leader().await? {
                        return Ok(Campaign::Lost { leader });
                    }
                }
            }
        }
        // The winner's key vanished between the transaction and the read: try again later.
        Err(EtcdElectionError::BadLeaderKey("vanished".into()))
    }

    async fn renew(&self, lease: &Lease) -> Result<Lease, Self::Error> {
        let lost = || EtcdElectionError::LeaseLost {
            holder: lease.holder.clone(),
            epoch: lease.epoch,
        };
        let id = self.lease_id(lease.epoch).ok_or_else(lost)?;
        let mut client = self.client.clone();
        let started = Instant::now();
        let (mut keeper, mut stream) = client.lease_keep_alive(id).await?;
        keeper.keep_alive().await?;
        let ttl = match stream.message().await? {
            Some(answer) if answer.ttl() > 0 => secs(answer.ttl()),
            _ => return Err(lost()),
        };
        // The key must still be ours, in the same epoch.
        match self.leader().await? {
            Some(current) if current.epoch == lease.epoch && current.holder == lease.holder => {
                Ok(Lease {
                    expires_at: started + ttl,
                    ttl,
                    ..lease.clone()
                })
            }
            _ => Err(lost()),
        }
    }

    async fn resign(&self, lease: &Lease) -> Result<(), Self::Error> {
        let id = self
            .leases
            .lock()
            .ok()
            .and_then(|mut l| l.remove(&lease.epoch));
        if let Some(id) = id {
            let mut client = self.client.clone();
            // Revoking deletes the key with the lease; a lease already gone is fine.
            let _ = client.lease_revoke(id).await;
        }
        Ok(())
    }

    async fn observe(&self) -> Result<Option<Lease>, Self::Error> {
        self.leader().await
    }
}
