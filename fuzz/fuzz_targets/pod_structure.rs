//! Structure-aware fuzzing: pod-shaped admission requests built with the
//! `arbitrary` crate, from small alphabets so that name collisions,
//! exemptions, `containerWritablePaths` rules, application profiles,
//! shadowing mounts, changed images and long names happen often. Images come
//! in several spellings of one image (`nginx:1.27`, `library/nginx:1.27`,
//! `docker.io/library/nginx:1.27`), pinned to a digest or not, and invalid;
//! patterns in every form of the contract's table; a Pod UPDATE's old Pod
//! often has another spelling of a container's image (not checked) or
//! another tag or digest of it (checked).
//!
//! Invariants (POLICY-SPEC.md): never panics; a rejection has a message; a
//! kind that is not checked is accepted unchanged; on Mutate, the patch only
//! adds/replaces, mutation is idempotent, the mutated object passes
//! validate-only mode, injected volume names are unique DNS-1123 labels and
//! no container gets a second mount at a path. Validate-only and mutating
//! mode agree on what is compliant. Warnings are never empty strings and at
//! most 21; a rejection message lists at most 20 violations plus one line
//! saying how many more; flipping `warnSubPathMounts` changes only the
//! warnings. The contract model (crates/contract-model, shared with the
//! property tests; `predict` describes the input in its terms) gives
//! accept / reject / mutate, the exact violation count and the number of
//! warnings for every input whose shape it models (the paths each container
//! requires from the global list, the rules and the application profiles it
//! matches, images compared as the runtime resolves them; on a Pod UPDATE,
//! the containers that are new or whose image changed, the latter never
//! mutated; remount and subPath warnings), and the policy must agree with
//! it; a validate-only rejection names, for each path, what requires it
//! (`check_attribution`); a mutation makes only the edits the model allows
//! (`check_edits`).

#![no_main]

mod common;

use arbitrary::Arbitrary;
use contract_model::{self as model, List, Source, Verdict as Expected, put};
use libfuzzer_sys::fuzz_target;
use readonly_rootfs_policy::Verdict;
use readonly_rootfs_policy::mutate::injected_volume_name;
use serde_json::{Map, Value, json};
use std::collections::HashSet;
use std::sync::LazyLock;

const MAX_ITEMS: usize = 4;

// ---------------------------------------------------------------- alphabets

const LONG_A: &str = "a23456789-123456789-123456789-123456789-123456789-123456789-123";
const LONG_B: &str = "a23456789-123456789-123456789-123456789-123456789-123456789-12b";

const CONTAINER_NAMES: [&str; 10] = [
    "app",
    "sidecar",
    "init",
    "debugger",
    "istio-proxy",
    "App",
    LONG_A,
    LONG_B,
    "app-tmp",
    "",
];

/// Container images, as groups of spellings of one image (the runtime
/// resolves a group's spellings to one reference, two groups to different
/// ones). The first four groups are one repository (`docker.io/library/nginx`)
/// with other tags and digests; the last three are not valid references.
const IMAGE_GROUPS: [&[&str]; 16] = [
    &[
        "nginx:1.27",
        "library/nginx:1.27",
        "docker.io/library/nginx:1.27",
    ],
    &["nginx", "index.docker.io/library/nginx", "nginx:latest"],
    &[
        "nginx:1.27@sha256:83f7365784a2ce16a94d7da5d1e56db908932cb66fb3b1a33de20d37b7eb09f8",
        "index.docker.io/library/nginx:1.27@sha256:83f7365784a2ce16a94d7da5d1e56db908932cb66fb3b1a33de20d37b7eb09f8",
    ],
    &["nginx@sha256:83f7365784a2ce16a94d7da5d1e56db908932cb66fb3b1a33de20d37b7eb09f8"],
    &["busybox:1.36", "DOCKER.IO/library/busybox:1.36"],
    &[
        "registry.example.com/debug/tool:1",
        "REGISTRY.example.com/debug/tool:1",
    ],
    &["registry.example.com/debugger/tool:1"],
    &["docker.io/istio/proxyv2:1.22", "istio/proxyv2:1.22"],
    &["evil.example/istio/proxyv2:1.22"],
    &["postgres:16", "docker.io/library/postgres:16"],
    &["grafana/grafana:11.2.0"],
    &["docker.io/grafana/grafana-oss"],
    &["nginxinc/nginx-unprivileged:1.27"],
    &[""],
    &["Nginx:1.27"],
    &["busybox:1.36\n- all containers are fine"],
];
/// The groups of one repository with other tags or digests.
const NGINX_GROUPS: std::ops::Range<usize> = 0..4;

static IMAGES: LazyLock<Vec<&str>> = LazyLock::new(|| {
    IMAGE_GROUPS
        .iter()
        .flat_map(|g| g.iter().copied())
        .collect()
});

fn image_group(image: &str) -> usize {
    IMAGE_GROUPS
        .iter()
        .position(|g| g.contains(&image))
        .expect("an image of the alphabet")
}

/// Image patterns of every form of the contract's table, in several spellings.
const IMAGE_PATTERNS: [&str; 14] = [
    "*",
    "registry.example.com/debug/*",
    "docker.io/istio/proxyv2:*",
    "busybox:1.36",
    "nginx:*",
    "nginx:1.27",
    "docker.io/library/nginx",
    "istio/proxyv2",
    "docker.io/library/*",
    "nginx@sha256:83f7365784a2ce16a94d7da5d1e56db908932cb66fb3b1a33de20d37b7eb09f8",
    "index.docker.io/library/busybox:1.36",
    "registry.example.com/*",
    "grafana/*",
    "nginx:latest",
];

/// Application profiles the settings may enable (`mysql`: of no image here).
const PROFILES: [&str; 6] = [
    "nginx",
    "postgres",
    "grafana",
    "nginx-unprivileged",
    "mysql",
    "tomcat",
];

const MOUNT_PATHS: [&str; 13] = [
    "/",
    "/tmp",
    "/tmp/",
    "/tmp/x",
    "/app",
    "/app/cache",
    "/ap",
    "/var/cache",
    "/var",
    "/data",
    "//tmp",
    "/home/user/.cache",
    "/run",
];

const REQUIRED_PATHS: [&str; 10] = [
    "/tmp",
    "/app/cache",
    "/app",
    "/var/cache",
    "/tmp/x",
    "/data",
    "/home/user/.cache",
    "/var/log/nginx/",
    "/run",
    "/tmp/",
];

/// Volume names: fixed ones plus the names mutation would pick first, so
/// that injected names collide with existing volumes.
static VOLUME_NAMES: LazyLock<Vec<String>> = LazyLock::new(|| {
    let mut names: Vec<String> = ["scratch", "cfg", "data", "tmp", "rw-app-tmp", "cache"]
        .iter()
        .map(|s| s.to_string())
        .collect();
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
    "SYS_ADMIN",
    "CAP_SYS_ADMIN",
    "sys_admin",
    "Cap_Sys_Admin",
    "ALL",
    "all",
    "CAP_ALL",
    "NET_ADMIN",
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
        names
            .get(i)
            .cloned()
            .unwrap_or_else(|| MISSING_VOLUME.to_string())
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
    fn model(&self) -> model::Field<&T> {
        match self {
            Field::Absent => model::Field::Absent,
            Field::Null => model::Field::Null,
            Field::Present(t) => model::Field::Set(t),
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

// The variants are the Kubernetes fields they generate.
#[allow(clippy::enum_variant_names)]
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
    /// Not generated: an old Pod's container has this image instead (see
    /// [`old_spec`]).
    #[arbitrary(default)]
    image_override: Option<Option<&'static str>>,
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
    fn source(&self) -> Source {
        let ro = |r: &Option<Tri>| match r {
            None => model::Field::Absent,
            Some(Tri::Null) => model::Field::Null,
            Some(t) => model::Field::Set(t.is_true()),
        };
        match self {
            VolumeType::EmptyDir => Source::EmptyDir,
            VolumeType::EmptyDirMemory => Source::EmptyDirMemory,
            VolumeType::ConfigMap => Source::ConfigMap,
            VolumeType::Secret => Source::Secret,
            VolumeType::Projected => Source::Projected,
            VolumeType::DownwardApi => Source::DownwardApi,
            VolumeType::Pvc(r) => Source::Pvc(ro(r)),
            VolumeType::HostPath => Source::HostPath,
            VolumeType::Csi(r) => Source::Csi(ro(r)),
            VolumeType::Nfs(r) => Source::Nfs(ro(r)),
            VolumeType::Image => Source::Image,
            VolumeType::Ephemeral => Source::Ephemeral,
            VolumeType::NoSource => Source::NoSource,
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
            Kind::ReplicationController => {
                ("", "v1", "ReplicationController", Some(Layout::Workload))
            }
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
    Object {
        name: Option<Pick>,
        image: Option<Pick>,
    },
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
    /// `applicationProfiles` (a repeated name is dropped). Last, so that
    /// inputs written before it read as before (their leftover bytes, if
    /// any, pick the profiles; none: the key is absent).
    profiles: Field<Vec<Pick>>,
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
    /// ephemeral order) had image [`old_image`]`(old_images[k])` where that
    /// is `Some` (`Some(None)`: no image): another spelling of its image,
    /// another tag or digest of nginx, or any image.
    old_images: Vec<Option<Option<Pick>>>,
    old: OldObject,
    settings: SettingsInput,
}

// ---------------------------------------------------------- the model's view

/// The settings and what the model reads in them.
fn build_settings(input: &SettingsInput) -> (Value, model::Settings) {
    let mut m = model::Settings {
        mutate: input.mutate,
        warn_sub_path_mounts: true,
        ..Default::default()
    };
    if input.absent_gate.rare() {
        m.mutate = false;
        return (Value::Null, m);
    }
    let mut map = Map::new();
    // Paths are unique after removing trailing slashes, or the settings are invalid.
    let unique = |paths: &mut Vec<String>, pick: &Pick| {
        let path = pick.of(&REQUIRED_PATHS);
        let new = !paths
            .iter()
            .any(|p| model::normalise(p) == model::normalise(path));
        new.then(|| paths.push(path.to_string()))
            .map(|_| json!(path))
    };
    let paths = input.paths.model().map_ref(|picks| {
        picks
            .iter()
            .take(MAX_ITEMS)
            .filter_map(|pick| unique(&mut m.required, pick))
            .collect()
    });
    put(&mut map, "requiredWritablePaths", paths);
    let exemptions = input.exemptions.model().map_ref(|entries| {
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
            let selector = model::Selector::new(name.filter(|n| !n.is_empty()), image);
            match (entry, &selector.name, &selector.image) {
                (_, None, None) => continue,
                (Exemption::Name(_), Some(n), _) => raw.push(json!(n)),
                _ => raw.push(Value::Object(selector.json(false))),
            }
            m.exemptions.push(selector);
        }
        Value::Array(raw)
    });
    put(&mut map, "exemptContainers", exemptions);
    if let Some(tri) = input.exempt_ephemeral {
        map.insert("exemptEphemeralContainers".into(), tri.json());
        m.exempt_ephemeral = tri.is_true();
    }
    map.insert("mutate".into(), json!(input.mutate));
    if let Some(volume) = &input.writable_volume {
        let mut v = Map::new();
        if let Some(memory) = volume.medium {
            v.insert("medium".into(), json!(if memory { "Memory" } else { "" }));
        }
        if let Some(limit) = volume.size_limit {
            let limits = [
                json!("64Mi"),
                json!("1Gi"),
                json!(100),
                json!("1.5Gi"),
                Value::Null,
            ];
            v.insert(
                "sizeLimit".into(),
                limits[limit.0 as usize % limits.len()].clone(),
            );
        }
        map.insert("writableVolume".into(), Value::Object(v));
    }
    let rules = input.rules.model().map_ref(|rules| {
        let mut raw = Vec::new();
        for rule in rules.iter().take(MAX_ITEMS) {
            let (name, image) = match rule.selector {
                RuleSelector::Name(n) => (Some(n), None),
                RuleSelector::Image(i) => (None, Some(i)),
                RuleSelector::Both(n, i) => (Some(n), Some(i)),
            };
            // An empty name is invalid settings: not generated.
            let name = name
                .map(|n| n.of(&CONTAINER_NAMES))
                .filter(|n| !n.is_empty());
            let mut paths = Vec::new();
            let picks =
                std::iter::once(&rule.path).chain(rule.more_paths.iter().take(MAX_ITEMS - 1));
            let raw_paths: Vec<Value> = picks.filter_map(|pick| unique(&mut paths, pick)).collect();
            let selector = model::Selector::new(name, image.map(|i| i.of(&IMAGE_PATTERNS)));
            if selector == model::Selector::default() {
                continue;
            }
            let mut obj = selector.json(false);
            obj.insert("paths".into(), Value::Array(raw_paths));
            raw.push(Value::Object(obj));
            m.rules.push(model::Rule { selector, paths });
        }
        Value::Array(raw)
    });
    put(&mut map, "containerWritablePaths", rules);
    if let Some(tri) = input.warn_sub_path_mounts {
        map.insert("warnSubPathMounts".into(), tri.json());
        m.warn_sub_path_mounts = tri != Tri::False;
    }
    let profiles = input.profiles.model().map_ref(|picks| {
        for pick in picks.iter().take(MAX_ITEMS) {
            let name = pick.of(&PROFILES).to_string();
            if !m.profiles.contains(&name) {
                m.profiles.push(name);
            }
        }
        json!(m.profiles)
    });
    put(&mut map, "applicationProfiles", profiles);
    (Value::Object(map), m)
}

// --------------------------------------------------------------- JSON build

/// Builds JSON; records whether a shape error (a corruption) was written.
struct Builder {
    corrupted: bool,
}

fn container_json(
    c: &Container,
    init: bool,
    b: &mut Builder,
    corrupt: Option<&Corruption>,
) -> Value {
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
    if let Some(image) = container_image(c) {
        map.insert("image".into(), json!(image));
    }
    let context = match &c.security_context {
        SecurityContext::Absent => model::Field::Absent,
        SecurityContext::Null => model::Field::Null,
        SecurityContext::Empty => model::Field::Set(json!({})),
        SecurityContext::ReadOnlyRoot(tri) => {
            model::Field::Set(json!({"readOnlyRootFilesystem": tri.json()}))
        }
        SecurityContext::WithOthers(tri) => {
            let mut sc = json!({"runAsNonRoot": true, "capabilities": {"drop": ["ALL"], "add": null}, "seLinuxOptions": null});
            if let Some(tri) = tri {
                sc["readOnlyRootFilesystem"] = tri.json();
            }
            model::Field::Set(sc)
        }
        SecurityContext::WrongType(t) => {
            b.corrupted = true;
            let wrong = [json!("readOnly"), json!(1), json!([true]), json!(true)];
            model::Field::Set(wrong[*t as usize % wrong.len()].clone())
        }
        SecurityContext::WrongFlagType => {
            b.corrupted = true;
            model::Field::Set(json!({"readOnlyRootFilesystem": "true"}))
        }
    };
    put(&mut map, "securityContext", context);
    if let (Some(power), Some(sc)) = (
        &c.power,
        map.get_mut("securityContext")
            .and_then(Value::as_object_mut),
    ) {
        match power {
            Power::Privileged(tri) => {
                sc.insert("privileged".into(), tri.json());
            }
            Power::Add(caps) => {
                let caps: Vec<Value> = caps
                    .iter()
                    .take(MAX_ITEMS)
                    .map(|p| json!(p.of(&CAPABILITIES)))
                    .collect();
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
    let mount_json = |i: usize, m: &Mount, b: &mut Builder| {
        let mut mount =
            json!({"name": m.volume.volume_name(), "mountPath": m.path.of(&MOUNT_PATHS)});
        if i == 0 && matches!(corrupt, Some(Corruption::MountPathNotString)) {
            b.corrupted = true;
            mount["mountPath"] = json!(["/tmp"]);
        }
        if let Some(ro) = m.read_only {
            mount["readOnly"] = ro.json();
        }
        match m.sub_path {
            SubPath::None => {}
            SubPath::SubPath => mount["subPath"] = json!("sub"),
            SubPath::SubPathExpr => mount["subPathExpr"] = json!("$(POD_NAME)"),
            SubPath::Empty => mount["subPath"] = json!(""),
        }
        if let Some(extra) = &m.extra {
            mount["recursiveReadOnlyFuture"] = extra.json();
        }
        mount
    };
    let mounts = if matches!(
        (&c.mounts, corrupt),
        (Field::Present(_), Some(Corruption::MountsNotList))
    ) {
        b.corrupted = true;
        model::Field::Set(json!({"name": "x", "mountPath": "/tmp"}))
    } else {
        list_json(&c.mounts, |i, m| mount_json(i, m, b))
    };
    put(&mut map, "volumeMounts", mounts);
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
    let mut volume = v.kind.source().json(&v.name.volume_name());
    if let Some(extra) = &v.extra {
        volume["futureVolumeField"] = extra.volume_json();
    }
    volume
}

fn list_json<T>(
    field: &Field<Vec<T>>,
    mut item: impl FnMut(usize, &T) -> Value,
) -> model::Field<Value> {
    field.model().map_ref(|items| {
        items
            .iter()
            .take(MAX_ITEMS)
            .enumerate()
            .map(|(i, t)| item(i, t))
            .collect()
    })
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
        let value = if key == "containers" && matches!(corrupt, Some(Corruption::ContainersNotList))
        {
            b.corrupted = true;
            model::Field::Set(json!({"name": "app"}))
        } else {
            list_json(field, |i, c| {
                let hit = (key == "containers" && i == 0).then_some(corrupt).flatten();
                container_json(c, init, b, hit)
            })
        };
        put(&mut map, key, value);
    }
    let corrupt_volume = matches!(corrupt, Some(Corruption::VolumeNotObject));
    put(
        &mut map,
        "volumes",
        list_json(&spec.volumes, |i, v| {
            volume_json(v, b, corrupt_volume && i == 0)
        }),
    );
    let os = match spec.os {
        Os::Absent => model::Field::Absent,
        Os::Null => model::Field::Null,
        Os::Linux => model::Field::Set(json!({"name": "linux"})),
        Os::Windows => model::Field::Set(json!({"name": "windows"})),
        Os::Empty => model::Field::Set(json!({})),
    };
    put(&mut map, "os", os);
    map.insert("restartPolicy".into(), json!("Always"));
    map.insert("dnsConfig".into(), Value::Null);
    if let Some(extra) = &spec.extra {
        map.insert("futurePodSpecField".into(), extra.json());
    }
    Value::Object(map)
}

fn object_json(input: &Input, layout: Layout, spec: Value, labels: &str) -> Value {
    let (group, version, kind, _) = input.kind.gvk();
    let api_version = if group.is_empty() {
        version.to_string()
    } else {
        format!("{group}/{version}")
    };
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

// ------------------------------------------------- the input in model terms

fn container_name(c: &Container) -> &'static str {
    c.name.map(|n| n.of(&CONTAINER_NAMES)).unwrap_or("")
}

fn present_list<T>(field: &Field<Vec<T>>) -> &[T] {
    match field {
        Field::Present(v) => &v[..v.len().min(MAX_ITEMS)],
        _ => &[],
    }
}

fn container_image(c: &Container) -> Option<&'static str> {
    match c.image_override {
        Some(image) => image,
        None => c.image.map(|i| IMAGES[i.0 as usize % IMAGES.len()]),
    }
}

/// The image a container had in the old Pod, by `pick` and its image `new`
/// now: a quarter of the picks another spelling of `new` (the same image:
/// not checked), a quarter another tag or digest of nginx when `new` is an
/// nginx (a digest pinned or unpinned, a tag moved: checked), the rest any
/// image of the alphabet.
fn old_image(new: Option<&'static str>, pick: Pick) -> Option<&'static str> {
    let group = new.map(image_group);
    let candidates: Vec<&'static str> = match (pick.0 % 4, group) {
        (0, Some(g)) => IMAGE_GROUPS[g]
            .iter()
            .copied()
            .filter(|i| Some(*i) != new)
            .collect(),
        (1, Some(g)) if NGINX_GROUPS.contains(&g) => NGINX_GROUPS
            .filter(|other| *other != g)
            .flat_map(|other| IMAGE_GROUPS[other].iter().copied())
            .collect(),
        _ => Vec::new(),
    };
    match candidates.len() {
        0 => Some(IMAGES[(pick.0 / 4) as usize % IMAGES.len()]),
        n => Some(candidates[(pick.0 / 4) as usize % n]),
    }
}

/// The containers of `spec` in pod spec order, with their list.
fn containers(spec: &Spec) -> impl Iterator<Item = (List, &Container)> {
    let lists = [
        (List::Init, &spec.init_containers),
        (List::Regular, &spec.containers),
        (List::Ephemeral, &spec.ephemeral_containers),
    ];
    lists
        .into_iter()
        .flat_map(|(list, field)| present_list(field).iter().map(move |c| (list, c)))
}

fn images_changed(input: &Input) -> bool {
    input
        .old_images
        .iter()
        .take(3 * MAX_ITEMS)
        .any(Option::is_some)
}

/// The spec the old objects made from `spec` have: with `old_images`.
fn old_spec(input: &Input) -> Spec {
    let mut spec = input.spec.clone();
    let changes = &input.old_images;
    let lists = [
        &mut spec.init_containers,
        &mut spec.containers,
        &mut spec.ephemeral_containers,
    ];
    let containers = lists.into_iter().filter_map(|field| match field {
        Field::Present(list) => Some(list.iter_mut().take(MAX_ITEMS)),
        _ => None,
    });
    for (c, change) in containers.flatten().zip(changes) {
        if let Some(image) = change {
            c.image_override = Some(image.and_then(|pick| old_image(container_image(c), pick)));
        }
    }
    spec
}

/// A readable spec (no corruption) as the model describes a pod.
fn pod_model(spec: &Spec) -> model::Pod {
    let container = |(list, c): (List, &Container)| {
        let (root, context_is_object) = match &c.security_context {
            SecurityContext::ReadOnlyRoot(t) | SecurityContext::WithOthers(Some(t)) => {
                (Some(*t), true)
            }
            SecurityContext::Empty | SecurityContext::WithOthers(None) => (None, true),
            _ => (None, false),
        };
        let can_remount = context_is_object
            && match &c.power {
                Some(Power::Privileged(tri)) => model::can_remount(tri.is_true(), []),
                Some(Power::Add(caps)) => model::can_remount(
                    false,
                    caps.iter().take(MAX_ITEMS).map(|p| p.of(&CAPABILITIES)),
                ),
                _ => false,
            };
        let mount = |m: &Mount| model::Mount {
            path: m.path.of(&MOUNT_PATHS).to_string(),
            volume: m.volume.volume_name(),
            read_only: m.read_only == Some(Tri::True),
            sub_path: matches!(m.sub_path, SubPath::SubPath | SubPath::SubPathExpr),
        };
        model::Container {
            list,
            name: container_name(c).to_string(),
            image: container_image(c).map(str::to_string),
            root: match root {
                Some(Tri::True) => model::Root::True,
                Some(Tri::False) => model::Root::False,
                _ => model::Root::Unset,
            },
            can_remount,
            mounts: present_list(&c.mounts).iter().map(mount).collect(),
        }
    };
    let volume = |v: &Volume| model::Volume {
        name: v.name.volume_name(),
        source: v.kind.source(),
    };
    model::Pod {
        containers: containers(spec).map(container).collect(),
        volumes: present_list(&spec.volumes).iter().map(volume).collect(),
        windows: matches!(spec.os, Os::Windows),
    }
}

/// The model's prediction for the input: request shapes the model does not
/// describe are decided here, the rest by `model::evaluate`.
fn predict(
    input: &Input,
    object: &Value,
    old_object: Option<&Value>,
    corrupted: bool,
    old_corrupted: bool,
    settings: &model::Settings,
) -> model::Prediction {
    let fixed = model::Prediction::of;
    if input.operation == Operation::Delete {
        return fixed(Expected::Accept);
    }
    let (_, _, _, Some(layout)) = input.kind.gvk() else {
        return fixed(Expected::Accept);
    };
    let misplaced = input.misplace_gate.rare() && input.layout != layout;
    if input.spec_null_gate.rare() {
        // spec: null at the kind's path, or a parent of it.
        return fixed(Expected::Reject);
    }
    if misplaced {
        // A Pod's `spec` is then an object without containers; a workload
        // has no pod spec where one belongs.
        return fixed(if layout == Layout::Pod {
            Expected::Accept
        } else {
            Expected::Reject
        });
    }
    if corrupted {
        return fixed(Expected::Unknown("a field of the wrong type"));
    }
    let operation = match (input.operation, layout) {
        (Operation::Create, _) => model::Operation::Create,
        (_, Layout::Pod) if old_corrupted => {
            return fixed(Expected::Unknown("an old Pod of the wrong shape"));
        }
        (_, Layout::Pod) => {
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
            let old = old_spec.iter().flat_map(|s| containers(s).map(|(_, c)| c));
            model::Operation::PodUpdate {
                old: old
                    .map(|c| {
                        (
                            container_name(c).to_string(),
                            container_image(c).map(str::to_string),
                        )
                    })
                    .collect(),
                subresource: input.ephemeral_subresource,
            }
        }
        _ => {
            let template_path = &layout.spec_path()[..layout.spec_path().len() - 1];
            let unchanged = old_object.is_some_and(|old| {
                common::at(old, template_path) == common::at(object, template_path)
            });
            model::Operation::WorkloadUpdate {
                template_changed: !unchanged,
            }
        }
    };
    model::evaluate(settings, &pod_model(&input.spec), &operation)
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
    let misplaced = checked_layout.is_some()
        && input.misplace_gate.rare()
        && Some(input.layout) != checked_layout;
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
                object_json(
                    input,
                    layout,
                    spec_json(&old_spec(input), &mut old_b),
                    "demo",
                )
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
            Some(object_json(
                input,
                layout,
                spec_json(&s, &mut old_b),
                "demo",
            ))
        }
        OldObject::Other(other) => Some(object_json(
            input,
            layout,
            spec_json(other, &mut old_b),
            "demo",
        )),
    };
    let (settings, given) = build_settings(&input.settings);

    let operation = match input.operation {
        Operation::Create => "CREATE",
        Operation::Update => "UPDATE",
        Operation::Delete => "DELETE",
    };
    let mut request = model::admission_request((group, version, kind_name, "things"), operation);
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
    if !settings.is_null() || input.settings.absent_gate.0.is_multiple_of(2) {
        payload["settings"] = settings.clone();
    }

    let verdict = common::evaluate_value(&payload);
    let expected = predict(
        input,
        &object,
        old_object.as_ref(),
        corrupted,
        old_b.corrupted,
        &given,
    );
    let agrees = match (&verdict, expected.verdict) {
        (_, Expected::Unknown(_)) => true,
        (Verdict::Accept { .. }, Expected::Accept | Expected::AcceptWindows)
        | (Verdict::Reject { .. }, Expected::Reject)
        | (Verdict::Mutate { .. }, Expected::Mutate) => {
            model::check_warnings(common::warnings(&verdict), &expected).is_ok()
        }
        _ => false,
    };
    assert!(
        agrees,
        "the policy and the contract model disagree: model {expected:?}, policy {verdict:?}\npayload: {payload}"
    );
    // Validate-only mode: the message counts the model's violations, at
    // most 20 listed then one line saying how many more.
    let plain = if given.mutate {
        let mut validate_only = payload.clone();
        validate_only["settings"]["mutate"] = Value::Bool(false);
        common::evaluate_value(&validate_only)
    } else {
        verdict.clone()
    };
    let bounded = |message: &str| {
        model::check_message_bounds(message).unwrap_or_else(|e| panic!("{e}:\n{message}"))
    };
    if let Verdict::Reject { message, .. } = &verdict {
        bounded(message);
    }
    if let Verdict::Reject { message, .. } = &plain {
        let (count, violations) = (bounded(message), expected.violations());
        assert!(
            violations == 0 || count == Some(violations),
            "the model counts {violations} violations, the message {count:?}:\n{message}\npayload: {payload}"
        );
        // Each path violation names what requires the path (the global
        // list, a rule, an application profile).
        if let Err(why) = model::check_attribution(message, &expected) {
            panic!("{why}\n{message}\npayload: {payload}");
        }
    }

    // Flipping warnSubPathMounts changes the subPath warnings only.
    let mut flipped = payload.clone();
    match flipped.get_mut("settings").and_then(Value::as_object_mut) {
        Some(map) => {
            map.insert(
                "warnSubPathMounts".into(),
                json!(!given.warn_sub_path_mounts),
            );
        }
        None => flipped["settings"] = json!({"warnSubPathMounts": false}),
    }
    let other = common::evaluate_value(&flipped);
    assert_eq!(
        common::without_warnings(&verdict),
        common::without_warnings(&other),
        "warnSubPathMounts changed the verdict\npayload: {payload}"
    );
    let off = if given.warn_sub_path_mounts {
        &other
    } else {
        &verdict
    };
    assert!(
        common::warnings(off)
            .iter()
            .all(|w| !w.contains(" with subPath")),
        "a subPath warning with warnSubPathMounts: false: {off:?}\npayload: {payload}"
    );

    // (f) Kinds that are not checked are accepted unchanged.
    if checked_layout.is_none() {
        assert_eq!(
            verdict,
            Verdict::Accept { warnings: vec![] },
            "unchecked kind {kind_name} in group {group:?}"
        );
    }
    if !given.mutate {
        assert!(
            !matches!(verdict, Verdict::Mutate { .. }),
            "Mutate without mutate: true"
        );
    }
    // Validate-only mode agrees on what is compliant, and mutation never
    // turns a rejection in validate-only mode into a plain accept.
    match (&verdict, &plain) {
        (Verdict::Accept { .. }, Verdict::Accept { .. }) => {}
        (Verdict::Mutate { .. } | Verdict::Reject { .. }, Verdict::Reject { .. }) => {}
        _ => panic!(
            "mutate: true gives {verdict:?} but mutate: false gives {plain:?}\npayload: {payload}"
        ),
    }

    if let Verdict::Mutate {
        object: mutated, ..
    } = &verdict
    {
        let mutated = &mutated.to_value().expect("the mutated object is JSON");
        common::check_mutation(&payload, mutated);
        // Same input, same output (volume names are deterministic).
        assert_eq!(
            common::evaluate_value(&payload),
            verdict,
            "non-deterministic mutation"
        );
        // Only the edits the model allows.
        if expected.verdict == Expected::Mutate {
            let path = checked_layout.expect("a checked kind").spec_path();
            let (Some(old), Some(new)) = (common::at(&object, path), common::at(mutated, path))
            else {
                panic!("no pod spec in the mutated object")
            };
            let empty_dir = model::injected_empty_dir(&settings);
            let edits = model::check_edits(old, new, &expected, Some(&empty_dir));
            assert!(
                edits.problems.is_empty(),
                "{}\npayload: {payload}",
                edits.problems.join("\n")
            );
        }
    }
}

fuzz_target!(|input: Input| {
    run(&input);
});
