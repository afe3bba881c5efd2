//! How urgent a raised condition is.

use std::fmt;

/// How urgent an alert is, ordered from least to most urgent.
///
/// In the SRE workbook's terms, `Critical` pages a person now and `Warning` opens a ticket.
///
/// ```
/// use ha_core::Severity;
///
/// assert!(Severity::Critical > Severity::Warning);
/// assert_eq!(Severity::Warning.to_string(), "warning");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(rename_all = "lowercase")
)]
pub enum Severity {
    /// Worth recording; nobody needs to act.
    Info,
    /// Someone should look soon (a ticket).
    Warning,
    /// Someone must act now (a page).
    Critical,
}

impl Severity {
    /// The lowercase name, as serialized.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Critical => "critical",
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
