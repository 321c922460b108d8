//! What `check` prints: a line per object (text), or one JSON array.

use crate::check::Decision;
use crate::served::NotServed;
use readonly_rootfs_policy::escape::line_safe;
use serde::Serialize;
use serde_json::Value;
use std::fmt::Write as _;

/// One object and the policy's decision on it.
#[derive(Debug, Clone, PartialEq)]
pub struct ObjectReport {
    pub file: String,
    /// 1-based index of the document in the file.
    pub document: usize,
    /// 0-based index in the `items` of a `List` document.
    pub item: Option<usize>,
    pub api_version: String,
    pub kind: String,
    pub namespace: Option<String>,
    pub name: Option<String>,
    pub decision: Decision,
    /// The object's apiVersion is one Kubernetes no longer serves for its
    /// kind (the decision is the policy's on the replacement version).
    pub not_served: Option<NotServed>,
}

/// Whether the decisions were taken to check or to fix (`mutate: true`
/// forced): the same decision reads differently.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Check,
    Fix,
}

impl ObjectReport {
    /// `file document 2 items[0]: Pod shop/web`
    fn heading(&self) -> String {
        let item = self
            .item
            .map(|i| format!(" items[{i}]"))
            .unwrap_or_default();
        let name = match (&self.namespace, &self.name) {
            (Some(ns), Some(name)) => format!("{ns}/{name}"),
            (None, Some(name)) => name.clone(),
            (_, None) => "(no name)".to_string(),
        };
        format!(
            "{} document {}{item}: {} {name}",
            self.file, self.document, self.kind
        )
    }

    fn verdict(&self, mode: Mode) -> &'static str {
        match (&self.decision, mode) {
            (Decision::NotChecked { .. }, _) => "not checked",
            (Decision::Accepted { .. }, _) => "accepted",
            (Decision::Mutated { .. }, Mode::Check) => "accepted with changes",
            (Decision::Mutated { .. }, Mode::Fix) => "fixed",
            (Decision::Rejected { .. }, Mode::Check) => "rejected",
            (Decision::Rejected { .. }, Mode::Fix) => "cannot be fixed",
        }
    }

    /// The object's line (with why it is not checked), then, indented, an
    /// apiVersion no longer served and the policy's message, warnings and
    /// patch.
    pub fn text(&self, mode: Mode) -> String {
        let mut line = format!("{}: {}", self.heading(), self.verdict(mode));
        if let Decision::NotChecked { reason } = &self.decision {
            let _ = write!(line, " ({reason})");
        }
        // Names, kinds and groups come from the manifest: a control
        // character in one must not start a line of its own.
        let mut text = line_safe(&line);
        text.push('\n');
        if let Some(not_served) = &self.not_served {
            let _ = writeln!(text, "    not served: {}", not_served.message());
        }
        if let Decision::Rejected { message, .. } = &self.decision {
            for line in message.lines() {
                let _ = writeln!(text, "    {line}");
            }
        }
        for warning in self.decision.warnings() {
            let _ = writeln!(text, "    warning: {warning}");
        }
        if let (Decision::Mutated { patch, .. }, Mode::Check) = (&self.decision, mode) {
            for operation in patch {
                let _ = writeln!(
                    text,
                    "    patch: {} {} {}",
                    operation["op"].as_str().unwrap_or_default(),
                    operation["path"].as_str().unwrap_or_default(),
                    operation
                        .get("value")
                        .map(Value::to_string)
                        .unwrap_or_default()
                );
            }
        }
        text
    }

    fn record(&self) -> JsonRecord<'_> {
        let (message, patch) = match &self.decision {
            Decision::Rejected { message, .. } => (Some(message.as_str()), None),
            Decision::Mutated { patch, .. } => (None, Some(patch.as_slice())),
            _ => (None, None),
        };
        let not_checked_reason = match &self.decision {
            Decision::NotChecked { reason } => Some(reason.as_str()),
            _ => None,
        };
        JsonRecord {
            file: &self.file,
            document: self.document,
            item: self.item,
            api_version: &self.api_version,
            kind: &self.kind,
            namespace: self.namespace.as_deref(),
            name: self.name.as_deref(),
            checked: not_checked_reason.is_none(),
            not_checked_reason,
            not_served: self.not_served.as_ref().map(|n| NotServedRecord {
                removed_in: n.removed_in,
                replacement: n.replacement,
                message: n.message(),
            }),
            allowed: self.decision.allowed(),
            message,
            warnings: self.decision.warnings(),
            patch,
        }
    }
}

/// `--output json`: one object per report, in this order.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct JsonRecord<'r> {
    file: &'r str,
    document: usize,
    item: Option<usize>,
    api_version: &'r str,
    kind: &'r str,
    namespace: Option<&'r str>,
    name: Option<&'r str>,
    checked: bool,
    /// Why `checked` is false; null when it is true.
    not_checked_reason: Option<&'r str>,
    /// Null unless the apiVersion is one Kubernetes no longer serves.
    not_served: Option<NotServedRecord>,
    /// The policy's verdict (on the replacement version when `notServed`).
    allowed: bool,
    message: Option<&'r str>,
    warnings: &'r [String],
    patch: Option<&'r [Value]>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct NotServedRecord {
    /// The Kubernetes release that stopped serving the apiVersion (`1.16`).
    removed_in: &'static str,
    /// The apiVersion to use (`apps/v1`), which the policy checked it as.
    replacement: &'static str,
    message: String,
}

pub fn json(reports: &[ObjectReport]) -> String {
    let records: Vec<JsonRecord> = reports.iter().map(ObjectReport::record).collect();
    // Plain data of strings and numbers: serialising cannot fail.
    let mut text = serde_json::to_string_pretty(&records).unwrap_or_default();
    text.push('\n');
    text
}

/// `12 objects: 9 accepted, 1 rejected, 2 not checked`; counts that are zero
/// are left out, except accepted. Objects whose apiVersion is no longer
/// served are counted after a semicolon (`; 1 with an apiVersion no longer
/// served`): they are also counted by verdict.
pub fn summary(reports: &[ObjectReport], mode: Mode, input_errors: usize) -> String {
    let count = |verdict: &str| {
        reports
            .iter()
            .filter(|r| r.verdict(mode) == verdict)
            .count()
    };
    let verdicts: &[&str] = match mode {
        Mode::Check => &[
            "accepted",
            "accepted with changes",
            "rejected",
            "not checked",
        ],
        Mode::Fix => &["accepted", "fixed", "cannot be fixed", "not checked"],
    };
    let mut parts: Vec<String> = verdicts
        .iter()
        .map(|v| (v, count(v)))
        .filter(|(v, n)| *n > 0 || **v == "accepted")
        .map(|(v, n)| format!("{n} {v}"))
        .collect();
    if input_errors > 0 {
        let s = if input_errors == 1 { "" } else { "s" };
        parts.push(format!("{input_errors} input error{s}"));
    }
    let not_served = match reports.iter().filter(|r| r.not_served.is_some()).count() {
        0 => String::new(),
        n => format!("; {n} with an apiVersion no longer served"),
    };
    let objects = reports.len();
    let s = if objects == 1 { "" } else { "s" };
    format!("{objects} object{s}: {}{not_served}\n", parts.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn report(decision: Decision) -> ObjectReport {
        ObjectReport {
            file: "k8s/web.yaml".into(),
            document: 2,
            item: None,
            api_version: "apps/v1".into(),
            kind: "Deployment".into(),
            namespace: Some("shop".into()),
            name: Some("web".into()),
            decision,
            not_served: None,
        }
    }

    fn not_checked(reason: &str) -> Decision {
        Decision::NotChecked {
            reason: reason.into(),
        }
    }

    #[test]
    fn text_gives_the_object_then_the_message_and_warnings_indented() {
        let rejected = report(Decision::Rejected {
            message: "Deployment rejected (1 violation):\n- container \"a\"".into(),
            warnings: vec!["w".into()],
        });
        assert_eq!(
            rejected.text(Mode::Check),
            "k8s/web.yaml document 2: Deployment shop/web: rejected\n    Deployment rejected (1 violation):\n    - container \"a\"\n    warning: w\n"
        );
        assert_eq!(
            rejected.text(Mode::Fix).lines().next(),
            Some("k8s/web.yaml document 2: Deployment shop/web: cannot be fixed")
        );
        let mutated = ObjectReport {
            item: Some(3),
            namespace: None,
            ..report(Decision::Mutated {
                object: json!({}),
                patch: vec![json!({"op": "add", "path": "/a", "value": true})],
                warnings: vec![],
            })
        };
        assert_eq!(
            mutated.text(Mode::Check),
            "k8s/web.yaml document 2 items[3]: Deployment web: accepted with changes\n    patch: add /a true\n"
        );
    }

    #[test]
    fn json_has_every_field() {
        let text = json(&[report(Decision::Accepted { warnings: vec![] })]);
        let records: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(
            records,
            json!([{"file": "k8s/web.yaml", "document": 2, "item": null, "apiVersion": "apps/v1",
                    "kind": "Deployment", "namespace": "shop", "name": "web", "checked": true,
                    "notCheckedReason": null, "notServed": null, "allowed": true,
                    "message": null, "warnings": [], "patch": null}])
        );
    }

    #[test]
    fn not_checked_says_why_on_the_object_s_line_and_in_json() {
        let lookalike = ObjectReport {
            api_version: "example.com/v1".into(),
            ..report(not_checked(
                "the policy checks Deployment in API group apps, not API group example.com",
            ))
        };
        assert_eq!(
            lookalike.text(Mode::Check),
            "k8s/web.yaml document 2: Deployment shop/web: not checked (the policy checks Deployment in API group apps, not API group example.com)\n"
        );
        let record: Value = serde_json::from_str(&json(&[lookalike])).unwrap();
        assert_eq!(record[0]["checked"], false);
        assert_eq!(
            record[0]["notCheckedReason"],
            "the policy checks Deployment in API group apps, not API group example.com"
        );
    }

    #[test]
    fn an_api_version_no_longer_served_comes_first_under_the_object_and_is_counted() {
        let retired = ObjectReport {
            api_version: "apps/v1beta2".into(),
            not_served: NotServed::find("apps/v1beta2", "Deployment"),
            ..report(Decision::Rejected {
                message: "Deployment rejected (1 violation):\n- container \"a\"".into(),
                warnings: vec![],
            })
        };
        assert_eq!(
            retired.text(Mode::Check),
            "k8s/web.yaml document 2: Deployment shop/web: rejected\n    not served: Kubernetes 1.16 and later do not serve apps/v1beta2 Deployment, so the API server refuses this object; change apiVersion to apps/v1 (the policy checked it as apps/v1)\n    Deployment rejected (1 violation):\n    - container \"a\"\n"
        );
        let records: Value = serde_json::from_str(&json(std::slice::from_ref(&retired))).unwrap();
        assert_eq!(
            records[0]["notServed"],
            json!({"removedIn": "1.16", "replacement": "apps/v1",
                   "message": "Kubernetes 1.16 and later do not serve apps/v1beta2 Deployment, so the API server refuses this object; change apiVersion to apps/v1 (the policy checked it as apps/v1)"})
        );
        let reports = [retired, report(Decision::Accepted { warnings: vec![] })];
        assert_eq!(
            summary(&reports, Mode::Check, 0),
            "2 objects: 1 accepted, 1 rejected; 1 with an apiVersion no longer served\n"
        );
    }

    #[test]
    fn summary_counts_verdicts() {
        let reports = [
            report(Decision::Accepted { warnings: vec![] }),
            report(not_checked("not a kind the policy checks")),
            report(not_checked("not a kind the policy checks")),
        ];
        assert_eq!(
            summary(&reports, Mode::Check, 0),
            "3 objects: 1 accepted, 2 not checked\n"
        );
        assert_eq!(
            summary(&reports[..0], Mode::Fix, 1),
            "0 objects: 0 accepted, 1 input error\n"
        );
    }
}
