//! One model of the contract (`POLICY-SPEC.md`), written from the spec and
//! not from the policy's code, shared by the property tests
//! (`crates/policy-host/tests/mutation_properties/`) and the `pod_structure`
//! fuzz target. Each suite describes its generated pod, settings and
//! operation with these types, asks [`evaluate`] for the verdict, the exact
//! violation count and the warnings, and checks a mutation with
//! [`check_edits`] and messages with [`check_message_bounds`],
//! [`check_attribution`] and [`check_warnings`].
//!
//! What may change in the contract changes here, in one place each:
//! - image patterns and "the image changed": [`image_matches`], [`same_image`];
//! - the rules a container's required paths come from: [`Settings::rules`]
//!   (`containerWritablePaths`, then the application profiles' rules, each
//!   with its [`Origin`], which a violation names: [`check_attribution`]);
//! - how messages quote request strings: [`quote`].
//!
//! The model reads image references with the core's reader
//! (`readonly_rootfs_policy::image`, tested against the reference
//! implementation's published vectors): registry detection, `docker.io`,
//! `library/`. It states the matching rules itself on the parsed parts
//! ([`reference`], [`pattern`]); it never asks the core's `selector`
//! whether an image matches or changed.

use readonly_rootfs_policy::{escape, image, profiles::APPLICATION_PROFILES};
use serde_json::{Map, Value, json};
use std::collections::HashSet;

/// A rejection lists at most this many violations, a response gives at most
/// this many warnings; then one line saying how many more.
pub const MAX_LISTED: usize = 20;

// ---------------------------------------------------------------- matching

/// An image reference as the container runtime resolves it: the core's
/// reader ([`image::parse`], tested against the reference implementation's
/// vectors) gives the normalized registry (lower case, `docker.io` when the
/// first component is not a registry, `index.docker.io` read as
/// `docker.io`) and path (`library/` added to a one-component Docker Hub
/// path); the default tag is the model's: `latest` when the reference has
/// neither tag nor digest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reference {
    pub registry: String,
    pub path: String,
    /// The tag written, else `latest` when there is no digest either.
    pub tag: Option<String>,
    pub digest: Option<String>,
}

/// `None` when `image` is not a valid reference.
pub fn reference(image: &str) -> Option<Reference> {
    let parsed = image::parse(image).ok()?;
    let tag = match (parsed.tag(), parsed.digest()) {
        (Some(tag), _) => Some(tag.to_string()),
        (None, None) => Some("latest".to_string()),
        (None, Some(_)) => None,
    };
    Some(Reference {
        registry: parsed.registry().to_string(),
        path: parsed.path().to_string(),
        tag,
        digest: parsed.digest().map(str::to_string),
    })
}

/// An image pattern of the settings, by the forms of the contract's table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Pattern {
    /// `*`.
    Any,
    /// `REPOSITORY` or `REPOSITORY:*`: `(registry, path)`.
    Repository(String, String),
    /// `REPOSITORY:TAG`.
    Tag(String, String, String),
    /// `REPOSITORY@DIGEST` or `REPOSITORY:TAG@DIGEST` (the tag is not
    /// compared).
    Digest(String, String, String),
    /// `PATH/*`: `(registry, path prefix)`, the prefix possibly empty (a
    /// whole registry); `library/` is never added to it.
    Under(String, String),
}

/// Reads an image pattern. The suites generate valid settings only: an
/// invalid pattern is a test bug and panics.
pub fn pattern(written: &str) -> Pattern {
    fn invalid<T>(written: &str) -> T {
        panic!("test bug: {written:?} is not a valid image pattern")
    }
    if written == "*" {
        return Pattern::Any;
    }
    if let Some(prefix) = written.strip_suffix("/*") {
        let prefix = image::parse_repository_prefix(prefix).unwrap_or_else(|_| invalid(written));
        return Pattern::Under(prefix.registry().to_string(), prefix.path().to_string());
    }
    let (repository, any_tag) = match written.strip_suffix(":*") {
        Some(repository) => (repository, true),
        None => (written, false),
    };
    let parsed = image::parse(repository).unwrap_or_else(|_| invalid(written));
    let (registry, path) = (parsed.registry().to_string(), parsed.path().to_string());
    match (parsed.tag(), parsed.digest()) {
        (None, None) => Pattern::Repository(registry, path),
        _ if any_tag => invalid(written),
        (_, Some(digest)) => Pattern::Digest(registry, path, digest.to_string()),
        (Some(tag), None) => Pattern::Tag(registry, path, tag.to_string()),
    }
}

/// Whether a container image matches an image pattern (an `exemptContainers`
/// entry's, a rule's or an application profile's `image`), per the
/// contract's table: `*` every image; a repository every tag and digest of
/// it; `REPOSITORY:TAG` that tag (`latest` for an image with neither tag
/// nor digest), with or without a digest; a digest that digest; `PATH/*`
/// every repository of that registry whose path continues the prefix at a
/// component boundary. An image that is not a valid reference matches only
/// `*`; a container without an image matches nothing.
pub fn image_matches(pattern_text: &str, image: Option<&str>) -> bool {
    let Some(image) = image else {
        return false;
    };
    let pattern = pattern(pattern_text);
    if pattern == Pattern::Any {
        return true;
    }
    let Some(image) = reference(image) else {
        return false;
    };
    let same_repository =
        |registry: &str, path: &str| image.registry == registry && image.path == path;
    match &pattern {
        Pattern::Any => true,
        Pattern::Repository(registry, path) => same_repository(registry, path),
        Pattern::Tag(registry, path, tag) => {
            same_repository(registry, path) && image.tag.as_deref() == Some(tag.as_str())
        }
        Pattern::Digest(registry, path, digest) => {
            same_repository(registry, path) && image.digest.as_deref() == Some(digest.as_str())
        }
        Pattern::Under(registry, prefix) => {
            let components: Vec<&str> = image.path.split('/').collect();
            let prefix: Vec<&str> = prefix.split('/').filter(|c| !c.is_empty()).collect();
            image.registry == *registry
                && components.len() > prefix.len()
                && components.starts_with(&prefix)
        }
    }
}

/// Whether a Pod UPDATE leaves a container's image as it was (else the
/// container is checked as new): no image before and after, the same
/// string, or two valid references with the same registry, path, tag
/// (`latest` by default) and digest. An image that is not a valid reference
/// is only the same as itself.
pub fn same_image(old: Option<&str>, new: Option<&str>) -> bool {
    match (old, new) {
        (None, None) => true,
        (Some(old), Some(new)) if old == new => true,
        (Some(old), Some(new)) => match (reference(old), reference(new)) {
            (Some(old), Some(new)) => old == new,
            _ => false,
        },
        _ => false,
    }
}

/// A string from the request as messages and warnings quote it: between
/// double quotes, escaped as a JSON string (and more: the core's
/// [`escape::quoted`]).
pub fn quote(s: &str) -> String {
    escape::quoted(s)
}

/// An exemption object or a rule's selector: `name` exactly, `image` as a
/// pattern; both given, both must match. (A bare-name exemption is a
/// selector with only a name.)
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Selector {
    pub name: Option<String>,
    pub image: Option<String>,
}

impl Selector {
    pub fn new(name: Option<&str>, image: Option<&str>) -> Self {
        Selector {
            name: name.map(str::to_string),
            image: image.map(str::to_string),
        }
    }

    pub fn matches(&self, name: &str, image: Option<&str>) -> bool {
        self.name.as_deref().is_none_or(|n| n == name)
            && self
                .image
                .as_deref()
                .is_none_or(|p| image_matches(p, image))
    }

    /// As an object entry: `name` and `image` where given; with `null_key`,
    /// the other one as `null` (null is absent).
    pub fn json(&self, null_key: bool) -> Map<String, Value> {
        let mut o = Map::new();
        for (key, value) in [("name", &self.name), ("image", &self.image)] {
            let field = match value {
                Some(v) => Field::Set(json!(v)),
                None if null_key => Field::Null,
                None => Field::Absent,
            };
            put(&mut o, key, field);
        }
        o
    }
}

/// A `containerWritablePaths` rule, or an application profile's rule for
/// one of its repositories: the paths the containers it selects must be
/// able to write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    pub selector: Selector,
    pub paths: Vec<String>,
}

/// What requires a path of a container, as a violation it causes names it:
/// a path is required once, by the first of `requiredWritablePaths`, the
/// `containerWritablePaths` rules in order, then the application profiles
/// in order, that lists it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// `requiredWritablePaths`.
    Required,
    /// `containerWritablePaths[index]`.
    Setting(usize),
    /// The application profile of this name.
    Profile(&'static str),
}

// ---------------------------------------------------------------- settings

/// The settings as the contract reads them (absent and null keys are their
/// defaults, but `warnSubPathMounts` defaults to true; `writableVolume`:
/// [`injected_empty_dir`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Settings {
    /// `requiredWritablePaths`, as written (trailing slashes allowed).
    pub required: Vec<String>,
    pub exemptions: Vec<Selector>,
    /// `containerWritablePaths`.
    pub rules: Vec<Rule>,
    /// `applicationProfiles`: names of built-in profiles, in order.
    pub profiles: Vec<String>,
    pub exempt_ephemeral: bool,
    pub mutate: bool,
    pub warn_sub_path_mounts: bool,
}

impl Settings {
    /// Every rule a container's required paths come from, in order, with
    /// its origin: the `containerWritablePaths` rules, then one rule per
    /// repository of each application profile (the profiles' data is the
    /// core's `APPLICATION_PROFILES`: its image pattern is the repository,
    /// every tag and digest).
    pub fn rules(&self) -> Vec<(Origin, Rule)> {
        let settings = self.rules.iter().enumerate();
        let mut rules: Vec<(Origin, Rule)> = settings
            .map(|(index, rule)| (Origin::Setting(index), rule.clone()))
            .collect();
        for name in &self.profiles {
            let profile = APPLICATION_PROFILES
                .iter()
                .find(|p| p.name == name)
                .unwrap_or_else(|| panic!("test bug: no application profile is named {name:?}"));
            for repository in profile.repositories {
                let rule = Rule {
                    selector: Selector::new(None, Some(repository)),
                    paths: profile.paths.iter().map(|p| p.to_string()).collect(),
                };
                rules.push((Origin::Profile(profile.name), rule));
            }
        }
        rules
    }

    pub fn is_exempt(&self, list: List, name: &str, image: Option<&str>) -> bool {
        (list == List::Ephemeral && self.exempt_ephemeral)
            || self.exemptions.iter().any(|e| e.matches(name, image))
    }

    /// The paths a checked regular or init container must be able to
    /// write, each with what requires it.
    pub fn required_paths(&self, name: &str, image: Option<&str>) -> Vec<(String, Origin)> {
        required_paths(&self.required, &self.rules(), name, image)
    }
}

/// `global`, then the paths of every rule the container matches, normalised
/// ([`normalise`]) and each once, attributed to the first that lists it.
pub fn required_paths(
    global: &[String],
    rules: &[(Origin, Rule)],
    name: &str,
    image: Option<&str>,
) -> Vec<(String, Origin)> {
    let global = global.iter().map(|path| (path, Origin::Required));
    let matching = rules
        .iter()
        .filter(|(_, r)| r.selector.matches(name, image))
        .flat_map(|(origin, r)| r.paths.iter().map(move |path| (path, *origin)));
    let mut paths: Vec<(String, Origin)> = Vec::new();
    for (path, origin) in global.chain(matching) {
        let path = normalise(path);
        if !paths.iter().any(|(p, _)| p == path) {
            paths.push((path.to_string(), origin));
        }
    }
    paths
}

/// A path without its trailing slashes.
pub fn normalise(path: &str) -> &str {
    path.trim_end_matches('/')
}

/// A path's segments: `/app//cache/` is `["app", "cache"]`.
pub fn segments(path: &str) -> Vec<&str> {
    path.split('/').filter(|s| !s.is_empty()).collect()
}

/// Whether a mount at `mount_path` covers `path`: it is the path or a parent
/// directory of it, segment by segment.
pub fn covers(mount_path: &str, path: &str) -> bool {
    segments(path).starts_with(&segments(mount_path))
}

/// Whether a capability in `capabilities.add` lets a container remount its
/// root: `SYS_ADMIN` or `ALL`, any case, with or without `CAP_`.
pub fn grants_remount(capability: &str) -> bool {
    let upper = capability.to_ascii_uppercase();
    let bare = upper.strip_prefix("CAP_").unwrap_or(&upper);
    bare == "SYS_ADMIN" || bare == "ALL"
}

/// Whether a container can remount its root (a remount warning), from its
/// securityContext object: `privileged: true` or a capability that
/// [`grants_remount`].
pub fn can_remount<'a>(privileged: bool, added: impl IntoIterator<Item = &'a str>) -> bool {
    privileged || added.into_iter().any(grants_remount)
}

// --------------------------------------------------------------------- pod

/// Where a container is in the pod spec.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum List {
    Init,
    Regular,
    Ephemeral,
}

impl List {
    pub const ALL: [List; 3] = [List::Init, List::Regular, List::Ephemeral];

    pub fn field(self) -> &'static str {
        match self {
            List::Init => "initContainers",
            List::Regular => "containers",
            List::Ephemeral => "ephemeralContainers",
        }
    }
}

/// `securityContext.readOnlyRootFilesystem`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Root {
    True,
    /// Written as `false`: mutation never overrides it.
    False,
    /// Absent or null (also with no securityContext).
    Unset,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mount {
    pub path: String,
    pub volume: String,
    pub read_only: bool,
    /// `subPath` or `subPathExpr`, not empty.
    pub sub_path: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Container {
    pub list: List,
    pub name: String,
    pub image: Option<String>,
    pub root: Root,
    /// See [`can_remount`].
    pub can_remount: bool,
    pub mounts: Vec<Mount>,
}

/// A JSON field that may be absent, null or a value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field<T> {
    Absent,
    Null,
    Set(T),
}

impl<T> Field<T> {
    pub fn map_ref<'a, U>(&'a self, f: impl FnOnce(&'a T) -> U) -> Field<U> {
        match self {
            Field::Absent => Field::Absent,
            Field::Null => Field::Null,
            Field::Set(t) => Field::Set(f(t)),
        }
    }
}

/// Inserts `field` into `map` under `key` unless it is absent.
pub fn put(map: &mut Map<String, Value>, key: &str, field: Field<Value>) {
    let value = match field {
        Field::Absent => return,
        Field::Null => Value::Null,
        Field::Set(v) => v,
    };
    map.insert(key.into(), value);
}

/// A volume's source. The storage sources carry their own `readOnly`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    EmptyDir,
    EmptyDirMemory,
    /// No source key at all.
    NoSource,
    ConfigMap,
    Secret,
    Projected,
    DownwardApi,
    Image,
    HostPath,
    Ephemeral,
    /// A source newer than the policy: a storage volume.
    Future,
    Pvc(Field<bool>),
    Csi(Field<bool>),
    Nfs(Field<bool>),
}

impl Source {
    /// Whether a container can write through a mount of it.
    pub fn writable(self) -> bool {
        match self {
            Source::ConfigMap
            | Source::Secret
            | Source::Projected
            | Source::DownwardApi
            | Source::Image => false,
            Source::Pvc(ro) | Source::Csi(ro) | Source::Nfs(ro) => ro != Field::Set(true),
            _ => true,
        }
    }

    /// Whether the kubelet updates its content (except under a subPath).
    pub fn updated(self) -> bool {
        matches!(
            self,
            Source::ConfigMap | Source::Secret | Source::Projected | Source::DownwardApi
        )
    }

    /// The volume `{"name": name, <source>}` as a pod spec holds it.
    pub fn json(self, name: &str) -> Value {
        let storage = |mut source: Value, ro: Field<bool>| {
            if let Some(map) = source.as_object_mut() {
                put(map, "readOnly", ro.map_ref(|b| json!(b)));
            }
            source
        };
        let (key, source) = match self {
            Source::NoSource => return json!({"name": name}),
            Source::EmptyDir => ("emptyDir", json!({})),
            Source::EmptyDirMemory => ("emptyDir", json!({"medium": "Memory", "sizeLimit": "8Mi"})),
            Source::ConfigMap => ("configMap", json!({"name": "app-config"})),
            Source::Secret => (
                "secret",
                json!({"secretName": "app-secret", "optional": null}),
            ),
            Source::Projected => (
                "projected",
                json!({"sources": [{"configMap": {"name": "app-config"}},
                    {"serviceAccountToken": {"path": "token"}}]}),
            ),
            Source::DownwardApi => (
                "downwardAPI",
                json!({"items": [{"path": "labels", "fieldRef": {"fieldPath": "metadata.labels"}}]}),
            ),
            Source::Image => (
                "image",
                json!({"reference": "registry.example.com/data:1", "pullPolicy": "IfNotPresent"}),
            ),
            Source::HostPath => ("hostPath", json!({"path": "/var/data", "type": ""})),
            Source::Ephemeral => (
                "ephemeral",
                json!({"volumeClaimTemplate": {"metadata": null, "spec": {
                    "accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}}}),
            ),
            Source::Future => ("futureVolumeSource", json!({"x": [1, null]})),
            Source::Pvc(ro) => (
                "persistentVolumeClaim",
                storage(json!({"claimName": "claim"}), ro),
            ),
            Source::Csi(ro) => ("csi", storage(json!({"driver": "csi.example.com"}), ro)),
            Source::Nfs(ro) => (
                "nfs",
                storage(json!({"server": "nfs.example.com", "path": "/exports"}), ro),
            ),
        };
        json!({"name": name, key: source})
    }
}

/// An admission request for `operation` on a `kind` object (group, version,
/// kind, resource), to which the suites add `object`, `oldObject` and
/// `subResource`.
pub fn admission_request(kind: (&str, &str, &str, &str), operation: &str) -> Value {
    let (group, version, kind, resource) = kind;
    json!({
        "uid": "705ab4f5-6393-11e8-b7cc-42010a800002",
        "kind": {"group": group, "version": version, "kind": kind},
        "resource": {"group": group, "version": version, "resource": resource},
        "requestKind": {"group": group, "version": version, "kind": kind},
        "name": "demo",
        "namespace": "default",
        "operation": operation,
        "userInfo": {"username": "alice", "groups": ["system:authenticated"]},
        "dryRun": false,
        "options": null,
    })
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Volume {
    pub name: String,
    pub source: Source,
}

/// A readable pod spec as the contract sees it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Pod {
    /// In pod spec order: init containers, containers, ephemeral containers.
    pub containers: Vec<Container>,
    pub volumes: Vec<Volume>,
    /// `os.name: windows`.
    pub windows: bool,
}

impl Pod {
    pub fn volume(&self, name: &str) -> Option<Source> {
        self.volumes
            .iter()
            .find(|v| v.name == name)
            .map(|v| v.source)
    }
}

/// How a required path stands for a container.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Coverage {
    /// The deepest mount covering it is writable.
    Writable,
    /// The deepest mount covering it is read-only or of a volume that cannot
    /// be written (or does not exist): mutation cannot fix that.
    NotWritable,
    /// No mount covers it: mutation adds one.
    Uncovered,
    /// Two mounts at one depth that disagree (invalid in Kubernetes).
    Ambiguous,
}

/// Whether `container` can write to `path`: the deepest of its mounts that
/// covers the path decides.
pub fn coverage(pod: &Pod, container: &Container, path: &str) -> Coverage {
    let mut best: Option<(usize, bool)> = None;
    let mut tie = false;
    for m in container.mounts.iter().filter(|m| covers(&m.path, path)) {
        let depth = segments(&m.path).len();
        let ok = !m.read_only && pod.volume(&m.volume).is_some_and(Source::writable);
        match best {
            Some((d, _)) if d > depth => {}
            Some((d, w)) if d == depth => tie |= w != ok,
            _ => {
                best = Some((depth, ok));
                tie = false;
            }
        }
    }
    match best {
        _ if tie => Coverage::Ambiguous,
        None => Coverage::Uncovered,
        Some((_, true)) => Coverage::Writable,
        Some((_, false)) => Coverage::NotWritable,
    }
}

// --------------------------------------------------------------- operation

/// The admission operation on a checked kind's readable pod spec. (DELETE,
/// CONNECT and kinds that are not checked are always accepted.)
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Operation {
    Create,
    /// UPDATE of a workload: accepted unchecked when the template did not change.
    WorkloadUpdate {
        template_changed: bool,
    },
    /// UPDATE of a Pod: the old Pod's containers `(name, image)` (none when
    /// there is no old Pod), and whether it is the ephemeralcontainers
    /// subresource.
    PodUpdate {
        old: Vec<(String, Option<String>)>,
        subresource: bool,
    },
}

/// What mutation may do to a checked container.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Edit {
    /// Nothing: a plain Pod UPDATE, or a container whose image changed on a
    /// running Pod (its securityContext cannot change).
    None,
    /// Set `readOnlyRootFilesystem` only: an ephemeral container, or a new
    /// container on the ephemeralcontainers subresource (a pod's volumes
    /// cannot change).
    RootOnly,
    /// Set `readOnlyRootFilesystem` and add a volume per uncovered path.
    Full,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Accept,
    /// A Windows pod: accepted unchecked with one warning saying why.
    AcceptWindows,
    Reject,
    Mutate,
    /// The contract leaves this input open (names or mounts Kubernetes
    /// would refuse); only the general invariants apply.
    Unknown(&'static str),
}

/// A container the policy checks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checked {
    pub list: List,
    /// Its index in its list.
    pub index: usize,
    pub name: String,
    /// Checked because a Pod UPDATE changed its image.
    pub image_changed: bool,
    pub explicit_false: bool,
    /// Regular and init containers: the paths it must be able to write.
    pub required: Vec<String>,
    /// The required paths it cannot write (a violation each), with what
    /// requires them.
    pub unwritable: Vec<(String, Origin)>,
    /// Its violations in validate-only mode.
    pub violations: usize,
    pub edit: Edit,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Prediction {
    pub verdict: Verdict,
    /// Every container the policy checks, in pod spec order.
    pub checked: Vec<Checked>,
    /// The warnings before bounding ([`shown`]).
    pub warnings: usize,
}

impl Prediction {
    pub fn of(verdict: Verdict) -> Self {
        Prediction {
            verdict,
            checked: Vec::new(),
            warnings: 0,
        }
    }

    /// The exact violation count of a rejection's header.
    pub fn violations(&self) -> usize {
        self.checked.iter().map(|c| c.violations).sum()
    }

    /// The checked container at `list[index]` if mutation may edit it.
    pub fn editable(&self, list: List, index: usize) -> Option<&Checked> {
        self.checked
            .iter()
            .find(|c| c.list == list && c.index == index && c.edit != Edit::None)
    }
}

/// The contract's verdict on `pod` under `settings` for `operation`.
pub fn evaluate(settings: &Settings, pod: &Pod, operation: &Operation) -> Prediction {
    if pod.windows {
        return Prediction {
            warnings: 1,
            ..Prediction::of(Verdict::AcceptWindows)
        };
    }
    if *operation
        == (Operation::WorkloadUpdate {
            template_changed: false,
        })
    {
        return Prediction::of(Verdict::Accept);
    }
    let mut names = HashSet::new();
    if !pod.volumes.iter().all(|v| names.insert(&v.name)) {
        return Prediction::of(Verdict::Unknown("two volumes of one name"));
    }
    let mut prediction = Prediction::of(Verdict::Accept);
    let mut unfixable = false;
    let mut next_index = [0; 3];
    for c in &pod.containers {
        let index = next_index[c.list as usize];
        next_index[c.list as usize] += 1;
        let image = c.image.as_deref();
        // Exemptions see the image the container has now.
        if settings.is_exempt(c.list, &c.name, image) {
            continue;
        }
        let (image_changed, edit) = match operation {
            Operation::PodUpdate { old, subresource } => {
                let mut olds = old.iter().filter(|(n, _)| *n == c.name);
                match olds.next() {
                    None if *subresource => (false, Edit::RootOnly),
                    None => (false, Edit::None),
                    Some((_, first)) => {
                        if olds.any(|(_, other)| !same_image(first.as_deref(), other.as_deref())) {
                            return Prediction::of(Verdict::Unknown(
                                "the old Pod has two containers of one name and different images",
                            ));
                        }
                        if same_image(first.as_deref(), image) {
                            continue;
                        }
                        (true, Edit::None)
                    }
                }
            }
            // An ephemeral container requires no path: no volume for it.
            _ if c.list == List::Ephemeral => (false, Edit::RootOnly),
            _ => (false, Edit::Full),
        };
        let required = match c.list {
            List::Ephemeral => Vec::new(),
            _ => settings.required_paths(&c.name, image),
        };
        let mut violations = usize::from(c.root != Root::True);
        unfixable |= c.root == Root::False;
        let mut unwritable = Vec::new();
        for (path, origin) in &required {
            match coverage(pod, c, path) {
                Coverage::Writable => continue,
                Coverage::Ambiguous => {
                    return Prediction::of(Verdict::Unknown("two mounts at one depth"));
                }
                Coverage::NotWritable => unfixable = true,
                Coverage::Uncovered => unfixable |= edit != Edit::Full,
            }
            violations += 1;
            unwritable.push((path.clone(), *origin));
        }
        unfixable |= violations > 0 && edit == Edit::None;
        let sub_path_warnings = c
            .mounts
            .iter()
            .filter(|m| m.sub_path && pod.volume(&m.volume).is_some_and(Source::updated))
            .count();
        prediction.warnings += usize::from(c.can_remount)
            + if settings.warn_sub_path_mounts {
                sub_path_warnings
            } else {
                0
            };
        prediction.checked.push(Checked {
            list: c.list,
            index,
            name: c.name.clone(),
            image_changed,
            explicit_false: c.root == Root::False,
            required: required.into_iter().map(|(path, _)| path).collect(),
            unwritable,
            violations,
            edit,
        });
    }
    prediction.verdict = match prediction.violations() {
        0 => Verdict::Accept,
        _ if !settings.mutate || unfixable => Verdict::Reject,
        _ => Verdict::Mutate,
    };
    prediction
}

// ------------------------------------------------- messages and warnings

/// How many lines `count` violations (or warnings) take: at most
/// [`MAX_LISTED`], then one saying how many more.
pub fn shown(count: usize) -> usize {
    count.min(MAX_LISTED) + usize::from(count > MAX_LISTED)
}

/// The violation count in a rejection message's header, if it has one.
pub fn header_count(message: &str) -> Option<usize> {
    let header = message.lines().next()?;
    let rest = header
        .split_once("rejected by the read-only root filesystem policy (")?
        .1;
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    digits.parse().ok()
}

/// A rejection for violations: one `- ` line per violation, at most
/// [`MAX_LISTED`], then one saying how many more. `Ok` is the header's
/// count, `None` for a rejection that is not about violations.
pub fn check_message_bounds(message: &str) -> Result<Option<usize>, String> {
    let Some(count) = header_count(message) else {
        return Ok(None);
    };
    let lines: Vec<&str> = message.lines().skip(1).collect();
    let listed = count.min(MAX_LISTED);
    if lines.len() != shown(count) || !lines.iter().all(|l| l.starts_with("- ")) {
        return Err(format!(
            "{count} violations must take {} lines starting with \"- \", the message has {}",
            shown(count),
            lines.len()
        ));
    }
    let more = count - listed;
    if more > 0 && !lines[listed].starts_with(&format!("- and {more} more violation")) {
        return Err(format!("the last line does not say \"and {more} more\""));
    }
    Ok(Some(count))
}

/// Whether `line` names `path`: after a space, and not continued by a
/// character of a path (`/tmp` is not named in `/tmp/x`).
fn names_path(line: &str, path: &str) -> bool {
    line.match_indices(path).any(|(at, _)| {
        line[..at].ends_with(' ')
            && !line[at + path.len()..]
                .starts_with(|c: char| c.is_ascii_alphanumeric() || "/._-".contains(c))
    })
}

/// A rejection in validate-only mode says, on the line of each path a
/// container cannot write, what requires the path
/// ([`Checked::unwritable`]): an application profile's line ends with
/// `(the policy's NAME application profile requires this path)`, a
/// `containerWritablePaths` rule's names `containerWritablePaths[INDEX]`, a
/// `requiredWritablePaths` path's names neither. A line is a container's
/// when it names its field path (`.containers[1])`). Judged when every
/// violation is listed.
pub fn check_attribution(message: &str, prediction: &Prediction) -> Result<(), String> {
    if header_count(message).is_none_or(|n| n > MAX_LISTED) {
        return Ok(());
    }
    for c in &prediction.checked {
        let field = format!(".{}[{}])", c.list.field(), c.index);
        for (path, origin) in &c.unwritable {
            let lines: Vec<&str> = message
                .lines()
                .filter(|l| l.contains(&field) && names_path(l, path))
                .collect();
            let [line] = lines[..] else {
                return Err(format!(
                    "{} lines of {:?}{field} name {path}, the model expects one violation",
                    lines.len(),
                    c.name
                ));
            };
            let named = match origin {
                Origin::Profile(name) => line.ends_with(&format!(
                    "(the policy's {name} application profile requires this path)"
                )),
                Origin::Setting(index) => {
                    line.contains(&format!("containerWritablePaths[{index}]"))
                        && !line.contains("application profile")
                }
                Origin::Required => {
                    !line.contains("containerWritablePaths[")
                        && !line.contains("application profile")
                }
            };
            if !named {
                return Err(format!(
                    "the violation of {path} by {:?} must name {origin:?} as what requires it: {line}",
                    c.name
                ));
            }
        }
    }
    Ok(())
}

/// The warnings are the prediction's: none empty; a Windows pod's one; else
/// [`Prediction::warnings`] of them, at most [`MAX_LISTED`] then one saying
/// how many more.
pub fn check_warnings(warnings: &[String], prediction: &Prediction) -> Result<(), String> {
    if warnings.iter().any(|w| w.trim().is_empty()) {
        return Err("an empty warning".into());
    }
    if prediction.verdict == Verdict::AcceptWindows {
        return match warnings {
            [only] if only.contains("Windows") => Ok(()),
            _ => Err("a Windows pod gets its warning and no other".into()),
        };
    }
    let count = prediction.warnings;
    if warnings.len() != shown(count) {
        return Err(format!(
            "the model expects {count} warnings (at most {MAX_LISTED} shown, then one saying how many more), got {}",
            warnings.len()
        ));
    }
    let more = count.saturating_sub(MAX_LISTED);
    if more > 0 && !warnings[MAX_LISTED].starts_with(&format!("and {more} more warning")) {
        return Err(format!("the last warning does not say \"and {more} more\""));
    }
    Ok(())
}

// ---------------------------------------------------------------- mutation

/// The `emptyDir` that mutation injects under `settings` (their
/// `writableVolume`): `medium: Memory` when asked for, and `sizeLimit` as the
/// quantity's text.
pub fn injected_empty_dir(settings: &Value) -> Value {
    let volume = &settings["writableVolume"];
    let mut empty_dir = Map::new();
    if volume["medium"] == "Memory" {
        empty_dir.insert("medium".into(), json!("Memory"));
    }
    let size_limit = match &volume["sizeLimit"] {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    };
    if let Some(limit) = size_limit {
        empty_dir.insert("sizeLimit".into(), json!(limit));
    }
    Value::Object(empty_dir)
}

/// A mount mutation added: the container, the path and the injected volume.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Injected {
    pub list: List,
    pub container: String,
    pub path: String,
    pub volume: String,
}

/// What [`check_edits`] found.
#[derive(Debug, Clone, Default)]
pub struct Edits {
    pub volumes: usize,
    pub mounts: Vec<Injected>,
    /// Each starts with `I9`.
    pub problems: Vec<String>,
}

fn array<'v>(v: &'v Value, key: &str) -> &'v [Value] {
    v.get(key)
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default()
}

/// The edits from the pod spec `original` to `mutated` are the ones the
/// contract lists for `prediction` (a [`Verdict::Mutate`]): containers not to
/// be edited are untouched; an edited one changes only
/// `readOnlyRootFilesystem` and, with [`Edit::Full`], gets mounts at paths it
/// requires, at most one per path, never at or under a mount it had; every
/// injected volume is `{"name", "emptyDir": empty_dir}` (any object when
/// `None`) mounted exactly once in the pod; nothing else in the pod spec
/// changes.
pub fn check_edits(
    original: &Value,
    mutated: &Value,
    prediction: &Prediction,
    empty_dir: Option<&Value>,
) -> Edits {
    let mut edits = Edits::default();
    let problems = &mut edits.problems;
    let old_names: HashSet<&str> = array(original, "volumes")
        .iter()
        .filter_map(|v| v["name"].as_str())
        .collect();
    let injected: Vec<&Value> = array(mutated, "volumes")
        .iter()
        .filter(|v| !v["name"].as_str().is_some_and(|n| old_names.contains(n)))
        .collect();
    edits.volumes = injected.len();
    if !injected.is_empty() && !prediction.checked.iter().any(|c| c.edit == Edit::Full) {
        problems.push("I9 a volume was added though no container may get one".into());
    }
    // Outside the container lists and volumes, the pod spec is unchanged.
    let rest = |spec: &Value| {
        let mut spec = spec.as_object().cloned().unwrap_or_default();
        for key in List::ALL.map(List::field).iter().chain(&["volumes"]) {
            spec.remove(*key);
        }
        spec
    };
    if rest(original) != rest(mutated) {
        problems.push("I9 the pod spec was edited outside its containers and volumes".into());
    }
    for list in List::ALL {
        let new_list = array(mutated, list.field());
        let (old, new) = (original.get(list.field()), mutated.get(list.field()));
        if old.is_some() != new.is_some() || array(original, list.field()).len() != new_list.len() {
            problems.push(format!("I9 {} was added, removed or resized", list.field()));
        }
        for (index, old) in array(original, list.field()).iter().enumerate() {
            let new = new_list.get(index).unwrap_or(&Value::Null);
            let name = old["name"].as_str().unwrap_or("");
            let Some(checked) = prediction.editable(list, index) else {
                if new != old {
                    problems.push(format!(
                        "I9 {}[{index}] ({name:?}) is not to be edited (exempt, unchanged or image changed on a Pod UPDATE, a plain Pod UPDATE, or Windows) but was edited",
                        list.field()
                    ));
                }
                continue;
            };
            // Only securityContext.readOnlyRootFilesystem and volumeMounts change.
            let without = |c: &Value| {
                let mut c = c.as_object().cloned().unwrap_or_default();
                let context = c.remove("securityContext");
                c.remove("volumeMounts");
                let mut context = context
                    .and_then(|sc| sc.as_object().cloned())
                    .unwrap_or_default();
                context.remove("readOnlyRootFilesystem");
                (c, context)
            };
            if without(old) != without(new) {
                problems.push(format!(
                    "I9 {}[{index}] ({name:?}) was edited beyond readOnlyRootFilesystem and volumeMounts",
                    list.field()
                ));
            }
            let old_mounts = array(old, "volumeMounts");
            if !array(new, "volumeMounts").starts_with(old_mounts) {
                problems.push(format!(
                    "I9 {}[{index}] ({name:?}) had its own mounts changed",
                    list.field()
                ));
            }
            let mut paths: HashSet<String> = HashSet::new();
            for mount in array(new, "volumeMounts").iter().skip(old_mounts.len()) {
                let path = mount["mountPath"].as_str().unwrap_or("").to_string();
                if checked.edit != Edit::Full {
                    problems.push(format!(
                        "I9 {name:?} ({}) may only get readOnlyRootFilesystem, but got a volume mount {mount}",
                        list.field()
                    ));
                }
                if mount.as_object().is_none_or(|m| m.len() != 2) {
                    problems.push(format!(
                        "I9 injected mount {mount} has more than name and mountPath"
                    ));
                }
                let required = normalise(&path);
                if !checked.required.iter().any(|p| p == required) {
                    problems.push(format!(
                        "I9 {name:?} got a mount at {path}, which is not a path it requires ({:?})",
                        checked.required
                    ));
                }
                if !paths.insert(required.to_string()) {
                    problems.push(format!("I9 {name:?} got two mounts at {required}"));
                }
                // A mount the user placed at or above the path decides it:
                // never shadowed, never doubled.
                if let Some(user) = old_mounts.iter().find(|m| {
                    m["mountPath"]
                        .as_str()
                        .is_some_and(|p| !p.is_empty() && covers(p, required))
                }) {
                    problems.push(format!(
                        "I9 {name:?} got a mount at {path} though its own mount {user} covers it"
                    ));
                }
                edits.mounts.push(Injected {
                    list,
                    container: name.to_string(),
                    path,
                    volume: mount["name"].as_str().unwrap_or("").to_string(),
                });
            }
        }
    }
    for volume in &injected {
        let name = volume["name"].as_str().unwrap_or("");
        let shaped = match empty_dir {
            Some(expected) => **volume == json!({"name": name, "emptyDir": expected}),
            None => {
                volume.as_object().is_some_and(|v| v.len() == 2) && volume["emptyDir"].is_object()
            }
        };
        if !shaped {
            problems.push(format!(
                "I9 injected volume {volume} is not the emptyDir writableVolume asks for: {empty_dir:?}"
            ));
        }
        // Every mount of the volume in the mutated pod, also the request's
        // own: an injected volume is its container's alone.
        let users: Vec<String> = List::ALL
            .iter()
            .flat_map(|list| array(mutated, list.field()))
            .flat_map(|c| {
                array(c, "volumeMounts")
                    .iter()
                    .filter(|m| m["name"] == name)
                    .map(|m| format!("{} at {}", c["name"], m["mountPath"]))
            })
            .collect();
        match users.len() {
            1 => {}
            0 => problems.push(format!("I9 injected volume {name:?} is not mounted")),
            n => problems.push(format!(
                "I9 injected volume {name:?} is mounted {n} times: {users:?} (containers never share an injected volume)"
            )),
        }
    }
    for mount in &edits.mounts {
        if !injected.iter().any(|v| v["name"] == mount.volume.as_str()) {
            problems.push(format!(
                "I9 a mount at {} was added to {:?} for volume {:?}, which is not an injected volume",
                mount.path, mount.container, mount.volume
            ));
        }
    }
    edits
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEX: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    /// The contract's examples: `nginx`, `nginx:latest`, `library/nginx`,
    /// `docker.io/library/nginx:latest` and `index.docker.io/library/nginx`
    /// are one image.
    #[test]
    fn the_spellings_of_the_contract_are_one_image() {
        let one = [
            "nginx",
            "nginx:latest",
            "library/nginx",
            "docker.io/library/nginx:latest",
            "index.docker.io/library/nginx",
            "docker.io/nginx",
            "DOCKER.IO/library/nginx",
        ];
        for a in one {
            for b in one {
                assert!(same_image(Some(a), Some(b)), "{a} {b}");
            }
            for p in [
                "nginx",
                "nginx:*",
                "nginx:latest",
                "docker.io/library/*",
                "*",
            ] {
                assert!(image_matches(p, Some(a)), "{p} {a}");
            }
        }
        assert!(same_image(
            Some("istio/proxyv2:1.22.0"),
            Some("docker.io/istio/proxyv2:1.22.0")
        ));
        assert!(same_image(None, None));
        assert!(!same_image(None, Some("nginx")));
        assert!(!same_image(Some("nginx"), Some("nginx:1.27")));
        // Pinning a digest changes the image.
        let pinned = format!("nginx:1.27@sha256:{HEX}");
        assert!(!same_image(Some("nginx:1.27"), Some(&pinned)));
        assert!(same_image(
            Some(&pinned),
            Some(&format!("docker.io/library/nginx:1.27@sha256:{HEX}"))
        ));
        // An invalid reference is the same only as itself.
        assert!(same_image(Some("Nginx:1.27"), Some("Nginx:1.27")));
        assert!(!same_image(Some("Nginx:1.27"), Some("nginx:1.27")));
        assert!(!same_image(Some("Nginx:1.27"), Some("NGINX:1.27")));
    }

    #[test]
    fn the_forms_of_the_table() {
        let digest = format!("sha256:{HEX}");
        let m = |p: &str, i: &str| image_matches(p, Some(i));
        // REPOSITORY and REPOSITORY:*: every tag and digest.
        for p in ["nginx", "nginx:*", "docker.io/library/nginx"] {
            assert!(m(p, "nginx:1.27"));
            assert!(m(p, &format!("nginx@{digest}")));
            assert!(!m(p, "nginx-unprivileged"));
            assert!(!m(p, "registry.example.com/library/nginx"));
        }
        assert!(m("istio/proxyv2", "docker.io/istio/proxyv2:1.22.0"));
        assert!(!m("istio/proxyv2", "istio/proxyv2-evil:1"));
        // REPOSITORY:TAG: that tag, with or without a digest; latest by default.
        assert!(m("nginx:1.27", &format!("library/nginx:1.27@{digest}")));
        assert!(!m("nginx:1.27", "nginx:1.27.1"));
        assert!(!m("nginx:1.27", "nginx"));
        assert!(m("nginx:latest", "nginx"));
        assert!(!m("nginx:latest", &format!("nginx@{digest}")));
        // A digest: that digest, whatever the tags.
        assert!(m(
            &format!("nginx@{digest}"),
            &format!("nginx:1.27@{digest}")
        ));
        assert!(m(
            &format!("nginx:1.26@{digest}"),
            &format!("nginx@{digest}")
        ));
        assert!(!m(&format!("nginx@{digest}"), "nginx:1.27"));
        // PATH/*: at component boundaries, at any depth.
        assert!(m("registry.example.com/*", "registry.example.com/a/b/c:1"));
        assert!(m("REGISTRY.example.com/*", "registry.example.com/a"));
        assert!(m("docker.io/istio/*", "istio/proxyv2:1.22"));
        assert!(m("docker.io/library/*", "postgres:16"));
        assert!(!m("docker.io/library/*", "grafana/grafana:11.2.0"));
        assert!(!m("docker.io/istio/*", "docker.io/istiofake/proxyv2"));
        assert!(!m(
            "registry.example.com/debug/*",
            "registry.example.com/debugger-evil/x"
        ));
        assert!(!m(
            "registry.example.com/debug/*",
            "registry.example.com/debug"
        ));
        assert!(!m("nginx/*", "nginx"));
    }

    #[test]
    fn invalid_and_missing_images_match_only_star() {
        for image in [
            "Nginx:1.27",
            "nginx:1.27\n- fine",
            "nginx:",
            "",
            "nginx@sha256:12",
        ] {
            assert!(image_matches("*", Some(image)), "{image:?}");
            for p in ["nginx", "docker.io/*", "nginx:*", "Nginx/*"] {
                assert!(!image_matches(p, Some(image)), "{p} {image:?}");
            }
        }
        assert!(!image_matches("*", None));
    }

    #[test]
    fn quotes_escape_line_breaks_and_quotes() {
        assert_eq!(quote("app"), "\"app\"");
        assert_eq!(quote("evil:1\n- \"x\""), r#""evil:1\n- \"x\"""#);
    }

    #[test]
    fn profiles_are_rules_after_the_settings_rules_and_paths_are_attributed_once() {
        let settings = Settings {
            required: vec!["/tmp/".into()],
            rules: vec![Rule {
                selector: Selector::new(None, Some("nginx:1.27")),
                paths: vec!["/var/run".into(), "/app".into()],
            }],
            profiles: vec!["grafana".into(), "nginx".into()],
            ..Settings::default()
        };
        let origins: Vec<Origin> = settings.rules().iter().map(|(o, _)| *o).collect();
        assert_eq!(
            origins,
            [
                Origin::Setting(0),
                Origin::Profile("grafana"),
                Origin::Profile("grafana"),
                Origin::Profile("nginx"),
            ]
        );
        let paths = settings.required_paths("web", Some("docker.io/library/nginx:1.27"));
        assert_eq!(
            paths,
            [
                ("/tmp".to_string(), Origin::Required),
                ("/var/run".to_string(), Origin::Setting(0)),
                ("/app".to_string(), Origin::Setting(0)),
                ("/var/cache/nginx".to_string(), Origin::Profile("nginx")),
            ]
        );
        let grafana = settings.required_paths("web", Some("grafana/grafana-oss:11"));
        assert_eq!(
            grafana,
            [
                ("/tmp".to_string(), Origin::Required),
                ("/var/lib/grafana".to_string(), Origin::Profile("grafana")),
            ]
        );
        assert_eq!(
            settings.required_paths("web", Some("Nginx:1.27")),
            [("/tmp".to_string(), Origin::Required)]
        );
    }

    #[test]
    fn attribution_is_read_from_the_violation_lines() {
        let settings = Settings {
            profiles: vec!["nginx".into()],
            required: vec!["/var/run".into()],
            ..Settings::default()
        };
        let pod = Pod {
            containers: vec![Container {
                list: List::Regular,
                name: "web".into(),
                image: Some("nginx".into()),
                root: Root::True,
                can_remount: false,
                mounts: Vec::new(),
            }],
            ..Pod::default()
        };
        let prediction = evaluate(&settings, &pod, &Operation::Create);
        assert_eq!(prediction.violations(), 2);
        let message = "Pod rejected by the read-only root filesystem policy (2 violations):\n\
            - container \"web\" (spec.containers[0]): no writable volume is mounted at /var/run; mount a writable volume such as an emptyDir at /var/run or a parent directory\n\
            - container \"web\" (spec.containers[0]): no writable volume is mounted at /var/cache/nginx; mount a writable volume such as an emptyDir at /var/cache/nginx or a parent directory (the policy's nginx application profile requires this path)";
        assert_eq!(check_attribution(message, &prediction), Ok(()));
        let unattributed = message.replace(
            " (the policy's nginx application profile requires this path)",
            "",
        );
        assert!(check_attribution(&unattributed, &prediction).is_err());
    }
}
