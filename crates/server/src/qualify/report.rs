//! A qualification run's reports: JUnit XML (one testsuite, one testcase per test, a
//! `<failure>` for each failure, warnings in `<system-out>`) for the CI of firmware projects,
//! JSON (the verdicts as they are), and a plain-text summary that says for each failure what
//! the device did, what AWS expects, and the fix. It does not write files; the CLI does.

use std::fmt::Write as _;

use super::{Outcome, Verdict};

/// The JUnit XML report: suite `tether-qualify`, classname `qualify`, one testcase per test.
pub fn junit_xml(verdicts: &[Verdict]) -> String {
    let failures = count(verdicts, Outcome::Fail);
    let total: f64 = verdicts.iter().map(|v| v.seconds).sum();
    let mut xml = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        xml,
        "<testsuites name=\"tether qualify\" tests=\"{}\" failures=\"{failures}\" time=\"{total:.3}\">",
        verdicts.len()
    );
    let _ = writeln!(
        xml,
        "  <testsuite name=\"tether-qualify\" tests=\"{}\" failures=\"{failures}\" errors=\"0\" skipped=\"0\" time=\"{total:.3}\">",
        verdicts.len()
    );
    for v in verdicts {
        let _ = write!(
            xml,
            "    <testcase classname=\"qualify\" name=\"{}\" time=\"{:.3}\"",
            v.test.id(),
            v.seconds
        );
        match v.outcome {
            Outcome::Pass => xml.push_str("/>\n"),
            Outcome::Fail => {
                let _ = writeln!(
                    xml,
                    ">\n      <failure message=\"{}\" type=\"FAIL\">{}</failure>\n    </testcase>",
                    escape(&v.device_did),
                    escape(&explanation(v))
                );
            }
            Outcome::PassWithWarnings => {
                let _ = writeln!(
                    xml,
                    ">\n      <system-out>PASS_WITH_WARNINGS: {}</system-out>\n    </testcase>",
                    escape(&explanation(v))
                );
            }
        }
    }
    xml.push_str("  </testsuite>\n</testsuites>\n");
    xml
}

/// The JSON report: `{"passed": bool, "verdicts": [...]}`, each verdict with `test`,
/// `outcome`, `device_did`, `aws_expects`, `fix` and `seconds`.
pub fn json_report(verdicts: &[Verdict]) -> String {
    let report = serde_json::json!({
        "passed": count(verdicts, Outcome::Fail) == 0,
        "verdicts": verdicts,
    });
    serde_json::to_string_pretty(&report).unwrap_or_default()
}

/// The plain-text summary: one line per test, then for each failure or warning what the
/// device did, what AWS expects and the fix.
pub fn text_summary(verdicts: &[Verdict]) -> String {
    let mut out = String::new();
    for v in verdicts {
        let _ = writeln!(out, "{:<20} {}", v.outcome.as_str(), v.test.id());
    }
    for v in verdicts.iter().filter(|v| v.outcome != Outcome::Pass) {
        let _ = writeln!(out, "\n{} {}", v.test.id(), v.outcome.as_str());
        let _ = writeln!(out, "  the device: {}", v.device_did);
        let _ = writeln!(out, "  AWS expects: {}", v.aws_expects);
        if let Some(fix) = &v.fix {
            let _ = writeln!(out, "  fix: {fix}");
        }
    }
    let failed = count(verdicts, Outcome::Fail);
    let _ = writeln!(
        out,
        "\n{} of {} tests passed{}",
        verdicts.len() - failed,
        verdicts.len(),
        if failed == 0 {
            ""
        } else {
            "; the device is not ready for AWS IoT"
        }
    );
    out
}

fn count(verdicts: &[Verdict], outcome: Outcome) -> usize {
    verdicts.iter().filter(|v| v.outcome == outcome).count()
}

fn explanation(v: &Verdict) -> String {
    let mut text = format!(
        "the device {}. AWS expects: {}.",
        v.device_did, v.aws_expects
    );
    if let Some(fix) = &v.fix {
        let _ = write!(text, " Fix: {fix}.");
    }
    text
}

/// XML text and attribute escaping.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c if c.is_control() && c != '\n' && c != '\t' => {}
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::qualify::TestId;

    fn verdict(test: TestId, outcome: Outcome, did: &str) -> Verdict {
        Verdict {
            test,
            outcome,
            device_did: did.to_owned(),
            aws_expects: "x".to_owned(),
            fix: (outcome != Outcome::Pass).then(|| "do <this> & that".to_owned()),
            seconds: 0.5,
        }
    }

    #[test]
    fn junit_counts_failures_and_escapes_text() {
        let verdicts = [
            verdict(TestId::TlsConnect, Outcome::Pass, "ok"),
            verdict(
                TestId::TlsIncorrectSubjectName,
                Outcome::Fail,
                "accepted \"it\"",
            ),
            verdict(
                TestId::MqttConnect,
                Outcome::PassWithWarnings,
                "kept <alive>",
            ),
        ];
        let xml = junit_xml(&verdicts);
        assert!(xml.contains("tests=\"3\" failures=\"1\""), "{xml}");
        assert!(
            xml.contains("name=\"TLS_Connect\" time=\"0.500\"/>"),
            "{xml}"
        );
        assert!(
            xml.contains("<failure message=\"accepted &quot;it&quot;\""),
            "{xml}"
        );
        assert!(xml.contains("do &lt;this&gt; &amp; that"), "{xml}");
        assert!(xml.contains("<system-out>PASS_WITH_WARNINGS"), "{xml}");
        let json: serde_json::Value = serde_json::from_str(&json_report(&verdicts)).unwrap();
        assert_eq!(json["passed"], false);
        assert_eq!(
            json["verdicts"][1]["test"],
            "TLS_Incorrect_Subject_Name_Server_Cert"
        );
        assert_eq!(json["verdicts"][2]["outcome"], "PASS_WITH_WARNINGS");
        let text = text_summary(&verdicts);
        assert!(
            text.contains("2 of 3 tests passed; the device is not ready"),
            "{text}"
        );
        assert!(text.contains("  fix: do <this> & that"), "{text}");
    }
}
