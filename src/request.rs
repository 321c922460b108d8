//! Decoding of the waPC `validate` payload and location of the pod spec in
//! each kind the policy checks. Only the pod spec is read, with borrowing
//! views; the rest of the request is skipped unread.
//!
//! The payload is read in one pass: when the request's kind comes before its
//! objects (policy-server and the API server send `kind` first), their pod
//! specs are read as the objects are reached. Otherwise, and whenever that
//! pass fails, the objects are kept as raw JSON text and read afterwards (the
//! reference reading, whose errors name the field): one verdict, whichever
//! reading produced it.

use crate::podspec::{Object, PodSpecView};
use k8s_openapi::Resource;
use k8s_openapi::api::apps::v1::{DaemonSet, Deployment, ReplicaSet, StatefulSet};
use k8s_openapi::api::batch::v1::{CronJob, Job};
use k8s_openapi::api::core::v1::{Pod, ReplicationController};
use serde::Deserialize;
use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, Visitor};
use serde_json::Value;
use serde_json::value::RawValue;
use std::borrow::Cow;
use std::fmt;

/// What Kubewarden sends to `validate`.
pub struct ValidationPayload<'a> {
    pub request: Option<AdmissionRequest<'a>>,
    pub settings: Option<&'a RawValue>,
}

/// How the request's objects are read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reading {
    /// Pod specs read in the payload's pass when the kind is already known.
    OnePass,
    /// Objects kept as raw JSON text, read afterwards.
    Raw,
}

impl<'a> ValidationPayload<'a> {
    /// Reads the payload `text` (and nothing may follow it).
    pub fn read(text: &'a str, reading: Reading) -> Result<Self, serde_json::Error> {
        let mut json = serde_json::Deserializer::from_str(text);
        let payload = PayloadSeed { text, reading }.deserialize(&mut json)?;
        json.end()?;
        Ok(payload)
    }

    /// Error path only: why the raw reading of `text` fails, with the path
    /// of the field it failed at (`.` for the payload itself); `None` if it
    /// does not fail.
    pub fn read_error(text: &str) -> Option<(String, serde_json::Error)> {
        let mut track = serde_path_to_error::Track::new();
        let mut json = serde_json::Deserializer::from_str(text);
        let seed = PayloadSeed {
            text,
            reading: Reading::Raw,
        };
        let tracked = serde_path_to_error::Deserializer::new(&mut json, &mut track);
        match seed.deserialize(tracked) {
            // Read, but something follows it.
            Ok(_) => json.end().err().map(|e| (".".to_string(), e)),
            Err(e) => Some((track.path().to_string(), e)),
        }
    }
}

/// The fields of the AdmissionRequest the policy reads.
pub struct AdmissionRequest<'a> {
    pub kind: Option<GroupVersionKind<'a>>,
    pub sub_resource: Option<Cow<'a, str>>,
    pub operation: Option<Cow<'a, str>>,
    pub object: Option<RequestObject<'a>>,
    pub old_object: Option<RequestObject<'a>>,
    /// The whole payload's text: what an object read in one pass holds
    /// beyond its pod spec is read from it again when needed (the object
    /// to mutate, templates to compare).
    payload: &'a str,
}

/// An object of the request (`object`, `oldObject`), as it was read.
pub enum RequestObject<'a> {
    /// Kept as raw JSON text: the kind was not known when it was read.
    Raw(&'a RawValue),
    /// Read in the payload's pass: the pod spec of the request's kind.
    PodSpec(Option<PodSpecView<'a>>),
    /// Skipped: the request's kind is not one the policy checks.
    Skipped,
}

/// Which object of the request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Which {
    Object,
    OldObject,
}

impl Which {
    fn key(self) -> &'static str {
        match self {
            Which::Object => "object",
            Which::OldObject => "oldObject",
        }
    }
}

impl<'a> AdmissionRequest<'a> {
    fn get(&self, which: Which) -> Option<&RequestObject<'a>> {
        match which {
            Which::Object => self.object.as_ref(),
            Which::OldObject => self.old_object.as_ref(),
        }
    }

    /// Takes the pod spec of `kind` out of the object; `Ok(None)` when the
    /// object is absent or has no pod spec.
    pub fn take_pod_spec(
        &mut self,
        which: Which,
        kind: CheckedKind,
    ) -> Result<Option<PodSpecView<'a>>, String> {
        let object = match which {
            Which::Object => &mut self.object,
            Which::OldObject => &mut self.old_object,
        };
        match object {
            None => Ok(None),
            Some(RequestObject::PodSpec(spec)) => Ok(spec.take()),
            Some(RequestObject::Raw(raw)) => read_pod_spec(raw.get(), kind),
            // Objects are skipped only for kinds the policy does not check.
            Some(RequestObject::Skipped) => Err("the object was not read".to_string()),
        }
    }

    /// The object's JSON text as the request carries it (the mutation
    /// splices its edits into it); `Ok(None)` when the object is absent.
    pub fn text_of(&self, which: Which) -> Result<Option<&'a str>, String> {
        match self.get(which) {
            None => Ok(None),
            Some(RequestObject::Raw(raw)) => Ok(Some(raw.get())),
            Some(RequestObject::PodSpec(_) | RequestObject::Skipped) => {
                read_path::<&RawValue>(self.payload, &["request", which.key()])
                    .map(|raw| raw.map(RawValue::get))
                    .map_err(|e| e.to_string())
            }
        }
    }

    /// The JSON value at `path` inside the object (to compare templates);
    /// `Ok(None)` when the object or the value is absent. Read
    /// straight from the payload when the object was read in one pass; an
    /// error is described as on the raw reading, from the object's text.
    pub fn value_at(&self, which: Which, path: &[&str]) -> Result<Option<Value>, String> {
        let raw = match self.get(which) {
            None => return Ok(None),
            Some(RequestObject::Raw(raw)) => *raw,
            Some(RequestObject::PodSpec(_) | RequestObject::Skipped) => {
                let mut full = vec!["request", which.key()];
                full.extend_from_slice(path);
                if let Ok(value) = read_path::<Value>(self.payload, &full) {
                    return Ok(value);
                }
                match read_path::<&RawValue>(self.payload, &full[..2]) {
                    Ok(Some(raw)) => raw,
                    Ok(None) => return Ok(None),
                    Err(e) => return Err(e.to_string()),
                }
            }
        };
        read_at::<Value>(raw.get(), path)
    }
}

/// Reads the value at `path` inside the JSON text `text`, like `read_at`,
/// with serde_json's error as it is (no field path).
pub(crate) fn read_path<'a, T: Deserialize<'a>>(
    text: &'a str,
    path: &[&str],
) -> Result<Option<T>, serde_json::Error> {
    PathSeed::<T> {
        path,
        marker: std::marker::PhantomData,
    }
    .deserialize(&mut serde_json::Deserializer::from_str(text))
}

/// Reads the top-level payload object.
struct PayloadSeed<'a> {
    text: &'a str,
    reading: Reading,
}

impl<'de> DeserializeSeed<'de> for PayloadSeed<'de> {
    type Value = ValidationPayload<'de>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for PayloadSeed<'de> {
    type Value = ValidationPayload<'de>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("struct ValidationPayload")
    }

    fn visit_map<M: MapAccess<'de>>(self, mut map: M) -> Result<Self::Value, M::Error> {
        let mut request = None;
        let mut settings = None;
        while let Some(field) = map.next_key::<Text>()? {
            match field.0.as_ref() {
                "request" => {
                    if request.is_some() {
                        return Err(de::Error::duplicate_field("request"));
                    }
                    let seed = RequestSeed {
                        payload: self.text,
                        reading: self.reading,
                    };
                    request = Some(map.next_value_seed(OptionSeed(seed))?);
                }
                "settings" => {
                    if settings.is_some() {
                        return Err(de::Error::duplicate_field("settings"));
                    }
                    settings = Some(map.next_value::<Option<&'de RawValue>>()?);
                }
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(ValidationPayload {
            request: request.flatten(),
            settings: settings.flatten(),
        })
    }
}

/// A string (a value or a map key), borrowed from the payload unless it has
/// escapes.
#[derive(Deserialize)]
#[serde(transparent)]
struct Text<'a>(#[serde(borrow)] Cow<'a, str>);

/// `null` or the value `T` reads.
struct OptionSeed<T>(T);

impl<'de, T: DeserializeSeed<'de>> DeserializeSeed<'de> for OptionSeed<T> {
    type Value = Option<T::Value>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_option(self)
    }
}

impl<'de, T: DeserializeSeed<'de>> Visitor<'de> for OptionSeed<T> {
    type Value = Option<T::Value>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an object or null")
    }

    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        self.0.deserialize(deserializer).map(Some)
    }
}

/// Reads the AdmissionRequest.
struct RequestSeed<'a> {
    payload: &'a str,
    reading: Reading,
}

impl<'de> DeserializeSeed<'de> for RequestSeed<'de> {
    type Value = AdmissionRequest<'de>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for RequestSeed<'de> {
    type Value = AdmissionRequest<'de>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("struct AdmissionRequest")
    }

    fn visit_map<M: MapAccess<'de>>(self, mut map: M) -> Result<Self::Value, M::Error> {
        let mut request = AdmissionRequest {
            kind: None,
            sub_resource: None,
            operation: None,
            object: None,
            old_object: None,
            payload: self.payload,
        };
        // Each field at most once, as a derived Deserialize would insist.
        let mut seen = [false; 5];
        let mut first = |index: usize, name: &'static str| {
            if std::mem::replace(&mut seen[index], true) {
                Err(de::Error::duplicate_field(name))
            } else {
                Ok(())
            }
        };
        while let Some(field) = map.next_key::<Text>()? {
            match field.0.as_ref() {
                "kind" => {
                    first(0, "kind")?;
                    request.kind = map.next_value()?;
                }
                "subResource" => {
                    first(1, "subResource")?;
                    request.sub_resource = map.next_value::<Option<Text>>()?.map(|t| t.0);
                }
                "operation" => {
                    first(2, "operation")?;
                    request.operation = map.next_value::<Option<Text>>()?.map(|t| t.0);
                }
                "object" => {
                    first(3, "object")?;
                    let seed = ObjectSeed(self.object_reading(&request));
                    request.object = map.next_value_seed(OptionSeed(seed))?;
                }
                "oldObject" => {
                    first(4, "oldObject")?;
                    let seed = ObjectSeed(self.object_reading(&request));
                    request.old_object = map.next_value_seed(OptionSeed(seed))?;
                }
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(request)
    }
}

impl RequestSeed<'_> {
    /// How to read an object reached now: its pod spec only if the kind
    /// came first and is one the policy checks.
    fn object_reading(&self, request: &AdmissionRequest) -> ObjectReading {
        match (self.reading, &request.kind) {
            (Reading::OnePass, Some(gvk)) => {
                match CheckedKind::from_group_kind(&gvk.group, &gvk.kind) {
                    Some(kind) => ObjectReading::PodSpec(kind),
                    None => ObjectReading::Skip,
                }
            }
            _ => ObjectReading::Raw,
        }
    }
}

enum ObjectReading {
    Raw,
    PodSpec(CheckedKind),
    Skip,
}

/// Reads a (non-null) object of the request.
struct ObjectSeed(ObjectReading);

impl<'de> DeserializeSeed<'de> for ObjectSeed {
    type Value = RequestObject<'de>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        match self.0 {
            ObjectReading::Raw => <&RawValue>::deserialize(deserializer).map(RequestObject::Raw),
            ObjectReading::PodSpec(kind) => PathSeed::<Object<PodSpecView<'de>>> {
                path: kind.pod_spec_path(),
                marker: std::marker::PhantomData,
            }
            .deserialize(deserializer)
            .map(|spec| RequestObject::PodSpec(spec.map(|s| s.0))),
            ObjectReading::Skip => {
                IgnoredAny::deserialize(deserializer).map(|_| RequestObject::Skipped)
            }
        }
    }
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
    read_path(raw, path).map_err(|_| describe_error_at::<T>(raw, path))
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

    const POD: &str = r#"{"group":"","version":"v1","kind":"Pod"}"#;
    const SPEC: &str =
        r#"{"metadata":{"name":"p"},"spec":{"containers":[{"name":"c","image":"nginx"}]}}"#;

    fn request<'a>(text: &'a str, reading: Reading) -> AdmissionRequest<'a> {
        let payload = ValidationPayload::read(text, reading).unwrap();
        payload.request.unwrap()
    }

    #[test]
    fn one_pass_reads_the_pod_spec_when_the_kind_comes_first() {
        let text = format!(r#"{{"request":{{"kind":{POD},"object":{SPEC},"oldObject":null}}}}"#);
        let read = request(&text, Reading::OnePass);
        let Some(RequestObject::PodSpec(Some(spec))) = &read.object else {
            panic!("the pod spec was not read in one pass");
        };
        assert_eq!(spec.list(ContainerList::Containers)[0].name, "c");
        assert!(read.old_object.is_none());
        // The raw reading keeps the object as text, whatever the order.
        let raw = request(&text, Reading::Raw);
        assert!(matches!(raw.object, Some(RequestObject::Raw(_))));
        // Both give the same values.
        for path in [&[][..], &["spec"], &["spec", "containers"], &["status"]] {
            assert_eq!(
                read.value_at(Which::Object, path),
                raw.value_at(Which::Object, path)
            );
        }
        assert_eq!(read.value_at(Which::OldObject, &[]), Ok(None));
    }

    #[test]
    fn objects_before_the_kind_are_kept_as_raw_text() {
        let text = format!(r#"{{"request":{{"object":{SPEC},"kind":{POD}}}}}"#);
        let mut read = request(&text, Reading::OnePass);
        assert!(matches!(read.object, Some(RequestObject::Raw(_))));
        let spec = read.take_pod_spec(Which::Object, CheckedKind::Pod).unwrap();
        assert_eq!(spec.unwrap().list(ContainerList::Containers)[0].name, "c");
    }

    #[test]
    fn objects_of_unchecked_kinds_are_skipped() {
        let text = r#"{"request":{"kind":{"group":"","kind":"ConfigMap"},"object":{"spec":{"containers":7}}}}"#;
        let read = request(text, Reading::OnePass);
        assert!(matches!(read.object, Some(RequestObject::Skipped)));
        assert_eq!(
            read.value_at(Which::Object, &["spec", "containers"]),
            Ok(Some(serde_json::json!(7)))
        );
    }

    #[test]
    fn a_pod_spec_that_cannot_be_read_fails_the_one_pass_only() {
        let text =
            format!(r#"{{"request":{{"kind":{POD},"object":{{"spec":{{"containers":7}}}}}}}}"#);
        assert!(ValidationPayload::read(&text, Reading::OnePass).is_err());
        assert!(ValidationPayload::read(&text, Reading::Raw).is_ok());
    }

    #[test]
    fn repeated_request_fields_are_errors_naming_the_field() {
        let text = format!(r#"{{"request":{{"kind":{POD},"kind":{POD}}}}}"#);
        for reading in [Reading::OnePass, Reading::Raw] {
            let e = ValidationPayload::read(&text, reading).err().unwrap();
            assert!(e.to_string().contains("duplicate field `kind`"), "{e}");
        }
        let (path, e) = ValidationPayload::read_error(&text).unwrap();
        assert_eq!(
            (path.as_str(), e.to_string().contains("`kind`")),
            ("request", true)
        );
        assert!(ValidationPayload::read_error(r#"{"request":null} x"#).is_some());
        assert!(ValidationPayload::read_error(r#"{"request":null}"#).is_none());
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
