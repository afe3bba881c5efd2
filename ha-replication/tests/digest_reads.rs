//! Digest reads against full reads: whatever the copies and the order replies come in, a digest
//! read answers a value that covers at least the level's number of replicas' copies (so it sees
//! every write acknowledged by an intersecting write quorum), and its repairs leave every
//! replica that sent a full copy holding the reconciled value.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use ha_core::NodeId;
use ha_replication::{
    DigestRead, DvvSet, Progress, ReadRequest, Reconcile, ReplicaSet, Requirement, VersionDigest,
    VersionVector,
};
use proptest::prelude::*;

fn id(i: usize) -> NodeId {
    NodeId::new(format!("r{i}")).unwrap()
}

/// `a` has seen everything `b` has.
fn covers(a: &DvvSet<u64>, b: &Option<DvvSet<u64>>) -> bool {
    match b {
        None => true,
        Some(b) => {
            let mut joined = a.clone();
            joined.reconcile(b);
            joined == *a
        }
    }
}

/// Copies built by a few writes through random coordinators, each replica having seen a random
/// prefix of them (or nothing).
fn copies(n: usize, writes: &[(usize, bool)], seen: &[usize]) -> Vec<Option<DvvSet<u64>>> {
    let mut history: Vec<DvvSet<u64>> = Vec::new();
    let mut current = DvvSet::new();
    for (k, &(coordinator, blind)) in writes.iter().enumerate() {
        let context = if blind {
            VersionVector::new()
        } else {
            current.context().clone()
        };
        current
            .write(&id(coordinator % n), &context, k as u64)
            .unwrap();
        history.push(current.clone());
    }
    (0..n)
        .map(|i| match seen[i] % (history.len() + 1) {
            0 => None,
            k => Some(history[k - 1].clone()),
        })
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn a_digest_read_answer_covers_a_quorum_of_copies_and_repairs_converge_full_readers(
        n in 3usize..=5,
        need_pick in 0usize..5,
        writes in prop::collection::vec((0usize..5, any::<bool>()), 1..5),
        seen in prop::collection::vec(0usize..6, 5),
        order in prop::collection::vec(0usize..64, 0..40),
    ) {
        let need = need_pick % n + 1;
        let stores = copies(n, &writes, &seen);
        let ids: Vec<NodeId> = (0..n).map(id).collect();
        let set = ReplicaSet::single_datacenter(ids.clone()).unwrap();
        let deadline = Instant::now() + Duration::from_secs(1);
        let mut read: DigestRead<DvvSet<u64>> =
            DigestRead::new(set, &Requirement::count(need).unwrap(), &ids[0], deadline).unwrap();
        let mut queue: VecDeque<(NodeId, ReadRequest)> = std::iter::from_fn(|| read.poll_transmit()).collect();
        let mut full_copy_from = Vec::new();
        let mut picks = order.into_iter();
        while !queue.is_empty() {
            // Deliver a pseudo-randomly chosen pending request.
            let at = picks.next().unwrap_or(0) % queue.len();
            let (to, request) = queue.remove(at).unwrap();
            let i = ids.iter().position(|x| *x == to).unwrap();
            match request {
                ReadRequest::Data => {
                    full_copy_from.push(i);
                    read.on_data(&to, stores[i].clone()).unwrap();
                }
                ReadRequest::Digest => {
                    read.on_digest(&to, stores[i].as_ref().map(|c| c.version_digest())).unwrap();
                }
            }
            queue.extend(std::iter::from_fn(|| read.poll_transmit()));
        }
        let Progress::Succeeded(answer) = read.progress() else {
            panic!("every replica answered, yet {:?}", read.progress());
        };
        let covered = match &answer {
            None => stores.iter().filter(|c| c.is_none()).count(),
            Some(a) => stores.iter().filter(|c| covers(a, c)).count(),
        };
        prop_assert!(covered >= need, "answer covers {} copies, level {}", covered, need);
        // Repairs: every replica that sent a full copy ends holding what the others sent.
        let mut after = stores.clone();
        while let Some(repair) = read.poll_repair() {
            let i = ids.iter().position(|x| *x == repair.replica).unwrap();
            match &mut after[i] {
                Some(c) => c.reconcile(&repair.value),
                slot => *slot = Some(repair.value),
            }
        }
        if read.is_full_read() {
            let mut merged: Option<DvvSet<u64>> = None;
            for &i in &full_copy_from {
                if let Some(c) = &stores[i] {
                    match &mut merged {
                        Some(m) => m.reconcile(c),
                        None => merged = Some(c.clone()),
                    }
                }
            }
            for &i in &full_copy_from {
                prop_assert_eq!(&after[i], &merged, "replica {} after repairs", i);
            }
        }
    }
}
