//! One table of glob patterns, with keys each must and must not match, run against L1
//! (`KeyPattern`, `Cache`), the memory L2 and a real Redis server: ha-cache's dialect is Redis's
//! `MATCH`, and every level must remove the same keys.

/// `(pattern, keys it matches, keys it does not)`.
pub(crate) const TABLE: &[(&str, &[&str], &[&str])] = &[
    (
        "user:*",
        &["user:", "user:1", "user:1:a/b.c"],
        &["user", "users:1", "x:user:1"],
    ),
    ("*:1", &["user:1", ":1", "a:b:1"], &["user:10", "1"]),
    ("u?er", &["user", "uxer", "u-er"], &["uer", "usser"]),
    ("k[0-9]", &["k0", "k5", "k9"], &["ka", "k", "k10"]),
    ("k[9-0]", &["k0", "k9"], &["ka"]),
    ("k[a-cx]", &["ka", "kc", "kx"], &["kd", "kw", "kX"]),
    ("k[^0]", &["k1", "k!", "ka"], &["k0", "k", "k00"]),
    ("k[!0]", &["k!", "k0"], &["k1", "ka"]),
    ("k[^!0]", &["k1", "ka"], &["k!", "k0"]),
    ("k[!]", &["k!"], &["k", "k]"]),
    (r"k\*", &["k*"], &["k", "kx", "k\\*"]),
    (r"k\?x", &["k?x"], &["kax"]),
    (r"k\[1]", &["k[1]"], &["k1"]),
    (r"k\\*", &["k\\", "k\\x"], &["k", "kx"]),
    (r"k[\]]", &["k]"], &["k\\", "k"]),
    (r"k[\^a]", &["k^", "ka"], &["kb"]),
    ("k[*]", &["k*"], &["kx"]),
    ("k*a*b", &["kab", "kxaxb", "kaab", "kbab"], &["kba", "kab0"]),
    ("**", &["", "anything"], &[]),
    ("é*", &["é", "éa"], &["e"]),
    ("?", &["a"], &["é", ""]),
    ("??", &["é", "ab"], &["a"]),
];

/// Patterns refused everywhere (a typed error, nothing removed).
pub(crate) const REFUSED: &[&str] = &["k[", "k[0-9", "k[]", "k[^]", r"k\", "k[a-]x", r"k[a-\b]"];
