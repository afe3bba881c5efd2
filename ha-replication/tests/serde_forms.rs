//! Serde forms: report and config types round-trip, and validated forms refuse bad data.
#![cfg(feature = "serde")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

use ha_core::NodeId;
use ha_replication::{
    ConsistencyLevel, DvvSet, MerkleTree, QuorumConfig, ReplicaSet, VersionVector,
};

#[test]
fn configs_versions_and_trees_round_trip_through_json() {
    let config = QuorumConfig::default();
    let json = serde_json::to_string(&config).unwrap();
    assert!(json.contains(r#""read":"QUORUM""#), "{json}");
    assert_eq!(serde_json::from_str::<QuorumConfig>(&json).unwrap(), config);
    assert_eq!(
        serde_json::from_str::<ConsistencyLevel>(r#""LOCAL_QUORUM""#).unwrap(),
        ConsistencyLevel::LocalQuorum
    );

    let r = NodeId::new("r1").unwrap();
    let mut set = DvvSet::new();
    set.write(&r, &VersionVector::new(), "v".to_owned())
        .unwrap();
    let json = serde_json::to_string(&set).unwrap();
    assert_eq!(serde_json::from_str::<DvvSet<String>>(&json).unwrap(), set);

    let tree = MerkleTree::build(3, [("a", 1u64), ("b", 2)]).unwrap();
    let json = serde_json::to_string(&tree).unwrap();
    assert_eq!(serde_json::from_str::<MerkleTree>(&json).unwrap(), tree);
}

#[test]
fn bad_replica_sets_and_trees_are_refused_when_read_back() {
    let set = ReplicaSet::new([(NodeId::new("a").unwrap(), "eu")]).unwrap();
    let json = serde_json::to_string(&set).unwrap();
    assert_eq!(json, r#"[["a","eu"]]"#);
    assert_eq!(serde_json::from_str::<ReplicaSet>(&json).unwrap(), set);
    assert!(serde_json::from_str::<ReplicaSet>(r#"[["a","eu"],["a","us"]]"#).is_err());
    assert!(serde_json::from_str::<ReplicaSet>("[]").is_err());
    assert!(serde_json::from_str::<MerkleTree>(r#"{"depth":2,"nodes":[0,0]}"#).is_err());
    assert!(serde_json::from_str::<MerkleTree>(r#"{"depth":40,"nodes":[]}"#).is_err());
}

#[test]
fn versions_no_operation_could_make_are_refused_when_read_back() {
    assert!(serde_json::from_str::<VersionVector>(r#"[["a",1],["b",2]]"#).is_ok());
    assert!(serde_json::from_str::<VersionVector>(r#"[["b",1],["a",2]]"#).is_err());
    assert!(serde_json::from_str::<VersionVector>(r#"[["a",0]]"#).is_err());
    let ok = r#"{"clock":[["a",2]],"siblings":[[{"actor":"a","counter":1},"x"],[{"actor":"a","counter":2},"y"]]}"#;
    assert_eq!(
        serde_json::from_str::<DvvSet<String>>(ok)
            .unwrap()
            .siblings()
            .len(),
        2
    );
    let unseen = r#"{"clock":[["a",1]],"siblings":[[{"actor":"a","counter":2},"x"]]}"#;
    assert!(serde_json::from_str::<DvvSet<String>>(unseen).is_err());
    let unsorted = r#"{"clock":[["a",2]],"siblings":[[{"actor":"a","counter":2},"x"],[{"actor":"a","counter":1},"y"]]}"#;
    assert!(serde_json::from_str::<DvvSet<String>>(unsorted).is_err());
}
