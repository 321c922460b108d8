//! Property tests of mutation (`mutate: true`, POLICY-SPEC.md "Mutation")
//! and of Pod UPDATEs that change images, over generated admission
//! requests, on the native core and on the built `policy.wasm` in the waPC
//! host.
//!
//! Generated: the 8 checked kinds (pod spec at `spec`, `spec.template.spec`,
//! `spec.jobTemplate.spec.template.spec`); CREATE, workload UPDATE with a
//! changed (and sometimes unchanged) template, Pod UPDATE with new debug
//! containers and containers whose image changed (plain and
//! `pods/ephemeralcontainers`); containers, initContainers (some native
//! sidecars) and ephemeralContainers with names unique within the pod, from
//! a small alphabet plus 63-character names; images; `securityContext`
//! absent / null / `{}` / `readOnlyRootFilesystem` true, null or (rarely)
//! false, sometimes privileged or adding capabilities; volumeMounts at
//! overlapping paths, read-only or not, some with `subPath`, of existing or
//! missing volumes; volumes of many types, some named like the volumes the
//! policy injects; unknown fields and nulls at pod, pod spec, container and
//! securityContext level; `os` absent, linux or windows. Settings: `mutate:
//! true` with subsets of requiredWritablePaths, `containerWritablePaths`
//! rules (selectors from the exemptions' name and image alphabets, paths
//! from the required-path alphabet, so rules overlap each other and the
//! global list), every form of exemption, exemptEphemeralContainers,
//! writableVolume variants and warnSubPathMounts.
//!
//! Invariants, for every input:
//! - I1 the verdict is accept, mutate or reject: never a host error (trap,
//!   guest error) or a panic;
//! - when mutated, [`check_mutation_invariants`] (the fixture table's checks):
//!   I2 the engine's patch (`json_patch::diff(object, mutated)`) has no
//!   `remove`, only touches the pod spec and loses no value; I3 idempotent;
//!   I4 the mutated object is accepted with `mutate: false`; I5 volume names
//!   are unique DNS-1123 labels of at most 63 characters, no container has two
//!   mounts at one path, the pod spec parses as a Kubernetes `PodSpec`;
//! - I6 accepted in mutate mode <=> accepted in validate-only mode (mutation
//!   never hides a violation it did not fix, and never edits a compliant pod);
//! - I7 Windows pods are accepted with a warning and never mutated;
//! - I8 an explicit `readOnlyRootFilesystem: false` on a checked container is
//!   rejected, naming the container and, where mutation applies, saying to
//!   remove the field or exempt it;
//! - I9 the edits are the ones the spec lists: containers not to be edited
//!   (exempt, unchanged on a Pod UPDATE, image changed on a Pod UPDATE) are
//!   untouched; every injected volume is an `emptyDir` shaped by
//!   `writableVolume`, mounted exactly once in the whole pod (counting the
//!   request's own mounts), at a path its container requires (the global
//!   paths plus those of every rule it matches), at most once per container
//!   and path, never at or under a mount the container already had;
//!   ephemeral containers and the ephemeralcontainers subresource get no
//!   volume; a plain Pod UPDATE and a workload UPDATE with an unchanged
//!   template are never mutated;
//! - I10 (wasm test) `policy.wasm` gives the same verdict as the native core;
//! - I11 the validate-only verdict is the model's: rejected exactly when a
//!   checked container has no read-only root or cannot write a path it
//!   requires (deepest covering mount, writable volume), with the model's
//!   exact violation count in the header;
//! - I12 a rejection message lists at most 20 violations, then one line
//!   saying how many more;
//! - I13 a Pod UPDATE whose changed-image container violates is rejected
//!   in mutate mode too, saying that the image changed;
//! - I14 the warnings are the model's: one per checked container that can
//!   remount its root and per `subPath` mount of a configMap, secret,
//!   projected or downwardAPI volume (none with `warnSubPathMounts: false`),
//!   at most 20 then one more line; a Windows pod gets only its own warning.
//!
//! The image-change property (`image_changing_updates_*` tests), for any
//! pod and any exemption settings: P1 a Pod UPDATE in validate-only mode is
//! rejected exactly when one of the containers it changes (new image, or
//! new name) would be rejected on CREATE, i.e. in a pod holding only that
//! container (same volumes, exemptions seeing the new image), and its
//! header counts the sum of their violations; P2 with `mutate: true` a
//! plain UPDATE gets the same verdict and is never mutated, and on the
//! ephemeralcontainers subresource a container whose image changed is never
//! edited, and its violation always rejects.
//!
//! Case counts: `PROPTEST_CASES` (default 2000) for the native core;
//! `PROPTEST_WASM_CASES`, else 15% of `PROPTEST_CASES`, else 300 for the wasm
//! module; the image-change tests run a quarter as many (each evaluates
//! the UPDATE twice and a CREATE per checked container). `PROPTEST_RNG_SEED`
//! fixes the seed. A failure is shrunk and printed as the minimal request
//! and settings with the violated invariants.

mod support;

use policy_host::fixture_table::{Evaluator, Outcome, check_mutation_invariants};
use proptest::collection::vec;
use proptest::prelude::*;
use proptest::sample::{select, subsequence};
use proptest::test_runner::{Config, TestCaseError, TestError, TestRunner};
use readonly_rootfs_policy::mutate::injected_volume_name;
use serde_json::{Map, Value, json};
use std::cell::{Cell, RefCell};
use std::collections::{HashMap, HashSet};
use std::fmt::Write as _;
use std::time::Instant;
use support::{HOST_ERROR, NativeCore, WasmModule};

// ---------------------------------------------------------------------------
// Evaluators: tests/support/mod.rs
// ---------------------------------------------------------------------------

/// Marks a disagreement of policy.wasm with the native core (I10).
const DISAGREEMENT: &str = "<I10 DISAGREEMENT";

// ---------------------------------------------------------------------------
// The generated inputs
// ---------------------------------------------------------------------------

const LONG_NAME_A: &str = "verylongcontainernameverylongcontainernameverylongcontainername";
const LONG_NAME_B: &str = "long-01234567890123456789012345678901234567890123456789sidecarz";

/// Container names: unique within a pod, as Kubernetes requires.
const CONTAINER_NAMES: [&str; 10] = [
    "app",
    "sidecar",
    "init",
    "debug",
    "a",
    "istio-proxy",
    "web",
    "cache",
    LONG_NAME_A,
    LONG_NAME_B,
];

const IMAGES: [&str; 5] = [
    "nginx:1.27",
    "registry.example.com/debug/busybox:1.36",
    "docker.io/istio/proxyv2:1.22.0",
    "busybox",
    "registry.example.com/app/web:2",
];

const IMAGE_PATTERNS: [&str; 6] = [
    "registry.example.com/debug/*",
    "docker.io/istio/*",
    "nginx:1.27",
    "busybox",
    "*",
    "registry.example.com/*",
];

/// Mount paths: `/tmp/` is also generated (a trailing-slash `/tmp`).
const MOUNT_PATHS: [&str; 7] = [
    "/tmp",
    "/tmp/x",
    "/app",
    "/app/cache",
    "/ap",
    "/var/cache",
    "/",
];

const REQUIRED_PATHS: [&str; 4] = [
    "/tmp",
    "/var/cache",
    "/app/cache",
    "/data/long/nested/path/for/names",
];

const MISSING_VOLUME: &str = "missing-volume";

/// Capabilities a container may add; SYS_ADMIN and ALL (any case, with or
/// without CAP_) let it remount its root, the others do not.
const CAPABILITIES: [&str; 8] = [
    "SYS_ADMIN",
    "CAP_SYS_ADMIN",
    "sys_admin",
    "ALL",
    "cap_all",
    "NET_ADMIN",
    "CAP_NET_RAW",
    "SYS_ADMINX",
];

/// Pod volume names: plain ones and the names the policy would inject
/// (readable and hashed), so that generated names collide.
fn volume_name_pool() -> Vec<String> {
    let none = HashSet::new();
    let app_tmp = injected_volume_name("app", "/tmp", &none);
    let app_tmp_2 = injected_volume_name("app", "/tmp", &HashSet::from([app_tmp.clone()]));
    let long_tmp = injected_volume_name(LONG_NAME_A, "/tmp", &none);
    let long_tmp_2 = injected_volume_name(LONG_NAME_A, "/tmp", &HashSet::from([long_tmp.clone()]));
    let mut pool: Vec<String> = ["data", "cache", "scratch", "config", "tmp"]
        .map(String::from)
        .to_vec();
    pool.extend([
        app_tmp,
        app_tmp_2,
        injected_volume_name("init", "/var/cache", &none),
        injected_volume_name("sidecar", "/app/cache", &none),
        long_tmp,
        long_tmp_2,
        injected_volume_name(LONG_NAME_B, REQUIRED_PATHS[3], &none),
    ]);
    pool
}

const KINDS: [(&str, &str, &str, &str); 8] = [
    // (kind, group, version, resource)
    ("Pod", "", "v1", "pods"),
    ("Deployment", "apps", "v1", "deployments"),
    ("ReplicaSet", "apps", "v1", "replicasets"),
    ("StatefulSet", "apps", "v1", "statefulsets"),
    ("DaemonSet", "apps", "v1", "daemonsets"),
    ("Job", "batch", "v1", "jobs"),
    ("CronJob", "batch", "v1", "cronjobs"),
    ("ReplicationController", "", "v1", "replicationcontrollers"),
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Root {
    Absent,
    /// `"securityContext": null`
    ContextNull,
    /// `"securityContext": {}`
    ContextEmpty,
    True,
    /// `"readOnlyRootFilesystem": null`
    Null,
    /// Explicit false: rejected in mutate mode.
    False,
}

/// A JSON field that may be absent, null or a value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Field<T> {
    Absent,
    Null,
    Set(T),
}

#[derive(Debug, Clone)]
struct MountModel {
    path: &'static str,
    trailing_slash: bool,
    volume: String,
    read_only: Field<bool>,
    sub_path: bool,
}

#[derive(Debug, Clone)]
enum Mounts {
    Absent,
    Null,
    List(Vec<MountModel>),
}

/// What in a container's securityContext could let it remount its root.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Remount {
    None,
    Privileged(bool),
    /// `capabilities.add: [this]`
    Add(&'static str),
}

#[derive(Debug, Clone)]
struct ContainerModel {
    image: Option<&'static str>,
    root: Root,
    remount: Remount,
    context_extras: bool,
    mounts: Mounts,
    extras: bool,
    /// Init containers: a native sidecar (`restartPolicy: Always`).
    restart_always: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum VolumeType {
    EmptyDir,
    EmptyDirMemory,
    NoSource,
    ConfigMap,
    Secret,
    Projected,
    DownwardApi,
    Image,
    Pvc(Option<bool>),
    HostPath,
    Csi(Option<bool>),
    Nfs(Option<bool>),
    Ephemeral,
    /// A source newer than the policy.
    Future,
}

#[derive(Debug, Clone)]
enum Volumes {
    Absent,
    Null,
    List(Vec<(String, VolumeType)>),
}

#[derive(Debug, Clone, Copy)]
enum Os {
    Absent,
    Null,
    Empty,
    Linux,
    Windows,
}

#[derive(Debug, Clone)]
struct PodSpecModel {
    init: Vec<ContainerModel>,
    containers: Vec<ContainerModel>,
    ephemeral: Vec<ContainerModel>,
    /// Shuffled container names, taken in pod spec order.
    names: Vec<&'static str>,
    /// How an empty init / ephemeral list is written: absent, null or `[]`.
    empty_init: u8,
    empty_ephemeral: u8,
    volumes: Volumes,
    os: Os,
    extras: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Create,
    /// Workload: UPDATE with a changed template. Pod: plain UPDATE.
    UpdateA,
    /// Workload: UPDATE with the template unchanged. Pod: UPDATE through the
    /// ephemeralcontainers subresource.
    UpdateB,
}

#[derive(Debug, Clone)]
enum Exemption {
    Name(&'static str),
    NameObject(&'static str),
    Image(&'static str),
    /// `{"name": null, "image": ...}`: null counts as absent.
    ImageNullName(&'static str),
    Both(&'static str, &'static str),
}

impl Exemption {
    fn json(&self) -> Value {
        match self {
            Exemption::Name(n) => json!(n),
            Exemption::NameObject(n) => json!({"name": n}),
            Exemption::Image(i) => json!({"image": i}),
            Exemption::ImageNullName(i) => json!({"name": null, "image": i}),
            Exemption::Both(n, i) => json!({"name": n, "image": i}),
        }
    }

    fn matches(&self, name: &str, image: Option<&str>) -> bool {
        let (n, i) = match self {
            Exemption::Name(n) | Exemption::NameObject(n) => (Some(*n), None),
            Exemption::Image(i) | Exemption::ImageNullName(i) => (None, Some(*i)),
            Exemption::Both(n, i) => (Some(*n), Some(*i)),
        };
        selector_matches(n, i, name, image)
    }
}

/// Oracle, written from the spec, of an exemption object or a rule: `name`
/// exactly, `image` exactly or as a prefix when it ends in `*`; both must
/// match when both are given.
fn selector_matches(
    name: Option<&str>,
    image_pattern: Option<&str>,
    container_name: &str,
    container_image: Option<&str>,
) -> bool {
    let name_ok = name.is_none_or(|n| n == container_name);
    let image_ok = image_pattern.is_none_or(|pattern| {
        container_image.is_some_and(|image| match pattern.strip_suffix('*') {
            Some(prefix) => image.starts_with(prefix),
            None => image == pattern,
        })
    });
    name_ok && image_ok
}

/// A `containerWritablePaths` rule: at least one of name and image.
#[derive(Debug, Clone)]
struct RuleModel {
    name: Option<&'static str>,
    image: Option<&'static str>,
    /// Writes the absent one of name and image as null (null is absent).
    null_key: bool,
    /// Paths, some written with a trailing slash.
    paths: Vec<(&'static str, bool)>,
}

impl RuleModel {
    fn json(&self) -> Value {
        let mut o = Map::new();
        for (key, value) in [("name", self.name), ("image", self.image)] {
            match value {
                Some(v) => {
                    o.insert(key.into(), json!(v));
                }
                None if self.null_key => {
                    o.insert(key.into(), Value::Null);
                }
                None => {}
            }
        }
        o.insert("paths".into(), paths_json(&self.paths));
        Value::Object(o)
    }

    fn matches(&self, name: &str, image: Option<&str>) -> bool {
        selector_matches(self.name, self.image, name, image)
    }
}

fn paths_json(paths: &[(&'static str, bool)]) -> Value {
    paths
        .iter()
        .map(|(p, slash)| {
            json!(if *slash {
                format!("{p}/")
            } else {
                p.to_string()
            })
        })
        .collect()
}

#[derive(Debug, Clone)]
struct SettingsModel {
    /// `None`: key absent; `Some((null?, paths with trailing-slash flag))`.
    paths: Option<(bool, Vec<(&'static str, bool)>)>,
    exemptions: Vec<Exemption>,
    exemptions_key_when_empty: bool,
    exempt_ephemeral: Field<bool>,
    writable_volume: u8,
    /// `containerWritablePaths`: absent, null or a list (maybe empty).
    rules: Field<Vec<RuleModel>>,
    warn_sub_path_mounts: Field<bool>,
}

impl SettingsModel {
    fn global_paths(&self) -> Vec<&'static str> {
        match &self.paths {
            Some((false, paths)) => paths.iter().map(|(p, _)| *p).collect(),
            _ => Vec::new(),
        }
    }

    fn rules(&self) -> &[RuleModel] {
        match &self.rules {
            Field::Set(rules) => rules,
            _ => &[],
        }
    }

    /// The paths a checked regular or init container must be able to
    /// write: the global ones, then those of every rule it matches, each
    /// once.
    fn required_paths(&self, name: &str, image: Option<&str>) -> Vec<&'static str> {
        let mut paths = self.global_paths();
        let from_rules = self
            .rules()
            .iter()
            .filter(|rule| rule.matches(name, image))
            .flat_map(|rule| rule.paths.iter().map(|(p, _)| *p));
        for path in from_rules {
            if !paths.contains(&path) {
                paths.push(path);
            }
        }
        paths
    }

    fn is_exempt(&self, list: List, name: &str, image: Option<&str>) -> bool {
        (list == List::Ephemeral && self.exempt_ephemeral())
            || self.exemptions.iter().any(|e| e.matches(name, image))
    }

    fn warn_sub_path_mounts(&self) -> bool {
        self.warn_sub_path_mounts != Field::Set(false)
    }

    fn exempt_ephemeral(&self) -> bool {
        self.exempt_ephemeral == Field::Set(true)
    }

    /// (settings value, the `emptyDir` the policy must inject).
    fn writable_volume(&self) -> (Field<Value>, Value) {
        match self.writable_volume % 8 {
            0 => (Field::Absent, json!({})),
            1 => (Field::Null, json!({})),
            2 => (Field::Set(json!({})), json!({})),
            3 => (Field::Set(json!({"medium": ""})), json!({})),
            4 => (
                Field::Set(json!({"medium": "Memory"})),
                json!({"medium": "Memory"}),
            ),
            5 => (
                Field::Set(json!({"sizeLimit": "64Mi", "medium": null})),
                json!({"sizeLimit": "64Mi"}),
            ),
            6 => (
                Field::Set(json!({"medium": "Memory", "sizeLimit": "1Gi"})),
                json!({"medium": "Memory", "sizeLimit": "1Gi"}),
            ),
            _ => (
                Field::Set(json!({"sizeLimit": 1024})),
                json!({"sizeLimit": "1024"}),
            ),
        }
    }

    fn json(&self) -> Value {
        let mut s = Map::new();
        s.insert("mutate".into(), json!(true));
        match &self.paths {
            None => {}
            Some((true, _)) => {
                s.insert("requiredWritablePaths".into(), Value::Null);
            }
            Some((false, paths)) => {
                s.insert("requiredWritablePaths".into(), paths_json(paths));
            }
        }
        if !self.exemptions.is_empty() || self.exemptions_key_when_empty {
            let list = self.exemptions.iter().map(Exemption::json).collect();
            s.insert("exemptContainers".into(), Value::Array(list));
        }
        match self.exempt_ephemeral {
            Field::Absent => {}
            Field::Null => {
                s.insert("exemptEphemeralContainers".into(), Value::Null);
            }
            Field::Set(b) => {
                s.insert("exemptEphemeralContainers".into(), json!(b));
            }
        }
        match self.writable_volume().0 {
            Field::Absent => {}
            Field::Null => {
                s.insert("writableVolume".into(), Value::Null);
            }
            Field::Set(v) => {
                s.insert("writableVolume".into(), v);
            }
        }
        match &self.rules {
            Field::Absent => {}
            Field::Null => {
                s.insert("containerWritablePaths".into(), Value::Null);
            }
            Field::Set(rules) => {
                let rules = rules.iter().map(RuleModel::json).collect();
                s.insert("containerWritablePaths".into(), Value::Array(rules));
            }
        }
        match self.warn_sub_path_mounts {
            Field::Absent => {}
            Field::Null => {
                s.insert("warnSubPathMounts".into(), Value::Null);
            }
            Field::Set(b) => {
                s.insert("warnSubPathMounts".into(), json!(b));
            }
        }
        Value::Object(s)
    }
}

#[derive(Debug, Clone)]
struct Model {
    kind: usize,
    op: Op,
    /// Pod UPDATE: how many ephemeral containers the old pod had.
    old_ephemeral: usize,
    /// Workload UPDATE with a changed template: the old template's spec is
    /// another one altogether (else only a template label differs).
    old_spec_different: bool,
    /// Pod UPDATE: per container in pod spec order, the old Pod's image
    /// (see [`old_image`]) when the UPDATE changes it.
    image_changes: Vec<Option<u8>>,
    spec: PodSpecModel,
    pod_extras: bool,
    settings: SettingsModel,
}

/// Where a container is in the pod spec.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum List {
    Init,
    Regular,
    Ephemeral,
}

impl List {
    fn field(self) -> &'static str {
        match self {
            List::Init => "initContainers",
            List::Regular => "containers",
            List::Ephemeral => "ephemeralContainers",
        }
    }
}

/// A container the policy must check, as the model sees it.
#[derive(Debug, Clone)]
struct CheckedContainer {
    list: List,
    index: usize,
    name: String,
    /// Checked because a Pod UPDATE changed its image: never edited.
    image_changed: bool,
    explicit_false: bool,
    /// Regular and init containers: the paths it must be able to write.
    required: Vec<&'static str>,
    /// Its violations in validate-only mode.
    violations: usize,
}

/// What the test knows about a generated case, for its oracles.
#[derive(Debug, Clone)]
struct Facts {
    kind: &'static str,
    spec_pointer: &'static str,
    op: Op,
    windows: bool,
    /// Every container the policy must check, in pod spec order.
    checked: Vec<CheckedContainer>,
    /// Every required path of `requiredWritablePaths`.
    global_paths: Vec<&'static str>,
    /// Warnings the policy must give, before bounding to 20.
    warnings: usize,
    injected_empty_dir: Value,
}

impl Facts {
    fn violations(&self) -> usize {
        self.checked.iter().map(|c| c.violations).sum()
    }

    /// May mutation edit `list[index]`?
    fn editable(&self, list: List, index: usize) -> bool {
        self.checked
            .iter()
            .any(|c| c.list == list && c.index == index && !c.image_changed)
    }

    fn checked_false(&self) -> impl Iterator<Item = &CheckedContainer> {
        self.checked.iter().filter(|c| c.explicit_false)
    }
}

#[derive(Clone)]
struct Case {
    request: Value,
    settings: Value,
    facts: Facts,
}

impl std::fmt::Debug for Case {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "request: {}\nsettings: {}\nfacts: {:?}",
            serde_json::to_string_pretty(&self.request).unwrap_or_default(),
            self.settings,
            self.facts
        )
    }
}

// -- strategies -------------------------------------------------------------

fn field_bool() -> impl Strategy<Value = Field<bool>> {
    prop_oneof![
        Just(Field::Absent),
        Just(Field::Set(true)),
        Just(Field::Set(false)),
        Just(Field::Null),
    ]
}

fn root() -> impl Strategy<Value = Root> {
    prop_oneof![
        10 => Just(Root::True),
        8 => Just(Root::Absent),
        3 => Just(Root::ContextNull),
        3 => Just(Root::ContextEmpty),
        3 => Just(Root::Null),
        1 => Just(Root::False),
    ]
}

fn mounts(volume_names: Vec<String>) -> impl Strategy<Value = Mounts> {
    let attrs = (
        any::<bool>(),
        select(volume_names),
        field_bool(),
        proptest::bool::weighted(0.1),
    );
    prop_oneof![
        4 => Just(Mounts::Absent),
        1 => Just(Mounts::Null),
        1 => Just(Mounts::List(Vec::new())),
        6 => (subsequence(MOUNT_PATHS.to_vec(), 1..=3), vec(attrs, 3)).prop_map(
            |(paths, attrs)| {
                Mounts::List(
                    paths
                        .into_iter()
                        .zip(attrs)
                        .map(|(path, (slash, volume, read_only, sub_path))| MountModel {
                            path,
                            trailing_slash: slash && path == "/tmp",
                            volume,
                            read_only,
                            sub_path,
                        })
                        .collect(),
                )
            }
        ),
    ]
}

fn remount() -> impl Strategy<Value = Remount> {
    prop_oneof![
        12 => Just(Remount::None),
        1 => any::<bool>().prop_map(Remount::Privileged),
        2 => select(CAPABILITIES.to_vec()).prop_map(Remount::Add),
    ]
}

fn container(volume_names: Vec<String>) -> impl Strategy<Value = ContainerModel> {
    (
        proptest::option::weighted(0.85, select(IMAGES.to_vec())),
        root(),
        remount(),
        proptest::bool::weighted(0.2),
        mounts(volume_names),
        proptest::bool::weighted(0.25),
        proptest::bool::weighted(0.35),
    )
        .prop_map(
            |(image, root, remount, context_extras, mounts, extras, restart_always)| {
                ContainerModel {
                    image,
                    root,
                    remount,
                    context_extras,
                    mounts,
                    extras,
                    restart_always,
                }
            },
        )
}

fn volume_type() -> impl Strategy<Value = VolumeType> {
    let ro = || proptest::option::of(any::<bool>());
    prop_oneof![
        4 => Just(VolumeType::EmptyDir),
        1 => Just(VolumeType::EmptyDirMemory),
        1 => Just(VolumeType::NoSource),
        2 => Just(VolumeType::ConfigMap),
        1 => Just(VolumeType::Secret),
        1 => Just(VolumeType::Projected),
        1 => Just(VolumeType::DownwardApi),
        1 => Just(VolumeType::Image),
        2 => ro().prop_map(VolumeType::Pvc),
        1 => Just(VolumeType::HostPath),
        1 => ro().prop_map(VolumeType::Csi),
        1 => ro().prop_map(VolumeType::Nfs),
        1 => Just(VolumeType::Ephemeral),
        1 => Just(VolumeType::Future),
    ]
}

fn volumes(pool: Vec<String>) -> impl Strategy<Value = Volumes> {
    prop_oneof![
        2 => Just(Volumes::Absent),
        1 => Just(Volumes::Null),
        1 => Just(Volumes::List(Vec::new())),
        6 => (subsequence(pool, 1..=5), vec(volume_type(), 5)).prop_map(|(names, types)| {
            Volumes::List(names.into_iter().zip(types).collect())
        }),
    ]
}

fn os() -> impl Strategy<Value = Os> {
    prop_oneof![
        10 => Just(Os::Absent),
        1 => Just(Os::Null),
        1 => Just(Os::Empty),
        3 => Just(Os::Linux),
        2 => Just(Os::Windows),
    ]
}

fn pod_spec(pool: Vec<String>) -> impl Strategy<Value = PodSpecModel> {
    let mut mount_names = pool.clone();
    mount_names.push(MISSING_VOLUME.to_string());
    (
        vec(container(mount_names.clone()), 0..=2),
        vec(container(mount_names.clone()), 1..=3),
        vec(container(mount_names), 0..=2),
        Just(CONTAINER_NAMES.to_vec()).prop_shuffle(),
        (0u8..3, 0u8..3),
        volumes(pool),
        os(),
        proptest::bool::weighted(0.3),
    )
        .prop_map(
            |(
                init,
                containers,
                ephemeral,
                names,
                (empty_init, empty_ephemeral),
                volumes,
                os,
                extras,
            )| {
                PodSpecModel {
                    init,
                    containers,
                    ephemeral,
                    names,
                    empty_init,
                    empty_ephemeral,
                    volumes,
                    os,
                    extras,
                }
            },
        )
}

fn exemption() -> impl Strategy<Value = Exemption> {
    let name = || select(CONTAINER_NAMES.to_vec());
    let image = || select(IMAGE_PATTERNS.to_vec());
    prop_oneof![
        name().prop_map(Exemption::Name),
        name().prop_map(Exemption::NameObject),
        image().prop_map(Exemption::Image),
        image().prop_map(Exemption::ImageNullName),
        (name(), image()).prop_map(|(n, i)| Exemption::Both(n, i)),
    ]
}

/// Required paths in any order, some written with a trailing slash.
fn required_paths(
    size: std::ops::RangeInclusive<usize>,
) -> impl Strategy<Value = Vec<(&'static str, bool)>> {
    (
        subsequence(REQUIRED_PATHS.to_vec(), size),
        vec(any::<bool>(), REQUIRED_PATHS.len()),
    )
        .prop_map(|(paths, slashes)| paths.into_iter().zip(slashes).collect::<Vec<_>>())
        .prop_shuffle()
}

fn rule() -> impl Strategy<Value = RuleModel> {
    let name = || select(CONTAINER_NAMES.to_vec());
    let image = || select(IMAGE_PATTERNS.to_vec());
    let selector = prop_oneof![
        name().prop_map(|n| (Some(n), None)),
        image().prop_map(|i| (None, Some(i))),
        (name(), image()).prop_map(|(n, i)| (Some(n), Some(i))),
    ];
    (selector, any::<bool>(), required_paths(1..=3)).prop_map(|((name, image), null_key, paths)| {
        RuleModel {
            name,
            image,
            null_key,
            paths,
        }
    })
}

fn settings() -> impl Strategy<Value = SettingsModel> {
    (
        prop_oneof![
            1 => Just(None),
            1 => Just(Some((true, Vec::new()))),
            8 => required_paths(0..=4).prop_map(|p| Some((false, p))),
        ],
        prop_oneof![3 => Just(Vec::new()), 2 => vec(exemption(), 1..=2)],
        any::<bool>(),
        field_bool(),
        0u8..8,
        prop_oneof![
            1 => Just(Field::Absent),
            1 => Just(Field::Null),
            1 => Just(Field::Set(Vec::new())),
            6 => vec(rule(), 1..=3).prop_map(Field::Set),
        ],
        field_bool(),
    )
        .prop_map(
            |(
                paths,
                exemptions,
                exemptions_key_when_empty,
                exempt_ephemeral,
                writable_volume,
                rules,
                warn_sub_path_mounts,
            )| {
                SettingsModel {
                    paths,
                    exemptions,
                    exemptions_key_when_empty,
                    exempt_ephemeral,
                    writable_volume,
                    rules,
                    warn_sub_path_mounts,
                }
            },
        )
}

/// Most containers are 7 to a pod.
const MAX_CONTAINERS: usize = 7;

/// Pod UPDATE: which containers change image, and to what from what.
fn image_changes() -> impl Strategy<Value = Vec<Option<u8>>> {
    prop_oneof![
        1 => Just(Vec::new()),
        2 => vec(proptest::option::weighted(0.5, any::<u8>()), MAX_CONTAINERS),
    ]
}

fn model() -> impl Strategy<Value = Model> {
    let pool = volume_name_pool();
    (
        0..KINDS.len(),
        prop_oneof![5 => Just(Op::Create), 3 => Just(Op::UpdateA), 2 => Just(Op::UpdateB)],
        0usize..=2,
        any::<bool>(),
        image_changes(),
        pod_spec(pool),
        proptest::bool::weighted(0.3),
        settings(),
    )
        .prop_map(
            |(
                kind,
                op,
                old_ephemeral,
                old_spec_different,
                image_changes,
                spec,
                pod_extras,
                settings,
            )| Model {
                kind,
                op,
                old_ephemeral,
                old_spec_different,
                image_changes,
                spec,
                pod_extras,
                settings,
            },
        )
}

fn case_strategy() -> impl Strategy<Value = Case> {
    model().prop_map(|m| build_case(&m))
}

// -- JSON -------------------------------------------------------------------

fn future_field() -> Value {
    json!({"x": [1, null]})
}

fn mount_json(m: &MountModel) -> Value {
    let path = if m.trailing_slash {
        format!("{}/", m.path)
    } else {
        m.path.to_string()
    };
    let mut o = Map::new();
    o.insert("name".into(), json!(m.volume));
    o.insert("mountPath".into(), json!(path));
    match m.read_only {
        Field::Absent => {}
        Field::Null => {
            o.insert("readOnly".into(), Value::Null);
        }
        Field::Set(b) => {
            o.insert("readOnly".into(), json!(b));
        }
    }
    if m.sub_path {
        o.insert("subPath".into(), json!("sub"));
    }
    Value::Object(o)
}

fn container_json(c: &ContainerModel, name: &str, list: List) -> Value {
    let mut o = Map::new();
    o.insert("name".into(), json!(name));
    if let Some(image) = c.image {
        o.insert("image".into(), json!(image));
    }
    let mut context = Map::new();
    let mut capabilities = Map::new();
    if c.context_extras {
        context.insert("runAsNonRoot".into(), json!(true));
        capabilities.insert("drop".into(), json!(["ALL"]));
        context.insert("seccompProfile".into(), Value::Null);
        context.insert("futureField".into(), future_field());
    }
    match c.remount {
        Remount::None => {}
        Remount::Privileged(b) => {
            context.insert("privileged".into(), json!(b));
        }
        Remount::Add(capability) => {
            capabilities.insert("add".into(), json!([capability]));
        }
    }
    if !capabilities.is_empty() {
        context.insert("capabilities".into(), Value::Object(capabilities));
    }
    match c.root {
        Root::Absent if !context.is_empty() => {
            o.insert("securityContext".into(), Value::Object(context));
        }
        Root::Absent => {}
        Root::ContextNull => {
            o.insert("securityContext".into(), Value::Null);
        }
        Root::ContextEmpty => {
            o.insert("securityContext".into(), Value::Object(context));
        }
        Root::True | Root::Null | Root::False => {
            let v = match c.root {
                Root::True => json!(true),
                Root::False => json!(false),
                _ => Value::Null,
            };
            context.insert("readOnlyRootFilesystem".into(), v);
            o.insert("securityContext".into(), Value::Object(context));
        }
    }
    match &c.mounts {
        Mounts::Absent => {}
        Mounts::Null => {
            o.insert("volumeMounts".into(), Value::Null);
        }
        Mounts::List(mounts) => {
            o.insert(
                "volumeMounts".into(),
                Value::Array(mounts.iter().map(mount_json).collect()),
            );
        }
    }
    if list == List::Init && c.restart_always {
        o.insert("restartPolicy".into(), json!("Always"));
    }
    if c.extras {
        o.insert("futureField".into(), future_field());
        o.insert("ports".into(), Value::Null);
        o.insert("env".into(), json!([{"name": "A", "value": "1"}]));
        o.insert("resources".into(), json!({}));
        if list == List::Ephemeral {
            o.insert("targetContainerName".into(), json!("app"));
            o.insert("stdin".into(), json!(true));
        }
    }
    Value::Object(o)
}

fn volume_json(name: &str, t: VolumeType) -> Value {
    let with_ro = |mut source: Value, ro: Option<bool>| {
        if let Some(ro) = ro {
            source["readOnly"] = json!(ro);
        }
        source
    };
    let (key, source) = match t {
        VolumeType::NoSource => return json!({"name": name}),
        VolumeType::EmptyDir => ("emptyDir", json!({})),
        VolumeType::EmptyDirMemory => ("emptyDir", json!({"medium": "Memory", "sizeLimit": "8Mi"})),
        VolumeType::ConfigMap => ("configMap", json!({"name": "app-config"})),
        VolumeType::Secret => ("secret", json!({"secretName": "app-secret"})),
        VolumeType::Projected => (
            "projected",
            json!({"sources": [{"configMap": {"name": "app-config"}}]}),
        ),
        VolumeType::DownwardApi => (
            "downwardAPI",
            json!({"items": [{"path": "labels", "fieldRef": {"fieldPath": "metadata.labels"}}]}),
        ),
        VolumeType::Image => (
            "image",
            json!({"reference": "registry.example.com/data:1", "pullPolicy": "IfNotPresent"}),
        ),
        VolumeType::Pvc(ro) => (
            "persistentVolumeClaim",
            with_ro(json!({"claimName": "claim"}), ro),
        ),
        VolumeType::HostPath => ("hostPath", json!({"path": "/var/data", "type": ""})),
        VolumeType::Csi(ro) => ("csi", with_ro(json!({"driver": "csi.example.com"}), ro)),
        VolumeType::Nfs(ro) => (
            "nfs",
            with_ro(json!({"server": "nfs.example.com", "path": "/exports"}), ro),
        ),
        VolumeType::Ephemeral => (
            "ephemeral",
            json!({"volumeClaimTemplate": {"spec": {"accessModes": ["ReadWriteOnce"],
                "resources": {"requests": {"storage": "1Gi"}}}}}),
        ),
        VolumeType::Future => ("futureVolumeSource", future_field()),
    };
    json!({"name": name, key: source})
}

/// The containers of a pod spec in pod spec order: `(list, index, name, model)`.
fn containers_of(spec: &PodSpecModel) -> Vec<(List, usize, &'static str, &ContainerModel)> {
    let mut names = spec.names.iter().copied();
    let mut out = Vec::new();
    for (list, models) in [
        (List::Init, &spec.init),
        (List::Regular, &spec.containers),
        (List::Ephemeral, &spec.ephemeral),
    ] {
        for (i, c) in models.iter().enumerate() {
            out.push((list, i, names.next().expect("enough names"), c));
        }
    }
    out
}

/// The pod spec; `ephemeral_limit` keeps only the first ephemeral containers.
fn pod_spec_json(spec: &PodSpecModel, ephemeral_limit: usize) -> Value {
    let mut o = Map::new();
    let all = containers_of(spec);
    for (list, empty_form) in [
        (List::Init, spec.empty_init),
        (List::Regular, 0),
        (List::Ephemeral, spec.empty_ephemeral),
    ] {
        let items: Vec<Value> = all
            .iter()
            .filter(|(l, i, _, _)| *l == list && (list != List::Ephemeral || *i < ephemeral_limit))
            .map(|(l, _, name, c)| container_json(c, name, *l))
            .collect();
        if items.is_empty() && list != List::Regular {
            match empty_form {
                0 => {}
                1 => {
                    o.insert(list.field().into(), Value::Null);
                }
                _ => {
                    o.insert(list.field().into(), json!([]));
                }
            }
        } else {
            o.insert(list.field().into(), Value::Array(items));
        }
    }
    match &spec.volumes {
        Volumes::Absent => {}
        Volumes::Null => {
            o.insert("volumes".into(), Value::Null);
        }
        Volumes::List(volumes) => {
            let list = volumes.iter().map(|(n, t)| volume_json(n, *t)).collect();
            o.insert("volumes".into(), Value::Array(list));
        }
    }
    match spec.os {
        Os::Absent => {}
        Os::Null => {
            o.insert("os".into(), Value::Null);
        }
        Os::Empty => {
            o.insert("os".into(), json!({}));
        }
        Os::Linux => {
            o.insert("os".into(), json!({"name": "linux"}));
        }
        Os::Windows => {
            o.insert("os".into(), json!({"name": "windows"}));
        }
    }
    if spec.extras {
        o.insert("futureField".into(), future_field());
        o.insert("nodeSelector".into(), Value::Null);
        o.insert("hostAliases".into(), Value::Null);
        o.insert("securityContext".into(), json!({"runAsNonRoot": true}));
        o.insert("restartPolicy".into(), json!("Always"));
    }
    Value::Object(o)
}

/// The object of `kind` around `pod_spec`. `version` is a pod template label;
/// `generation` a field outside the template.
fn object_json(
    kind: usize,
    pod_spec: Value,
    version: &str,
    generation: u32,
    extras: bool,
) -> Value {
    let (kind_name, group, api_version, _) = KINDS[kind];
    let api_version = if group.is_empty() {
        api_version.to_string()
    } else {
        format!("{group}/{api_version}")
    };
    let template = json!({
        "metadata": {"creationTimestamp": null, "labels": {"app": "demo", "version": version}},
        "spec": pod_spec,
    });
    let spec = match kind_name {
        "Pod" => template["spec"].clone(),
        "Job" => json!({"backoffLimit": generation, "template": template}),
        "CronJob" => json!({
            "schedule": "*/5 * * * *",
            "startingDeadlineSeconds": generation,
            "jobTemplate": {"metadata": {"creationTimestamp": null}, "spec": {"template": template}},
        }),
        _ => json!({
            "replicas": generation,
            "selector": {"matchLabels": {"app": "demo"}},
            "template": template,
        }),
    };
    let mut metadata = json!({
        "name": "demo",
        "namespace": "default",
        "creationTimestamp": null,
        "generation": generation,
        "labels": {"app": "demo"},
    });
    if kind_name == "Pod" {
        metadata["labels"]["version"] = json!(version);
    }
    let mut object = json!({
        "apiVersion": api_version,
        "kind": kind_name,
        "metadata": metadata,
        "spec": spec,
        "status": {},
    });
    if extras {
        object["futureField"] = future_field();
        object["metadata"]["annotations"] = Value::Null;
    }
    object
}

fn build_case(m: &Model) -> Case {
    let (kind_name, group, version, resource) = KINDS[m.kind];
    let is_pod = kind_name == "Pod";
    let spec_pointer = match kind_name {
        "Pod" => "/spec",
        "CronJob" => "/spec/jobTemplate/spec/template/spec",
        _ => "/spec/template/spec",
    };
    let all_ephemeral = m.spec.ephemeral.len();
    let object = object_json(
        m.kind,
        pod_spec_json(&m.spec, all_ephemeral),
        "v2",
        2,
        m.pod_extras,
    );
    let old_ephemeral = m.old_ephemeral.min(all_ephemeral);
    let pod_update = is_pod && m.op != Op::Create;
    let image_changes: &[Option<u8>] = if pod_update { &m.image_changes } else { &[] };
    let old_pod_spec = with_old_images(&m.spec, image_changes);
    let (operation, sub_resource, old_object) = match (m.op, is_pod) {
        (Op::Create, _) => ("CREATE", None, Value::Null),
        // Plain Pod UPDATE (a label change, some images), the old pod with
        // fewer debug containers: only the new ones and those whose image
        // changed are checked, nothing is mutated.
        (Op::UpdateA, true) => (
            "UPDATE",
            None,
            object_json(
                m.kind,
                pod_spec_json(&old_pod_spec, old_ephemeral),
                "v1",
                1,
                m.pod_extras,
            ),
        ),
        (Op::UpdateB, true) => (
            "UPDATE",
            Some("ephemeralcontainers"),
            object_json(
                m.kind,
                pod_spec_json(&old_pod_spec, old_ephemeral),
                "v2",
                2,
                m.pod_extras,
            ),
        ),
        (Op::UpdateA, false) => {
            let old_spec = if m.old_spec_different {
                json!({"containers": [{"name": "app", "image": "nginx:1.26"}]})
            } else {
                pod_spec_json(&m.spec, all_ephemeral)
            };
            (
                "UPDATE",
                None,
                object_json(m.kind, old_spec, "v1", 1, m.pod_extras),
            )
        }
        (Op::UpdateB, false) => (
            "UPDATE",
            None,
            object_json(
                m.kind,
                pod_spec_json(&m.spec, all_ephemeral),
                "v2",
                1,
                m.pod_extras,
            ),
        ),
    };
    let mut request = json!({
        "uid": "1299d386-525b-4032-98ae-1949f69f9cfc",
        "kind": {"group": group, "version": version, "kind": kind_name},
        "resource": {"group": group, "version": version, "resource": resource},
        "name": "demo",
        "namespace": "default",
        "operation": operation,
        "userInfo": {"username": "alice", "groups": ["system:authenticated"]},
        "object": object,
        "oldObject": old_object,
        "dryRun": false,
    });
    if let Some(sub) = sub_resource {
        request["subResource"] = json!(sub);
    }

    // Which containers the policy checks (the scope of the spec's
    // Operations and exemption rules), and what it must find.
    let windows = matches!(m.spec.os, Os::Windows);
    let template_unchanged = !is_pod && m.op == Op::UpdateB;
    let mut checked = Vec::new();
    let mut warnings = 0;
    if !windows && !template_unchanged {
        for (k, (list, index, name, c)) in containers_of(&m.spec).into_iter().enumerate() {
            let is_new = !is_pod
                || m.op == Op::Create
                || (list == List::Ephemeral && index >= old_ephemeral);
            let image_changed = !is_new && image_changes.get(k).is_some_and(Option::is_some);
            // Exemptions see the image the container has now.
            if !(is_new || image_changed) || m.settings.is_exempt(list, name, c.image) {
                continue;
            }
            let required = if list == List::Ephemeral {
                Vec::new()
            } else {
                m.settings.required_paths(name, c.image)
            };
            let unwritable = required
                .iter()
                .filter(|path| !can_write(&m.spec, c, path))
                .count();
            checked.push(CheckedContainer {
                list,
                index,
                name: name.to_string(),
                image_changed,
                explicit_false: c.root == Root::False,
                violations: usize::from(c.root != Root::True) + unwritable,
                required,
            });
            warnings += container_warnings(&m.spec, c, m.settings.warn_sub_path_mounts());
        }
    }
    Case {
        request,
        settings: m.settings.json(),
        facts: Facts {
            kind: kind_name,
            spec_pointer,
            op: m.op,
            windows,
            checked,
            global_paths: m.settings.global_paths(),
            warnings,
            injected_empty_dir: m.settings.writable_volume().1,
        },
    }
}

/// The old Pod's image of a container whose image an UPDATE changes: one
/// of [`IMAGES`] or none, never `new`.
fn old_image(new: Option<&'static str>, pick: u8) -> Option<&'static str> {
    let options: Vec<Option<&'static str>> =
        IMAGES.iter().copied().map(Some).chain([None]).collect();
    let start = usize::from(pick) % options.len();
    (0..options.len())
        .map(|k| options[(start + k) % options.len()])
        .find(|image| *image != new)
        .expect("there are two images to choose from")
}

/// `spec` with the images the old Pod had: the k-th container in pod spec
/// order had [`old_image`]`(changes[k])` when that is given.
fn with_old_images(spec: &PodSpecModel, changes: &[Option<u8>]) -> PodSpecModel {
    let mut old = spec.clone();
    let lists = [&mut old.init, &mut old.containers, &mut old.ephemeral];
    for (c, change) in lists.into_iter().flatten().zip(changes) {
        if let Some(pick) = change {
            c.image = old_image(c.image, *pick);
        }
    }
    old
}

// -- the model of the contract ----------------------------------------------

impl VolumeType {
    /// Volumes a container can write through (POLICY-SPEC.md "What is
    /// checked"); an unknown source is a storage volume.
    fn writable(self) -> bool {
        match self {
            VolumeType::EmptyDir
            | VolumeType::EmptyDirMemory
            | VolumeType::NoSource
            | VolumeType::HostPath
            | VolumeType::Ephemeral
            | VolumeType::Future => true,
            VolumeType::ConfigMap
            | VolumeType::Secret
            | VolumeType::Projected
            | VolumeType::DownwardApi
            | VolumeType::Image => false,
            VolumeType::Pvc(read_only)
            | VolumeType::Csi(read_only)
            | VolumeType::Nfs(read_only) => read_only != Some(true),
        }
    }

    /// Volumes whose content the kubelet updates, except under `subPath`.
    fn updated(self) -> bool {
        matches!(
            self,
            VolumeType::ConfigMap
                | VolumeType::Secret
                | VolumeType::Projected
                | VolumeType::DownwardApi
        )
    }
}

fn type_of_volume(spec: &PodSpecModel, name: &str) -> Option<VolumeType> {
    match &spec.volumes {
        Volumes::List(volumes) => volumes.iter().find(|(n, _)| n == name).map(|(_, t)| *t),
        _ => None,
    }
}

fn segments(path: &str) -> Vec<&str> {
    path.split('/').filter(|s| !s.is_empty()).collect()
}

fn mounts_of(c: &ContainerModel) -> &[MountModel] {
    match &c.mounts {
        Mounts::List(mounts) => mounts,
        _ => &[],
    }
}

/// Whether `c` can write to `path`: the deepest of its mounts covering the
/// path, segment by segment, is not read-only and names a writable volume.
/// (Generated mount paths are distinct, so there is one deepest.)
fn can_write(spec: &PodSpecModel, c: &ContainerModel, path: &str) -> bool {
    let target = segments(path);
    mounts_of(c)
        .iter()
        .filter(|m| target.starts_with(&segments(m.path)))
        .max_by_key(|m| segments(m.path).len())
        .is_some_and(|m| {
            m.read_only != Field::Set(true)
                && type_of_volume(spec, &m.volume).is_some_and(VolumeType::writable)
        })
}

/// Whether `capability` lets a container remount its root.
fn grants_remount(capability: &str) -> bool {
    let upper = capability.to_ascii_uppercase();
    let bare = upper.strip_prefix("CAP_").unwrap_or(&upper);
    bare == "SYS_ADMIN" || bare == "ALL"
}

/// The warnings a checked container gets: one if it can remount its root,
/// one per `subPath` mount of an updated volume (when they are warned of).
fn container_warnings(spec: &PodSpecModel, c: &ContainerModel, warn_sub_path: bool) -> usize {
    // A null securityContext carries nothing.
    let can_remount = c.root != Root::ContextNull
        && match c.remount {
            Remount::None | Remount::Privileged(false) => false,
            Remount::Privileged(true) => true,
            Remount::Add(capability) => grants_remount(capability),
        };
    let sub_path_mounts = mounts_of(c)
        .iter()
        .filter(|m| m.sub_path && type_of_volume(spec, &m.volume).is_some_and(VolumeType::updated))
        .count();
    usize::from(can_remount) + if warn_sub_path { sub_path_mounts } else { 0 }
}

// ---------------------------------------------------------------------------
// The invariants
// ---------------------------------------------------------------------------

#[derive(Debug, Default, Clone, Copy)]
struct Tally {
    cases: u32,
    accept: u32,
    mutate: u32,
    reject: u32,
    windows: u32,
    mutations_adding_volumes: u32,
    injected_volumes: u32,
    /// Injected names that are not the first choice (taken or too long).
    renamed_volumes: u32,
    explicit_false_rejects: u32,
    /// Pod UPDATEs rejected because a container whose image changed
    /// violates the policy.
    image_change_rejects: u32,
    /// Injected mounts at a path only a rule requires.
    rule_path_mounts: u32,
    /// Cases with warnings (other than the Windows one).
    warned: u32,
}

fn describe(outcome: &Outcome) -> String {
    match outcome {
        Outcome::Accept { warnings } => format!("accept, warnings {warnings:?}"),
        Outcome::Reject { message, .. } => format!("reject: {message}"),
        Outcome::Mutate {
            patch, warnings, ..
        } => format!(
            "mutate, warnings {warnings:?}, patch {}",
            serde_json::to_string(patch).unwrap_or_default()
        ),
    }
}

/// A host error (I1) or a wasm/native disagreement (I10).
fn harness_error(outcome: &Outcome) -> bool {
    matches!(outcome, Outcome::Reject { message, .. }
        if message.starts_with(HOST_ERROR) || message.starts_with(DISAGREEMENT))
}

fn validate_only(settings: &Value) -> Value {
    let mut s = settings.clone();
    s["mutate"] = json!(false);
    s
}

fn array<'v>(v: &'v Value, key: &str) -> &'v [Value] {
    v.get(key)
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default()
}

fn normalise(path: &str) -> &str {
    path.trim_end_matches('/')
}

/// Violations a rejection message lists; warnings a response gives.
const MAX_LISTED: usize = 20;

/// The violation count in a rejection message's header.
fn header_count(message: &str) -> Option<usize> {
    let header = message.lines().next()?;
    let rest = header.split_once("policy (")?.1;
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    digits.parse().ok()
}

/// I12: one line per violation, at most [`MAX_LISTED`], then one saying
/// how many more.
fn check_message_bounds(message: &str) -> Result<(), String> {
    let count = header_count(message).ok_or("the header does not count the violations")?;
    let lines: Vec<&str> = message.lines().skip(1).collect();
    let listed = count.min(MAX_LISTED);
    let more = count - listed;
    let expected_lines = listed + usize::from(more > 0);
    if lines.len() != expected_lines || !lines.iter().all(|l| l.starts_with("- ")) {
        return Err(format!(
            "{count} violations must take {expected_lines} lines starting with \"- \", the message has {}",
            lines.len()
        ));
    }
    if more > 0 && !lines[listed].starts_with(&format!("- and {more} more violation")) {
        return Err(format!("the last line does not say \"and {more} more\""));
    }
    Ok(())
}

/// I14: the model's number of warnings, none empty, bounded.
fn check_warnings(warnings: &[String], facts: &Facts) -> Result<(), String> {
    if warnings.iter().any(|w| w.trim().is_empty()) {
        return Err("an empty warning".into());
    }
    if facts.windows {
        return match warnings {
            [only] if only.contains("Windows") => Ok(()),
            _ => Err("a Windows pod gets its warning and no other".into()),
        };
    }
    let count = facts.warnings;
    let listed = count.min(MAX_LISTED);
    let more = count - listed;
    if warnings.len() != listed + usize::from(more > 0) {
        return Err(format!(
            "the model expects {count} warnings (at most {MAX_LISTED} shown, then one saying how many more), got {}",
            warnings.len()
        ));
    }
    if more > 0 && !warnings[listed].starts_with(&format!("and {more} more warning")) {
        return Err(format!("the last warning does not say \"and {more} more\""));
    }
    Ok(())
}

/// Checks every invariant for one case; `Err` lists the violated ones.
fn check_case(evaluator: &dyn Evaluator, case: &Case, tally: &Cell<Tally>) -> Result<(), String> {
    let facts = &case.facts;
    let request = &case.request;
    let settings = &case.settings;
    let mut t = tally.get();
    t.cases += 1;
    let mut problems: Vec<String> = Vec::new();

    if let Err(e) = evaluator.validate_settings(settings) {
        return Err(format!("test bug: the generated settings are invalid: {e}"));
    }

    let outcome = evaluator.evaluate(request, settings);
    let validating = evaluator.evaluate(request, &validate_only(settings));
    for (mode, o) in [("mutate", &outcome), ("validate-only", &validating)] {
        if harness_error(o) {
            problems.push(format!("I1/I10 in {mode} mode: {}", describe(o)));
        }
    }
    if !problems.is_empty() {
        return Err(problems.join("\n"));
    }

    match &outcome {
        Outcome::Accept { .. } => t.accept += 1,
        Outcome::Mutate { .. } => t.mutate += 1,
        Outcome::Reject { .. } => t.reject += 1,
    }

    // I6: accepted in one mode <=> accepted in the other.
    let accepted = matches!(outcome, Outcome::Accept { .. });
    let accepted_validating = matches!(validating, Outcome::Accept { .. });
    if accepted && !accepted_validating {
        problems.push(format!(
            "I6 accepted in mutate mode but not in validate-only mode: {}",
            describe(&validating)
        ));
    }
    if accepted_validating && !accepted {
        problems.push(format!(
            "I6 accepted in validate-only mode, but mutate mode gave {}",
            describe(&outcome)
        ));
    }
    if let Outcome::Mutate { .. } = validating {
        problems.push("validate-only mode mutated".to_string());
    }

    // I7: Windows pods.
    if facts.windows {
        t.windows += 1;
        for o in [&outcome, &validating] {
            match o {
                Outcome::Accept { warnings } if warnings.iter().any(|w| w.contains("Windows")) => {}
                other => problems.push(format!(
                    "I7 a Windows pod must be accepted with a warning, got {}",
                    describe(other)
                )),
            }
        }
    }

    // I8: an explicit false on a checked container is rejected.
    let checked_false: Vec<&CheckedContainer> = facts.checked_false().collect();
    if !checked_false.is_empty() {
        match &outcome {
            Outcome::Reject { message, .. } => {
                t.explicit_false_rejects += 1;
                // Beyond 20 violations, a name may not be listed.
                let all_listed = header_count(message).is_some_and(|n| n <= MAX_LISTED);
                for c in checked_false.iter().filter(|_| all_listed) {
                    if !message.contains(&format!("\"{}\"", c.name)) {
                        problems.push(format!(
                            "I8 the rejection does not name container {:?}: {message}",
                            c.name
                        ));
                    }
                }
                // Where mutation applies, the message says why the policy did
                // not just fix it (a plain Pod UPDATE is only validated, and
                // a container whose image changed cannot be fixed).
                let mutation_applies = !(facts.kind == "Pod" && facts.op == Op::UpdateA)
                    && checked_false.iter().any(|c| !c.image_changed);
                if mutation_applies
                    && all_listed
                    && !(message.contains("remove the field") && message.contains("exempt"))
                {
                    problems.push(format!(
                        "I8 the rejection does not say to remove the field or exempt the container: {message}"
                    ));
                }
            }
            other => problems.push(format!(
                "I8 containers {:?} have readOnlyRootFilesystem: false, expected a rejection, got {}",
                checked_false.iter().map(|c| &c.name).collect::<Vec<_>>(),
                describe(other)
            )),
        }
        if accepted_validating {
            problems.push("I8 validate-only mode accepted readOnlyRootFilesystem: false".into());
        }
    }

    // I11: the validate-only verdict is the model's.
    let violations = facts.violations();
    match (&validating, violations) {
        (Outcome::Accept { .. }, 0) => {}
        (Outcome::Reject { message, .. }, n) if n > 0 => {
            if header_count(message) != Some(n) {
                problems.push(format!(
                    "I11 the model counts {n} violations ({:?}), the message says otherwise: {message}",
                    facts.checked
                ));
            }
        }
        (other, n) => problems.push(format!(
            "I11 the model counts {n} violations ({:?}), validate-only mode gave {}",
            facts.checked,
            describe(other)
        )),
    }

    // I12: rejection messages are bounded.
    for o in [&outcome, &validating] {
        if let Outcome::Reject { message, .. } = o
            && let Err(why) = check_message_bounds(message)
        {
            problems.push(format!("I12 {why}: {message}"));
        }
    }

    // I13: a container whose image changed on a running Pod is never fixed.
    if facts
        .checked
        .iter()
        .any(|c| c.image_changed && c.violations > 0)
    {
        match &outcome {
            Outcome::Reject { message, .. } => {
                t.image_change_rejects += 1;
                let all_listed = header_count(message).is_some_and(|n| n <= MAX_LISTED);
                if all_listed && !message.contains("image changed") {
                    problems.push(format!(
                        "I13 the rejection does not say that the image changed: {message}"
                    ));
                }
            }
            other => problems.push(format!(
                "I13 a container whose image changed violates the policy, expected a rejection in mutate mode, got {}",
                describe(other)
            )),
        }
    }

    // I14: the warnings are the model's.
    for (mode, o) in [("mutate", &outcome), ("validate-only", &validating)] {
        let warnings = match o {
            Outcome::Accept { warnings }
            | Outcome::Mutate { warnings, .. }
            | Outcome::Reject { warnings, .. } => warnings,
        };
        if let Err(why) = check_warnings(warnings, facts) {
            problems.push(format!("I14 in {mode} mode: {why}: {warnings:?}"));
        }
    }
    if facts.warnings > 0 {
        t.warned += 1;
    }

    // I9: requests that are never mutated.
    let is_pod = facts.kind == "Pod";
    let never_mutated = match facts.op {
        Op::Create => facts.windows,
        Op::UpdateA => is_pod || facts.windows,
        Op::UpdateB => !is_pod || facts.windows,
    };
    if !is_pod && facts.op == Op::UpdateB && !accepted {
        problems.push(format!(
            "I9 a workload UPDATE with an unchanged template must be accepted, got {}",
            describe(&outcome)
        ));
    }

    if let Outcome::Mutate { object, patch, .. } = &outcome {
        if never_mutated {
            problems.push(format!(
                "I7/I9 this request must never be mutated ({} {:?}, windows: {})",
                facts.kind, facts.op, facts.windows
            ));
        }
        if patch.is_empty() {
            problems.push("a mutation with an empty patch".into());
        }
        // I2-I5, the fixture table's mutation checks.
        problems.extend(
            check_mutation_invariants(request, object, patch, settings, evaluator)
                .into_iter()
                .map(|p| format!("I2-I5 {p}")),
        );
        check_edits(case, object, patch, &mut t, &mut problems);
    }

    tally.set(t);
    if problems.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "{}\n  verdict (mutate mode): {}\n  verdict (validate-only): {}",
            problems.join("\n"),
            describe(&outcome),
            describe(&validating)
        ))
    }
}

/// I9: the mutation made only the edits the spec lists.
fn check_edits(
    case: &Case,
    mutated: &Value,
    patch: &[Value],
    t: &mut Tally,
    problems: &mut Vec<String>,
) {
    let facts = &case.facts;
    let Some(old_spec) = case.request["object"].pointer(facts.spec_pointer) else {
        return;
    };
    let Some(new_spec) = mutated.pointer(facts.spec_pointer) else {
        return;
    };
    let old_volume_names: HashSet<&str> = array(old_spec, "volumes")
        .iter()
        .filter_map(|v| v["name"].as_str())
        .collect();
    let injected: Vec<&Value> = array(new_spec, "volumes")
        .iter()
        .filter(|v| {
            !v["name"]
                .as_str()
                .is_some_and(|n| old_volume_names.contains(n))
        })
        .collect();
    let subresource = facts.kind == "Pod" && facts.op == Op::UpdateB;
    if subresource {
        let ok_path = |path: &str| {
            path.strip_prefix("/spec/ephemeralContainers/")
                .is_some_and(|rest| {
                    let (index, rest) = rest.split_once('/').unwrap_or((rest, ""));
                    let index: usize = index.parse().unwrap_or(usize::MAX);
                    rest.starts_with("securityContext") && facts.editable(List::Ephemeral, index)
                })
        };
        for op in patch {
            let path = op["path"].as_str().unwrap_or("?");
            if !ok_path(path) {
                problems.push(format!(
                    "I9 on the ephemeralcontainers subresource the patch edits {path} (only new debug containers' securityContext may change)"
                ));
            }
        }
    }
    // Outside the container lists and volumes, the pod spec is unchanged.
    let rest = |spec: &Value| {
        let mut spec = spec.as_object().cloned().unwrap_or_default();
        for key in [
            "initContainers",
            "containers",
            "ephemeralContainers",
            "volumes",
        ] {
            spec.remove(key);
        }
        spec
    };
    if rest(old_spec) != rest(new_spec) {
        problems.push("I9 the pod spec was edited outside its containers and volumes".into());
    }
    let mut injected_mounts: HashMap<String, Vec<(String, String)>> = HashMap::new();
    for list in [List::Init, List::Regular, List::Ephemeral] {
        let old_list = array(old_spec, list.field());
        let new_list = array(new_spec, list.field());
        for (index, old) in old_list.iter().enumerate() {
            let new = new_list.get(index).unwrap_or(&Value::Null);
            let name = old["name"].as_str().unwrap_or("");
            let Some(checked) = facts
                .checked
                .iter()
                .find(|c| c.list == list && c.index == index && !c.image_changed)
            else {
                if new != old {
                    problems.push(format!(
                        "I9 {}[{index}] ({name:?}) is not to be edited (exempt, unchanged or image changed on a Pod UPDATE, or Windows) but was edited",
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
            let new_mounts = array(new, "volumeMounts");
            let mut injected_paths: HashSet<String> = HashSet::new();
            for mount in new_mounts.iter().skip(old_mounts.len()) {
                let volume = mount["name"].as_str().unwrap_or("").to_string();
                let path = mount["mountPath"].as_str().unwrap_or("").to_string();
                if list == List::Ephemeral {
                    problems.push(format!(
                        "I9 ephemeral container {name:?} got a volume mount {mount}"
                    ));
                }
                if mount.as_object().is_none_or(|m| m.len() != 2) {
                    problems.push(format!(
                        "I9 injected mount {mount} has more than name and mountPath"
                    ));
                }
                let required = normalise(&path);
                if !checked.required.contains(&required) {
                    problems.push(format!(
                        "I9 {name:?} got a mount at {path}, which is not a path it requires ({:?})",
                        checked.required
                    ));
                }
                if !facts.global_paths.contains(&required) {
                    t.rule_path_mounts += 1;
                }
                if !injected_paths.insert(required.to_string()) {
                    problems.push(format!("I9 {name:?} got two mounts at {required}"));
                }
                // A mount the user placed at or above the path decides it:
                // never shadowed, never doubled.
                if let Some(user) = old_mounts.iter().find(|m| {
                    let user_path = m["mountPath"].as_str().unwrap_or("");
                    !user_path.is_empty() && segments(required).starts_with(&segments(user_path))
                }) {
                    problems.push(format!(
                        "I9 {name:?} got a mount at {path} though its own mount {user} covers it"
                    ));
                }
                if injected_volume_name(name, &path, &HashSet::new()) != volume {
                    t.renamed_volumes += 1;
                }
                injected_mounts
                    .entry(volume)
                    .or_default()
                    .push((name.to_string(), path));
            }
        }
    }
    if !injected.is_empty() {
        t.mutations_adding_volumes += 1;
        t.injected_volumes += injected.len() as u32;
    }
    if subresource && !injected.is_empty() {
        problems.push("I9 a volume was added on the ephemeralcontainers subresource".into());
    }
    for volume in &injected {
        let name = volume["name"].as_str().unwrap_or("");
        let expected = json!({"name": name, "emptyDir": facts.injected_empty_dir});
        if **volume != expected {
            problems.push(format!(
                "I9 injected volume {volume} is not the emptyDir writableVolume asks for: {expected}"
            ));
        }
        // Every mount of the volume in the mutated pod, also the request's
        // own: an injected volume is its container's alone.
        let users: Vec<String> = [List::Init, List::Regular, List::Ephemeral]
            .iter()
            .flat_map(|list| array(new_spec, list.field()))
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
    for (volume, users) in &injected_mounts {
        if !injected.iter().any(|v| v["name"] == volume.as_str()) {
            problems.push(format!(
                "I9 mount(s) {users:?} added for volume {volume:?}, which is not an injected volume"
            ));
        }
    }
}

// ---------------------------------------------------------------------------
// The image-change property
// ---------------------------------------------------------------------------

/// A Pod UPDATE that may change images and add debug containers.
#[derive(Clone)]
struct UpdateCase {
    request: Value,
    /// The generated settings with `mutate: false`.
    validate_only: Value,
    /// The same with `mutate: true`.
    mutating: Value,
    subresource: bool,
    old_ephemeral: usize,
    /// Each container the UPDATE must check (new name, or new image), alone
    /// in a pod to CREATE.
    alone: Vec<Alone>,
}

#[derive(Clone)]
struct Alone {
    name: &'static str,
    image_changed: bool,
    /// An exemption matched its old image and matches no more.
    exemption_lost: bool,
    create: Value,
}

impl std::fmt::Debug for UpdateCase {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let alone: Vec<_> = self
            .alone
            .iter()
            .map(|a| (a.name, a.image_changed, a.exemption_lost))
            .collect();
        write!(
            f,
            "request: {}\nsettings: {}\nchecked (name, image changed, exemption lost): {alone:?}",
            serde_json::to_string_pretty(&self.request).unwrap_or_default(),
            self.validate_only
        )
    }
}

fn pod_request(operation: &str, object: Value, old_object: Value, subresource: bool) -> Value {
    let mut request = json!({
        "uid": "5e4a3f8c-1d2b-4c6e-9f0a-7b8c9d0e1f2a",
        "kind": {"group": "", "version": "v1", "kind": "Pod"},
        "resource": {"group": "", "version": "v1", "resource": "pods"},
        "name": "demo",
        "namespace": "default",
        "operation": operation,
        "userInfo": {"username": "alice", "groups": ["system:authenticated"]},
        "object": object,
        "oldObject": old_object,
        "dryRun": false,
    });
    if subresource {
        request["subResource"] = json!("ephemeralcontainers");
    }
    request
}

fn update_strategy() -> impl Strategy<Value = UpdateCase> {
    (
        pod_spec(volume_name_pool()),
        settings(),
        vec(proptest::option::weighted(0.5, any::<u8>()), MAX_CONTAINERS),
        0usize..=2,
        any::<bool>(),
    )
        .prop_map(|(spec, settings, changes, old_ephemeral, subresource)| {
            build_update_case(&spec, &settings, &changes, old_ephemeral, subresource)
        })
}

fn build_update_case(
    spec: &PodSpecModel,
    settings: &SettingsModel,
    changes: &[Option<u8>],
    old_ephemeral: usize,
    subresource: bool,
) -> UpdateCase {
    let old_ephemeral = old_ephemeral.min(spec.ephemeral.len());
    let object = object_json(0, pod_spec_json(spec, spec.ephemeral.len()), "v2", 2, false);
    let old_spec = with_old_images(spec, changes);
    let old_object = object_json(0, pod_spec_json(&old_spec, old_ephemeral), "v1", 1, false);
    let old_containers = containers_of(&old_spec);
    let mut alone = Vec::new();
    for (k, (list, index, name, c)) in containers_of(spec).into_iter().enumerate() {
        let is_new = list == List::Ephemeral && index >= old_ephemeral;
        let image_changed = !is_new && changes.get(k).is_some_and(Option::is_some);
        if !is_new && !image_changed {
            continue;
        }
        let old_image = old_containers[k].3.image;
        let exempt = |image| settings.exemptions.iter().any(|e| e.matches(name, image));
        let mut single = PodSpecModel {
            init: Vec::new(),
            containers: Vec::new(),
            ephemeral: Vec::new(),
            names: vec![name],
            ..spec.clone()
        };
        match list {
            List::Init => single.init.push(c.clone()),
            List::Regular => single.containers.push(c.clone()),
            List::Ephemeral => single.ephemeral.push(c.clone()),
        }
        let create = object_json(0, pod_spec_json(&single, 1), "v2", 2, false);
        alone.push(Alone {
            name,
            image_changed,
            exemption_lost: image_changed && exempt(old_image) && !exempt(c.image),
            create: pod_request("CREATE", create, Value::Null, false),
        });
    }
    let mutating = settings.json();
    UpdateCase {
        request: pod_request("UPDATE", object, old_object, subresource),
        validate_only: validate_only(&mutating),
        mutating,
        subresource,
        old_ephemeral,
        alone,
    }
}

#[derive(Debug, Default, Clone, Copy)]
struct UpdateTally {
    cases: u32,
    accept: u32,
    reject: u32,
    /// Rejected because of a container whose image changed.
    image_change_rejects: u32,
    /// ... one that an exemption matched under its old image.
    exemption_lost_rejects: u32,
    /// Mutated on the subresource (new debug containers only).
    mutate: u32,
}

/// The image-change property for one UPDATE; `Err` says what failed.
fn check_update(
    evaluator: &dyn Evaluator,
    case: &UpdateCase,
    tally: &Cell<UpdateTally>,
) -> Result<(), String> {
    let mut t = tally.get();
    t.cases += 1;
    tally.set(t);
    let update = evaluator.evaluate(&case.request, &case.validate_only);
    let mutating = evaluator.evaluate(&case.request, &case.mutating);
    let creates: Vec<Outcome> = case
        .alone
        .iter()
        .map(|a| evaluator.evaluate(&a.create, &case.validate_only))
        .collect();
    for o in [&update, &mutating].into_iter().chain(&creates) {
        if harness_error(o) {
            return Err(format!("I1/I10: {}", describe(o)));
        }
    }
    let rejected_alone: Vec<(&Alone, usize)> = case
        .alone
        .iter()
        .zip(&creates)
        .filter_map(|(a, o)| match o {
            Outcome::Reject { message, .. } => Some((a, header_count(message).unwrap_or(0))),
            _ => None,
        })
        .collect();
    let names = |list: &[(&Alone, usize)]| list.iter().map(|(a, _)| a.name).collect::<Vec<_>>();
    let mut problems = Vec::new();
    // P1: rejected exactly when a checked container would be on CREATE,
    // with the sum of their violations.
    match (&update, rejected_alone.is_empty()) {
        (Outcome::Accept { .. }, true) => t.accept += 1,
        (Outcome::Reject { message, .. }, false) => {
            t.reject += 1;
            if rejected_alone.iter().any(|(a, _)| a.image_changed) {
                t.image_change_rejects += 1;
            }
            if rejected_alone.iter().any(|(a, _)| a.exemption_lost) {
                t.exemption_lost_rejects += 1;
            }
            let sum: usize = rejected_alone.iter().map(|(_, n)| n).sum();
            if header_count(message) != Some(sum) {
                problems.push(format!(
                    "P1 the containers {:?} have {sum} violations on CREATE, the UPDATE's message says otherwise: {message}",
                    names(&rejected_alone)
                ));
            }
            if let Err(why) = check_message_bounds(message) {
                problems.push(format!("I12 {why}: {message}"));
            }
        }
        (other, _) => problems.push(format!(
            "P1 on CREATE, the checked containers {:?} are rejected: {:?}; the UPDATE gave {}",
            case.alone.iter().map(|a| a.name).collect::<Vec<_>>(),
            names(&rejected_alone),
            describe(other)
        )),
    }
    // P2: with mutate: true, a plain UPDATE is only validated, and a
    // container whose image changed is never edited.
    if !case.subresource {
        if mutating != update {
            problems.push(format!(
                "P2 a plain Pod UPDATE gives {} with mutate: true, {} without",
                describe(&mutating),
                describe(&update)
            ));
        }
    } else {
        if rejected_alone.iter().any(|(a, _)| a.image_changed)
            && !matches!(mutating, Outcome::Reject { .. })
        {
            problems.push(format!(
                "P2 a container whose image changed violates the policy, but mutate mode gave {}",
                describe(&mutating)
            ));
        }
        if let Outcome::Mutate { patch, .. } = &mutating {
            t.mutate += 1;
            for op in patch {
                let path = op["path"].as_str().unwrap_or("?");
                let new_debug_container = path
                    .strip_prefix("/spec/ephemeralContainers/")
                    .and_then(|rest| rest.split_once('/'))
                    .is_some_and(|(index, rest)| {
                        index.parse().is_ok_and(|i: usize| i >= case.old_ephemeral)
                            && rest.starts_with("securityContext")
                    });
                if !new_debug_container {
                    problems.push(format!(
                        "P2 on the subresource the patch edits {path}; only new debug containers' securityContext may change"
                    ));
                }
            }
        }
    }
    tally.set(t);
    if problems.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "{}\n  UPDATE (validate-only): {}\n  UPDATE (mutate): {}\n  CREATE alone: {:?}",
            problems.join("\n"),
            describe(&update),
            describe(&mutating),
            creates.iter().map(describe).collect::<Vec<_>>()
        ))
    }
}

fn run_update_properties(
    label: &str,
    evaluator: &dyn Evaluator,
    cases: u32,
) -> Result<String, String> {
    let tally = Cell::new(UpdateTally::default());
    let elapsed = run_generated(
        label,
        update_strategy(),
        cases,
        || tally.get().cases,
        |case| check_update(evaluator, case, &tally),
    )?;
    let t = tally.get();
    check_coverage(
        label,
        t.cases,
        200,
        0.05,
        &[
            ("accepted", t.accept),
            ("rejected", t.reject),
            ("rejections for a changed image", t.image_change_rejects),
        ],
    )?;
    check_coverage(
        label,
        t.cases,
        500,
        0.005,
        &[(
            "rejections of a container an exemption matched under its old image",
            t.exemption_lost_rejects,
        )],
    )?;
    Ok(format!(
        "{label}: {} Pod UPDATEs passed the image-change property in {elapsed:.2?}: {} \
         accepted, {} rejected ({} for a changed image, {} of them for one an exemption \
         matched under its old image); {} mutated on the subresource",
        t.cases, t.accept, t.reject, t.image_change_rejects, t.exemption_lost_rejects, t.mutate,
    ))
}

// ---------------------------------------------------------------------------
// The runs
// ---------------------------------------------------------------------------

fn env_cases(var: &str) -> Option<u32> {
    std::env::var(var).ok().and_then(|v| v.trim().parse().ok())
}

/// Runs `cases` cases of `strategy` through `check`, which counts the
/// cases it sees; `Ok` is the time taken, `Err` the minimal failing input
/// (shrunk) with what it violated.
fn run_generated<C: std::fmt::Debug>(
    label: &str,
    strategy: impl Strategy<Value = C>,
    cases: u32,
    counted: impl Fn() -> u32,
    check: impl Fn(&C) -> Result<(), String>,
) -> Result<std::time::Duration, String> {
    let config = Config {
        cases,
        failure_persistence: None,
        // Shrinking stops after two minutes even if it could go on.
        max_shrink_time: 120_000,
        ..Config::default()
    };
    let mut runner = TestRunner::new(config);
    let first_failure = Cell::new(None);
    let start = Instant::now();
    let result = runner.run(&strategy, |case| {
        check(&case).map_err(|why| {
            if first_failure.get().is_none() {
                first_failure.set(Some(counted()));
            }
            TestCaseError::fail(why)
        })
    });
    let elapsed = start.elapsed();
    match result {
        Ok(()) if counted() == cases => Ok(elapsed),
        Ok(()) => Err(format!("{label}: ran {} cases, not {cases}", counted())),
        Err(TestError::Fail(reason, case)) => {
            let found = first_failure.get().unwrap_or(counted());
            let mut out = String::new();
            let _ = writeln!(
                out,
                "{label}: a property failed at case {found} and was shrunk in {} more \
                 evaluations ({elapsed:.2?} in all); minimal failing input:",
                counted() - found,
            );
            let _ = writeln!(out, "{case:?}");
            let _ = writeln!(out, "violated:\n{reason}");
            Err(out)
        }
        Err(TestError::Abort(reason)) => Err(format!("{label}: proptest aborted: {reason}")),
    }
}

/// Fails when one of `counts` is under `min_share` of `cases`. Runs of
/// fewer than `min_cases` (mutant hunts, quick local runs, and for rare
/// events the wasm runs) are not judged: the thresholds sit far enough
/// below the generator's rates that a judged run does not fail by chance.
fn check_coverage(
    label: &str,
    cases: u32,
    min_cases: u32,
    min_share: f64,
    counts: &[(&str, u32)],
) -> Result<(), String> {
    if cases < min_cases {
        return Ok(());
    }
    for (what, n) in counts {
        if f64::from(*n) / f64::from(cases) < min_share {
            return Err(format!(
                "{label}: only {n} {what} in {cases} cases: the generator lost its coverage"
            ));
        }
    }
    Ok(())
}

/// Runs `cases` generated cases; `Ok` is the summary line, `Err` the
/// minimal failing input with the violated invariants.
fn run_properties(label: &str, evaluator: &dyn Evaluator, cases: u32) -> Result<String, String> {
    let tally = Cell::new(Tally::default());
    let elapsed = run_generated(
        label,
        case_strategy(),
        cases,
        || tally.get().cases,
        |case| check_case(evaluator, case, &tally),
    )?;
    let t = tally.get();
    // The generator must keep producing each kind of verdict.
    check_coverage(
        label,
        t.cases,
        200,
        0.03,
        &[
            ("accepted", t.accept),
            ("mutated", t.mutate),
            ("rejected", t.reject),
            ("mutated with volumes", t.mutations_adding_volumes),
        ],
    )?;
    check_coverage(
        label,
        t.cases,
        1000,
        0.01,
        &[
            ("rejections for a changed image", t.image_change_rejects),
            ("mounts injected for a rule's path", t.rule_path_mounts),
            ("cases with warnings", t.warned),
        ],
    )?;
    Ok(format!(
        "{label}: {} cases passed in {:.2?}: {} accepted, {} mutated, {} rejected \
         ({} Windows pods, {} explicit-false rejections, {} for a changed image); \
         {} mutations added {} volumes, {} of them not under their first-choice \
         name, {} for a path only a rule requires; {} cases with warnings",
        t.cases,
        elapsed,
        t.accept,
        t.mutate,
        t.reject,
        t.windows,
        t.explicit_false_rejects,
        t.image_change_rejects,
        t.mutations_adding_volumes,
        t.injected_volumes,
        t.renamed_volumes,
        t.rule_path_mounts,
        t.warned,
    ))
}

fn run(label: &str, evaluator: &dyn Evaluator, cases: u32) {
    match run_properties(label, evaluator, cases) {
        Ok(summary) => println!("{summary}"),
        Err(failure) => panic!("{failure}"),
    }
}

#[test]
fn mutation_properties_native_core() {
    run("native core", &NativeCore, native_cases());
}

/// I10: the module and the native core agree on every request.
struct Differential<'a>(&'a WasmModule);

impl Evaluator for Differential<'_> {
    fn evaluate(&self, request: &Value, settings: &Value) -> Outcome {
        let wasm = self.0.evaluate(request, settings);
        let native = NativeCore.evaluate(request, settings);
        if wasm == native || harness_error(&wasm) {
            wasm
        } else {
            Outcome::Reject {
                message: format!(
                    "{DISAGREEMENT}: policy.wasm and the native core disagree>\n    wasm:   {}\n    native: {}",
                    describe(&wasm),
                    describe(&native)
                ),
                warnings: Vec::new(),
            }
        }
    }

    fn validate_settings(&self, settings: &Value) -> Result<(), String> {
        self.0.validate_settings(settings)
    }
}

fn native_cases() -> u32 {
    env_cases("PROPTEST_CASES").unwrap_or(2000)
}

fn wasm_cases() -> u32 {
    env_cases("PROPTEST_WASM_CASES")
        .or_else(|| env_cases("PROPTEST_CASES").map(|n| (n * 3 / 20).max(1)))
        .unwrap_or(300)
}

#[test]
fn mutation_properties_wasm_module() {
    let wasm = WasmModule(RefCell::new(support::load_policy()));
    run("policy.wasm", &Differential(&wasm), wasm_cases());
}

fn run_updates(label: &str, evaluator: &dyn Evaluator, cases: u32) {
    match run_update_properties(label, evaluator, cases) {
        Ok(summary) => println!("{summary}"),
        Err(failure) => panic!("{failure}"),
    }
}

#[test]
fn image_changing_updates_native_core() {
    run_updates("native core", &NativeCore, (native_cases() / 4).max(1));
}

#[test]
fn image_changing_updates_wasm_module() {
    let wasm = WasmModule(RefCell::new(support::load_policy()));
    run_updates(
        "policy.wasm",
        &Differential(&wasm),
        (wasm_cases() / 4).max(1),
    );
}

/// The properties catch a policy that forgets the issue-9 rules: each of
/// these wrappers of the native core must fail them, on the property named.
#[test]
fn properties_catch_a_policy_without_rules_or_image_checks() {
    /// Ignores `containerWritablePaths`.
    struct WithoutRules;

    impl Evaluator for WithoutRules {
        fn evaluate(&self, request: &Value, settings: &Value) -> Outcome {
            let mut settings = settings.clone();
            if let Some(map) = settings.as_object_mut() {
                map.remove("containerWritablePaths");
            }
            NativeCore.evaluate(request, &settings)
        }

        fn validate_settings(&self, settings: &Value) -> Result<(), String> {
            NativeCore.validate_settings(settings)
        }
    }

    /// Checks only new containers on a Pod UPDATE, as before issue 9: the
    /// old Pod is shown the new images.
    struct ImageSwapBypass;

    impl Evaluator for ImageSwapBypass {
        fn evaluate(&self, request: &Value, settings: &Value) -> Outcome {
            let mut request = request.clone();
            let new_images: HashMap<String, Value> =
                ["initContainers", "containers", "ephemeralContainers"]
                    .iter()
                    .flat_map(|list| array(&request["object"]["spec"], list).to_vec())
                    .filter_map(|c| {
                        Some((c["name"].as_str()?.to_string(), c.get("image").cloned()?))
                    })
                    .collect();
            if request["operation"] == "UPDATE"
                && let Some(spec) = request["oldObject"]["spec"].as_object_mut()
            {
                for list in ["initContainers", "containers", "ephemeralContainers"] {
                    for c in spec
                        .get_mut(list)
                        .and_then(Value::as_array_mut)
                        .into_iter()
                        .flatten()
                    {
                        let name = c["name"].as_str().unwrap_or("").to_string();
                        match (new_images.get(&name), c.as_object_mut()) {
                            (Some(image), Some(c)) => {
                                c.insert("image".into(), image.clone());
                            }
                            (None, Some(c)) => {
                                c.remove("image");
                            }
                            _ => {}
                        }
                    }
                }
            }
            NativeCore.evaluate(&request, settings)
        }

        fn validate_settings(&self, settings: &Value) -> Result<(), String> {
            NativeCore.validate_settings(settings)
        }
    }

    match run_properties("without rules", &WithoutRules, 300) {
        Ok(summary) => panic!("a policy ignoring rules passed the properties: {summary}"),
        Err(failure) => assert!(failure.contains("I11"), "expected I11 to fail:\n{failure}"),
    }
    match run_update_properties("image-swap bypass", &ImageSwapBypass, 300) {
        Ok(summary) => panic!("the image-swap bypass passed the property: {summary}"),
        Err(failure) => assert!(failure.contains("P1"), "expected P1 to fail:\n{failure}"),
    }
    match run_properties("image-swap bypass", &ImageSwapBypass, 300) {
        Ok(summary) => panic!("the image-swap bypass passed the properties: {summary}"),
        Err(failure) => assert!(failure.contains("I11"), "expected I11 to fail:\n{failure}"),
    }
}

#[test]
fn generated_names_are_kubernetes_names() {
    for name in CONTAINER_NAMES {
        assert!(
            !name.is_empty()
                && name.len() <= 63
                && name
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-'),
            "{name}"
        );
    }
    assert_eq!(LONG_NAME_A.len(), 63);
    assert_eq!(LONG_NAME_B.len(), 63);
    let pool = volume_name_pool();
    assert_eq!(
        pool.iter().collect::<HashSet<_>>().len(),
        pool.len(),
        "volume names are distinct: {pool:?}"
    );
}

/// The properties catch broken mutations: each mutant of the native core
/// must fail them, on the invariant named.
#[test]
fn properties_catch_broken_mutations() {
    /// The native core with a bug planted in its mutations.
    struct Mutant(fn(&Value, &mut Value));

    impl Evaluator for Mutant {
        fn evaluate(&self, request: &Value, settings: &Value) -> Outcome {
            match NativeCore.evaluate(request, settings) {
                Outcome::Mutate {
                    mut object,
                    warnings,
                    ..
                } => {
                    (self.0)(request, &mut object);
                    Outcome::mutation(request, object, warnings)
                }
                other => other,
            }
        }

        fn validate_settings(&self, settings: &Value) -> Result<(), String> {
            NativeCore.validate_settings(settings)
        }
    }

    fn drop_creation_timestamp(_: &Value, object: &mut Value) {
        if let Some(metadata) = object["metadata"].as_object_mut() {
            metadata.remove("creationTimestamp");
        }
    }

    fn pod_spec_mut<'v>(request: &Value, object: &'v mut Value) -> Option<&'v mut Value> {
        let pointer = match request["kind"]["kind"].as_str()? {
            "Pod" => "/spec",
            "CronJob" => "/spec/jobTemplate/spec/template/spec",
            _ => "/spec/template/spec",
        };
        object.pointer_mut(pointer)
    }

    /// Also sets readOnlyRootFilesystem on exempt and old containers.
    fn lock_every_container(request: &Value, object: &mut Value) {
        let Some(spec) = pod_spec_mut(request, object) else {
            return;
        };
        for list in ["initContainers", "containers", "ephemeralContainers"] {
            for c in spec[list].as_array_mut().into_iter().flatten() {
                if !c["securityContext"].is_object() {
                    c["securityContext"] = json!({});
                }
                c["securityContext"]["readOnlyRootFilesystem"] = json!(true);
            }
        }
    }

    /// One injected volume for the whole pod, mounted by every container.
    fn share_injected_volume(request: &Value, object: &mut Value) {
        let Some(spec) = pod_spec_mut(request, object) else {
            return;
        };
        let Some(first) = spec["volumes"]
            .as_array()
            .and_then(|v| v.last())
            .and_then(|v| v["name"].as_str())
            .map(str::to_string)
        else {
            return;
        };
        for c in spec["containers"].as_array_mut().into_iter().flatten() {
            let mounts = c["volumeMounts"].as_array().cloned().unwrap_or_default();
            if !mounts.iter().any(|m| m["mountPath"] == "/shared") {
                let mut mounts = mounts;
                mounts.push(json!({"name": first, "mountPath": "/shared"}));
                c["volumeMounts"] = Value::Array(mounts);
            }
        }
    }

    /// Forgets required paths: never adds a volume.
    fn no_volumes(request: &Value, object: &mut Value) {
        let mut request_object = request["object"].clone();
        let original = pod_spec_mut(request, &mut request_object).cloned();
        let (Some(spec), Some(original)) = (pod_spec_mut(request, object), original) else {
            return;
        };
        for key in ["volumes"] {
            match original.get(key) {
                Some(v) => spec[key] = v.clone(),
                None => {
                    spec.as_object_mut().map(|s| s.remove(key));
                }
            }
        }
        for list in ["initContainers", "containers"] {
            for (i, c) in spec[list].as_array_mut().into_iter().flatten().enumerate() {
                match original[list][i].get("volumeMounts") {
                    Some(v) => c["volumeMounts"] = v.clone(),
                    None => {
                        c.as_object_mut().map(|c| c.remove("volumeMounts"));
                    }
                }
            }
        }
    }

    for (mutant, expected) in [
        (drop_creation_timestamp as fn(&Value, &mut Value), "I2-I5"),
        (lock_every_container, "I9"),
        (share_injected_volume, "I9"),
        (no_volumes, "I2-I5"),
    ] {
        match run_properties("mutant", &Mutant(mutant), 300) {
            Ok(summary) => panic!("a broken mutation passed the properties: {summary}"),
            Err(failure) => assert!(
                failure.contains(expected),
                "expected a failure of {expected}, got:\n{failure}"
            ),
        }
    }
}
