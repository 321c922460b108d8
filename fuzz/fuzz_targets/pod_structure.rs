//! Structure-aware fuzzing: pod-shaped admission requests built with the
//! `arbitrary` crate, from small alphabets so that name collisions,
//! exemptions, `containerWritablePaths` rules, shadowing mounts, changed
//! images and long names happen often.
//!
//! Invariants (POLICY-SPEC.md): never panics; a rejection has a message; a
//! kind that is not checked is accepted unchanged; on Mutate, the patch only
//! adds/replaces, mutation is idempotent, the mutated object passes
//! validate-only mode, injected volume names are unique DNS-1123 labels and
//! no container gets a second mount at a path. Validate-only and mutating
//! mode agree on what is compliant. Warnings are never empty strings and at
//! most 21; a rejection message lists at most 20 violations plus one line
//! saying how many more; flipping `warnSubPathMounts` changes only the
//! warnings. An independent model of the contract (`predict`) gives
//! accept / reject / mutate and the number of warnings for every input
//! whose shape it models (the paths each container requires from the
//! global list and the rules it matches; on a Pod UPDATE, the containers
//! that are new or whose image changed, the latter never mutated; remount
//! and subPath warnings), and the policy must agree with it.

#![no_main]

mod common;

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use readonly_rootfs_policy::Verdict;
use readonly_rootfs_policy::mutate::injected_volume_name;
use serde_json::{Map, Value, json};
use std::collections::{HashMap, HashSet};
use std::sync::LazyLock;

const MAX_ITEMS: usize = 4;

// ---------------------------------------------------------------- alphabets

const LONG_A: &str = "a23456789-123456789-123456789-123456789-123456789-123456789-123";
const LONG_B: &str = "a23456789-123456789-123456789-123456789-123456789-123456789-12b";

const CONTAINER_NAMES: [&str; 10] = [
    "app", "sidecar", "init", "debugger", "istio-proxy", "App", LONG_A, LONG_B, "app-tmp", "",
];

const IMAGES: [&str; 6] = [
    "nginx:1.27",
    "busybox:1.36",
    "registry.example.com/debug/tool:1",
    "docker.io/istio/proxyv2:1.22",
    "evil.example/istio/proxyv2:1.22",
    "",
];

const IMAGE_PATTERNS: [&str; 6] = [
    "*",
    "registry.example.com/debug/*",
    "docker.io/istio/proxyv2:*",
    "busybox:1.36",
    "nginx:*",
    "nginx:1.27",
];

const MOUNT_PATHS: [&str; 13] = [
    "/", "/tmp", "/tmp/", "/tmp/x", "/app", "/app/cache", "/ap", "/var/cache", "/var", "/data",
    "//tmp", "/home/user/.cache", "/run",
];

const REQUIRED_PATHS: [&str; 10] = [
    "/tmp", "/app/cache", "/app", "/var/cache", "/tmp/x", "/data", "/home/user/.cache",
    "/var/log/nginx/", "/run", "/tmp/",
];

/// Volume names: fixed ones plus the names mutation would pick first, so
/// that injected names collide with existing volumes.
static VOLUME_NAMES: LazyLock<Vec<String>> = LazyLock::new(|| {
    let mut names: Vec<String> =
        ["scratch", "cfg", "data", "tmp", "rw-app-tmp", "cache"].iter().map(|s| s.to_string()).collect();
    let empty = HashSet::new();
    names.push(injected_volume_name(LONG_A, "/tmp", &empty));
    let taken: HashSet<String> = ["rw-app-tmp".to_string()].into();
    names.push(injected_volume_name("app", "/tmp", &taken));
    names.push(injected_volume_name("", "/tmp", &empty));
    names
});
/// Mounts may name volumes that do not exist.
const MISSING_VOLUME: &str = "missing";

/// Capabilities a container may add: SYS_ADMIN and ALL (any case, with or
/// without CAP_) let it remount its root.
const CAPABILITIES: [&str; 9] = [
    "SYS_ADMIN", "CAP_SYS_ADMIN", "sys_admin", "Cap_Sys_Admin", "ALL", "all", "CAP_ALL", "NET_ADMIN",
    "SYS_ADMINS",
];

#[derive(Arbitrary, Debug, Clone, Copy)]
struct Pick(u8);

impl Pick {
    fn of<'a>(self, items: &'a [&'a str]) -> &'a str {
        items[self.0 as usize % items.len()]
    }
    fn volume_name(self) -> String {
        let names = &*VOLUME_NAMES;
        let i = self.0 as usize % (names.len() + 1);
        names.get(i).cloned().unwrap_or_else(|| MISSING_VOLUME.to_string())
    }
}

/// Rare events: `Gate(x).rare()` is true for about 1 input in 12.
#[derive(Arbitrary, Debug, Clone, Copy)]
struct Gate(u8);

impl Gate {
    fn rare(self) -> bool {
        self.0 < 21
    }
}

// ------------------------------------------------------------------- input

#[derive(Arbitrary, Debug, Clone, Copy, PartialEq)]
enum Tri {
    True,
    False,
    Null,
}

impl Tri {
    fn json(self) -> Value {
        match self {
            Tri::True => Value::Bool(true),
            Tri::False => Value::Bool(false),
            Tri::Null => Value::Null,
        }
    }
    fn is_true(self) -> bool {
        self == Tri::True
    }
}

#[derive(Arbitrary, Debug, Clone)]
enum Field<T> {
    Absent,
    Null,
    Present(T),
}

impl<T> Field<T> {
    fn as_ref(&self) -> Option<&T> {
        match self {
            Field::Present(t) => Some(t),
            _ => None,
        }
    }
}

/// A value of an unknown field. At volume level, an unknown key is read as a
/// storage volume source, so there only objects and nulls are generated.
#[derive(Arbitrary, Debug, Clone)]
enum Extra {
    Null,
    Str,
    Num,
    Obj,
    List,
}

impl Extra {
    fn json(&self) -> Value {
        match self {
            Extra::Null => Value::Null,
            Extra::Str => json!("from-the-future"),
            Extra::Num => json!(42),
            Extra::Obj => json!({"nested": {"x": [1, null, "y"]}, "gone": null}),
            Extra::List => json!([{"a": null}, 2]),
        }
    }
    fn volume_json(&self) -> Value {
        match self {
            Extra::Null | Extra::Str | Extra::Num => Value::Null,
            _ => json!({"nested": {"x": [1, null, "y"]}, "gone": null}),
        }
    }
}

#[derive(Arbitrary, Debug, Clone)]
enum SecurityContext {
    Absent,
    Null,
    Empty,
    ReadOnlyRoot(Tri),
    WithOthers(Option<Tri>),
    /// Not an object: the pod cannot be read.
    WrongType(u8),
    /// readOnlyRootFilesystem not a boolean.
    WrongFlagType,
}

/// What in a securityContext object may let a container remount its root.
#[derive(Arbitrary, Debug, Clone)]
enum Power {
    Privileged(Tri),
    Add(Vec<Pick>),
    /// Not a boolean, not a list of strings: the pod cannot be read.
    PrivilegedWrongType,
    AddWrongType,
}

#[derive(Arbitrary, Debug, Clone, Copy, PartialEq)]
enum SubPath {
    None,
    SubPath,
    SubPathExpr,
    /// `subPath: ""`, which is no subPath.
    Empty,
}

#[derive(Arbitrary, Debug, Clone)]
struct Mount {
    volume: Pick,
    path: Pick,
    read_only: Option<Tri>,
    sub_path: SubPath,
    extra: Option<Extra>,
}

#[derive(Arbitrary, Debug, Clone)]
struct Container {
    name: Option<Pick>,
    image: Option<Pick>,
    security_context: SecurityContext,
    power: Option<Power>,
    mounts: Field<Vec<Mount>>,
    restart_always: bool,
    extra: Option<Extra>,
}

#[derive(Arbitrary, Debug, Clone)]
enum VolumeType {
    EmptyDir,
    EmptyDirMemory,
    ConfigMap,
    Secret,
    Projected,
    DownwardApi,
    Pvc(Option<Tri>),
    HostPath,
    Csi(Option<Tri>),
    Nfs(Option<Tri>),
    Image,
    Ephemeral,
    NoSource,
}

impl VolumeType {
    /// configMap, secret, projected, downwardAPI: updated by the kubelet,
    /// except through a subPath.
    fn updated(&self) -> bool {
        matches!(self, VolumeType::ConfigMap | VolumeType::Secret | VolumeType::Projected | VolumeType::DownwardApi)
    }

    fn writable(&self) -> bool {
        match self {
            VolumeType::EmptyDir
            | VolumeType::EmptyDirMemory
            | VolumeType::HostPath
            | VolumeType::Ephemeral
            | VolumeType::NoSource => true,
            VolumeType::ConfigMap
            | VolumeType::Secret
            | VolumeType::Projected
            | VolumeType::DownwardApi
            | VolumeType::Image => false,
            VolumeType::Pvc(ro) | VolumeType::Csi(ro) | VolumeType::Nfs(ro) => *ro != Some(Tri::True),
        }
    }
}

#[derive(Arbitrary, Debug, Clone)]
struct Volume {
    name: Pick,
    kind: VolumeType,
    extra: Option<Extra>,
}

#[derive(Arbitrary, Debug, Clone)]
enum Os {
    Absent,
    Null,
    Linux,
    Windows,
    Empty,
}

#[derive(Arbitrary, Debug, Clone)]
enum Corruption {
    ContainersNotList,
    MountsNotList,
    VolumeNotObject,
    MountPathNotString,
    ContainerNameNotString,
    ContainerNotObject,
}

#[derive(Arbitrary, Debug, Clone)]
struct Spec {
    init_containers: Field<Vec<Container>>,
    containers: Field<Vec<Container>>,
    ephemeral_containers: Field<Vec<Container>>,
    volumes: Field<Vec<Volume>>,
    os: Os,
    extra: Option<Extra>,
    corruption_gate: Gate,
    corruption: Corruption,
}

#[derive(Arbitrary, Debug, Clone, Copy, PartialEq)]
enum Kind {
    Pod,
    Deployment,
    ReplicaSet,
    StatefulSet,
    DaemonSet,
    Job,
    CronJob,
    ReplicationController,
    // Not checked:
    Service,
    ConfigMap,
    ExtensionsDeployment,
    CustomPod,
    PodTemplate,
    CustomCronJob,
}

#[derive(Arbitrary, Debug, Clone, Copy, PartialEq)]
enum Layout {
    Pod,
    Workload,
    CronJob,
}

impl Layout {
    fn spec_path(self) -> &'static [&'static str] {
        match self {
            Layout::Pod => &["spec"],
            Layout::Workload => &["spec", "template", "spec"],
            Layout::CronJob => &["spec", "jobTemplate", "spec", "template", "spec"],
        }
    }
}

impl Kind {
    /// `(group, version, kind, the layout it has if checked)`.
    fn gvk(self) -> (&'static str, &'static str, &'static str, Option<Layout>) {
        match self {
            Kind::Pod => ("", "v1", "Pod", Some(Layout::Pod)),
            Kind::Deployment => ("apps", "v1", "Deployment", Some(Layout::Workload)),
            Kind::ReplicaSet => ("apps", "v1", "ReplicaSet", Some(Layout::Workload)),
            Kind::StatefulSet => ("apps", "v1", "StatefulSet", Some(Layout::Workload)),
            Kind::DaemonSet => ("apps", "v1", "DaemonSet", Some(Layout::Workload)),
            Kind::Job => ("batch", "v1", "Job", Some(Layout::Workload)),
            Kind::CronJob => ("batch", "v1", "CronJob", Some(Layout::CronJob)),
            Kind::ReplicationController => ("", "v1", "ReplicationController", Some(Layout::Workload)),
            Kind::Service => ("", "v1", "Service", None),
            Kind::ConfigMap => ("", "v1", "ConfigMap", None),
            Kind::ExtensionsDeployment => ("extensions", "v1beta1", "Deployment", None),
            Kind::CustomPod => ("example.com", "v1", "Pod", None),
            Kind::PodTemplate => ("", "v1", "PodTemplate", None),
            Kind::CustomCronJob => ("example.com", "v1", "CronJob", None),
        }
    }
}

#[derive(Arbitrary, Debug, Clone, Copy, PartialEq)]
enum Operation {
    Create,
    Update,
    Delete,
}

#[derive(Arbitrary, Debug, Clone)]
enum OldObject {
    Absent,
    Null,
    Same,
    SameTemplateRelabeled,
    WithoutEphemeralContainers,
    Other(Spec),
}

#[derive(Arbitrary, Debug, Clone)]
enum Exemption {
    Name(Pick),
    Object { name: Option<Pick>, image: Option<Pick> },
}

#[derive(Arbitrary, Debug, Clone)]
struct WritableVolume {
    medium: Option<bool>,
    size_limit: Option<Pick>,
}

/// A `containerWritablePaths` rule: always a selector and a path, so that
/// most generated rules are valid.
#[derive(Arbitrary, Debug, Clone)]
struct Rule {
    selector: RuleSelector,
    path: Pick,
    more_paths: Vec<Pick>,
}

#[derive(Arbitrary, Debug, Clone)]
enum RuleSelector {
    Name(Pick),
    Image(Pick),
    Both(Pick, Pick),
}

#[derive(Arbitrary, Debug, Clone)]
struct SettingsInput {
    paths: Field<Vec<Pick>>,
    rules: Field<Vec<Rule>>,
    exemptions: Field<Vec<Exemption>>,
    warn_sub_path_mounts: Option<Tri>,
    exempt_ephemeral: Option<Tri>,
    mutate: bool,
    writable_volume: Option<WritableVolume>,
    /// Rarely: no settings at all.
    absent_gate: Gate,
}

#[derive(Arbitrary, Debug, Clone)]
struct Input {
    kind: Kind,
    /// Where the pod spec goes for kinds that are not checked, and, rarely,
    /// the wrong place for checked ones.
    layout: Layout,
    misplace_gate: Gate,
    spec_null_gate: Gate,
    operation: Operation,
    ephemeral_subresource: bool,
    creation_timestamp_null: bool,
    metadata_extra: Option<Extra>,
    root_extra: Option<Extra>,
    template_extra: Option<Extra>,
    delete_object_null: bool,
    spec: Spec,
    /// For the old objects made from `spec` (`Same`, `SameTemplateRelabeled`,
    /// `WithoutEphemeralContainers`): the k-th container (init, regular,
    /// ephemeral order) had image `old_images[k]` where that is `Some`
    /// (`Some(None)`: no image).
    old_images: Vec<Option<Option<Pick>>>,
    old: OldObject,
    settings: SettingsInput,
}

// ---------------------------------------------------------- the model's view

/// Settings as the model understands them.
struct ModelSettings {
    paths: Vec<String>,
    exemptions: Vec<(Option<String>, Option<String>)>,
    /// `(name, image, paths)`
    rules: Vec<(Option<String>, Option<String>, Vec<String>)>,
    exempt_ephemeral: bool,
    mutate: bool,
    warn_sub_path_mounts: bool,
}

fn normalize(path: &str) -> String {
    path.trim_end_matches('/').to_string()
}

fn build_settings(input: &SettingsInput) -> (Value, ModelSettings) {
    let mut model = ModelSettings {
        paths: Vec::new(),
        exemptions: Vec::new(),
        rules: Vec::new(),
        exempt_ephemeral: false,
        mutate: input.mutate,
        warn_sub_path_mounts: true,
    };
    if input.absent_gate.rare() {
        model.mutate = false;
        return (Value::Null, model);
    }
    let mut map = Map::new();
    match &input.paths {
        Field::Absent => {}
        Field::Null => {
            map.insert("requiredWritablePaths".into(), Value::Null);
        }
        Field::Present(picks) => {
            let mut raw = Vec::new();
            for pick in picks.iter().take(MAX_ITEMS) {
                let path = pick.of(&REQUIRED_PATHS);
                if !model.paths.contains(&normalize(path)) {
                    model.paths.push(normalize(path));
                    raw.push(json!(path));
                }
            }
            map.insert("requiredWritablePaths".into(), Value::Array(raw));
        }
    }
    match &input.exemptions {
        Field::Absent => {}
        Field::Null => {
            map.insert("exemptContainers".into(), Value::Null);
        }
        Field::Present(entries) => {
            let mut raw = Vec::new();
            for entry in entries.iter().take(MAX_ITEMS) {
                let (name, image) = match entry {
                    Exemption::Name(n) => (Some(n.of(&CONTAINER_NAMES)), None),
                    Exemption::Object { name, image } => (
                        name.map(|n| n.of(&CONTAINER_NAMES)),
                        image.map(|i| i.of(&IMAGE_PATTERNS)),
                    ),
                };
                // Empty names or entries are invalid settings: not generated.
                let name = name.filter(|n| !n.is_empty());
                match (entry, name, image) {
                    (_, None, None) => continue,
                    (Exemption::Name(_), Some(n), _) => raw.push(json!(n)),
                    (_, n, i) => {
                        let mut obj = Map::new();
                        if let Some(n) = n {
                            obj.insert("name".into(), json!(n));
                        }
                        if let Some(i) = i {
                            obj.insert("image".into(), json!(i));
                        }
                        raw.push(Value::Object(obj));
                    }
                }
                model.exemptions.push((name.map(str::to_string), image.map(str::to_string)));
            }
            map.insert("exemptContainers".into(), Value::Array(raw));
        }
    }
    if let Some(tri) = input.exempt_ephemeral {
        map.insert("exemptEphemeralContainers".into(), tri.json());
        model.exempt_ephemeral = tri.is_true();
    }
    map.insert("mutate".into(), json!(input.mutate));
    if let Some(volume) = &input.writable_volume {
        let mut v = Map::new();
        match volume.medium {
            None => {}
            Some(true) => {
                v.insert("medium".into(), json!("Memory"));
            }
            Some(false) => {
                v.insert("medium".into(), json!(""));
            }
        }
        if let Some(limit) = volume.size_limit {
            let limits = [json!("64Mi"), json!("1Gi"), json!(100), json!("1.5Gi"), Value::Null];
            v.insert("sizeLimit".into(), limits[limit.0 as usize % limits.len()].clone());
        }
        map.insert("writableVolume".into(), Value::Object(v));
    }
    match &input.rules {
        Field::Absent => {}
        Field::Null => {
            map.insert("containerWritablePaths".into(), Value::Null);
        }
        Field::Present(rules) => {
            let mut raw = Vec::new();
            for rule in rules.iter().take(MAX_ITEMS) {
                let (name, image) = match rule.selector {
                    RuleSelector::Name(n) => (Some(n), None),
                    RuleSelector::Image(i) => (None, Some(i)),
                    RuleSelector::Both(n, i) => (Some(n), Some(i)),
                };
                // An empty name is invalid settings: not generated.
                let name = name.map(|n| n.of(&CONTAINER_NAMES)).filter(|n| !n.is_empty());
                let image = image.map(|i| i.of(&IMAGE_PATTERNS));
                let mut paths = Vec::new();
                let mut raw_paths = Vec::new();
                for pick in std::iter::once(&rule.path).chain(rule.more_paths.iter().take(MAX_ITEMS - 1)) {
                    let path = pick.of(&REQUIRED_PATHS);
                    if !paths.contains(&normalize(path)) {
                        paths.push(normalize(path));
                        raw_paths.push(json!(path));
                    }
                }
                if (name.is_none() && image.is_none()) || paths.is_empty() {
                    continue;
                }
                let mut obj = Map::new();
                if let Some(n) = name {
                    obj.insert("name".into(), json!(n));
                }
                if let Some(i) = image {
                    obj.insert("image".into(), json!(i));
                }
                obj.insert("paths".into(), Value::Array(raw_paths));
                raw.push(Value::Object(obj));
                model.rules.push((name.map(str::to_string), image.map(str::to_string), paths));
            }
            map.insert("containerWritablePaths".into(), Value::Array(raw));
        }
    }
    if let Some(tri) = input.warn_sub_path_mounts {
        map.insert("warnSubPathMounts".into(), tri.json());
        model.warn_sub_path_mounts = tri != Tri::False;
    }
    (Value::Object(map), model)
}

fn image_matches(pattern: &str, image: Option<&str>) -> bool {
    let Some(image) = image else { return false };
    match pattern.strip_suffix('*') {
        Some(prefix) => image.starts_with(prefix),
        None => image == pattern,
    }
}

/// An exemption object or a rule's selector: both given, both match.
fn selector_matches(n: &Option<String>, i: &Option<String>, name: &str, image: Option<&str>) -> bool {
    n.as_deref().is_none_or(|n| n == name) && i.as_deref().is_none_or(|i| image_matches(i, image))
}

impl ModelSettings {
    fn is_exempt(&self, name: &str, image: Option<&str>) -> bool {
        self.exemptions.iter().any(|(n, i)| selector_matches(n, i, name, image))
    }

    /// `requiredWritablePaths`, then the paths of every rule the container
    /// matches, each once.
    fn required_paths(&self, name: &str, image: Option<&str>) -> Vec<&str> {
        let mut paths: Vec<&str> = self.paths.iter().map(String::as_str).collect();
        for (n, i, rule_paths) in &self.rules {
            if selector_matches(n, i, name, image) {
                for path in rule_paths {
                    if !paths.contains(&path.as_str()) {
                        paths.push(path);
                    }
                }
            }
        }
        paths
    }
}

// --------------------------------------------------------------- JSON build

/// Builds JSON; records whether a shape error (a corruption) was written.
struct Builder {
    corrupted: bool,
}

fn container_json(c: &Container, init: bool, b: &mut Builder, corrupt: Option<&Corruption>) -> Value {
    if matches!(corrupt, Some(Corruption::ContainerNotObject)) {
        b.corrupted = true;
        return json!("not-a-container");
    }
    let mut map = Map::new();
    if let Some(name) = c.name {
        if matches!(corrupt, Some(Corruption::ContainerNameNotString)) {
            b.corrupted = true;
            map.insert("name".into(), json!(7));
        } else {
            map.insert("name".into(), json!(name.of(&CONTAINER_NAMES)));
        }
    }
    if let Some(image) = c.image {
        map.insert("image".into(), json!(image.of(&IMAGES)));
    }
    match &c.security_context {
        SecurityContext::Absent => {}
        SecurityContext::Null => {
            map.insert("securityContext".into(), Value::Null);
        }
        SecurityContext::Empty => {
            map.insert("securityContext".into(), json!({}));
        }
        SecurityContext::ReadOnlyRoot(tri) => {
            map.insert("securityContext".into(), json!({"readOnlyRootFilesystem": tri.json()}));
        }
        SecurityContext::WithOthers(tri) => {
            let mut sc = Map::new();
            sc.insert("runAsNonRoot".into(), json!(true));
            sc.insert("capabilities".into(), json!({"drop": ["ALL"], "add": null}));
            sc.insert("seLinuxOptions".into(), Value::Null);
            if let Some(tri) = tri {
                sc.insert("readOnlyRootFilesystem".into(), tri.json());
            }
            map.insert("securityContext".into(), Value::Object(sc));
        }
        SecurityContext::WrongType(t) => {
            b.corrupted = true;
            let wrong = [json!("readOnly"), json!(1), json!([true]), json!(true)];
            map.insert("securityContext".into(), wrong[*t as usize % wrong.len()].clone());
        }
        SecurityContext::WrongFlagType => {
            b.corrupted = true;
            map.insert("securityContext".into(), json!({"readOnlyRootFilesystem": "true"}));
        }
    }
    if let (Some(power), Some(sc)) = (&c.power, map.get_mut("securityContext").and_then(Value::as_object_mut)) {
        match power {
            Power::Privileged(tri) => {
                sc.insert("privileged".into(), tri.json());
            }
            Power::Add(caps) => {
                let caps: Vec<Value> = caps.iter().take(MAX_ITEMS).map(|p| json!(p.of(&CAPABILITIES))).collect();
                let capabilities = sc.entry("capabilities").or_insert_with(|| json!({}));
                capabilities["add"] = Value::Array(caps);
            }
            Power::PrivilegedWrongType => {
                b.corrupted = true;
                sc.insert("privileged".into(), json!("yes"));
            }
            Power::AddWrongType => {
                b.corrupted = true;
                sc.insert("capabilities".into(), json!({"add": ["SYS_ADMIN", 7]}));
            }
        }
    }
    match &c.mounts {
        Field::Absent => {}
        Field::Null => {
            map.insert("volumeMounts".into(), Value::Null);
        }
        Field::Present(mounts) => {
            if matches!(corrupt, Some(Corruption::MountsNotList)) {
                b.corrupted = true;
                map.insert("volumeMounts".into(), json!({"name": "x", "mountPath": "/tmp"}));
            } else {
                let mut list = Vec::new();
                for (i, m) in mounts.iter().take(MAX_ITEMS).enumerate() {
                    let mut mount = Map::new();
                    mount.insert("name".into(), json!(m.volume.volume_name()));
                    if i == 0 && matches!(corrupt, Some(Corruption::MountPathNotString)) {
                        b.corrupted = true;
                        mount.insert("mountPath".into(), json!(["/tmp"]));
                    } else {
                        mount.insert("mountPath".into(), json!(m.path.of(&MOUNT_PATHS)));
                    }
                    if let Some(ro) = m.read_only {
                        mount.insert("readOnly".into(), ro.json());
                    }
                    match m.sub_path {
                        SubPath::None => {}
                        SubPath::SubPath => {
                            mount.insert("subPath".into(), json!("sub"));
                        }
                        SubPath::SubPathExpr => {
                            mount.insert("subPathExpr".into(), json!("$(POD_NAME)"));
                        }
                        SubPath::Empty => {
                            mount.insert("subPath".into(), json!(""));
                        }
                    }
                    if let Some(extra) = &m.extra {
                        mount.insert("recursiveReadOnlyFuture".into(), extra.json());
                    }
                    list.push(Value::Object(mount));
                }
                map.insert("volumeMounts".into(), Value::Array(list));
            }
        }
    }
    if init && c.restart_always {
        map.insert("restartPolicy".into(), json!("Always"));
    }
    if let Some(extra) = &c.extra {
        map.insert("futureContainerField".into(), extra.json());
    }
    Value::Object(map)
}

fn volume_json(v: &Volume, b: &mut Builder, corrupt: bool) -> Value {
    if corrupt {
        b.corrupted = true;
        return json!(5);
    }
    let mut map = Map::new();
    map.insert("name".into(), json!(v.name.volume_name()));
    let ro = |r: &Option<Tri>, mut obj: Map<String, Value>| {
        if let Some(r) = r {
            obj.insert("readOnly".into(), r.json());
        }
        Value::Object(obj)
    };
    let (key, source) = match &v.kind {
        VolumeType::EmptyDir => ("emptyDir", json!({})),
        VolumeType::EmptyDirMemory => ("emptyDir", json!({"medium": "Memory", "sizeLimit": "1Gi"})),
        VolumeType::ConfigMap => ("configMap", json!({"name": "cfg"})),
        VolumeType::Secret => ("secret", json!({"secretName": "s", "optional": null})),
        VolumeType::Projected => ("projected", json!({"sources": [{"serviceAccountToken": {"path": "token"}}]})),
        VolumeType::DownwardApi => ("downwardAPI", json!({"items": []})),
        VolumeType::Pvc(r) => ("persistentVolumeClaim", ro(r, json_map(json!({"claimName": "claim"})))),
        VolumeType::HostPath => ("hostPath", json!({"path": "/var/data", "type": ""})),
        VolumeType::Csi(r) => ("csi", ro(r, json_map(json!({"driver": "csi.example.com"})))),
        VolumeType::Nfs(r) => ("nfs", ro(r, json_map(json!({"server": "nfs", "path": "/"})))),
        VolumeType::Image => ("image", json!({"reference": "registry.example.com/data:1", "pullPolicy": "IfNotPresent"})),
        VolumeType::Ephemeral => (
            "ephemeral",
            json!({"volumeClaimTemplate": {"metadata": null, "spec": {"accessModes": ["ReadWriteOnce"]}}}),
        ),
        VolumeType::NoSource => ("", Value::Null),
    };
    if !key.is_empty() {
        map.insert(key.into(), source);
    }
    if let Some(extra) = &v.extra {
        map.insert("futureVolumeField".into(), extra.volume_json());
    }
    Value::Object(map)
}

fn json_map(v: Value) -> Map<String, Value> {
    match v {
        Value::Object(m) => m,
        _ => unreachable!(),
    }
}

fn list_json<T>(
    field: &Field<Vec<T>>,
    mut item: impl FnMut(usize, &T) -> Value,
) -> Option<Value> {
    match field {
        Field::Absent => None,
        Field::Null => Some(Value::Null),
        Field::Present(items) => Some(Value::Array(
            items.iter().take(MAX_ITEMS).enumerate().map(|(i, t)| item(i, t)).collect(),
        )),
    }
}

fn spec_json(spec: &Spec, b: &mut Builder) -> Value {
    let corrupt = spec.corruption_gate.rare().then_some(&spec.corruption);
    let mut map = Map::new();
    // Container-level corruptions hit the first regular container, if any.
    let lists: [(&str, &Field<Vec<Container>>, bool); 3] = [
        ("initContainers", &spec.init_containers, true),
        ("containers", &spec.containers, false),
        ("ephemeralContainers", &spec.ephemeral_containers, false),
    ];
    for (key, field, init) in lists {
        let value = if key == "containers" && matches!(corrupt, Some(Corruption::ContainersNotList)) {
            b.corrupted = true;
            Some(json!({"name": "app"}))
        } else {
            list_json(field, |i, c| {
                let hit = (key == "containers" && i == 0).then_some(corrupt).flatten();
                container_json(c, init, b, hit)
            })
        };
        if let Some(value) = value {
            map.insert(key.into(), value);
        }
    }
    let corrupt_volume = matches!(corrupt, Some(Corruption::VolumeNotObject));
    if let Some(value) = list_json(&spec.volumes, |i, v| volume_json(v, b, corrupt_volume && i == 0)) {
        map.insert("volumes".into(), value);
    }
    match spec.os {
        Os::Absent => {}
        Os::Null => {
            map.insert("os".into(), Value::Null);
        }
        Os::Linux => {
            map.insert("os".into(), json!({"name": "linux"}));
        }
        Os::Windows => {
            map.insert("os".into(), json!({"name": "windows"}));
        }
        Os::Empty => {
            map.insert("os".into(), json!({}));
        }
    }
    map.insert("restartPolicy".into(), json!("Always"));
    map.insert("dnsConfig".into(), Value::Null);
    if let Some(extra) = &spec.extra {
        map.insert("futurePodSpecField".into(), extra.json());
    }
    Value::Object(map)
}

fn object_json(input: &Input, layout: Layout, spec: Value, labels: &str) -> Value {
    let (group, version, kind, _) = input.kind.gvk();
    let api_version = if group.is_empty() { version.to_string() } else { format!("{group}/{version}") };
    let mut metadata = json!({"name": "demo", "namespace": "default", "labels": {"app": labels}});
    if input.creation_timestamp_null {
        metadata["creationTimestamp"] = Value::Null;
    }
    if let Some(extra) = &input.metadata_extra {
        metadata["futureMetadataField"] = extra.json();
    }
    let mut template_metadata = json!({"labels": {"app": "demo"}, "creationTimestamp": null});
    if let Some(extra) = &input.template_extra {
        template_metadata["annotations"] = extra.json();
    }
    let spec_value = match layout {
        Layout::Pod => spec,
        Layout::Workload => json!({
            "replicas": 2,
            "selector": {"matchLabels": {"app": "demo"}},
            "template": {"metadata": template_metadata, "spec": spec},
            "strategy": null,
        }),
        Layout::CronJob => json!({
            "schedule": "*/5 * * * *",
            "jobTemplate": {
                "metadata": {"creationTimestamp": null},
                "spec": {"template": {"metadata": template_metadata, "spec": spec}},
            },
        }),
    };
    let mut object = json!({
        "apiVersion": api_version,
        "kind": kind,
        "metadata": metadata,
        "spec": spec_value,
        "status": {},
    });
    if let Some(extra) = &input.root_extra {
        object["futureRootField"] = extra.json();
    }
    object
}

// ------------------------------------------------------------------- model

#[derive(Debug, PartialEq, Clone, Copy)]
enum Expected {
    Accept,
    AcceptWindows,
    Reject,
    Mutate,
    /// The model does not predict this input (malformed shapes, ambiguous
    /// duplicate mounts); only the general invariants apply.
    Unknown,
}

#[derive(Clone, Copy, PartialEq)]
enum Mutation {
    None,
    RootOnly,
    Full,
}

fn container_name(c: &Container) -> &'static str {
    c.name.map(|n| n.of(&CONTAINER_NAMES)).unwrap_or("")
}

fn present_list<T>(field: &Field<Vec<T>>) -> &[T] {
    field.as_ref().map(|v| &v[..v.len().min(MAX_ITEMS)]).unwrap_or(&[])
}

fn container_image(c: &Container) -> Option<&'static str> {
    c.image.map(|i| i.of(&IMAGES))
}

/// A container's image in the old Pod, by name. `Ambiguous`: the old Pod
/// has two containers of that name with different images (invalid in
/// Kubernetes; the contract does not say which one counts).
#[derive(Clone, Copy, PartialEq)]
enum OldImage {
    Image(Option<&'static str>),
    Ambiguous,
}

fn old_images(spec: &Spec) -> HashMap<&'static str, OldImage> {
    let mut images = HashMap::new();
    for field in [&spec.init_containers, &spec.containers, &spec.ephemeral_containers] {
        for c in present_list(field) {
            let image = OldImage::Image(container_image(c));
            images
                .entry(container_name(c))
                .and_modify(|old| {
                    if *old != image {
                        *old = OldImage::Ambiguous;
                    }
                })
                .or_insert(image);
        }
    }
    images
}

fn images_changed(input: &Input) -> bool {
    input.old_images.iter().take(3 * MAX_ITEMS).any(Option::is_some)
}

/// The spec the old objects made from `spec` have: with `old_images`.
fn old_spec(input: &Input) -> Spec {
    let mut spec = input.spec.clone();
    let changes = &input.old_images;
    let lists = [&mut spec.init_containers, &mut spec.containers, &mut spec.ephemeral_containers];
    let containers = lists.into_iter().filter_map(|field| match field {
        Field::Present(list) => Some(list.iter_mut().take(MAX_ITEMS)),
        _ => None,
    });
    for (c, change) in containers.flatten().zip(changes) {
        if let Some(image) = change {
            c.image = *image;
        }
    }
    spec
}

fn segments(path: &str) -> Vec<&str> {
    path.split('/').filter(|s| !s.is_empty()).collect()
}

/// The model's prediction: a verdict and the number of warnings it carries
/// (before the policy bounds them to 20 and one saying how many more).
#[derive(Debug, PartialEq, Clone, Copy)]
struct Prediction {
    verdict: Expected,
    warnings: usize,
}

impl Expected {
    fn without_warnings(self) -> Prediction {
        Prediction { verdict: self, warnings: 0 }
    }
}

fn grants_remount(capability: &str) -> bool {
    let upper = capability.to_ascii_uppercase();
    let bare = upper.strip_prefix("CAP_").unwrap_or(&upper);
    bare == "SYS_ADMIN" || bare == "ALL"
}

/// Whether a container can remount its root: privileged, or adding
/// SYS_ADMIN or ALL, in a securityContext that is an object.
fn can_remount(c: &Container) -> bool {
    let context_is_object =
        matches!(c.security_context, SecurityContext::Empty | SecurityContext::ReadOnlyRoot(_) | SecurityContext::WithOthers(_));
    context_is_object
        && match &c.power {
            Some(Power::Privileged(tri)) => tri.is_true(),
            Some(Power::Add(caps)) => caps.iter().take(MAX_ITEMS).any(|p| grants_remount(p.of(&CAPABILITIES))),
            _ => false,
        }
}

/// The model's prediction for a checked kind's readable, non-Windows spec.
/// `old`: on a Pod UPDATE, the old Pod's images by container name.
fn predict_containers(
    spec: &Spec,
    settings: &ModelSettings,
    old: Option<&HashMap<&'static str, OldImage>>,
    mutation: Mutation,
) -> Prediction {
    // Volumes by name: (writable, updated); duplicate names are ambiguous.
    let volumes = present_list(&spec.volumes);
    let mut by_name: Vec<(String, bool, bool)> = Vec::new();
    for v in volumes {
        let name = v.name.volume_name();
        if by_name.iter().any(|(n, _, _)| *n == name) {
            return Expected::Unknown.without_warnings();
        }
        by_name.push((name, v.kind.writable(), v.kind.updated()));
    }
    let volume = |name: &str| by_name.iter().find(|(n, _, _)| n == name).map(|(_, w, u)| (*w, *u));
    let mut any_violation = false;
    let mut unfixable = false;
    let mut warnings = 0;
    let lists = [
        (&spec.init_containers, false),
        (&spec.containers, false),
        (&spec.ephemeral_containers, true),
    ];
    for (field, ephemeral) in lists {
        if ephemeral && settings.exempt_ephemeral {
            continue;
        }
        for c in present_list(field) {
            let name = container_name(c);
            let image = container_image(c);
            // Exemptions see the image the container has now.
            if settings.is_exempt(name, image) {
                continue;
            }
            let image_changed = match old.map(|old| old.get(name)) {
                // CREATE, or a name the old Pod did not have.
                None | Some(None) => false,
                Some(Some(OldImage::Ambiguous)) => return Expected::Unknown.without_warnings(),
                Some(Some(OldImage::Image(old_image))) if *old_image == image => continue,
                Some(Some(OldImage::Image(_))) => true,
            };
            let mounts = present_list(&c.mounts);
            warnings += usize::from(can_remount(c));
            if settings.warn_sub_path_mounts {
                warnings += mounts
                    .iter()
                    .filter(|m| matches!(m.sub_path, SubPath::SubPath | SubPath::SubPathExpr))
                    .filter(|m| volume(&m.volume.volume_name()).is_some_and(|(_, updated)| updated))
                    .count();
            }
            let mut violation = false;
            let root = match &c.security_context {
                SecurityContext::ReadOnlyRoot(t) | SecurityContext::WithOthers(Some(t)) => Some(*t),
                _ => None,
            };
            match root {
                Some(Tri::True) => {}
                Some(Tri::False) => {
                    violation = true;
                    unfixable = true;
                }
                _ => violation = true,
            }
            if !ephemeral {
                for path in settings.required_paths(name, image) {
                    let target = segments(path);
                    // The deepest covering mount decides; two at the same depth
                    // (duplicate mount paths, invalid in Kubernetes) are ambiguous.
                    let mut best: Option<(usize, bool)> = None;
                    let mut tie = false;
                    for m in mounts {
                        let mount_segments = segments(m.path.of(&MOUNT_PATHS));
                        if !target.starts_with(&mount_segments) {
                            continue;
                        }
                        let depth = mount_segments.len();
                        let ok = m.read_only != Some(Tri::True)
                            && volume(&m.volume.volume_name()).is_some_and(|(writable, _)| writable);
                        match best {
                            Some((d, _)) if d > depth => {}
                            Some((d, w)) if d == depth => tie |= w != ok,
                            _ => {
                                best = Some((depth, ok));
                                tie = false;
                            }
                        }
                    }
                    if tie {
                        return Expected::Unknown.without_warnings();
                    }
                    match best {
                        Some((_, true)) => {}
                        Some((_, false)) => {
                            violation = true;
                            unfixable = true;
                        }
                        None => {
                            violation = true;
                            if mutation != Mutation::Full {
                                unfixable = true;
                            }
                        }
                    }
                }
            }
            // A running container's securityContext cannot change.
            if violation && image_changed {
                unfixable = true;
            }
            any_violation |= violation;
        }
    }
    let verdict = if !any_violation {
        Expected::Accept
    } else if !settings.mutate || mutation == Mutation::None || unfixable {
        Expected::Reject
    } else {
        Expected::Mutate
    };
    Prediction { verdict, warnings }
}

fn predict(
    input: &Input,
    object: &Value,
    old_object: Option<&Value>,
    corrupted: bool,
    old_corrupted: bool,
    settings: &ModelSettings,
) -> Prediction {
    if input.operation == Operation::Delete {
        return Expected::Accept.without_warnings();
    }
    let (_, _, _, Some(layout)) = input.kind.gvk() else {
        return Expected::Accept.without_warnings();
    };
    let misplaced = input.misplace_gate.rare() && input.layout != layout;
    if input.spec_null_gate.rare() {
        // spec: null at the kind's path, or a parent of it.
        return Expected::Reject.without_warnings();
    }
    if misplaced {
        // A Pod's `spec` is then an object without containers; a workload
        // has no pod spec where one belongs.
        let verdict = if layout == Layout::Pod { Expected::Accept } else { Expected::Reject };
        return verdict.without_warnings();
    }
    if corrupted {
        return Expected::Unknown.without_warnings();
    }
    if matches!(input.spec.os, Os::Windows) {
        return Prediction { verdict: Expected::AcceptWindows, warnings: 1 };
    }
    if input.operation == Operation::Create {
        return predict_containers(&input.spec, settings, None, Mutation::Full);
    }
    // UPDATE
    if layout == Layout::Pod {
        if old_corrupted {
            return Expected::Unknown.without_warnings();
        }
        let old_spec = match &input.old {
            OldObject::Absent | OldObject::Null => None,
            OldObject::Same | OldObject::SameTemplateRelabeled => Some(old_spec(input)),
            OldObject::WithoutEphemeralContainers => {
                let mut s = old_spec(input);
                s.ephemeral_containers = Field::Absent;
                Some(s)
            }
            OldObject::Other(other) => Some(other.clone()),
        };
        let old = old_spec.as_ref().map(old_images).unwrap_or_default();
        let mutation = if input.ephemeral_subresource { Mutation::RootOnly } else { Mutation::None };
        return predict_containers(&input.spec, settings, Some(&old), mutation);
    }
    let template_path = &layout.spec_path()[..layout.spec_path().len() - 1];
    let unchanged = old_object.is_some_and(|old| common::at(old, template_path) == common::at(object, template_path));
    if unchanged {
        Expected::Accept.without_warnings()
    } else {
        predict_containers(&input.spec, settings, None, Mutation::Full)
    }
}

// ------------------------------------------------------------------ target

fn set_at(object: &mut Value, path: &[&str], value: Value) {
    let mut v = object;
    for key in &path[..path.len() - 1] {
        v = &mut v[*key];
    }
    v[path[path.len() - 1]] = value;
}

fn run(input: &Input) {
    let (group, version, kind_name, checked_layout) = input.kind.gvk();
    let misplaced = checked_layout.is_some() && input.misplace_gate.rare() && Some(input.layout) != checked_layout;
    let layout = match checked_layout {
        Some(l) if !misplaced => l,
        _ => input.layout,
    };
    let mut b = Builder { corrupted: false };
    let spec = spec_json(&input.spec, &mut b);
    let corrupted = b.corrupted;
    let mut object = object_json(input, layout, spec, "demo");
    if input.spec_null_gate.rare() {
        let path = checked_layout.unwrap_or(input.layout).spec_path();
        // Null the pod spec or one of its parents.
        let cut = (input.spec_null_gate.0 as usize % path.len()) + 1;
        set_at(&mut object, &path[..cut], Value::Null);
    }
    let mut old_b = Builder { corrupted: false };
    let old_object = match &input.old {
        OldObject::Absent => None,
        OldObject::Null => Some(Value::Null),
        OldObject::Same | OldObject::SameTemplateRelabeled => {
            let mut old = if images_changed(input) {
                object_json(input, layout, spec_json(&old_spec(input), &mut old_b), "demo")
            } else {
                object.clone()
            };
            if matches!(input.old, OldObject::SameTemplateRelabeled) {
                old["metadata"]["labels"]["app"] = json!("previous");
            }
            Some(old)
        }
        OldObject::WithoutEphemeralContainers => {
            let mut s = old_spec(input);
            s.ephemeral_containers = Field::Absent;
            Some(object_json(input, layout, spec_json(&s, &mut old_b), "demo"))
        }
        OldObject::Other(other) => Some(object_json(input, layout, spec_json(other, &mut old_b), "demo")),
    };
    let (settings, model) = build_settings(&input.settings);

    let operation = match input.operation {
        Operation::Create => "CREATE",
        Operation::Update => "UPDATE",
        Operation::Delete => "DELETE",
    };
    let mut request = json!({
        "uid": "705ab4f5-6393-11e8-b7cc-42010a800002",
        "kind": {"group": group, "version": version, "kind": kind_name},
        "resource": {"group": group, "version": version, "resource": "things"},
        "requestKind": {"group": group, "version": version, "kind": kind_name},
        "name": "demo",
        "namespace": "default",
        "operation": operation,
        "userInfo": {"username": "fuzzer", "groups": ["system:authenticated"]},
        "dryRun": false,
        "options": null,
    });
    if input.ephemeral_subresource {
        request["subResource"] = json!("ephemeralcontainers");
    }
    let request_object = if input.operation == Operation::Delete && input.delete_object_null {
        Value::Null
    } else {
        object.clone()
    };
    request["object"] = request_object.clone();
    match (&old_object, input.operation) {
        (Some(old), _) => request["oldObject"] = old.clone(),
        (None, Operation::Delete) => request["oldObject"] = object.clone(),
        (None, _) => {}
    }
    let mut payload = json!({"request": request});
    if !settings.is_null() || input.settings.absent_gate.0 % 2 == 0 {
        payload["settings"] = settings.clone();
    }

    let verdict = common::evaluate_value(&payload);
    if let Verdict::Reject { message, .. } = &verdict {
        common::check_message_bounds(message);
    }
    let expected = predict(input, &object, old_object.as_ref(), corrupted, old_b.corrupted, &model);

    // At most 20 warnings, then one saying how many more.
    let shown = expected.warnings.min(common::MAX_LISTED) + usize::from(expected.warnings > common::MAX_LISTED);
    let matches = match (&verdict, expected.verdict) {
        (_, Expected::Unknown) => true,
        (Verdict::Accept { warnings }, Expected::Accept) => warnings.len() == shown,
        (Verdict::Accept { warnings }, Expected::AcceptWindows) => warnings.len() == 1,
        (Verdict::Reject { warnings, .. }, Expected::Reject) => warnings.len() == shown,
        (Verdict::Mutate { warnings, .. }, Expected::Mutate) => warnings.len() == shown,
        _ => false,
    };
    assert!(
        matches,
        "the policy and the contract model disagree: model {expected:?}, policy {verdict:?}\npayload: {payload}"
    );

    // Flipping warnSubPathMounts changes the subPath warnings only.
    let mut flipped = payload.clone();
    match flipped.get_mut("settings").and_then(Value::as_object_mut) {
        Some(map) => {
            map.insert("warnSubPathMounts".into(), json!(!model.warn_sub_path_mounts));
        }
        None => flipped["settings"] = json!({"warnSubPathMounts": false}),
    }
    let other = common::evaluate_value(&flipped);
    assert_eq!(
        common::without_warnings(&verdict),
        common::without_warnings(&other),
        "warnSubPathMounts changed the verdict\npayload: {payload}"
    );
    let off = if model.warn_sub_path_mounts { &other } else { &verdict };
    assert!(
        common::warnings(off).iter().all(|w| !w.contains(" with subPath")),
        "a subPath warning with warnSubPathMounts: false: {off:?}\npayload: {payload}"
    );

    // (f) Kinds that are not checked are accepted unchanged.
    if checked_layout.is_none() {
        assert_eq!(verdict, Verdict::Accept { warnings: vec![] }, "unchecked kind {kind_name} in group {group:?}");
    }
    if !model.mutate {
        assert!(!matches!(verdict, Verdict::Mutate { .. }), "Mutate without mutate: true");
    }

    if model.mutate {
        // Validate-only mode agrees on what is compliant, and mutation
        // never turns a rejection in validate-only mode into a plain accept.
        let mut validate_only = payload.clone();
        validate_only["settings"]["mutate"] = Value::Bool(false);
        let plain = common::evaluate_value(&validate_only);
        match (&verdict, &plain) {
            (Verdict::Accept { .. }, Verdict::Accept { .. }) => {}
            (Verdict::Mutate { .. } | Verdict::Reject { .. }, Verdict::Reject { .. }) => {}
            _ => panic!(
                "mutate: true gives {verdict:?} but mutate: false gives {plain:?}\npayload: {payload}"
            ),
        }
    }

    if let Verdict::Mutate { object: mutated, .. } = &verdict {
        common::check_mutation(&payload, mutated);
        // Same input, same output (volume names are deterministic).
        assert_eq!(common::evaluate_value(&payload), verdict, "non-deterministic mutation");
    }
}

fuzz_target!(|input: Input| {
    run(&input);
});
