//! The generated inputs: small alphabets (so that names, paths, images and
//! volume names collide, and one image comes in several spellings), the
//! strategies, the admission requests they are written as, and their
//! description in the contract model's types.

use contract_model::{self as model, Field, List, Source, put};
use proptest::collection::vec;
use proptest::prelude::*;
use proptest::sample::{select, subsequence};
use readonly_rootfs_policy::mutate::injected_volume_name;
use serde_json::{Map, Value, json};
use std::collections::HashSet;

pub const LONG_NAME_A: &str = "verylongcontainernameverylongcontainernameverylongcontainername";
pub const LONG_NAME_B: &str = "long-01234567890123456789012345678901234567890123456789sidecarz";

/// Container names: unique within a pod, as Kubernetes requires.
pub const CONTAINER_NAMES: [&str; 10] = [
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

/// Container images, as groups of spellings of one image: the runtime
/// resolves every spelling of a group to one reference, and two groups to
/// different ones. Written by hand, so that whether a Pod UPDATE changes an
/// image is known without asking the model (a unit test checks the model
/// agrees). The last two are not valid references (they match only `*`),
/// one with a newline that messages must escape.
pub const IMAGE_GROUPS: [&[&str]; 15] = [
    &[
        "nginx:1.27",
        "library/nginx:1.27",
        "docker.io/library/nginx:1.27",
        "index.docker.io/library/nginx:1.27",
    ],
    &[
        "nginx",
        "docker.io/library/nginx:latest",
        "index.docker.io/library/nginx",
    ],
    &[
        "nginx:1.27@sha256:83f7365784a2ce16a94d7da5d1e56db908932cb66fb3b1a33de20d37b7eb09f8",
        "docker.io/library/nginx:1.27@sha256:83f7365784a2ce16a94d7da5d1e56db908932cb66fb3b1a33de20d37b7eb09f8",
    ],
    &[
        "nginx@sha256:83f7365784a2ce16a94d7da5d1e56db908932cb66fb3b1a33de20d37b7eb09f8",
        "index.docker.io/library/nginx@sha256:83f7365784a2ce16a94d7da5d1e56db908932cb66fb3b1a33de20d37b7eb09f8",
    ],
    &["docker.io/istio/proxyv2:1.22.0", "istio/proxyv2:1.22.0"],
    &["busybox", "busybox:latest", "DOCKER.IO/library/busybox"],
    &[
        "registry.example.com/debug/busybox:1.36",
        "REGISTRY.example.com/debug/busybox:1.36",
    ],
    &["registry.example.com/debugger-evil/busybox:1.36"],
    &["registry.example.com/app/web:2"],
    &["postgres:16", "docker.io/library/postgres:16"],
    &["grafana/grafana:11.2.0", "docker.io/grafana/grafana:11.2.0"],
    &["nginxinc/nginx-unprivileged:1.27"],
    &["registry.example.com/library/nginx:1.27"],
    &["Nginx:1.27"],
    &["nginx:1.27\n- all containers are fine"],
];

/// The groups of [`IMAGE_GROUPS`] that are one repository with other tags
/// or digests (`docker.io/library/nginx`: `1.27`, `latest`, `1.27` pinned
/// to a digest, the digest alone): a Pod UPDATE between them changes the
/// image (pins or unpins a digest, moves a tag).
pub const NGINX_GROUPS: std::ops::Range<usize> = 0..4;

/// Every spelling of every image.
pub fn images() -> Vec<&'static str> {
    IMAGE_GROUPS
        .iter()
        .flat_map(|g| g.iter().copied())
        .collect()
}

/// The group of an image, `IMAGE_GROUPS.len()` for no image.
pub fn image_group(image: Option<&str>) -> usize {
    image.map_or(IMAGE_GROUPS.len(), |image| {
        IMAGE_GROUPS
            .iter()
            .position(|g| g.contains(&image))
            .expect("an image of the alphabet")
    })
}

/// Image patterns of every form of the contract's table, spelled in
/// several ways.
pub const IMAGE_PATTERNS: [&str; 14] = [
    "registry.example.com/debug/*",
    "docker.io/istio/*",
    "nginx:1.27",
    "busybox",
    "*",
    "registry.example.com/*",
    "docker.io/library/nginx",
    "nginx:*",
    "istio/proxyv2",
    "docker.io/library/*",
    "nginx@sha256:83f7365784a2ce16a94d7da5d1e56db908932cb66fb3b1a33de20d37b7eb09f8",
    "index.docker.io/library/nginx:latest",
    "REGISTRY.example.com/debug/busybox:1.36",
    "grafana/*",
];

/// Application profiles the settings may enable: those of images in
/// [`IMAGE_GROUPS`] and one (`tomcat`) of none.
pub const PROFILES: [&str; 5] = [
    "nginx",
    "postgres",
    "grafana",
    "nginx-unprivileged",
    "tomcat",
];

/// Mount paths: `/tmp/` is also generated (a trailing-slash `/tmp`).
/// `/var/cache` and `/var/run` cover paths of the nginx and postgres
/// profiles.
pub const MOUNT_PATHS: [&str; 8] = [
    "/tmp",
    "/tmp/x",
    "/app",
    "/app/cache",
    "/ap",
    "/var/cache",
    "/",
    "/var/run",
];

pub const REQUIRED_PATHS: [&str; 4] = [
    "/tmp",
    "/var/cache",
    "/app/cache",
    "/data/long/nested/path/for/names",
];

pub const MISSING_VOLUME: &str = "missing-volume";

/// Capabilities a container may add; SYS_ADMIN and ALL (any case, with or
/// without CAP_) let it remount its root, the others do not.
pub const CAPABILITIES: [&str; 8] = [
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
pub fn volume_name_pool() -> Vec<String> {
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
        injected_volume_name("web", "/var/cache/nginx", &none),
    ]);
    pool
}

pub const KINDS: [(&str, &str, &str, &str); 8] = [
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
pub enum Root {
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

#[derive(Debug, Clone)]
pub struct MountModel {
    path: &'static str,
    trailing_slash: bool,
    volume: String,
    read_only: Field<bool>,
    sub_path: bool,
}

/// What in a container's securityContext could let it remount its root.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Remount {
    None,
    Privileged(bool),
    /// `capabilities.add: [this]`
    Add(&'static str),
}

#[derive(Debug, Clone)]
pub struct ContainerModel {
    image: Option<&'static str>,
    root: Root,
    remount: Remount,
    context_extras: bool,
    mounts: Field<Vec<MountModel>>,
    extras: bool,
    /// Init containers: a native sidecar (`restartPolicy: Always`).
    restart_always: bool,
}

#[derive(Debug, Clone, Copy)]
pub enum Os {
    Absent,
    Null,
    Empty,
    Linux,
    Windows,
}

#[derive(Debug, Clone)]
pub struct PodSpecModel {
    init: Vec<ContainerModel>,
    containers: Vec<ContainerModel>,
    ephemeral: Vec<ContainerModel>,
    /// Shuffled container names, taken in pod spec order.
    names: Vec<&'static str>,
    /// How an empty init / ephemeral list is written: absent, null or `[]`.
    empty_init: u8,
    empty_ephemeral: u8,
    volumes: Field<Vec<model::Volume>>,
    os: Os,
    extras: bool,
}

/// How a Pod UPDATE's old Pod had a container's image.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    /// Another image, or none (the container is checked).
    Other,
    /// The same repository with another tag or digest where the alphabet
    /// has one: a digest pinned or unpinned, a tag moved (checked).
    Related,
    /// Another spelling of the same image, where the alphabet has one (the
    /// container is not checked).
    Respell,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Create,
    /// Workload: UPDATE with a changed template. Pod: plain UPDATE.
    UpdateA,
    /// Workload: UPDATE with the template unchanged. Pod: UPDATE through the
    /// ephemeralcontainers subresource.
    UpdateB,
}

#[derive(Debug, Clone)]
pub enum Exemption {
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

    fn selector(&self) -> model::Selector {
        match self {
            Exemption::Name(n) | Exemption::NameObject(n) => model::Selector::new(Some(n), None),
            Exemption::Image(i) | Exemption::ImageNullName(i) => {
                model::Selector::new(None, Some(i))
            }
            Exemption::Both(n, i) => model::Selector::new(Some(n), Some(i)),
        }
    }
}

/// A `containerWritablePaths` rule: at least one of name and image.
#[derive(Debug, Clone)]
pub struct RuleModel {
    name: Option<&'static str>,
    image: Option<&'static str>,
    /// Writes the absent one of name and image as null (null is absent).
    null_key: bool,
    /// Paths, some written with a trailing slash.
    paths: Vec<(&'static str, bool)>,
}

impl RuleModel {
    fn json(&self) -> Value {
        let mut o = self.model().selector.json(self.null_key);
        o.insert("paths".into(), paths_json(&self.paths));
        Value::Object(o)
    }

    fn model(&self) -> model::Rule {
        model::Rule {
            selector: model::Selector::new(self.name, self.image),
            paths: self.paths.iter().map(|(p, _)| p.to_string()).collect(),
        }
    }
}

pub fn paths_json(paths: &[(&'static str, bool)]) -> Value {
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
pub struct SettingsModel {
    /// `None`: key absent; `Some((null?, paths with trailing-slash flag))`.
    paths: Option<(bool, Vec<(&'static str, bool)>)>,
    exemptions: Vec<Exemption>,
    exemptions_key_when_empty: bool,
    exempt_ephemeral: Field<bool>,
    writable_volume: u8,
    /// `containerWritablePaths`: absent, null or a list (maybe empty).
    rules: Field<Vec<RuleModel>>,
    warn_sub_path_mounts: Field<bool>,
    /// `applicationProfiles`: absent, null or a list of profile names, each
    /// once (maybe empty).
    profiles: Field<Vec<&'static str>>,
}

impl SettingsModel {
    /// The settings as the contract model reads them.
    pub fn model(&self) -> model::Settings {
        let paths = match &self.paths {
            Some((false, paths)) => paths.iter().map(|(p, _)| p.to_string()).collect(),
            _ => Vec::new(),
        };
        let rules = match &self.rules {
            Field::Set(rules) => rules.iter().map(RuleModel::model).collect(),
            _ => Vec::new(),
        };
        model::Settings {
            required: paths,
            exemptions: self.exemptions.iter().map(Exemption::selector).collect(),
            rules,
            exempt_ephemeral: self.exempt_ephemeral == Field::Set(true),
            mutate: true,
            warn_sub_path_mounts: self.warn_sub_path_mounts != Field::Set(false),
            profiles: match &self.profiles {
                Field::Set(names) => names.iter().map(|n| n.to_string()).collect(),
                _ => Vec::new(),
            },
        }
    }

    /// The `writableVolume` setting.
    fn writable_volume(&self) -> Field<Value> {
        let volumes = [
            json!({}),
            json!({"medium": ""}),
            json!({"medium": "Memory"}),
            json!({"sizeLimit": "64Mi", "medium": null}),
            json!({"medium": "Memory", "sizeLimit": "1Gi"}),
            json!({"sizeLimit": 1024}),
        ];
        match self.writable_volume % 8 {
            0 => Field::Absent,
            1 => Field::Null,
            n => Field::Set(volumes[usize::from(n) - 2].clone()),
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
        put(
            &mut s,
            "exemptEphemeralContainers",
            bool_json(self.exempt_ephemeral),
        );
        put(&mut s, "writableVolume", self.writable_volume());
        let rules = match &self.rules {
            Field::Set(rules) => Field::Set(rules.iter().map(RuleModel::json).collect()),
            Field::Null => Field::Null,
            Field::Absent => Field::Absent,
        };
        put(&mut s, "containerWritablePaths", rules);
        put(
            &mut s,
            "warnSubPathMounts",
            bool_json(self.warn_sub_path_mounts),
        );
        put(
            &mut s,
            "applicationProfiles",
            self.profiles.map_ref(|names| json!(names)),
        );
        Value::Object(s)
    }
}

#[derive(Debug, Clone)]
pub struct Model {
    kind: usize,
    op: Op,
    /// Pod UPDATE: how many ephemeral containers the old pod had.
    old_ephemeral: usize,
    /// Workload UPDATE with a changed template: the old template's spec is
    /// another one altogether (else only a template label differs).
    old_spec_different: bool,
    /// Pod UPDATE: per container in pod spec order, how the old Pod's image
    /// differs (see [`old_image`]), if it does.
    image_changes: Vec<Option<(Change, u8)>>,
    spec: PodSpecModel,
    pod_extras: bool,
    settings: SettingsModel,
}

/// A generated request, its settings (`mutate: true`), and what the
/// contract model says of it.
#[derive(Clone)]
pub struct Case {
    pub request: Value,
    pub settings: Value,
    pub kind: &'static str,
    pub spec_pointer: &'static str,
    pub op: Op,
    /// The model's prediction with `mutate: true`.
    pub prediction: model::Prediction,
    /// The paths of `requiredWritablePaths`.
    pub global_paths: Vec<String>,
    pub injected_empty_dir: Value,
    /// Pod UPDATE: each container it must check (new name, or new image),
    /// alone in a pod to CREATE (the image-change property).
    pub alone: Vec<Alone>,
    /// Pod UPDATE: how many ephemeral containers the old Pod had.
    pub old_ephemeral: usize,
    /// Pod UPDATE: containers whose old image is another spelling of the
    /// image they have (not checked for it).
    pub respelled: usize,
    /// Pod UPDATE: containers whose old image is the same repository with
    /// another tag or digest (a digest pinned, unpinned, a tag moved).
    pub retagged: usize,
}

/// A container a Pod UPDATE checks, alone in a pod to CREATE.
#[derive(Clone)]
pub struct Alone {
    pub name: &'static str,
    pub image_changed: bool,
    /// An exemption matched its old image and matches no more.
    pub exemption_lost: bool,
    /// The CREATE of the UPDATE's pod holding only this container.
    pub create: Value,
}

impl std::fmt::Debug for Case {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "request: {}\nsettings: {}\nmodel: {:?}\nchecked (name, image changed, exemption lost): {:?}",
            serde_json::to_string_pretty(&self.request).unwrap_or_default(),
            self.settings,
            self.prediction,
            self.alone
                .iter()
                .map(|a| (a.name, a.image_changed, a.exemption_lost))
                .collect::<Vec<_>>()
        )
    }
}

// -- strategies -------------------------------------------------------------

pub fn field_bool() -> impl Strategy<Value = Field<bool>> {
    prop_oneof![
        Just(Field::Absent),
        Just(Field::Set(true)),
        Just(Field::Set(false)),
        Just(Field::Null),
    ]
}

pub fn root() -> impl Strategy<Value = Root> {
    prop_oneof![
        10 => Just(Root::True),
        8 => Just(Root::Absent),
        3 => Just(Root::ContextNull),
        3 => Just(Root::ContextEmpty),
        3 => Just(Root::Null),
        1 => Just(Root::False),
    ]
}

pub fn mounts(volume_names: Vec<String>) -> impl Strategy<Value = Field<Vec<MountModel>>> {
    let attrs = (
        any::<bool>(),
        select(volume_names),
        field_bool(),
        proptest::bool::weighted(0.1),
    );
    prop_oneof![
        4 => Just(Field::Absent),
        1 => Just(Field::Null),
        1 => Just(Field::Set(Vec::new())),
        6 => (subsequence(MOUNT_PATHS.to_vec(), 1..=3), vec(attrs, 3)).prop_map(
            |(paths, attrs)| {
                Field::Set(
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

pub fn remount() -> impl Strategy<Value = Remount> {
    prop_oneof![
        12 => Just(Remount::None),
        1 => any::<bool>().prop_map(Remount::Privileged),
        2 => select(CAPABILITIES.to_vec()).prop_map(Remount::Add),
    ]
}

pub fn container(volume_names: Vec<String>) -> impl Strategy<Value = ContainerModel> {
    (
        proptest::option::weighted(0.85, select(images())),
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

pub fn volume_type() -> impl Strategy<Value = Source> {
    prop_oneof![
        4 => Just(Source::EmptyDir),
        1 => Just(Source::EmptyDirMemory),
        1 => Just(Source::NoSource),
        2 => Just(Source::ConfigMap),
        1 => Just(Source::Secret),
        1 => Just(Source::Projected),
        1 => Just(Source::DownwardApi),
        1 => Just(Source::Image),
        2 => field_bool().prop_map(Source::Pvc),
        1 => Just(Source::HostPath),
        1 => field_bool().prop_map(Source::Csi),
        1 => field_bool().prop_map(Source::Nfs),
        1 => Just(Source::Ephemeral),
        1 => Just(Source::Future),
    ]
}

pub fn volumes(pool: Vec<String>) -> impl Strategy<Value = Field<Vec<model::Volume>>> {
    prop_oneof![
        2 => Just(Field::Absent),
        1 => Just(Field::Null),
        1 => Just(Field::Set(Vec::new())),
        6 => (subsequence(pool, 1..=5), vec(volume_type(), 5)).prop_map(|(names, types)| {
            let volume = |(name, source)| model::Volume { name, source };
            Field::Set(names.into_iter().zip(types).map(volume).collect())
        }),
    ]
}

pub fn os() -> impl Strategy<Value = Os> {
    prop_oneof![
        10 => Just(Os::Absent),
        1 => Just(Os::Null),
        1 => Just(Os::Empty),
        3 => Just(Os::Linux),
        2 => Just(Os::Windows),
    ]
}

pub fn pod_spec(pool: Vec<String>) -> impl Strategy<Value = PodSpecModel> {
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

pub fn exemption() -> impl Strategy<Value = Exemption> {
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
pub fn required_paths(
    size: std::ops::RangeInclusive<usize>,
) -> impl Strategy<Value = Vec<(&'static str, bool)>> {
    (
        subsequence(REQUIRED_PATHS.to_vec(), size),
        vec(any::<bool>(), REQUIRED_PATHS.len()),
    )
        .prop_map(|(paths, slashes)| paths.into_iter().zip(slashes).collect::<Vec<_>>())
        .prop_shuffle()
}

pub fn rule() -> impl Strategy<Value = RuleModel> {
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

pub fn settings() -> impl Strategy<Value = SettingsModel> {
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
        prop_oneof![
            2 => Just(Field::Absent),
            1 => Just(Field::Null),
            1 => Just(Field::Set(Vec::new())),
            6 => subsequence(PROFILES.to_vec(), 1..=3).prop_shuffle().prop_map(Field::Set),
        ],
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
                profiles,
            )| {
                SettingsModel {
                    paths,
                    exemptions,
                    exemptions_key_when_empty,
                    exempt_ephemeral,
                    writable_volume,
                    rules,
                    warn_sub_path_mounts,
                    profiles,
                }
            },
        )
}

/// Most containers are 7 to a pod.
pub const MAX_CONTAINERS: usize = 7;

/// Any request, or (`pod_updates`) only Pod UPDATEs, plain and through the
/// ephemeralcontainers subresource, most of them changing images.
pub fn model(pod_updates: bool) -> impl Strategy<Value = Model> {
    let pool = volume_name_pool();
    let (kinds, creates) = if pod_updates {
        (0..1, 0)
    } else {
        (0..KINDS.len(), 5)
    };
    let change = prop_oneof![
        2 => Just(Change::Other),
        1 => Just(Change::Related),
        2 => Just(Change::Respell),
    ];
    let changes = vec(
        proptest::option::weighted(0.6, (change, any::<u8>())),
        MAX_CONTAINERS,
    );
    let no_change = if pod_updates { 0 } else { 1 };
    (
        kinds,
        prop_oneof![creates => Just(Op::Create), 3 => Just(Op::UpdateA), 2 => Just(Op::UpdateB)],
        0usize..=2,
        any::<bool>(),
        prop_oneof![no_change => Just(Vec::new()), 2 => changes],
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

pub fn case_strategy(pod_updates: bool) -> impl Strategy<Value = Case> {
    model(pod_updates).prop_map(|m| build_case(&m))
}

// -- JSON -------------------------------------------------------------------

pub fn future_field() -> Value {
    json!({"x": [1, null]})
}

pub fn mount_json(m: &MountModel) -> Value {
    let path = if m.trailing_slash {
        format!("{}/", m.path)
    } else {
        m.path.to_string()
    };
    let mut o = Map::new();
    o.insert("name".into(), json!(m.volume));
    o.insert("mountPath".into(), json!(path));
    put(&mut o, "readOnly", bool_json(m.read_only));
    if m.sub_path {
        o.insert("subPath".into(), json!("sub"));
    }
    Value::Object(o)
}

pub fn container_json(c: &ContainerModel, name: &str, list: List) -> Value {
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
    let mounts = c.mounts.map_ref(|m| m.iter().map(mount_json).collect());
    put(&mut o, "volumeMounts", mounts);
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

/// The containers of a pod spec in pod spec order: `(list, index, name, model)`.
pub fn containers_of(spec: &PodSpecModel) -> Vec<(List, usize, &'static str, &ContainerModel)> {
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
pub fn pod_spec_json(spec: &PodSpecModel, ephemeral_limit: usize) -> Value {
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
        let field = match empty_form {
            _ if !items.is_empty() || list == List::Regular => Field::Set(Value::Array(items)),
            0 => Field::Absent,
            1 => Field::Null,
            _ => Field::Set(json!([])),
        };
        put(&mut o, list.field(), field);
    }
    let volumes = (spec.volumes).map_ref(|v| v.iter().map(|v| v.source.json(&v.name)).collect());
    put(&mut o, "volumes", volumes);
    let os = match spec.os {
        Os::Absent => Field::Absent,
        Os::Null => Field::Null,
        Os::Empty => Field::Set(json!({})),
        Os::Linux => Field::Set(json!({"name": "linux"})),
        Os::Windows => Field::Set(json!({"name": "windows"})),
    };
    put(&mut o, "os", os);
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
pub fn object_json(
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

pub fn build_case(m: &Model) -> Case {
    let (kind_name, ..) = KINDS[m.kind];
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
    let image_changes: &[Option<(Change, u8)>] = if pod_update { &m.image_changes } else { &[] };
    let old_pod_spec = with_old_images(&m.spec, image_changes);
    // The old object: a Pod's old spec has the old images and fewer debug
    // containers (a plain UPDATE also changes a label: only the new
    // containers and those whose image changed are checked, nothing is
    // mutated); a workload's template has another label and maybe another
    // spec, or (UpdateB) only a field outside the template differs.
    let old_spec = match (m.op, is_pod) {
        (Op::Create, _) => None,
        (_, true) => Some(pod_spec_json(&old_pod_spec, old_ephemeral)),
        (Op::UpdateA, false) if m.old_spec_different => {
            Some(json!({"containers": [{"name": "app", "image": "nginx:1.26"}]}))
        }
        (_, false) => Some(pod_spec_json(&m.spec, all_ephemeral)),
    };
    let (version, generation) = match (m.op, is_pod) {
        (Op::UpdateA, _) => ("v1", 1),
        (_, true) => ("v2", 2),
        _ => ("v2", 1),
    };
    let old_object = old_spec.map_or(Value::Null, |old| {
        object_json(m.kind, old, version, generation, m.pod_extras)
    });
    let operation = if m.op == Op::Create {
        "CREATE"
    } else {
        "UPDATE"
    };
    let sub_resource = (is_pod && m.op == Op::UpdateB).then_some("ephemeralcontainers");
    let request = admission_request(m.kind, operation, object, old_object, sub_resource);
    let old_containers = containers_of(&old_pod_spec)
        .into_iter()
        .filter(|(list, index, _, _)| *list != List::Ephemeral || *index < old_ephemeral)
        .map(|(_, _, name, c)| (name.to_string(), c.image.map(String::from)))
        .collect();
    let operation = match (m.op, is_pod) {
        (Op::Create, _) => model::Operation::Create,
        (op, true) => model::Operation::PodUpdate {
            old: old_containers,
            subresource: op == Op::UpdateB,
        },
        (op, false) => model::Operation::WorkloadUpdate {
            template_changed: op == Op::UpdateA,
        },
    };
    let settings = m.settings.model();
    let settings_json = m.settings.json();
    let mut alone = Vec::new();
    let (mut respelled, mut retagged) = (0, 0);
    for (k, (list, index, name, c)) in containers_of(&m.spec).into_iter().enumerate() {
        let is_new = list == List::Ephemeral && index >= old_ephemeral;
        let old = old_pod_spec_image(&old_pod_spec, k);
        let image_changed = !is_new && image_group(old) != image_group(c.image);
        if pod_update && !is_new {
            respelled += usize::from(!image_changed && old != c.image);
            retagged += usize::from(
                image_changed
                    && NGINX_GROUPS.contains(&image_group(old))
                    && NGINX_GROUPS.contains(&image_group(c.image)),
            );
        }
        if !pod_update || !(is_new || image_changed) {
            continue;
        }
        let exempt = |image| settings.exemptions.iter().any(|e| e.matches(name, image));
        let mut single = PodSpecModel {
            init: Vec::new(),
            containers: Vec::new(),
            ephemeral: Vec::new(),
            names: vec![name],
            ..m.spec.clone()
        };
        match list {
            List::Init => single.init.push(c.clone()),
            List::Regular => single.containers.push(c.clone()),
            List::Ephemeral => single.ephemeral.push(c.clone()),
        }
        let create = object_json(0, pod_spec_json(&single, 1), "v2", 2, m.pod_extras);
        alone.push(Alone {
            name,
            image_changed,
            exemption_lost: image_changed && exempt(old) && !exempt(c.image),
            create: admission_request(0, "CREATE", create, Value::Null, None),
        });
    }
    Case {
        request,
        injected_empty_dir: model::injected_empty_dir(&settings_json),
        settings: settings_json,
        kind: kind_name,
        spec_pointer,
        op: m.op,
        prediction: model::evaluate(&settings, &pod_model(&m.spec), &operation),
        global_paths: settings.required,
        alone,
        old_ephemeral,
        respelled,
        retagged,
    }
}

/// The image of the k-th container (pod spec order) of the old pod spec.
fn old_pod_spec_image(old: &PodSpecModel, k: usize) -> Option<&'static str> {
    containers_of(old)[k].3.image
}

/// The admission request for `object` of `KINDS[kind]`.
pub fn admission_request(
    kind: usize,
    operation: &str,
    object: Value,
    old_object: Value,
    sub_resource: Option<&str>,
) -> Value {
    let (kind_name, group, version, resource) = KINDS[kind];
    let mut request = model::admission_request((group, version, kind_name, resource), operation);
    request["object"] = object;
    request["oldObject"] = old_object;
    if let Some(sub) = sub_resource {
        request["subResource"] = json!(sub);
    }
    request
}

/// The pod spec in the contract model's terms.
pub fn pod_model(spec: &PodSpecModel) -> model::Pod {
    let container = |(list, _, name, c): (List, usize, &str, &ContainerModel)| model::Container {
        list,
        name: name.to_string(),
        image: c.image.map(String::from),
        root: match c.root {
            Root::True => model::Root::True,
            Root::False => model::Root::False,
            _ => model::Root::Unset,
        },
        // A null securityContext carries nothing.
        can_remount: c.root != Root::ContextNull
            && match c.remount {
                Remount::None => false,
                Remount::Privileged(b) => model::can_remount(b, []),
                Remount::Add(capability) => model::can_remount(false, [capability]),
            },
        mounts: match &c.mounts {
            Field::Set(mounts) => mounts
                .iter()
                .map(|m| model::Mount {
                    path: m.path.to_string(),
                    volume: m.volume.clone(),
                    read_only: m.read_only == Field::Set(true),
                    sub_path: m.sub_path,
                })
                .collect(),
            _ => Vec::new(),
        },
    };
    model::Pod {
        containers: containers_of(spec).into_iter().map(container).collect(),
        volumes: match &spec.volumes {
            Field::Set(volumes) => volumes.clone(),
            _ => Vec::new(),
        },
        windows: matches!(spec.os, Os::Windows),
    }
}

/// The old Pod's image of a container whose image is `new` now, by
/// `change` ([`Change`]); `pick` chooses among the candidates. Whether it
/// is the same image is [`image_group`]'s, not the model's.
pub fn old_image(new: Option<&'static str>, change: Change, pick: u8) -> Option<&'static str> {
    let group = image_group(new);
    let all: Vec<Option<&'static str>> = images().into_iter().map(Some).chain([None]).collect();
    let candidates: Vec<Option<&'static str>> = match change {
        Change::Respell => all
            .iter()
            .copied()
            .filter(|old| image_group(*old) == group && *old != new)
            .collect(),
        Change::Related if NGINX_GROUPS.contains(&group) => all
            .iter()
            .copied()
            .filter(|old| image_group(*old) != group && NGINX_GROUPS.contains(&image_group(*old)))
            .collect(),
        _ => Vec::new(),
    };
    let candidates = match (change, candidates.is_empty()) {
        (_, false) => candidates,
        // A spelling of its own: the old Pod had the same string.
        (Change::Respell, true) => vec![new],
        _ => all
            .into_iter()
            .filter(|old| image_group(*old) != group)
            .collect(),
    };
    candidates[usize::from(pick) % candidates.len()]
}

/// `spec` with the images the old Pod had: the k-th container in pod spec
/// order had [`old_image`]`(changes[k])` when that is given.
pub fn with_old_images(spec: &PodSpecModel, changes: &[Option<(Change, u8)>]) -> PodSpecModel {
    let mut old = spec.clone();
    let lists = [&mut old.init, &mut old.containers, &mut old.ephemeral];
    for (c, change) in lists.into_iter().flatten().zip(changes) {
        if let Some((change, pick)) = change {
            c.image = old_image(c.image, *change, *pick);
        }
    }
    old
}

fn bool_json(field: Field<bool>) -> Field<Value> {
    field.map_ref(|b| json!(b))
}
