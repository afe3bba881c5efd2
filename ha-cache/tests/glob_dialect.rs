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

/// A direct port of Redis's `stringmatchlen` (util.c, case-sensitive), as the reference.
fn redis_match(pattern: &[u8], string: &[u8]) -> bool {
    let (mut p, mut s) = (0usize, 0usize);
    let plen = pattern.len();
    let slen = string.len();
    while p < plen && s < slen {
        match pattern[p] {
            b'*' => {
                while p + 1 < plen && pattern[p + 1] == b'*' {
                    p += 1;
                }
                if p + 1 == plen {
                    return true;
                }
                while s < slen {
                    if redis_match(&pattern[p + 1..], &string[s..]) {
                        return true;
                    }
                    s += 1;
                }
                return false;
            }
            b'?' => s += 1,
            b'[' => {
                p += 1;
                let not = p < plen && pattern[p] == b'^';
                if not {
                    p += 1;
                }
                let mut matched = false;
                loop {
                    if p < plen && pattern[p] == b'\\' && plen - p >= 2 {
                        p += 1;
                        if pattern[p] == string[s] {
                            matched = true;
                        }
                    } else if p < plen && pattern[p] == b']' {
                        break;
                    } else if p >= plen {
                        p -= 1;
                        break;
                    } else if plen - p >= 3 && pattern[p + 1] == b'-' {
                        let (mut lo, mut hi) = (pattern[p], pattern[p + 2]);
                        if lo > hi {
                            std::mem::swap(&mut lo, &mut hi);
                        }
                        p += 2;
                        if string[s] >= lo && string[s] <= hi {
                            matched = true;
                        }
                    } else if pattern[p] == string[s] {
                        matched = true;
                    }
                    p += 1;
                }
                if not {
                    matched = !matched;
                }
                if !matched {
                    return false;
                }
                s += 1;
            }
            b'\\' if plen - p >= 2 => {
                p += 1;
                if pattern[p] != string[s] {
                    return false;
                }
                s += 1;
            }
            c => {
                if c != string[s] {
                    return false;
                }
                s += 1;
            }
        }
        p += 1;
        if s == slen {
            while p < plen && pattern[p] == b'*' {
                p += 1;
            }
            break;
        }
    }
    p == plen && s == slen
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(4_000))]

    #[test]
    fn every_accepted_pattern_matches_exactly_as_redis_stringmatchlen_does(
        pattern in "[ab!^\\-\\[\\]\\\\*?]{0,8}",
        key in "[ab!^\\-\\[\\]\\\\*]{1,6}",
    ) {
        if let Ok(compiled) = KeyPattern::new(&pattern) {
            // Keys start with one byte of prefix, as every Redis key of ours does; Redis never
            // sees an empty key under a prefix.
            let redis = redis_match(format!("p{pattern}").as_bytes(), format!("p{key}").as_bytes());
            proptest::prop_assert_eq!(compiled.matches(&key), redis, "pattern {:?} key {:?}", pattern, key);
        }
    }
}
