//! Findings as data — severity, what, why, fix — and the report that collects them. Rendering
//! (text or JSON) belongs to the CLI; this file only says what a finding is.

use serde::Serialize;

/// How bad a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Context; nothing wrong.
    Info,
    /// Likely to bite, or suspicious.
    Warning,
    /// Stops the device from connecting.
    Error,
}

impl Severity {
    /// "error", "warning" or "info".
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Error => "error",
        }
    }
}

/// One thing the doctor noticed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    /// How bad it is.
    pub severity: Severity,
    /// What was observed, in one sentence.
    pub what: String,
    /// Why it matters / what it proves.
    pub why: String,
    /// What to do about it (empty for pure information).
    pub fix: String,
    /// 1-based line of the input it came from, when it came from one line.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<usize>,
}

impl Finding {
    /// A finding not tied to an input line.
    pub fn new(
        severity: Severity,
        what: impl Into<String>,
        why: impl Into<String>,
        fix: impl Into<String>,
    ) -> Finding {
        Finding {
            severity,
            what: what.into(),
            why: why.into(),
            fix: fix.into(),
            line: None,
        }
    }

    /// The same finding, attributed to input line `line` (1-based).
    pub fn at_line(mut self, line: usize) -> Finding {
        self.line = Some(line);
        self
    }
}

/// One input line that is context rather than a finding (a Wi-Fi state change, a DNS answer, a
/// TLS library's progress trace), with what it means; or, without a meaning, a line no rule
/// explains.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LineNote {
    /// 1-based line of the input.
    pub line: usize,
    /// The line as found.
    pub text: String,
    /// What it means (empty for a line no rule explains).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub meaning: String,
}

/// Everything one diagnosis found, ending with the most likely root cause.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct Report {
    /// Findings in input order.
    pub findings: Vec<Finding>,
    /// The most likely root cause and its fix, when the evidence points at one.
    pub root_cause: Option<Finding>,
    /// Input lines recognised as context, each with its meaning (the log explainer).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub context: Vec<LineNote>,
    /// Input lines no rule explains, listed rather than skipped (the log explainer).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub not_understood: Vec<LineNote>,
}

impl Report {
    /// True when nothing is wrong: no error or warning anywhere.
    pub fn is_clean(&self) -> bool {
        self.findings
            .iter()
            .chain(self.root_cause.as_ref())
            .all(|f| f.severity == Severity::Info)
    }

    /// The worst severity present, if any finding exists.
    pub fn worst(&self) -> Option<Severity> {
        self.findings
            .iter()
            .chain(self.root_cause.as_ref())
            .map(|f| f.severity)
            .max()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clean_only_with_info() {
        let mut r = Report::default();
        assert!(r.is_clean());
        r.findings
            .push(Finding::new(Severity::Info, "a", "b", "").at_line(3));
        assert!(r.is_clean());
        assert_eq!(r.findings[0].line, Some(3));
        r.root_cause = Some(Finding::new(Severity::Warning, "w", "", ""));
        assert!(!r.is_clean());
        assert_eq!(r.worst(), Some(Severity::Warning));
    }
}
