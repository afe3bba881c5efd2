//! Glob patterns over string-like keys, for [`Cache::invalidate_pattern`](crate::Cache::invalidate_pattern).
//!
//! Matching is the well-kept `glob` crate's [`glob::Pattern`], with every character treated alike
//! (`/` and a leading `.` are ordinary, as in Redis `KEYS` / `SCAN MATCH`): `?` matches one
//! character, `*` any run of characters, `[abc]` / `[a-z]` one character of a set, `[!abc]` one
//! character outside it; `[*]` matches a literal `*`. Matching is case-sensitive.

use crate::{Error, Result};

/// A compiled glob pattern.
///
/// ```
/// use ha_cache::KeyPattern;
///
/// let pattern = KeyPattern::new("user:*:profile")?;
/// assert!(pattern.matches("user:42:profile"));
/// assert!(!pattern.matches("user:42:orders"));
/// assert!(KeyPattern::new("user:[").is_err());
/// # Ok::<(), ha_cache::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyPattern {
    pattern: glob::Pattern,
}

const OPTIONS: glob::MatchOptions = glob::MatchOptions {
    case_sensitive: true,
    require_literal_separator: false,
    require_literal_leading_dot: false,
};

impl KeyPattern {
    /// Compiles `pattern`, or says where it is malformed.
    pub fn new(pattern: &str) -> Result<KeyPattern> {
        glob::Pattern::new(pattern)
            .map(|pattern| KeyPattern { pattern })
            .map_err(|err| Error::InvalidPattern {
                pattern: pattern.to_owned(),
                position: err.pos,
                reason: err.msg,
            })
    }

    /// Whether `key` matches the whole pattern.
    #[must_use]
    pub fn matches(&self, key: &str) -> bool {
        self.pattern.matches_with(key, OPTIONS)
    }

    /// The pattern as given.
    #[must_use]
    pub fn as_str(&self) -> &str {
        self.pattern.as_str()
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
    }

    #[test]
    fn classes_and_question_marks() {
        let p = KeyPattern::new("k?[0-9][!x]").unwrap();
        assert!(p.matches("ka5y"));
        assert!(!p.matches("ka5x"));
        assert!(!p.matches("kab5"));
    }

    #[test]
    fn malformed_patterns_are_typed_errors() {
        for bad in ["[", "a[b", "***"] {
            let err = KeyPattern::new(bad).unwrap_err();
            assert!(matches!(err, Error::InvalidPattern { .. }), "{bad}: {err}");
        }
    }
}
