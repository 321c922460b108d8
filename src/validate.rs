//! The container walk: one pass over a pod spec that reports, per checked
//! container, the state of its root filesystem and of each required writable
//! path. Validation turns findings into violations; mutation turns the
//! fixable ones into edits (see `mutate.rs`). Warnings (subPath mounts,
//! containers that can remount their root) come from the same walk.

use crate::escape::{push_escaped, push_quoted};
use crate::podspec::{
    ContainerList, ContainerView, Object, PodSpecView, VolumeMountView, VolumeWritability,
};
use crate::selector::same_image;
use crate::settings::{ContainerImage, RuleOrigin, Settings, WritablePathRule};
use std::collections::HashMap;

/// `securityContext.readOnlyRootFilesystem` of a container.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RootFilesystem {
    ReadOnly,
    /// Absent or null: the container runtime default, which is writable.
    Unset,
    /// Explicitly `false`: the author asked for a writable root.
    Writable,
}

/// A required writable path a container cannot write to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PathProblem {
    pub path: String,
    /// `None`: no mount covers the path. `Some`: the deepest mount covering
    /// the path (the one the kernel resolves it to) is not writable.
    pub blocking_mount: Option<BlockingMount>,
    /// The `containerWritablePaths` rule or application profile that
    /// requires the path; `None` when `requiredWritablePaths` does.
    pub required_by: Option<RequiredBy>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlockingMount {
    pub mount_path: String,
    pub volume: String,
    pub reason: String,
}

/// What requires a path besides `requiredWritablePaths`, as a rejection
/// message names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RequiredBy {
    /// `containerWritablePaths[index]`, selecting `image "nginx"`, `name
    /// "web" and image "nginx"`.
    Setting { index: usize, selector: String },
    /// The application profile of this name.
    Profile(&'static str),
}

/// On a Pod UPDATE, a container whose image differs from the old Pod's
/// container of the same name: a new program on the old root filesystem.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageChange {
    pub old: Option<String>,
    pub new: Option<String>,
}

/// What the walk found about one checked container.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    pub list: ContainerList,
    pub index: usize,
    pub name: String,
    pub root: RootFilesystem,
    pub path_problems: Vec<PathProblem>,
    /// `Some` when the container is checked because its image changed on a
    /// running Pod; such a container is never mutated.
    pub image_change: Option<ImageChange>,
}

impl Finding {
    pub fn is_compliant(&self) -> bool {
        self.root == RootFilesystem::ReadOnly && self.path_problems.is_empty()
    }
}

/// Which containers of a pod spec are checked.
pub enum Scope<'a> {
    /// CREATE, and workload templates that changed.
    AllContainers,
    /// Pod UPDATE: containers whose name the old pod did not have (new debug
    /// containers), and containers whose image changed. Keyed by name: the
    /// old pod's images of the containers of that name (one, unless the old
    /// pod repeats a name, which the API server never admits).
    PodUpdate {
        old_images: HashMap<&'a str, Vec<Option<&'a str>>>,
    },
}

/// Why a container is checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Reason<'s> {
    /// CREATE, a changed template, or a container the old pod did not have.
    New,
    /// Its image changed on a running Pod; the old image.
    ImageChanged { old: Option<&'s str> },
}

impl Scope<'_> {
    /// `None` when `container` is not checked.
    fn reason(&self, container: &ContainerView) -> Option<Reason<'_>> {
        match self {
            Scope::AllContainers => Some(Reason::New),
            Scope::PodUpdate { old_images } => match old_images.get(container.name.as_ref()) {
                None => Some(Reason::New),
                // The same image to the runtime, however it is spelled.
                Some(old)
                    if old
                        .iter()
                        .any(|old| same_image(*old, container.image.as_deref())) =>
                {
                    None
                }
                Some(old) => Some(Reason::ImageChanged {
                    old: old.first().copied().flatten(),
                }),
            },
        }
    }
}

/// One problem the user must fix, with where it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    pub list: ContainerList,
    pub index: usize,
    pub container: String,
    pub problem: Problem,
    pub image_change: Option<ImageChange>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Problem {
    RootFilesystemUnset,
    RootFilesystemFalse,
    /// Mutation mode: an explicit `false` is never overridden.
    RootFilesystemFalseNotOverridden,
    PathNotWritable(PathProblem),
}

/// A checked container with its place in the pod spec.
struct Checked<'s, 'a> {
    list: ContainerList,
    index: usize,
    container: &'s ContainerView<'a>,
    /// Its image, read as a reference once, when a pattern first needs it.
    image: ContainerImage<'s>,
    reason: Reason<'s>,
}

/// Walks every checked container of `spec`, in pod spec order: init
/// containers, containers, ephemeral containers.
pub fn inspect(spec: &PodSpecView, settings: &Settings, scope: &Scope) -> Vec<Finding> {
    checked_containers(spec, settings, scope)
        .map(|checked| inspect_container(spec, settings, &checked))
        .collect()
}

/// What one walk over the checked containers finds without allocating for
/// compliant ones: whether [`inspect`] would find them all compliant, and
/// the warnings about them.
pub struct Scan {
    pub all_compliant: bool,
    pub warnings: Vec<String>,
}

pub fn scan(spec: &PodSpecView, settings: &Settings, scope: &Scope, pod_spec_field: &str) -> Scan {
    let mut all_compliant = true;
    let mut warnings = Warnings::default();
    for checked in checked_containers(spec, settings, scope) {
        all_compliant = all_compliant && is_compliant(spec, settings, &checked);
        warn_about(spec, settings, &checked, pod_spec_field, &mut warnings);
    }
    Scan {
        all_compliant,
        warnings: warnings.finish(),
    }
}

fn is_compliant(spec: &PodSpecView, settings: &Settings, checked: &Checked) -> bool {
    let container = checked.container;
    root_filesystem(container) == RootFilesystem::ReadOnly
        && (checked.list == ContainerList::EphemeralContainers
            || required_paths(settings, container, &checked.image)
                .all(|(path, _)| path_problem(spec, container, path).is_none()))
}

/// The containers the policy checks, in pod spec order, with their list,
/// index and why they are checked.
fn checked_containers<'s, 'a>(
    spec: &'s PodSpecView<'a>,
    settings: &'s Settings,
    scope: &'s Scope,
) -> impl Iterator<Item = Checked<'s, 'a>> {
    ContainerList::ALL
        .into_iter()
        .filter(|list| {
            *list != ContainerList::EphemeralContainers || !settings.exempt_ephemeral_containers
        })
        .flat_map(move |list| {
            spec.list(list)
                .iter()
                .enumerate()
                .map(move |(index, container)| (list, index, &**container))
        })
        .filter_map(|(list, index, container)| {
            let reason = scope.reason(container)?;
            // Exemptions are evaluated against the container's image now.
            let image = ContainerImage::new(container.image.as_deref());
            if settings.is_exempt(&container.name, &image) {
                return None;
            }
            Some(Checked {
                list,
                index,
                container,
                image,
                reason,
            })
        })
}

/// The paths a checked regular or init container must be able to write:
/// `requiredWritablePaths`, then the paths of each `containerWritablePaths`
/// rule and application profile it matches, each path once (attributed to
/// where it first appears).
fn required_paths<'s>(
    settings: &'s Settings,
    container: &'s ContainerView,
    image: &'s ContainerImage,
) -> impl Iterator<Item = (&'s str, Option<&'s WritablePathRule>)> {
    let name = container.name.as_ref();
    let matching_rules = move || {
        settings
            .writable_path_rules()
            .enumerate()
            .filter(move |(_, rule)| rule.selector.matches(name, image))
    };
    let global = settings
        .required_writable_paths
        .iter()
        .map(|path| (path.as_str(), None));
    let from_rules = matching_rules()
        .flat_map(|(index, rule)| {
            rule.paths
                .iter()
                .map(move |path| (path.as_str(), index, rule))
        })
        .filter(move |(path, index, _)| {
            let earlier = settings.required_writable_paths.iter().any(|p| p == path)
                || matching_rules()
                    .take_while(|(other, _)| other < index)
                    .any(|(_, rule)| rule.paths.iter().any(|p| p == path));
            !earlier
        })
        .map(|(path, _, rule)| (path, Some(rule)));
    global.chain(from_rules)
}

fn inspect_container(spec: &PodSpecView, settings: &Settings, checked: &Checked) -> Finding {
    let container = checked.container;
    let root = root_filesystem(container);
    // Ephemeral containers cannot have volume mounts added to the pod's
    // volumes, so only their root filesystem is checked.
    let path_problems = if checked.list == ContainerList::EphemeralContainers {
        Vec::new()
    } else {
        required_paths(settings, container, &checked.image)
            .filter_map(|(path, rule)| {
                let mut problem = path_problem(spec, container, path)?;
                problem.required_by = rule.map(|rule| match rule.origin {
                    RuleOrigin::Setting { index } => RequiredBy::Setting {
                        index,
                        selector: rule.selector.describe(),
                    },
                    RuleOrigin::Profile(profile) => RequiredBy::Profile(profile.name),
                });
                Some(problem)
            })
            .collect()
    };
    let image_change = match checked.reason {
        Reason::New => None,
        Reason::ImageChanged { old } => Some(ImageChange {
            old: old.map(str::to_string),
            new: container.image.as_deref().map(str::to_string),
        }),
    };
    Finding {
        list: checked.list,
        index: checked.index,
        name: container.name.to_string(),
        root,
        path_problems,
        image_change,
    }
}

fn root_filesystem(container: &ContainerView) -> RootFilesystem {
    match container
        .security_context
        .as_ref()
        .and_then(|sc| sc.read_only_root_filesystem)
    {
        Some(true) => RootFilesystem::ReadOnly,
        Some(false) => RootFilesystem::Writable,
        None => RootFilesystem::Unset,
    }
}

/// `None` when `path` is writable in `container`.
fn path_problem(spec: &PodSpecView, container: &ContainerView, path: &str) -> Option<PathProblem> {
    let mounts = container.volume_mounts.as_deref().unwrap_or_default();
    let Some(mount) = deepest_covering_mount(mounts, path) else {
        return Some(PathProblem {
            path: path.to_string(),
            blocking_mount: None,
            required_by: None,
        });
    };
    let reason = mount_not_writable_reason(spec, mount)?;
    Some(PathProblem {
        path: path.to_string(),
        blocking_mount: Some(BlockingMount {
            mount_path: mount.mount_path.to_string(),
            volume: mount.name.to_string(),
            reason,
        }),
        required_by: None,
    })
}

fn segments(path: &str) -> impl Iterator<Item = &str> {
    path.split('/').filter(|s| !s.is_empty() && *s != ".")
}

/// If a mount at `mount_path` covers `path`, the mount's depth in segments:
/// `/app` covers `/app/cache` at depth 1; `/ap` does not cover `/app`.
pub fn covering_depth(mount_path: &str, path: &str) -> Option<usize> {
    // A mount without a path (which the API server rejects) covers nothing.
    if mount_path.is_empty() {
        return None;
    }
    let mut path_segments = segments(path);
    let mut depth = 0;
    for mount_segment in segments(mount_path) {
        if path_segments.next() != Some(mount_segment) {
            return None;
        }
        depth += 1;
    }
    Some(depth)
}

/// The mount that `path` resolves to: the deepest one covering it.
fn deepest_covering_mount<'m, 'a>(
    mounts: &'m [Object<VolumeMountView<'a>>],
    path: &str,
) -> Option<&'m VolumeMountView<'a>> {
    let mut best: Option<(usize, &VolumeMountView)> = None;
    for mount in mounts {
        if let Some(depth) = covering_depth(&mount.mount_path, path)
            && best.is_none_or(|(best_depth, _)| depth > best_depth)
        {
            best = Some((depth, mount));
        }
    }
    best.map(|(_, mount)| mount)
}

fn mount_not_writable_reason(spec: &PodSpecView, mount: &VolumeMountView) -> Option<String> {
    if mount.read_only == Some(true) {
        return Some("the mount has readOnly: true".to_string());
    }
    match spec.volume(&mount.name).map(|v| &v.writability) {
        None => Some("the pod has no volume of that name".to_string()),
        Some(VolumeWritability::Writable) => None,
        Some(VolumeWritability::ReadOnlyType(kind)) => {
            Some(format!("{kind} volumes are always read-only"))
        }
        Some(VolumeWritability::ReadOnlySource(kind)) => {
            // The source's key comes from the request: escaped.
            let mut reason = String::from("its ");
            push_escaped(&mut reason, kind);
            reason.push_str(" source has readOnly: true");
            Some(reason)
        }
    }
}

/// Validate-only mode: every non-compliant finding is a violation.
pub fn violations(findings: &[Finding]) -> Vec<Violation> {
    let mut out = Vec::new();
    for finding in findings {
        let root_problem = match finding.root {
            RootFilesystem::ReadOnly => None,
            RootFilesystem::Unset => Some(Problem::RootFilesystemUnset),
            RootFilesystem::Writable => Some(Problem::RootFilesystemFalse),
        };
        let path_problems = finding
            .path_problems
            .iter()
            .cloned()
            .map(Problem::PathNotWritable);
        for problem in root_problem.into_iter().chain(path_problems) {
            out.push(Violation::new(finding, problem));
        }
    }
    out
}

impl Violation {
    pub fn new(finding: &Finding, problem: Problem) -> Violation {
        Violation {
            list: finding.list,
            index: finding.index,
            container: finding.name.clone(),
            problem,
            image_change: finding.image_change.clone(),
        }
    }

    /// One line naming the container, its field path and the fix.
    pub fn describe(&self, pod_spec_field: &str) -> String {
        let mut line = String::new();
        self.write_description(&mut line, pod_spec_field);
        line
    }

    /// [`Violation::describe`], appended to `out`: messages about large
    /// pods are built in one buffer rather than from a string per part.
    fn write_description(&self, out: &mut String, pod_spec_field: &str) {
        write_container(out, self.list, &self.container, self.index, pod_spec_field);
        out.push_str(": ");
        if let Some(change) = &self.image_change {
            out.push_str("its image changed from ");
            push_image(out, change.old.as_deref());
            out.push_str(" to ");
            push_image(out, change.new.as_deref());
            out.push_str(" on this running Pod, so it is checked as a new container: ");
        }
        self.write_problem(out);
        match &self.image_change {
            None => {
                out.push_str("; ");
                self.write_fix(out);
            }
            Some(_) => {
                out.push_str(
                    ". A running container's securityContext and volumes cannot change: keep the old image, or recreate the Pod (through its Deployment or other owner) with the fix: ",
                );
                self.write_fix(out);
            }
        }
        if let Problem::PathNotWritable(PathProblem {
            required_by: Some(required_by),
            ..
        }) = &self.problem
        {
            match required_by {
                RequiredBy::Setting { index, selector } => {
                    out.push_str(" (the policy's containerWritablePaths[");
                    push_decimal(out, *index);
                    out.push_str("] requires this path for containers with ");
                    out.push_str(selector);
                    out.push(')');
                }
                RequiredBy::Profile(name) => {
                    out.push_str(" (the policy's ");
                    out.push_str(name);
                    out.push_str(" application profile requires this path)");
                }
            }
        }
    }

    /// What is wrong.
    fn write_problem(&self, out: &mut String) {
        match &self.problem {
            Problem::RootFilesystemUnset => {
                out.push_str("securityContext.readOnlyRootFilesystem is not set")
            }
            Problem::RootFilesystemFalse => {
                out.push_str("securityContext.readOnlyRootFilesystem is false")
            }
            Problem::RootFilesystemFalseNotOverridden => out.push_str(
                "securityContext.readOnlyRootFilesystem is explicitly false and the policy does not override an explicit choice",
            ),
            Problem::PathNotWritable(PathProblem {
                path,
                blocking_mount: None,
                ..
            }) => {
                out.push_str("no writable volume is mounted at ");
                push_escaped(out, path);
            }
            Problem::PathNotWritable(PathProblem {
                path,
                blocking_mount: Some(mount),
                ..
            }) => {
                push_escaped(out, path);
                out.push_str(" must be writable but resolves to the mount at ");
                push_quoted(out, &mount.mount_path);
                out.push_str(" of volume ");
                push_quoted(out, &mount.volume);
                out.push_str(", and ");
                out.push_str(&mount.reason);
            }
        }
    }

    /// What to do about it.
    fn write_fix(&self, out: &mut String) {
        match &self.problem {
            Problem::RootFilesystemUnset | Problem::RootFilesystemFalse => {
                out.push_str("set it to true")
            }
            Problem::RootFilesystemFalseNotOverridden => out.push_str(
                "remove the field to let the policy set it to true, or exempt the container in the policy settings",
            ),
            Problem::PathNotWritable(PathProblem {
                path,
                blocking_mount,
                ..
            }) => {
                out.push_str("mount a writable volume such as an emptyDir at ");
                push_escaped(out, path);
                if blocking_mount.is_none() {
                    out.push_str(" or a parent directory");
                }
            }
        }
    }
}

/// `container "app" (spec.containers[0])`.
fn write_container(
    out: &mut String,
    list: ContainerList,
    name: &str,
    index: usize,
    pod_spec_field: &str,
) {
    out.push_str(list.noun());
    out.push(' ');
    push_quoted(out, name);
    out.push_str(" (");
    out.push_str(pod_spec_field);
    out.push('.');
    out.push_str(list.field());
    out.push('[');
    push_decimal(out, index);
    out.push_str("])");
}

fn push_image(out: &mut String, image: Option<&str>) {
    match image {
        Some(image) => push_quoted(out, image),
        None => out.push_str("no image"),
    }
}

/// Appends `n` in decimal.
fn push_decimal(out: &mut String, n: usize) {
    let mut digits = [0u8; 20];
    let mut at = digits.len();
    let mut rest = n;
    loop {
        at -= 1;
        digits[at] = b'0' + (rest % 10) as u8;
        rest /= 10;
        if rest == 0 {
            break;
        }
    }
    for &digit in &digits[at..] {
        out.push(char::from(digit));
    }
}

/// At most this many violations are listed in a rejection message, and this
/// many warnings given: a pod with thousands of bad containers must not
/// produce thousands of lines in kubectl output, events and audit logs.
pub const MAX_LISTED: usize = 20;

/// The rejection message: a header with the exact count, then one line per
/// violation, at most [`MAX_LISTED`], then how many more there are.
pub fn rejection_message(
    kind_name: &str,
    pod_spec_field: &str,
    violations: &[Violation],
) -> String {
    let count = violations.len();
    let mut message = format!(
        "{kind_name} rejected by the read-only root filesystem policy ({count} violation{}):",
        plural(count)
    );
    let listed = &violations[..count.min(MAX_LISTED)];
    // Lines are 100 to 400 bytes: reserve once rather than grow repeatedly.
    message.reserve(listed.len() * 200);
    for violation in listed {
        message.push_str("\n- ");
        violation.write_description(&mut message, pod_spec_field);
    }
    let more = count - listed.len();
    if more > 0 {
        message.push_str(&format!(
            "\n- and {more} more violation{} not listed (the first {MAX_LISTED} are shown)",
            plural(more)
        ));
    }
    message
}

fn plural(count: usize) -> &'static str {
    if count == 1 { "" } else { "s" }
}

/// Volume types whose content the kubelet refreshes when the source
/// changes, except through a `subPath` mount.
const UPDATED_VOLUME_TYPES: [&str; 4] = ["configMap", "secret", "projected", "downwardAPI"];

/// Warnings in pod spec order, at most [`MAX_LISTED`], then one saying how
/// many more there are.
#[derive(Default)]
struct Warnings {
    listed: Vec<String>,
    count: usize,
}

impl Warnings {
    fn add(&mut self, write: impl FnOnce(&mut String)) {
        self.count += 1;
        if self.count <= MAX_LISTED {
            let mut text = String::new();
            write(&mut text);
            self.listed.push(text);
        }
    }

    fn finish(mut self) -> Vec<String> {
        if self.count > MAX_LISTED {
            let more = self.count - MAX_LISTED;
            self.listed.push(format!(
                "and {more} more warning{} of the read-only root filesystem policy not shown",
                plural(more)
            ));
        }
        self.listed
    }
}

/// The warnings about one checked container: that it can remount its root,
/// then each `subPath` mount of an updated volume (unless
/// `warnSubPathMounts` is off).
fn warn_about(
    spec: &PodSpecView,
    settings: &Settings,
    checked: &Checked,
    pod_spec_field: &str,
    warnings: &mut Warnings,
) {
    let container = checked.container;
    let at = |out: &mut String| {
        write_container(
            out,
            checked.list,
            &container.name,
            checked.index,
            pod_spec_field,
        )
    };
    if let Some(power) = remount_power(container) {
        warnings.add(|out| {
            at(out);
            out.push(' ');
            out.push_str(&power);
            out.push_str(
                " and can remount its root filesystem read-write, so readOnlyRootFilesystem does not protect it; drop it and enforce the Pod Security Standards' baseline level",
            );
        });
    }
    if !settings.warn_sub_path_mounts {
        return;
    }
    for mount in container.volume_mounts.as_deref().unwrap_or_default() {
        let Some((field, volume_type)) = sub_path_of_updated_volume(spec, mount) else {
            continue;
        };
        warnings.add(|out| {
            at(out);
            out.push_str(": ");
            out.push_str(volume_type);
            out.push_str(" volume ");
            push_quoted(out, &mount.name);
            out.push_str(" is mounted at ");
            push_quoted(out, &mount.mount_path);
            out.push_str(" with ");
            out.push_str(field);
            out.push_str(
                ", so it never receives updates of its source (a rotated secret is not rotated); mount the volume at a directory and point the application at the file inside it",
            );
        });
    }
}

/// What lets a container remount its root filesystem read-write:
/// `privileged: true`, or adding `SYS_ADMIN` or `ALL` (any case, with or
/// without the `CAP_` prefix). Phrased to follow the container's name.
fn remount_power(container: &ContainerView) -> Option<String> {
    let context = container.security_context.as_ref()?;
    if context.privileged == Some(true) {
        return Some("is privileged".to_string());
    }
    let added = context.capabilities.as_ref()?.add.as_deref()?;
    added
        .iter()
        .find(|cap| {
            let bare = strip_cap_prefix(cap);
            bare.eq_ignore_ascii_case("SYS_ADMIN") || bare.eq_ignore_ascii_case("ALL")
        })
        .map(|cap| format!("adds capability {}", crate::escape::quoted(cap)))
}

fn strip_cap_prefix(cap: &str) -> &str {
    match cap.get(..4) {
        Some(prefix) if prefix.eq_ignore_ascii_case("CAP_") => &cap[4..],
        _ => cap,
    }
}

/// `Some((field, volume type))` when `mount` mounts a configMap, secret,
/// projected or downwardAPI volume with a non-empty `subPath` or
/// `subPathExpr`.
fn sub_path_of_updated_volume<'v>(
    spec: &'v PodSpecView,
    mount: &VolumeMountView,
) -> Option<(&'static str, &'v str)> {
    let field = if mount.sub_path.as_deref().is_some_and(|p| !p.is_empty()) {
        "subPath"
    } else if mount
        .sub_path_expr
        .as_deref()
        .is_some_and(|p| !p.is_empty())
    {
        "subPathExpr"
    } else {
        return None;
    };
    match &spec.volume(&mount.name)?.writability {
        VolumeWritability::ReadOnlyType(kind) if UPDATED_VOLUME_TYPES.contains(&kind.as_str()) => {
            Some((field, kind.as_str()))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;
    use serde_json::json;

    #[test]
    fn coverage_is_segment_by_segment() {
        assert_eq!(covering_depth("/app", "/app/cache"), Some(1));
        assert_eq!(covering_depth("/app/", "/app"), Some(1));
        assert_eq!(covering_depth("/ap", "/app"), None);
        assert_eq!(covering_depth("/tmp/x", "/tmp"), None);
        assert_eq!(covering_depth("/", "/tmp"), Some(0));
        assert_eq!(covering_depth("/var//cache/", "/var/cache"), Some(2));
        assert_eq!(covering_depth("", "/tmp"), None);
    }

    #[test]
    fn deepest_mount_decides() {
        let v = json!({
            "containers": [{"name": "a", "securityContext": {"readOnlyRootFilesystem": true},
                "volumeMounts": [
                    {"name": "scratch", "mountPath": "/app"},
                    {"name": "cfg", "mountPath": "/app/config"}]}],
            "volumes": [{"name": "scratch", "emptyDir": {}}, {"name": "cfg", "configMap": {"name": "c"}}]
        });
        let view: PodSpecView = PodSpecView::deserialize(&v).unwrap();
        let settings = Settings {
            required_writable_paths: vec!["/app/cache".into(), "/app/config/x".into()],
            ..Settings::default()
        };
        let findings = inspect(&view, &settings, &Scope::AllContainers);
        assert_eq!(findings.len(), 1);
        assert_eq!(findings[0].path_problems.len(), 1);
        let problem = &findings[0].path_problems[0];
        assert_eq!(problem.path, "/app/config/x");
        assert_eq!(
            problem.blocking_mount.as_ref().unwrap().reason,
            "configMap volumes are always read-only"
        );
    }

    #[test]
    fn message_lists_every_violation() {
        let v = json!({
            "initContainers": [{"name": "init"}],
            "containers": [{"name": "app", "securityContext": {"readOnlyRootFilesystem": false}}]
        });
        let view = PodSpecView::deserialize(&v).unwrap();
        let settings = Settings {
            required_writable_paths: vec!["/tmp".into()],
            ..Settings::default()
        };
        let v = violations(&inspect(&view, &settings, &Scope::AllContainers));
        let msg = rejection_message("Deployment", "spec.template.spec", &v);
        assert_eq!(
            msg,
            "Deployment rejected by the read-only root filesystem policy (4 violations):\n\
             - init container \"init\" (spec.template.spec.initContainers[0]): securityContext.readOnlyRootFilesystem is not set; set it to true\n\
             - init container \"init\" (spec.template.spec.initContainers[0]): no writable volume is mounted at /tmp; mount a writable volume such as an emptyDir at /tmp or a parent directory\n\
             - container \"app\" (spec.template.spec.containers[0]): securityContext.readOnlyRootFilesystem is false; set it to true\n\
             - container \"app\" (spec.template.spec.containers[0]): no writable volume is mounted at /tmp; mount a writable volume such as an emptyDir at /tmp or a parent directory"
        );
    }
}
