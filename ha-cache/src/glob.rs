//! Glob patterns over string-like keys, for [`Cache::invalidate_pattern`](crate::Cache::invalidate_pattern)
//! and the L2 backends' pattern invalidation.
//!
//! The dialect is Redis's `MATCH`; [`KeyPattern`] documents it.

use crate::{Error, Result};

/// A compiled glob pattern in ha-cache's one pattern dialect, Redis's.
///
/// # The dialect: Redis's `MATCH`
///
/// ha-cache has one pattern dialect, and it is Redis's (`stringmatchlen` in Redis's `util.c`,
/// used by `KEYS`, `SCAN MATCH` and `PSUBSCRIBE`), because a tiered cache sends the same
/// pattern to its L1 and to a Redis L2 and both must remove the same keys. Matching is over the
/// key's **bytes** (as Redis sees them), case-sensitive, and the whole key must match:
///
/// | pattern | matches |
/// |---|---|
/// | `?` | any one byte |
/// | `*` | any run of bytes, empty included (`/` and `.` are ordinary) |
/// | `[abc]`, `[a-z]` | one byte of the set; a range may be written high-low (`[z-a]`) |
/// | `[^abc]` | one byte outside the set |
/// | `[!abc]` | one of `!`, `a`, `b`, `c` — `!` is **not** a negation (as in Redis; the shell's and the `glob` crate's `[!x]` is written `[^x]` here) |
/// | `\x` | the byte `x` literally (`\*`, `\?`, `\[`, `\\`), also inside a set (`[\]]`) |
/// | anything else | itself |
///
/// Some patterns Redis reads in a surprising or platform-dependent way are refused with
/// [`Error::InvalidPattern`] instead, so a refused pattern never reaches Redis and every
/// accepted one means the same on both sides:
/// - a `[` without its closing `]` (Redis reads `[ab` as `[ab]`), and an empty set `[]` / `[^]`
///   (Redis reads `[]` as matching nothing and `[]a]` as `[]` then `a]`);
/// - a `\` at the end of the pattern (Redis reads it as a literal `\`);
/// - a range ending in `]` or `\` (`[a-]`: Redis reads `a`–`]` and runs on), or with a
///   non-ASCII end (Redis compares C `char`s, signed on some platforms and not on others);
/// - more than [`MAX_STARS`](KeyPattern::MAX_STARS) runs of `*` (Redis gives up on patterns
///   nested deeper than 1,000 and answers "no match").
///
/// Matching takes at worst time proportional to the key's length times the pattern's (the
/// classic backtrack-to-the-last-star walk), so no pattern makes it exponential.
///
/// ```
/// use ha_cache::KeyPattern;
///
/// let pattern = KeyPattern::new("user:*:profile")?;
/// assert!(pattern.matches("user:42:profile"));
/// assert!(!pattern.matches("user:42:orders"));
/// assert!(KeyPattern::new("user:[^0]*")?.matches("user:1"));
/// assert!(KeyPattern::new("user:[!0]")?.matches("user:!")); // `!` is literal, as in Redis
/// assert!(KeyPattern::new(r"a\*")?.matches("a*"));
/// assert!(KeyPattern::new("user:[").is_err());
/// # Ok::<(), ha_cache::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyPattern {
    source: String,
    tokens: Vec<Token>,
}

/// One element of a compiled pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Token {
    /// This byte.
    Byte(u8),
    /// Any one byte.
    Any,
    /// Any run of bytes (consecutive `*` are one).
    Star,
    /// One byte in (or, negated, outside) the set.
    Set {
        negated: bool,
        /// Inclusive byte ranges; a single byte is a range of one.
        ranges: Vec<(u8, u8)>,
    },
}

impl Token {
    fn accepts(&self, byte: u8) -> bool {
        match self {
            Token::Byte(b) => *b == byte,
            Token::Any => true,
            Token::Star => false,
            Token::Set { negated, ranges } => {
                ranges.iter().any(|&(lo, hi)| lo <= byte && byte <= hi) != *negated
            }
        }
    }
}

impl KeyPattern {
    /// The most runs of `*` a pattern may hold.
    pub const MAX_STARS: usize = 256;

    /// Compiles `pattern`, or says where it is malformed.
    pub fn new(pattern: &str) -> Result<KeyPattern> {
        let bytes = pattern.as_bytes();
        let fail = |position: usize, reason: &'static str| Error::InvalidPattern {
            pattern: pattern.to_owned(),
            position,
            reason,
        };
        let mut tokens = Vec::new();
        let mut stars = 0;
        let mut i = 0;
        while let Some(&b) = bytes.get(i) {
            match b {
                b'*' => {
                    if tokens.last() != Some(&Token::Star) {
                        stars += 1;
                        if stars > Self::MAX_STARS {
                            return Err(fail(i, "more than 256 runs of `*`"));
                        }
                        tokens.push(Token::Star);
                    }
                    i += 1;
                }
                b'?' => {
                    tokens.push(Token::Any);
                    i += 1;
                }
                b'\\' => {
                    let Some(&escaped) = bytes.get(i + 1) else {
                        return Err(fail(i, "a `\\` at the end escapes nothing"));
                    };
                    tokens.push(Token::Byte(escaped));
                    i += 2;
                }
                b'[' => {
                    let (token, next) = Self::set(bytes, i, &fail)?;
                    tokens.push(token);
                    i = next;
                }
                other => {
                    tokens.push(Token::Byte(other));
                    i += 1;
                }
            }
        }
        Ok(KeyPattern {
            source: pattern.to_owned(),
            tokens,
        })
    }

    /// Parses the set opening at `bytes[open]`; returns it and the index after its `]`.
    fn set(
        bytes: &[u8],
        open: usize,
        fail: &impl Fn(usize, &'static str) -> Error,
    ) -> Result<(Token, usize)> {
        let mut i = open + 1;
        let negated = bytes.get(i) == Some(&b'^');
        if negated {
            i += 1;
        }
        let mut ranges = Vec::new();
        loop {
            let Some(&b) = bytes.get(i) else {
                return Err(fail(open, "a `[` without its closing `]`"));
            };
            match b {
                b']' if ranges.is_empty() => {
                    return Err(fail(open, "an empty set `[]` matches nothing"));
                }
                b']' => return Ok((Token::Set { negated, ranges }, i + 1)),
                b'\\' => {
                    // An escaped byte is itself, and never starts a range (as in Redis).
                    let Some(&escaped) = bytes.get(i + 1) else {
                        return Err(fail(open, "a `[` without its closing `]`"));
                    };
                    ranges.push((escaped, escaped));
                    i += 2;
                }
                lo if bytes.get(i + 1) == Some(&b'-') && i + 2 < bytes.len() => {
                    let hi = bytes[i + 2];
                    if hi == b']' || hi == b'\\' {
                        return Err(fail(i, "a range may not end in `]` or `\\`"));
                    }
                    if !lo.is_ascii() || !hi.is_ascii() {
                        return Err(fail(i, "a range's ends must be ASCII"));
                    }
                    ranges.push((lo.min(hi), lo.max(hi)));
                    i += 3;
                }
                single => {
                    ranges.push((single, single));
                    i += 1;
                }
            }
        }
    }

    /// Whether `key`'s bytes match the whole pattern.
    #[must_use]
    pub fn matches(&self, key: &str) -> bool {
        self.matches_bytes(key.as_bytes())
    }

    /// Whether `key` matches the whole pattern.
    #[must_use]
    pub fn matches_bytes(&self, key: &[u8]) -> bool {
        let tokens = &self.tokens;
        let (mut t, mut k) = (0, 0);
        // The last `*` seen and the key position it was tried at: on a mismatch, that star
        // takes one more byte and matching resumes after it.
        let mut star: Option<(usize, usize)> = None;
        loop {
            match tokens.get(t) {
                Some(Token::Star) => {
                    star = Some((t, k));
                    t += 1;
                    continue;
                }
                Some(token) if key.get(k).is_some_and(|&b| token.accepts(b)) => {
                    t += 1;
                    k += 1;
                    continue;
                }
                None if k == key.len() => return true,
                _ => {}
            }
            match star {
                Some((star_t, star_k)) if star_k < key.len() => {
                    star = Some((star_t, star_k + 1));
                    t = star_t + 1;
                    k = star_k + 1;
                }
                _ => return false,
            }
        }
    }

    /// The pattern as given.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.source
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn star_crosses_separators_and_dots() {
        let p = KeyPattern::new("a*z").unwrap();
        assert!(p.matches("a/b/.c/z"));
        assert!(p.matches("az"));
        assert!(!p.matches("za"));
        assert!(KeyPattern::new("***").unwrap().matches(""));
    }

    #[test]
    fn classes_and_question_marks() {
        let p = KeyPattern::new("k?[0-9][^x]").unwrap();
        assert!(p.matches("ka5y"));
        assert!(!p.matches("ka5x"));
        assert!(!p.matches("kab5"));
    }

    #[test]
    fn a_bang_in_a_set_is_literal_as_in_redis() {
        let p = KeyPattern::new("[!x]").unwrap();
        assert!(p.matches("!"));
        assert!(p.matches("x"));
        assert!(!p.matches("y"));
    }

    #[test]
    fn malformed_patterns_are_typed_errors() {
        for bad in [
            "[", "a[b", "[]", "[^]", "a\\", "[a-]", "[a-\\b]", "[\\", "[a-é]",
        ] {
            let err = KeyPattern::new(bad).unwrap_err();
            assert!(matches!(err, Error::InvalidPattern { .. }), "{bad}: {err}");
        }
        let many = "*a".repeat(KeyPattern::MAX_STARS + 1);
        assert!(KeyPattern::new(&many).is_err());
        assert!(KeyPattern::new(&"*a".repeat(KeyPattern::MAX_STARS)).is_ok());
    }

    #[test]
    fn matching_many_stars_against_a_long_key_stays_fast() {
        let p = KeyPattern::new(&format!("{}b", "*a".repeat(50))).unwrap();
        assert!(!p.matches(&"a".repeat(10_000)));
    }
}
