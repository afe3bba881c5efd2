//! ha-cache's one pattern dialect (Redis's `MATCH`), on the shared table of patterns: the
//! compiled `KeyPattern`, the in-process `Cache` and the memory L2 remove exactly the keys the
//! table says (tests/redis_backend.rs runs the same table against a real Redis server).
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "common/glob_table.rs"]
mod glob_table;

use futures::executor::block_on;
use ha_cache::{Backend, Cache, Error, InsertOptions, KeyPattern, MemoryBackend};

#[test]
fn key_patterns_follow_the_table() {
    for &(pattern, hits, misses) in glob_table::TABLE {
        let compiled = KeyPattern::new(pattern).unwrap();
        for key in hits {
            assert!(compiled.matches(key), "{pattern:?} must match {key:?}");
        }
        for key in misses {
            assert!(!compiled.matches(key), "{pattern:?} must not match {key:?}");
        }
    }
    for pattern in glob_table::REFUSED {
        let err = KeyPattern::new(pattern).unwrap_err();
        assert!(matches!(err, Error::InvalidPattern { .. }), "{pattern:?}");
    }
}

#[test]
fn cache_pattern_invalidation_removes_exactly_the_table_keys() {
    for &(pattern, hits, misses) in glob_table::TABLE {
        let cache: Cache<String, u32> = Cache::builder(1_000).build().unwrap();
        for key in hits.iter().chain(misses) {
            cache.insert((*key).to_string(), 1);
        }
        assert_eq!(
            cache.invalidate_pattern(pattern).unwrap(),
            hits.len() as u64,
            "{pattern:?}"
        );
        for key in hits {
            assert!(!cache.contains(*key), "{pattern:?} left {key:?}");
        }
        for key in misses {
            assert!(cache.contains(*key), "{pattern:?} removed {key:?}");
        }
    }
    let cache: Cache<String, u32> = Cache::builder(10).build().unwrap();
    cache.insert("k[".into(), 1);
    for pattern in glob_table::REFUSED {
        assert!(cache.invalidate_pattern(pattern).is_err(), "{pattern:?}");
    }
    assert_eq!(cache.len(), 1);
}

#[test]
fn memory_backend_pattern_invalidation_removes_exactly_the_table_keys() {
    block_on(async {
        for &(pattern, hits, misses) in glob_table::TABLE {
            let l2: MemoryBackend<String, u32> = MemoryBackend::new();
            for key in hits.iter().chain(misses) {
                l2.set(&(*key).to_string(), &1, &InsertOptions::new())
                    .await
                    .unwrap();
            }
            assert_eq!(
                l2.invalidate_pattern(pattern).await.unwrap(),
                hits.len() as u64,
                "{pattern:?}"
            );
            for key in misses {
                assert!(l2.get(&(*key).to_string()).await.unwrap().is_some());
            }
        }
    });
}
