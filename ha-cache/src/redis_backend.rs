//! An L2 [`Backend`] over a real Redis server (feature `redis`).

use std::fmt;
use std::marker::PhantomData;
use std::time::Duration;

use async_trait::async_trait;
use redis::aio::MultiplexedConnection;
use redis::{FromRedisValue, ToRedisArgs};

use crate::InsertOptions;
use crate::backend::{Backend, BackendError, BackendOp};

/// Where a [`RedisBackend`] keeps its keys.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct RedisConfig {
    /// Prepended to every key (glob characters in it are escaped in `SCAN` patterns). Default
    /// empty.
    pub key_prefix: String,
    /// Prepended to a tag's name to make the key of its member set. Default `"ha-cache:tag:"`.
    pub tag_prefix: String,
    /// Keys asked per `SCAN` step in pattern invalidation. Default 500; zero is read as 1.
    pub scan_count: u32,
}

impl Default for RedisConfig {
    fn default() -> Self {
        RedisConfig {
            key_prefix: String::new(),
            tag_prefix: "ha-cache:tag:".to_string(),
            scan_count: 500,
        }
    }
}

/// An L2 over a Redis server, on one async multiplexed connection (cloned per call, as the
/// `redis` crate intends).
///
/// Commands: `GET`, `SET key value PX ms` (TTL in milliseconds), `MGET`, a pipelined
/// `MULTI` / `SET .. PX` / `EXEC` for `set_many` (Redis's `MSET` takes no TTL), `DEL`, and
/// `SCAN MATCH` + `UNLINK` in batches for pattern invalidation (never `KEYS`, which blocks the
/// server). Tag membership is a Redis set per tag (`SADD`), given the longest TTL of its members
/// (`PEXPIRE .. GT`, Redis ≥ 7) so sets of expired keys do not pile up; `invalidate_tag` unlinks
/// the members and the set.
///
/// Keys and values go through the `redis` crate's own codec traits: a key is any
/// [`ToRedisArgs`] that encodes to exactly one argument (`String`, `&str`, integers, byte
/// vectors); a value is [`ToRedisArgs`] + [`FromRedisValue`]. Keys are stored under
/// [`RedisConfig::key_prefix`], so one server can hold several caches.
///
/// ```no_run
/// use ha_cache::{Backend, InsertOptions, RedisBackend, RedisConfig};
///
/// # async fn run() -> Result<(), ha_cache::BackendError> {
/// let l2: RedisBackend<String, String> =
///     RedisBackend::connect("redis://127.0.0.1:6379", RedisConfig::default()).await?;
/// let ttl = InsertOptions::new().ttl(std::time::Duration::from_secs(60));
/// l2.set(&"user:1".to_string(), &"ada".to_string(), &ttl).await?;
/// assert_eq!(l2.get(&"user:1".to_string()).await?.as_deref(), Some("ada"));
/// # Ok(())
/// # }
/// ```
pub struct RedisBackend<K, V> {
    connection: MultiplexedConnection,
    config: RedisConfig,
    _types: PhantomData<fn(K, V) -> V>,
}

impl<K, V> Clone for RedisBackend<K, V> {
    fn clone(&self) -> Self {
        RedisBackend {
            connection: self.connection.clone(),
            config: self.config.clone(),
            _types: PhantomData,
        }
    }
}

impl<K, V> fmt::Debug for RedisBackend<K, V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisBackend")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

/// A key that does not encode to exactly one Redis argument.
#[derive(Debug, thiserror::Error)]
#[error("a key must encode to exactly one redis argument, got {0}")]
struct KeyArity(usize);

impl<K, V> RedisBackend<K, V> {
    /// A backend on an open connection.
    #[must_use]
    pub fn new(connection: MultiplexedConnection, config: RedisConfig) -> RedisBackend<K, V> {
        RedisBackend {
            connection,
            config,
            _types: PhantomData,
        }
    }

    /// Opens a multiplexed connection to `url` (`redis://host:port/db`).
    pub async fn connect(
        url: &str,
        config: RedisConfig,
    ) -> Result<RedisBackend<K, V>, BackendError> {
        let client =
            redis::Client::open(url).map_err(|err| BackendError::new(BackendOp::Connect, err))?;
        let connection = client
            .get_multiplexed_async_connection()
            .await
            .map_err(|err| BackendError::new(BackendOp::Connect, err))?;
        tracing::debug!(url, prefix = %config.key_prefix, "redis backend connected");
        Ok(RedisBackend::new(connection, config))
    }

    /// The settings.
    #[must_use]
    pub fn config(&self) -> &RedisConfig {
        &self.config
    }

    fn key_bytes(&self, key: &impl ToRedisArgs) -> Result<Vec<u8>, BackendError> {
        let mut args = key.to_redis_args();
        if args.len() != 1 {
            return Err(BackendError::new(BackendOp::Codec, KeyArity(args.len())));
        }
        let mut bytes = self.config.key_prefix.as_bytes().to_vec();
        bytes.append(&mut args[0]);
        Ok(bytes)
    }

    fn tag_key(&self, tag: &str) -> String {
        format!("{}{tag}", self.config.tag_prefix)
    }

    /// Appends the commands storing one entry to `pipe`.
    fn push_set(
        &self,
        pipe: &mut redis::Pipeline,
        key: Vec<u8>,
        value: &impl ToRedisArgs,
        options: &InsertOptions,
    ) {
        let set = pipe.cmd("SET").arg(&key).arg(value);
        if let Some(ttl) = options.ttl {
            set.arg("PX").arg(millis(ttl));
        }
        set.ignore();
        for tag in &options.tags {
            let tag_key = self.tag_key(tag);
            pipe.cmd("SADD").arg(&tag_key).arg(&key).ignore();
            match options.ttl {
                Some(ttl) => pipe
                    .cmd("PEXPIRE")
                    .arg(&tag_key)
                    .arg(millis(ttl))
                    .arg("GT")
                    .ignore(),
                // A member without TTL: the set must not expire.
                None => pipe.cmd("PERSIST").arg(&tag_key).ignore(),
            };
        }
    }

    async fn unlink(&self, keys: &[Vec<u8>], op: BackendOp) -> Result<u64, BackendError> {
        if keys.is_empty() {
            return Ok(0);
        }
        redis::cmd("UNLINK")
            .arg(keys)
            .query_async(&mut self.connection.clone())
            .await
            .map_err(|err| BackendError::new(op, err))
    }
}

/// A TTL in whole milliseconds, at least 1 (Redis refuses `PX 0`) and at most Redis's signed
/// 64-bit limit.
fn millis(ttl: Duration) -> u64 {
    const MAX: u64 = i64::MAX as u64;
    u64::try_from(ttl.as_millis()).unwrap_or(MAX).clamp(1, MAX)
}

/// `text` with Redis glob characters escaped.
fn escape_glob(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '*' | '?' | '[' | ']' | '\\') {
            escaped.push('\\');
        }
        escaped.push(c);
    }
    escaped
}

#[async_trait]
impl<K, V> Backend<K, V> for RedisBackend<K, V>
where
    K: ToRedisArgs + Send + Sync + 'static,
    V: ToRedisArgs + FromRedisValue + Send + Sync + 'static,
{
    async fn get(&self, key: &K) -> Result<Option<V>, BackendError> {
        let key = self.key_bytes(key)?;
        redis::cmd("GET")
            .arg(key)
            .query_async(&mut self.connection.clone())
            .await
            .map_err(|err| BackendError::new(BackendOp::Get, err))
    }

    async fn set(&self, key: &K, value: &V, options: &InsertOptions) -> Result<(), BackendError> {
        let key = self.key_bytes(key)?;
        let mut pipe = redis::pipe();
        pipe.atomic();
        self.push_set(&mut pipe, key, value, options);
        pipe.query_async::<()>(&mut self.connection.clone())
            .await
            .map_err(|err| BackendError::new(BackendOp::Set, err))
    }

    async fn set_if_absent(
        &self,
        key: &K,
        value: &V,
        options: &InsertOptions,
    ) -> Result<bool, BackendError> {
        let key = self.key_bytes(key)?;
        let mut set = redis::cmd("SET");
        set.arg(&key).arg(value).arg("NX");
        if let Some(ttl) = options.ttl {
            set.arg("PX").arg(millis(ttl));
        }
        let stored: Option<String> = set
            .query_async(&mut self.connection.clone())
            .await
            .map_err(|err| BackendError::new(BackendOp::Set, err))?;
        if stored.is_some() && !options.tags.is_empty() {
            let mut pipe = redis::pipe();
            for tag in &options.tags {
                pipe.cmd("SADD").arg(self.tag_key(tag)).arg(&key).ignore();
            }
            pipe.query_async::<()>(&mut self.connection.clone())
                .await
                .map_err(|err| BackendError::new(BackendOp::Set, err))?;
        }
        Ok(stored.is_some())
    }

    async fn delete(&self, key: &K) -> Result<bool, BackendError> {
        let key = self.key_bytes(key)?;
        let removed: u64 = redis::cmd("DEL")
            .arg(key)
            .query_async(&mut self.connection.clone())
            .await
            .map_err(|err| BackendError::new(BackendOp::Delete, err))?;
        Ok(removed > 0)
    }

    async fn get_many(&self, keys: &[K]) -> Result<Vec<Option<V>>, BackendError> {
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        let encoded = keys
            .iter()
            .map(|key| self.key_bytes(key))
            .collect::<Result<Vec<_>, _>>()?;
        redis::cmd("MGET")
            .arg(encoded)
            .query_async(&mut self.connection.clone())
            .await
            .map_err(|err| BackendError::new(BackendOp::Get, err))
    }

    async fn set_many(
        &self,
        entries: &[(K, V)],
        options: &InsertOptions,
    ) -> Result<(), BackendError> {
        if entries.is_empty() {
            return Ok(());
        }
        let mut pipe = redis::pipe();
        pipe.atomic();
        for (key, value) in entries {
            let key = self.key_bytes(key)?;
            self.push_set(&mut pipe, key, value, options);
        }
        pipe.query_async::<()>(&mut self.connection.clone())
            .await
            .map_err(|err| BackendError::new(BackendOp::Set, err))
    }

    async fn invalidate_pattern(&self, pattern: &str) -> Result<u64, BackendError> {
        let op = BackendOp::InvalidatePattern;
        crate::KeyPattern::new(pattern).map_err(|err| BackendError::new(op, err))?;
        let full = format!("{}{pattern}", escape_glob(&self.config.key_prefix));
        let mut cursor: u64 = 0;
        let mut removed = 0;
        loop {
            let (next, keys): (u64, Vec<Vec<u8>>) = redis::cmd("SCAN")
                .arg(cursor)
                .arg("MATCH")
                .arg(&full)
                .arg("COUNT")
                .arg(self.config.scan_count.max(1))
                .query_async(&mut self.connection.clone())
                .await
                .map_err(|err| BackendError::new(op, err))?;
            removed += self.unlink(&keys, op).await?;
            if next == 0 {
                break;
            }
            cursor = next;
        }
        tracing::debug!(pattern = %full, removed, "redis pattern invalidation");
        Ok(removed)
    }

    async fn invalidate_tag(&self, tag: &str) -> Result<u64, BackendError> {
        let op = BackendOp::InvalidateTag;
        let tag_key = self.tag_key(tag);
        let members: Vec<Vec<u8>> = redis::cmd("SMEMBERS")
            .arg(&tag_key)
            .query_async(&mut self.connection.clone())
            .await
            .map_err(|err| BackendError::new(op, err))?;
        let mut removed = 0;
        for chunk in members.chunks(500) {
            removed += self.unlink(chunk, op).await?;
        }
        self.unlink(&[tag_key.into_bytes()], op).await?;
        tracing::debug!(tag, removed, "redis tag invalidation");
        Ok(removed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn glob_characters_in_a_prefix_are_escaped() {
        assert_eq!(escape_glob("app:[1]*?\\"), "app:\\[1\\]\\*\\?\\\\");
        assert_eq!(escape_glob("plain:"), "plain:");
    }

    #[test]
    fn ttls_are_whole_milliseconds_of_at_least_one() {
        assert_eq!(millis(Duration::from_micros(10)), 1);
        assert_eq!(millis(Duration::from_millis(1500)), 1500);
    }
}
