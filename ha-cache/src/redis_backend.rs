//! An L2 [`Backend`] over a real Redis server (feature `redis`).

use std::fmt;
use std::marker::PhantomData;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use redis::aio::MultiplexedConnection;
use redis::{FromRedisValue, Script, ToRedisArgs};

use crate::backend::{Backend, BackendError, BackendOp};
use crate::{Error, InsertOptions, MAX_TTL, Result};

/// Where a [`RedisBackend`] keeps its keys.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct RedisConfig {
    /// Prepended to every key; it must not be empty, so pattern invalidation (`SCAN MATCH
    /// prefix*`) can only reach this cache's keys — with no prefix, `invalidate_pattern("*")`
    /// would delete every key of the database. Glob characters in it are escaped in `SCAN`
    /// patterns. Default `"ha-cache:"`.
    pub key_prefix: String,
    /// Prepended to the keys of the cache's tag bookkeeping (a set of member keys per tag, a
    /// set of tags per key). Must not be empty, and neither it nor `key_prefix` may begin the
    /// other, so bookkeeping and cached keys never mix. Default `"ha-cache-tags:"`.
    pub tag_prefix: String,
    /// Keys asked per `SCAN` step in pattern invalidation, and removed per step of a tag
    /// invalidation. Default 500; zero is read as 1.
    pub scan_count: u32,
}

impl Default for RedisConfig {
    fn default() -> Self {
        RedisConfig {
            key_prefix: "ha-cache:".to_string(),
            tag_prefix: "ha-cache-tags:".to_string(),
            scan_count: 500,
        }
    }
}

impl RedisConfig {
    /// Refuses an empty `key_prefix` or `tag_prefix`, and prefixes of which one begins the
    /// other.
    ///
    /// ```
    /// use ha_cache::{Error, RedisConfig};
    ///
    /// assert!(RedisConfig::default().validate().is_ok());
    /// let everything = RedisConfig { key_prefix: String::new(), ..RedisConfig::default() };
    /// assert_eq!(everything.validate().unwrap_err().to_string(), "key_prefix must not be empty");
    /// let mixed = RedisConfig { key_prefix: "app:".into(), tag_prefix: "app:tags:".into(), ..RedisConfig::default() };
    /// assert!(matches!(mixed.validate(), Err(Error::OverlappingPrefixes { .. })));
    /// ```
    pub fn validate(&self) -> Result<()> {
        for (name, prefix) in [
            ("key_prefix", &self.key_prefix),
            ("tag_prefix", &self.tag_prefix),
        ] {
            if prefix.is_empty() {
                return Err(ha_core::Error::Empty { name }.into());
            }
        }
        if self.key_prefix.starts_with(&self.tag_prefix)
            || self.tag_prefix.starts_with(&self.key_prefix)
        {
            return Err(Error::OverlappingPrefixes {
                key_prefix: self.key_prefix.clone(),
                tag_prefix: self.tag_prefix.clone(),
            });
        }
        Ok(())
    }
}

/// Lua shared by the scripts (put where a script says `FORGET`): `forget(key)` takes `key` out
/// of the member sets of its current tags and deletes its tag record. It reads the script's
/// locals `setprefix` and `recprefix`.
const FORGET: &str = r"
local function forget(key)
  local rec = recprefix .. key
  local tags = redis.call('SMEMBERS', rec)
  for _, tag in ipairs(tags) do
    redis.call('SREM', setprefix .. tag, key)
  end
  if #tags > 0 then
    redis.call('DEL', rec)
  end
end
";

/// Writes entries with their tags. KEYS: the data keys. ARGV: TTL in ms (`0`: none), NX
/// (`1`: only keys that hold nothing), the tag-set prefix, the record prefix, the tag count,
/// the tags, then one value per key. Returns how many keys were written.
const SET: &str = r"
local ttl = tonumber(ARGV[1])
local nx = ARGV[2] == '1'
local setprefix, recprefix = ARGV[3], ARGV[4]
local ntags = tonumber(ARGV[5])
FORGET
-- A member set lives as long as its longest-lived member: no expiry once a member has none.
local function outlive(set, existed)
  if ttl == 0 then
    redis.call('PERSIST', set)
  elseif not existed then
    redis.call('PEXPIRE', set, ARGV[1])
  else
    local left = redis.call('PTTL', set)
    if left >= 0 and left < ttl then
      redis.call('PEXPIRE', set, ARGV[1])
    end
  end
end
-- A few members whose key is gone (expired, or deleted behind our back) leave the set.
local function prune(set)
  for _, member in ipairs(redis.call('SRANDMEMBER', set, 3)) do
    if redis.call('EXISTS', member) == 0 then
      redis.call('SREM', set, member)
    end
  end
end
local written = 0
for i, key in ipairs(KEYS) do
  if not (nx and redis.call('EXISTS', key) == 1) then
    forget(key)
    local value = ARGV[5 + ntags + i]
    if ttl > 0 then
      redis.call('SET', key, value, 'PX', ARGV[1])
    else
      redis.call('SET', key, value)
    end
    if ntags > 0 then
      local rec = recprefix .. key
      for t = 1, ntags do
        local tag = ARGV[5 + t]
        local set = setprefix .. tag
        prune(set)
        local existed = redis.call('EXISTS', set) == 1
        redis.call('SADD', set, key)
        redis.call('SADD', rec, tag)
        outlive(set, existed)
      end
      if ttl > 0 then
        redis.call('PEXPIRE', rec, ARGV[1])
      end
    end
    written = written + 1
  end
end
return written
";

/// Removes keys with their tag memberships. KEYS: the data keys. ARGV: the tag-set prefix,
/// the record prefix. Returns how many keys existed.
const REMOVE: &str = r"
local setprefix, recprefix = ARGV[1], ARGV[2]
FORGET
local removed = 0
for _, key in ipairs(KEYS) do
  forget(key)
  removed = removed + redis.call('UNLINK', key)
end
return removed
";

/// Pops up to a batch of a tag's members and removes each with its memberships. KEYS[1]: the
/// tag's member set. ARGV: the tag-set prefix, the record prefix, the batch size. Returns
/// `{keys removed, members popped}`.
const POP_TAG: &str = r"
local setprefix, recprefix = ARGV[1], ARGV[2]
FORGET
local members = redis.call('SPOP', KEYS[1], tonumber(ARGV[3]))
local removed = 0
for _, key in ipairs(members) do
  forget(key)
  removed = removed + redis.call('UNLINK', key)
end
return {removed, #members}
";

/// The Lua scripts, sent by hash (`EVALSHA`, loaded on first use).
struct Scripts {
    set: Script,
    remove: Script,
    pop_tag: Script,
}

impl Scripts {
    fn new() -> Scripts {
        let with_forget = |body: &str| Script::new(&body.replacen("FORGET", FORGET, 1));
        Scripts {
            set: with_forget(SET),
            remove: with_forget(REMOVE),
            pop_tag: with_forget(POP_TAG),
        }
    }
}

/// An L2 over a Redis server, on one async multiplexed connection (cloned per call, as the
/// `redis` crate intends).
///
/// Reads are plain `GET` / `MGET`. Writes, deletes and invalidations are Lua scripts (`EVALSHA`),
/// so each is atomic on the server:
/// - a write (`set`, `set_if_absent` with `SET .. NX` semantics, `set_many` as one script) stores
///   the value with `PX` (TTL in milliseconds), takes the key out of the member sets of the tags
///   it had before, and adds it to the sets of its new tags, recorded in a per-key set of tags;
///   a member set expires with its longest-lived member (a new set gets the member's TTL, an
///   existing one is only ever extended, and one holding a member without TTL does not
///   expire), and each write drops from it a few sampled members whose key is gone;
/// - a delete, and each `SCAN MATCH` batch of a pattern invalidation (never `KEYS`, which
///   blocks the server), unlinks the keys and their tag memberships;
/// - a tag invalidation pops the tag's members in batches (`SPOP`) and unlinks each key and
///   its other memberships, so a key written with the tag meanwhile is either removed or still
///   a member — never left behind unlisted.
///
/// Patterns are ha-cache's dialect ([`KeyPattern`](crate::KeyPattern)), which is Redis's own, so
/// this backend and the L1 remove the same keys. A TTL above [`MAX_TTL`] is stored as
/// [`MAX_TTL`].
///
/// Keys and values go through the `redis` crate's own codec traits: a key is any
/// [`ToRedisArgs`] that encodes to exactly one argument (`String`, `&str`, integers, byte
/// vectors); a value is [`ToRedisArgs`] + [`FromRedisValue`]. Keys are stored under
/// [`RedisConfig::key_prefix`] (which must not be empty), so one server can hold several
/// caches, as long as no prefix begins another. The scripts touch keys they compute (tag sets),
/// so this backend needs a single Redis server (with replicas if wanted), not Redis Cluster.
///
/// ```no_run
/// use ha_cache::{Backend, InsertOptions, RedisBackend, RedisConfig};
///
/// # async fn run() -> Result<(), ha_cache::BackendError> {
/// let config = RedisConfig { key_prefix: "users:".into(), ..RedisConfig::default() };
/// let l2: RedisBackend<String, String> =
///     RedisBackend::connect("redis://127.0.0.1:6379", config).await?;
/// let ttl = InsertOptions::new().ttl(std::time::Duration::from_secs(60)).tag("team:red");
/// l2.set(&"user:1".to_string(), &"ada".to_string(), &ttl).await?;
/// assert_eq!(l2.get(&"user:1".to_string()).await?.as_deref(), Some("ada"));
/// assert_eq!(l2.invalidate_tag("team:red").await?, 1);
/// # Ok(())
/// # }
/// ```
pub struct RedisBackend<K, V> {
    connection: MultiplexedConnection,
    config: RedisConfig,
    scripts: Arc<Scripts>,
    _types: PhantomData<fn(K, V) -> V>,
}

impl<K, V> Clone for RedisBackend<K, V> {
    fn clone(&self) -> Self {
        RedisBackend {
            connection: self.connection.clone(),
            config: self.config.clone(),
            scripts: Arc::clone(&self.scripts),
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

/// A script's answer of an unexpected shape.
#[derive(Debug, thiserror::Error)]
#[error("unexpected answer from a redis script: {0}")]
struct ScriptAnswer(String);

impl<K, V> RedisBackend<K, V> {
    /// A backend on an open connection; refuses a config that does not
    /// [validate](RedisConfig::validate).
    pub fn new(
        connection: MultiplexedConnection,
        config: RedisConfig,
    ) -> Result<RedisBackend<K, V>> {
        config.validate()?;
        Ok(RedisBackend {
            connection,
            config,
            scripts: Arc::new(Scripts::new()),
            _types: PhantomData,
        })
    }

    /// Opens a multiplexed connection to `url` (`redis://host:port/db`). A config that does
    /// not [validate](RedisConfig::validate) is refused first, with [`BackendOp::Config`] and
    /// the [`Error`](crate::Error) as the source.
    pub async fn connect(
        url: &str,
        config: RedisConfig,
    ) -> Result<RedisBackend<K, V>, BackendError> {
        config
            .validate()
            .map_err(|err| BackendError::new(BackendOp::Config, err))?;
        let client =
            redis::Client::open(url).map_err(|err| BackendError::new(BackendOp::Connect, err))?;
        let connection = client
            .get_multiplexed_async_connection()
            .await
            .map_err(|err| BackendError::new(BackendOp::Connect, err))?;
        tracing::debug!(url, prefix = %config.key_prefix, "redis backend connected");
        RedisBackend::new(connection, config)
            .map_err(|err| BackendError::new(BackendOp::Config, err))
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

    /// The prefix of a tag's member set (the tag's name follows).
    fn set_prefix(&self) -> String {
        format!("{}s:{}", self.config.tag_prefix, self.config.key_prefix)
    }

    /// The prefix of a key's tag record (the full data key follows).
    fn record_prefix(&self) -> String {
        format!("{}k:", self.config.tag_prefix)
    }

    fn batch(&self) -> u32 {
        self.config.scan_count.max(1)
    }

    /// Runs the write script for `entries`; how many it wrote.
    async fn write(
        &self,
        entries: &[(Vec<u8>, &V)],
        options: &InsertOptions,
        only_if_absent: bool,
    ) -> Result<u64, BackendError>
    where
        V: ToRedisArgs + Sync,
    {
        let mut call = self.scripts.set.prepare_invoke();
        for (key, _) in entries {
            call.key(key);
        }
        call.arg(options.ttl.map_or(0, millis))
            .arg(u8::from(only_if_absent))
            .arg(self.set_prefix())
            .arg(self.record_prefix())
            .arg(options.tags.len());
        for tag in &options.tags {
            call.arg(tag.as_bytes());
        }
        for (_, value) in entries {
            call.arg(*value);
        }
        call.invoke_async(&mut self.connection.clone())
            .await
            .map_err(|err| BackendError::new(BackendOp::Set, err))
    }

    /// Runs the removal script for `keys`; how many existed.
    async fn remove(&self, keys: &[Vec<u8>], op: BackendOp) -> Result<u64, BackendError> {
        if keys.is_empty() {
            return Ok(0);
        }
        let mut call = self.scripts.remove.prepare_invoke();
        for key in keys {
            call.key(key);
        }
        call.arg(self.set_prefix()).arg(self.record_prefix());
        call.invoke_async(&mut self.connection.clone())
            .await
            .map_err(|err| BackendError::new(op, err))
    }
}

/// A TTL in whole milliseconds for `PX`: at least 1 (Redis refuses `PX 0`), at most
/// [`MAX_TTL`] (Redis refuses a deadline past its 64-bit clock).
fn millis(ttl: Duration) -> u64 {
    let ms = |d: Duration| u64::try_from(d.as_millis()).unwrap_or(u64::MAX);
    ms(ttl).clamp(1, ms(MAX_TTL))
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
        self.write(&[(key, value)], options, false).await?;
        Ok(())
    }

    async fn set_if_absent(
        &self,
        key: &K,
        value: &V,
        options: &InsertOptions,
    ) -> Result<bool, BackendError> {
        let key = self.key_bytes(key)?;
        Ok(self.write(&[(key, value)], options, true).await? == 1)
    }

    async fn delete(&self, key: &K) -> Result<bool, BackendError> {
        let key = self.key_bytes(key)?;
        Ok(self.remove(&[key], BackendOp::Delete).await? > 0)
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
        let encoded = entries
            .iter()
            .map(|(key, value)| Ok((self.key_bytes(key)?, value)))
            .collect::<Result<Vec<_>, BackendError>>()?;
        self.write(&encoded, options, false).await?;
        Ok(())
    }

    async fn invalidate_pattern(&self, pattern: &str) -> Result<u64, BackendError> {
        let op = BackendOp::InvalidatePattern;
        crate::KeyPattern::new(pattern).map_err(|err| BackendError::new(op, err))?;
        let full = format!("{}{pattern}", escape_glob(&self.config.key_prefix));
        let bookkeeping = self.config.tag_prefix.as_bytes();
        let mut cursor: u64 = 0;
        let mut removed = 0;
        loop {
            let (next, mut keys): (u64, Vec<Vec<u8>>) = redis::cmd("SCAN")
                .arg(cursor)
                .arg("MATCH")
                .arg(&full)
                .arg("COUNT")
                .arg(self.batch())
                .query_async(&mut self.connection.clone())
                .await
                .map_err(|err| BackendError::new(op, err))?;
            // The prefixes are validated apart; a bookkeeping key is never a cached one.
            keys.retain(|key| !key.starts_with(bookkeeping));
            removed += self.remove(&keys, op).await?;
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
        let set = format!("{}{tag}", self.set_prefix());
        let batch = self.batch();
        let mut removed = 0;
        loop {
            let answer: Vec<u64> = self
                .scripts
                .pop_tag
                .key(&set)
                .arg(self.set_prefix())
                .arg(self.record_prefix())
                .arg(batch)
                .invoke_async(&mut self.connection.clone())
                .await
                .map_err(|err| BackendError::new(op, err))?;
            let [gone, popped] = answer[..] else {
                return Err(BackendError::new(op, ScriptAnswer(format!("{answer:?}"))));
            };
            removed += gone;
            if popped < u64::from(batch) {
                break;
            }
        }
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
    fn ttls_are_whole_milliseconds_of_at_least_one_and_at_most_max_ttl() {
        assert_eq!(millis(Duration::from_micros(10)), 1);
        assert_eq!(millis(Duration::from_millis(1500)), 1500);
        assert_eq!(millis(Duration::MAX), MAX_TTL.as_millis() as u64);
    }
}
