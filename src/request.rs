//! Decoding of the waPC `validate` payload and location of the pod spec in
//! each kind the policy checks. The request's objects are kept as raw JSON
//! text and only the pod spec is read, with borrowing views.

use crate::podspec::{Object, PodSpecView};
use k8s_openapi::Resource;
use k8s_openapi::api::apps::v1::{DaemonSet, Deployment, ReplicaSet, StatefulSet};
use k8s_openapi::api::batch::v1::{CronJob, Job};
use k8s_openapi::api::core::v1::{Pod, ReplicationController};
use serde::Deserialize;
use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, Visitor};
use serde_json::value::RawValue;
use std::borrow::Cow;
use std::fmt;

/// What Kubewarden sends to `validate`.
#[derive(Deserialize)]
pub struct ValidationPayload<'a> {
    #[serde(borrow)]
    pub request: Option<AdmissionRequest<'a>>,
    #[serde(borrow)]
    pub settings: Option<&'a RawValue>,
}

/// The fields of the AdmissionRequest the policy reads.
#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct AdmissionRequest<'a> {
    #[serde(borrow)]
    pub kind: Option<GroupVersionKind<'a>>,
    #[serde(borrow, default)]
    pub sub_resource: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    pub operation: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    pub object: Option<&'a RawValue>,
    #[serde(borrow, default)]
    pub old_object: Option<&'a RawValue>,
}

#[derive(Deserialize, Default)]
pub struct GroupVersionKind<'a> {
    #[serde(borrow, default)]
    pub group: Cow<'a, str>,
    #[serde(borrow, default)]
    pub kind: Cow<'a, str>,
}

/// The kinds whose pod spec the policy checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CheckedKind {
    Pod,
    Deployment,
    ReplicaSet,
    StatefulSet,
    DaemonSet,
    Job,
    CronJob,
    ReplicationController,
}

impl CheckedKind {
    pub const ALL: [CheckedKind; 8] = [
        CheckedKind::Pod,
        CheckedKind::Deployment,
        CheckedKind::ReplicaSet,
        CheckedKind::StatefulSet,
        CheckedKind::DaemonSet,
        CheckedKind::Job,
        CheckedKind::CronJob,
        CheckedKind::ReplicationController,
    ];

    /// `(API group, kind)` as Kubernetes names them.
    pub fn group_kind(self) -> (&'static str, &'static str) {
        match self {
            CheckedKind::Pod => (Pod::GROUP, Pod::KIND),
            CheckedKind::Deployment => (Deployment::GROUP, Deployment::KIND),
            CheckedKind::ReplicaSet => (ReplicaSet::GROUP, ReplicaSet::KIND),
            CheckedKind::StatefulSet => (StatefulSet::GROUP, StatefulSet::KIND),
            CheckedKind::DaemonSet => (DaemonSet::GROUP, DaemonSet::KIND),
            CheckedKind::Job => (Job::GROUP, Job::KIND),
            CheckedKind::CronJob => (CronJob::GROUP, CronJob::KIND),
            CheckedKind::ReplicationController => {
                (ReplicationController::GROUP, ReplicationController::KIND)
            }
        }
    }

    /// The plural resource name used in admission rules.
    pub fn resource(self) -> &'static str {
        match self {
            CheckedKind::Pod => Pod::URL_PATH_SEGMENT,
            CheckedKind::Deployment => Deployment::URL_PATH_SEGMENT,
            CheckedKind::ReplicaSet => ReplicaSet::URL_PATH_SEGMENT,
            CheckedKind::StatefulSet => StatefulSet::URL_PATH_SEGMENT,
            CheckedKind::DaemonSet => DaemonSet::URL_PATH_SEGMENT,
            CheckedKind::Job => Job::URL_PATH_SEGMENT,
            CheckedKind::CronJob => CronJob::URL_PATH_SEGMENT,
            CheckedKind::ReplicationController => ReplicationController::URL_PATH_SEGMENT,
        }
    }

    pub fn from_group_kind(group: &str, kind: &str) -> Option<CheckedKind> {
        CheckedKind::ALL
            .into_iter()
            .find(|k| k.group_kind() == (group, kind))
    }

    pub fn kind_name(self) -> &'static str {
        self.group_kind().1
    }

    /// Keys from the object root to the pod spec.
    pub fn pod_spec_path(self) -> &'static [&'static str] {
        match self {
            CheckedKind::Pod => &["spec"],
            CheckedKind::CronJob => &["spec", "jobTemplate", "spec", "template", "spec"],
            _ => &["spec", "template", "spec"],
        }
    }

    /// Keys from the object root to the pod template (workloads only).
    pub fn pod_template_path(self) -> Option<&'static [&'static str]> {
        match self {
            CheckedKind::Pod => None,
            _ => {
                let path = self.pod_spec_path();
                Some(&path[..path.len() - 1])
            }
        }
    }

    /// Dotted field path of the pod spec, as used in messages.
    pub fn pod_spec_field(self) -> &'static str {
        match self {
            CheckedKind::Pod => "spec",
            CheckedKind::CronJob => "spec.jobTemplate.spec.template.spec",
            _ => "spec.template.spec",
        }
    }
}

/// Reads the value at `path` inside the JSON text `raw`, skipping every
/// other field unread. `Ok(None)` when a key on the path is absent or null.
/// Errors name the field that could not be read.
pub fn read_at<'a, T: Deserialize<'a>>(raw: &'a str, path: &[&str]) -> Result<Option<T>, String> {
    let seed = PathSeed::<T> {
        path,
        marker: std::marker::PhantomData,
    };
    match seed.deserialize(&mut serde_json::Deserializer::from_str(raw)) {
        Ok(value) => Ok(value),
        Err(_) => Err(describe_error_at::<T>(raw, path)),
    }
}

/// Slow path, taken only on error: reads again tracking the field path so
/// the message says which field could not be read.
fn describe_error_at<'a, T: Deserialize<'a>>(raw: &'a str, path: &[&str]) -> String {
    let seed = PathSeed::<T> {
        path,
        marker: std::marker::PhantomData,
    };
    let mut track = serde_path_to_error::Track::new();
    let mut json = serde_json::Deserializer::from_str(raw);
    let tracked = serde_path_to_error::Deserializer::new(&mut json, &mut track);
    match seed.deserialize(tracked) {
        Ok(_) => "the object could not be read".to_string(),
        Err(e) => match track.path().to_string().as_str() {
            "." => e.to_string(),
            field => format!("{field}: {e}"),
        },
    }
}

/// Descends `path` through nested objects, ignoring sibling fields.
struct PathSeed<'p, T> {
    path: &'p [&'p str],
    marker: std::marker::PhantomData<T>,
}

impl<'de, T: Deserialize<'de>> DeserializeSeed<'de> for PathSeed<'_, T> {
    type Value = Option<T>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        match self.path.split_first() {
            None => Option::<T>::deserialize(deserializer),
            Some(_) => deserializer.deserialize_option(self),
        }
    }
}

impl<'de, T: Deserialize<'de>> Visitor<'de> for PathSeed<'_, T> {
    type Value = Option<T>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an object")
    }

    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_map(self)
    }

    fn visit_map<M: MapAccess<'de>>(self, mut map: M) -> Result<Self::Value, M::Error> {
        let (key, rest) = self.path.split_first().expect("visit_map only with a path");
        // On a duplicate key the last one wins, as in serde_json::Value and
        // in the API server's Go decoder: validation and mutation must see
        // the same pod spec.
        let mut found = None;
        while let Some(is_key) = map.next_key_seed(KeyIs(key))? {
            if is_key {
                found = map.next_value_seed(PathSeed::<T> {
                    path: rest,
                    marker: std::marker::PhantomData,
                })?;
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok(found)
    }
}

/// Reads a map key and tells whether it is `self.0`, without allocating
/// (an escaped key is compared after unescaping, as any key).
struct KeyIs<'k>(&'k str);

impl<'de> DeserializeSeed<'de> for KeyIs<'_> {
    type Value = bool;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<bool, D::Error> {
        deserializer.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for KeyIs<'_> {
    type Value = bool;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a string key")
    }

    fn visit_str<E: de::Error>(self, key: &str) -> Result<bool, E> {
        Ok(key == self.0)
    }
}

/// Reads the pod spec of `kind` from an object's raw JSON.
pub fn read_pod_spec<'a>(
    raw: &'a str,
    kind: CheckedKind,
) -> Result<Option<PodSpecView<'a>>, String> {
    read_at::<Object<PodSpecView<'a>>>(raw, kind.pod_spec_path()).map(|spec| spec.map(|s| s.0))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::podspec::ContainerList;

    #[test]
    fn kinds_round_trip() {
        for k in CheckedKind::ALL {
            let (g, n) = k.group_kind();
            assert_eq!(CheckedKind::from_group_kind(g, n), Some(k));
        }
        assert_eq!(
            CheckedKind::from_group_kind("example.com", "Deployment"),
            None
        );
        assert_eq!(CheckedKind::Pod.resource(), "pods");
        assert_eq!(CheckedKind::CronJob.resource(), "cronjobs");
    }

    #[test]
    fn reads_nested_pod_spec() {
        let raw = r#"{"metadata":{"name":"x"},"spec":{"jobTemplate":{"spec":{"template":{"spec":{"containers":[{"name":"c"}]}}}}}}"#;
        let spec = read_pod_spec(raw, CheckedKind::CronJob).unwrap().unwrap();
        assert_eq!(spec.list(ContainerList::Containers)[0].name, "c");
        assert!(
            read_pod_spec(r#"{"spec":null}"#, CheckedKind::Pod)
                .unwrap()
                .is_none()
        );
        assert!(
            read_pod_spec(r#"{}"#, CheckedKind::Deployment)
                .unwrap()
                .is_none()
        );
    }

    #[test]
    fn duplicate_keys_last_wins_like_serde_json_value() {
        let raw = r#"{"spec":{"containers":[{"name":"a"}]},"spec":{"containers":[{"name":"b"}]}}"#;
        let spec = read_pod_spec(raw, CheckedKind::Pod).unwrap().unwrap();
        assert_eq!(spec.list(ContainerList::Containers)[0].name, "b");
        let value: serde_json::Value = serde_json::from_str(raw).unwrap();
        assert_eq!(value["spec"]["containers"][0]["name"], "b");
    }

    #[test]
    fn errors_name_the_field() {
        let e = read_pod_spec(r#"{"spec":{"containers":"x"}}"#, CheckedKind::Pod).unwrap_err();
        assert!(e.starts_with("spec.containers:"), "{e}");
        let e = read_pod_spec(
            r#"{"spec":{"template":{"spec":{"containers":[{"name":"a","securityContext":5}]}}}}"#,
            CheckedKind::Deployment,
        )
        .unwrap_err();
        assert!(
            e.starts_with("spec.template.spec.containers[0].securityContext:"),
            "{e}"
        );
        let e = read_pod_spec(r#"{"spec":{"template":7}}"#, CheckedKind::Job).unwrap_err();
        assert!(e.starts_with("spec.template:"), "{e}");
        let e = read_pod_spec(r#"{"spec":[1]}"#, CheckedKind::Pod).unwrap_err();
        assert!(e.starts_with("spec:"), "{e}");
    }
}
