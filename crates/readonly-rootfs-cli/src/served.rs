//! Workload API versions that Kubernetes no longer serves. A manifest that
//! uses one is refused by the API server whatever the policy decides, so
//! `check` says so, names the version to use, and exits 1; the object is
//! still evaluated, as its current version (the pod template is the same),
//! so its read-only root problems are reported now.
//!
//! From the Deprecated API Migration Guide,
//! <https://kubernetes.io/docs/reference/using-api/deprecation-guide/>
//! (sections v1.16 and v1.25).

use crate::check::group_version;

/// An apiVersion that Kubernetes stopped serving for some of the kinds the
/// policy checks.
struct Removed {
    api_version: &'static str,
    kinds: &'static [&'static str],
    /// The Kubernetes release that stopped serving it.
    removed_in: &'static str,
    /// The apiVersion that serves these kinds now.
    replacement: &'static str,
}

const REMOVED: [Removed; 4] = [
    Removed {
        api_version: "extensions/v1beta1",
        kinds: &["DaemonSet", "Deployment", "ReplicaSet"],
        removed_in: "1.16",
        replacement: "apps/v1",
    },
    // The guide lists ReplicaSet for apps/v1beta1 too.
    Removed {
        api_version: "apps/v1beta1",
        kinds: &["Deployment", "StatefulSet", "ReplicaSet"],
        removed_in: "1.16",
        replacement: "apps/v1",
    },
    Removed {
        api_version: "apps/v1beta2",
        kinds: &["DaemonSet", "Deployment", "StatefulSet", "ReplicaSet"],
        removed_in: "1.16",
        replacement: "apps/v1",
    },
    Removed {
        api_version: "batch/v1beta1",
        kinds: &["CronJob"],
        removed_in: "1.25",
        replacement: "batch/v1",
    },
];

/// An object whose apiVersion Kubernetes no longer serves for its kind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotServed {
    pub api_version: &'static str,
    pub kind: &'static str,
    /// The Kubernetes release that stopped serving it (`1.16`).
    pub removed_in: &'static str,
    /// The apiVersion to use instead (`apps/v1`), which the policy checked
    /// the object as.
    pub replacement: &'static str,
}

impl NotServed {
    /// `apiVersion` and `kind` as the manifest gives them (both
    /// case-sensitive, as in Kubernetes).
    pub fn find(api_version: &str, kind: &str) -> Option<NotServed> {
        REMOVED
            .iter()
            .filter(|removed| removed.api_version == api_version)
            .find_map(|removed| {
                let kind = removed.kinds.iter().find(|k| **k == kind)?;
                Some(NotServed {
                    api_version: removed.api_version,
                    kind,
                    removed_in: removed.removed_in,
                    replacement: removed.replacement,
                })
            })
    }

    /// `(group, version)` of the replacement, as the policy is asked to
    /// check the object.
    pub fn checked_as(&self) -> (&'static str, &'static str) {
        group_version(self.replacement)
    }

    pub fn message(&self) -> String {
        format!(
            "Kubernetes {} and later do not serve {} {}, so the API server refuses this object; change apiVersion to {} (the policy checked it as {})",
            self.removed_in, self.api_version, self.kind, self.replacement, self.replacement
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use readonly_rootfs_policy::request::CheckedKind;

    #[test]
    fn every_removed_version_is_replaced_by_one_of_a_checked_kind() {
        for removed in &REMOVED {
            for kind in removed.kinds {
                let (group, version) = group_version(removed.replacement);
                assert_eq!(version, "v1", "{}", removed.replacement);
                assert!(
                    CheckedKind::from_group_kind(group, kind).is_some(),
                    "{} {kind}",
                    removed.replacement
                );
            }
        }
    }

    #[test]
    fn removed_versions_are_found_by_exact_api_version_and_kind() {
        let daemonset = NotServed::find("extensions/v1beta1", "DaemonSet").unwrap();
        assert_eq!(daemonset.checked_as(), ("apps", "v1"));
        assert_eq!(
            daemonset.message(),
            "Kubernetes 1.16 and later do not serve extensions/v1beta1 DaemonSet, so the API server refuses this object; change apiVersion to apps/v1 (the policy checked it as apps/v1)"
        );
        let cronjob = NotServed::find("batch/v1beta1", "CronJob").unwrap();
        assert_eq!(
            (cronjob.removed_in, cronjob.replacement),
            ("1.25", "batch/v1")
        );
        for (api_version, kind) in [
            ("apps/v1", "Deployment"),
            ("batch/v1", "CronJob"),
            // Never in extensions; the policy checks it in apps.
            ("extensions/v1beta1", "StatefulSet"),
            ("extensions/v1beta1", "Ingress"),
            ("extensions/v1beta1", "daemonset"),
            ("batch/v1beta1", "Job"),
        ] {
            assert_eq!(
                NotServed::find(api_version, kind),
                None,
                "{api_version} {kind}"
            );
        }
    }
}
