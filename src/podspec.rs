//! Targeted, borrowing views of the parts of a pod spec the policy reads.
//! Every other field is skipped unread, which is both faster than a typed
//! whole-object parse and immune to fields the policy does not know.
//! The same views deserialize from request bytes (validate path) and from a
//! `serde_json::Value` (mutation path).

use serde::Deserialize;
use serde::de::{self, Deserializer, IgnoredAny, MapAccess, Visitor};
use std::borrow::Cow;
use std::fmt;

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PodSpecView<'a> {
    #[serde(borrow)]
    pub init_containers: Option<Vec<Object<ContainerView<'a>>>>,
    #[serde(borrow)]
    pub containers: Option<Vec<Object<ContainerView<'a>>>>,
    #[serde(borrow)]
    pub ephemeral_containers: Option<Vec<Object<ContainerView<'a>>>>,
    #[serde(borrow)]
    pub volumes: Option<Vec<VolumeView<'a>>>,
    #[serde(borrow)]
    pub os: Option<Object<PodOsView<'a>>>,
}

#[derive(Debug, Default, Deserialize)]
pub struct PodOsView<'a> {
    #[serde(borrow)]
    pub name: Option<Cow<'a, str>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ContainerView<'a> {
    #[serde(borrow, default)]
    pub name: Cow<'a, str>,
    #[serde(borrow)]
    pub image: Option<Cow<'a, str>>,
    #[serde(borrow)]
    pub security_context: Option<Object<SecurityContextView<'a>>>,
    #[serde(borrow)]
    pub volume_mounts: Option<Vec<Object<VolumeMountView<'a>>>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SecurityContextView<'a> {
    pub read_only_root_filesystem: Option<bool>,
    /// With `capabilities.add`, what lets a container remount its root.
    pub privileged: Option<bool>,
    #[serde(borrow)]
    pub capabilities: Option<Object<CapabilitiesView<'a>>>,
}

#[derive(Debug, Default, Deserialize)]
pub struct CapabilitiesView<'a> {
    #[serde(borrow)]
    pub add: Option<Vec<Cow<'a, str>>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VolumeMountView<'a> {
    #[serde(borrow, default)]
    pub name: Cow<'a, str>,
    #[serde(borrow, default)]
    pub mount_path: Cow<'a, str>,
    pub read_only: Option<bool>,
    #[serde(borrow)]
    pub sub_path: Option<Cow<'a, str>>,
    #[serde(borrow)]
    pub sub_path_expr: Option<Cow<'a, str>>,
}

/// A view that only deserializes from a JSON object. serde's derived
/// structs also accept a JSON array of field values, which would let
/// `"securityContext": [true]` read as `readOnlyRootFilesystem: true`; the
/// API server never sends that, but the policy must not accept it either.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Object<T>(pub T);

impl<T> std::ops::Deref for Object<T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.0
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Object<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_map(ObjectVisitor(std::marker::PhantomData))
    }
}

struct ObjectVisitor<T>(std::marker::PhantomData<T>);

impl<'de, T: Deserialize<'de>> Visitor<'de> for ObjectVisitor<T> {
    type Value = Object<T>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an object")
    }

    fn visit_map<M: MapAccess<'de>>(self, map: M) -> Result<Self::Value, M::Error> {
        T::deserialize(de::value::MapAccessDeserializer::new(map)).map(Object)
    }
}

/// The list a container comes from, in pod spec order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ContainerList {
    InitContainers,
    Containers,
    EphemeralContainers,
}

impl ContainerList {
    pub const ALL: [ContainerList; 3] = [
        ContainerList::InitContainers,
        ContainerList::Containers,
        ContainerList::EphemeralContainers,
    ];

    /// The JSON field name of the list.
    pub fn field(self) -> &'static str {
        match self {
            ContainerList::InitContainers => "initContainers",
            ContainerList::Containers => "containers",
            ContainerList::EphemeralContainers => "ephemeralContainers",
        }
    }

    /// How a person calls a container of this list.
    pub fn noun(self) -> &'static str {
        match self {
            ContainerList::InitContainers => "init container",
            ContainerList::Containers => "container",
            ContainerList::EphemeralContainers => "ephemeral container",
        }
    }
}

impl<'a> PodSpecView<'a> {
    pub fn list(&self, list: ContainerList) -> &[Object<ContainerView<'a>>] {
        let containers = match list {
            ContainerList::InitContainers => &self.init_containers,
            ContainerList::Containers => &self.containers,
            ContainerList::EphemeralContainers => &self.ephemeral_containers,
        };
        containers.as_deref().unwrap_or_default()
    }

    pub fn volumes(&self) -> &[VolumeView<'a>] {
        self.volumes.as_deref().unwrap_or_default()
    }

    pub fn is_windows(&self) -> bool {
        self.os
            .as_ref()
            .and_then(|os| os.name.as_deref())
            .is_some_and(|name| name == "windows")
    }

    pub fn volume(&self, name: &str) -> Option<&VolumeView<'a>> {
        self.volumes().iter().find(|v| v.name == name)
    }

    /// Name and image of every container in every list.
    pub fn container_images(&self) -> impl Iterator<Item = (&str, Option<&str>)> {
        ContainerList::ALL.into_iter().flat_map(|list| {
            self.list(list)
                .iter()
                .map(|c| (c.name.as_ref(), c.image.as_deref()))
        })
    }
}

/// Whether data written through a volume lands somewhere writable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VolumeWritability {
    Writable,
    /// configMap, secret, downwardAPI, projected, image: always read-only.
    ReadOnlyType(String),
    /// A storage volume whose source says `readOnly: true`.
    ReadOnlySource(String),
}

/// A pod volume: its name and whether it can be written. Read with a
/// hand-written visitor because the volume type is the name of whichever
/// source key is present.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VolumeView<'a> {
    pub name: Cow<'a, str>,
    pub writability: VolumeWritability,
}

/// Volume sources Kubernetes always mounts read-only.
const READ_ONLY_VOLUME_TYPES: [&str; 5] =
    ["configMap", "secret", "downwardAPI", "projected", "image"];

/// The one field of a storage volume source the policy reads: `readOnly`.
/// Any other value under a key of the volume (a scalar or a list, as a field
/// added by a newer Kubernetes might be) is skipped, not an error.
struct SourceReadOnly(Option<bool>);

impl<'de> Deserialize<'de> for SourceReadOnly {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(SourceReadOnlyVisitor)
    }
}

struct SourceReadOnlyVisitor;

/// Keys of a volume source, read without allocating (and whatever form
/// serde_json gives them, including its private key for numbers).
#[derive(Deserialize)]
#[serde(field_identifier, rename_all = "camelCase")]
enum SourceKey {
    ReadOnly,
    #[serde(other)]
    Other,
}

impl<'de> Visitor<'de> for SourceReadOnlyVisitor {
    type Value = SourceReadOnly;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a volume source")
    }

    fn visit_map<M: MapAccess<'de>>(self, mut map: M) -> Result<Self::Value, M::Error> {
        let mut read_only = None;
        while let Some(key) = map.next_key::<SourceKey>()? {
            match key {
                SourceKey::ReadOnly => read_only = map.next_value::<Option<bool>>()?,
                SourceKey::Other => map.next_value::<IgnoredAny>().map(|_| ())?,
            }
        }
        Ok(SourceReadOnly(read_only))
    }

    fn visit_seq<S: de::SeqAccess<'de>>(self, mut seq: S) -> Result<Self::Value, S::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(SourceReadOnly(None))
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(SourceReadOnly(None))
    }

    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(SourceReadOnly(None))
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
        Ok(SourceReadOnly(None))
    }

    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Self::Value, E> {
        Ok(SourceReadOnly(None))
    }

    fn visit_u64<E: de::Error>(self, _: u64) -> Result<Self::Value, E> {
        Ok(SourceReadOnly(None))
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
        Ok(SourceReadOnly(None))
    }

    fn visit_str<E: de::Error>(self, _: &str) -> Result<Self::Value, E> {
        Ok(SourceReadOnly(None))
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for VolumeView<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_map(VolumeVisitor(std::marker::PhantomData))
    }
}

struct VolumeVisitor<'a>(std::marker::PhantomData<&'a ()>);

/// A string borrowed from the input when it has no escapes.
#[derive(Deserialize)]
struct Borrowed<'a>(#[serde(borrow)] Cow<'a, str>);

impl<'de: 'a, 'a> Visitor<'de> for VolumeVisitor<'a> {
    type Value = VolumeView<'a>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a volume object")
    }

    fn visit_map<M: MapAccess<'de>>(self, mut map: M) -> Result<Self::Value, M::Error> {
        let mut name: Option<Cow<'a, str>> = None;
        // A volume without any source is defaulted to emptyDir by the API
        // server, so "nothing seen yet" starts as writable.
        let mut writability = VolumeWritability::Writable;
        // Keys and the name are borrowed from the input unless escaped.
        while let Some(Borrowed(key)) = map.next_key::<Borrowed<'de>>()? {
            if key == "name" {
                name = Some(map.next_value::<Borrowed<'a>>()?.0);
            } else if READ_ONLY_VOLUME_TYPES.contains(&key.as_ref()) {
                map.next_value::<IgnoredAny>()?;
                writability = VolumeWritability::ReadOnlyType(key.into_owned());
            } else {
                let source = map
                    .next_value::<SourceReadOnly>()
                    .map_err(|e| de::Error::custom(format_args!("volume source {key}: {e}")))?;
                let read_only = source.0 == Some(true);
                if read_only && writability == VolumeWritability::Writable {
                    writability = VolumeWritability::ReadOnlySource(key.into_owned());
                }
            }
        }
        Ok(VolumeView {
            name: name.unwrap_or_default(),
            writability,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn volume(v: serde_json::Value) -> VolumeWritability {
        VolumeView::deserialize(&v).unwrap().writability
    }

    #[test]
    fn unknown_scalar_fields_of_a_volume_are_skipped() {
        let v = json!({"name": "a", "emptyDir": {}, "futureField": "s", "futureList": [1], "futureNumber": 1.5});
        assert_eq!(volume(v), VolumeWritability::Writable);
        let text = r#"{"name":"a","csi":{"driver":"d","readOnly":true},"futureNumber":12345678901234567890123}"#;
        let view: VolumeView = serde_json::from_str(text).unwrap();
        assert_eq!(
            view.writability,
            VolumeWritability::ReadOnlySource("csi".into())
        );
    }

    #[test]
    fn volume_types() {
        assert_eq!(
            volume(json!({"name": "a", "emptyDir": {}})),
            VolumeWritability::Writable
        );
        assert_eq!(volume(json!({"name": "a"})), VolumeWritability::Writable);
        assert_eq!(
            volume(json!({"name": "a", "hostPath": {"path": "/x"}})),
            VolumeWritability::Writable
        );
        assert_eq!(
            volume(
                json!({"name": "a", "persistentVolumeClaim": {"claimName": "c", "readOnly": true}})
            ),
            VolumeWritability::ReadOnlySource("persistentVolumeClaim".into())
        );
        assert_eq!(
            volume(json!({"name": "a", "nfs": {"server": "s", "path": "/", "readOnly": false}})),
            VolumeWritability::Writable
        );
        for t in READ_ONLY_VOLUME_TYPES {
            assert_eq!(
                volume(json!({"name": "a", t: {}})),
                VolumeWritability::ReadOnlyType(t.into())
            );
        }
    }

    #[test]
    fn spec_from_str_skips_unknown_fields() {
        let text = r#"{"containers":[{"name":"a","image":"i","future":{"x":[1,2]},"securityContext":{"readOnlyRootFilesystem":true,"other":1}}],"somethingNew":null,"os":{"name":"linux"}}"#;
        let spec: PodSpecView = serde_json::from_str(text).unwrap();
        assert_eq!(spec.list(ContainerList::Containers).len(), 1);
        assert!(!spec.is_windows());
        assert_eq!(
            spec.container_images().collect::<Vec<_>>(),
            vec![("a", Some("i"))]
        );
    }

    #[test]
    fn views_read_objects_only() {
        let text = r#"{"containers":[{"name":"a","securityContext":[true]}]}"#;
        assert!(serde_json::from_str::<PodSpecView>(text).is_err());
        let text = r#"{"containers":[["a"]]}"#;
        assert!(serde_json::from_str::<PodSpecView>(text).is_err());
        let value =
            serde_json::json!({"containers": [{"name": "a", "volumeMounts": [["v", "/tmp"]]}]});
        assert!(PodSpecView::deserialize(&value).is_err());
    }
}
