//! The container walk: one pass over a pod spec that reports, per checked
//! container, the state of its root filesystem and of each required writable
//! path. Validation turns findings into violations; mutation turns the
//! fixable ones into edits (see `mutate.rs`).

use crate::podspec::{
    ContainerList, ContainerView, Object, PodSpecView, VolumeMountView, VolumeWritability,
};
use crate::settings::Settings;
use std::collections::HashSet;

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
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlockingMount {
    pub mount_path: String,
    pub volume: String,
    pub reason: String,
}

/// What the walk found about one checked container.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    pub list: ContainerList,
    pub index: usize,
    pub name: String,
    pub root: RootFilesystem,
    pub path_problems: Vec<PathProblem>,
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
    /// Pod UPDATE: only containers whose name the old pod did not have.
    NewContainers { old_names: HashSet<&'a str> },
}

/// One problem the user must fix, with where it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    pub list: ContainerList,
    pub index: usize,
    pub container: String,
    pub problem: Problem,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Problem {
    RootFilesystemUnset,
    RootFilesystemFalse,
    /// Mutation mode: an explicit `false` is never overridden.
    RootFilesystemFalseNotOverridden,
    PathNotWritable(PathProblem),
}

/// Walks every checked container of `spec`, in pod spec order: init
/// containers, containers, ephemeral containers.
pub fn inspect(spec: &PodSpecView, settings: &Settings, scope: &Scope) -> Vec<Finding> {
    checked_containers(spec, settings, scope)
        .map(|(list, index, container)| inspect_container(spec, settings, list, index, container))
        .collect()
}

/// Whether [`inspect`] would find every checked container compliant,
/// answered without allocating for compliant containers and stopping at
/// the first one that is not.
pub fn all_compliant(spec: &PodSpecView, settings: &Settings, scope: &Scope) -> bool {
    checked_containers(spec, settings, scope).all(|(list, _, container)| {
        root_filesystem(container) == RootFilesystem::ReadOnly
            && (list == ContainerList::EphemeralContainers
                || settings
                    .required_writable_paths
                    .iter()
                    .all(|path| path_problem(spec, container, path).is_none()))
    })
}

/// The containers the policy checks, in pod spec order, with their list
/// and index.
fn checked_containers<'s, 'a>(
    spec: &'s PodSpecView<'a>,
    settings: &'s Settings,
    scope: &'s Scope,
) -> impl Iterator<Item = (ContainerList, usize, &'s ContainerView<'a>)> {
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
        .filter(|(_, _, container)| {
            is_in_scope(container, scope)
                && !settings.is_exempt(&container.name, container.image.as_deref())
        })
}

fn is_in_scope(container: &ContainerView, scope: &Scope) -> bool {
    match scope {
        Scope::AllContainers => true,
        Scope::NewContainers { old_names } => !old_names.contains(container.name.as_ref()),
    }
}

fn inspect_container(
    spec: &PodSpecView,
    settings: &Settings,
    list: ContainerList,
    index: usize,
    container: &ContainerView,
) -> Finding {
    let root = root_filesystem(container);
    // Ephemeral containers cannot have volume mounts added to the pod's
    // volumes, so only their root filesystem is checked.
    let path_problems = if list == ContainerList::EphemeralContainers {
        Vec::new()
    } else {
        settings
            .required_writable_paths
            .iter()
            .filter_map(|path| path_problem(spec, container, path))
            .collect()
    };
    Finding {
        list,
        index,
        name: container.name.to_string(),
        root,
        path_problems,
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
            Some(format!("its {kind} source has readOnly: true"))
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
        out.push_str(self.list.noun());
        out.push_str(" \"");
        out.push_str(&self.container);
        out.push_str("\" (");
        out.push_str(pod_spec_field);
        out.push('.');
        out.push_str(self.list.field());
        out.push('[');
        push_decimal(out, self.index);
        out.push_str("]): ");
        match &self.problem {
            Problem::RootFilesystemUnset => out.push_str(
                "securityContext.readOnlyRootFilesystem is not set; set it to true",
            ),
            Problem::RootFilesystemFalse => out.push_str(
                "securityContext.readOnlyRootFilesystem is false; set it to true",
            ),
            Problem::RootFilesystemFalseNotOverridden => out.push_str(
                "securityContext.readOnlyRootFilesystem is explicitly false and the policy does not override an explicit choice; remove the field to let the policy set it to true, or exempt the container in the policy settings",
            ),
            Problem::PathNotWritable(PathProblem { path, blocking_mount: None }) => {
                out.push_str("no writable volume is mounted at ");
                out.push_str(path);
                out.push_str("; mount a writable volume such as an emptyDir at ");
                out.push_str(path);
                out.push_str(" or a parent directory");
            }
            Problem::PathNotWritable(PathProblem { path, blocking_mount: Some(mount) }) => {
                out.push_str(path);
                out.push_str(" must be writable but resolves to the mount at ");
                out.push_str(&mount.mount_path);
                out.push_str(" of volume \"");
                out.push_str(&mount.volume);
                out.push_str("\", and ");
                out.push_str(&mount.reason);
                out.push_str("; mount a writable volume such as an emptyDir at ");
                out.push_str(path);
            }
        }
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

/// The rejection message: a header line, then one line per violation.
pub fn rejection_message(
    kind_name: &str,
    pod_spec_field: &str,
    violations: &[Violation],
) -> String {
    let count = violations.len();
    let mut message = format!(
        "{kind_name} rejected by the read-only root filesystem policy ({count} violation{}):",
        if count == 1 { "" } else { "s" }
    );
    // Lines are 100 to 250 bytes: reserve once rather than grow repeatedly.
    message.reserve(count * 160);
    for violation in violations {
        message.push_str("\n- ");
        violation.write_description(&mut message, pod_spec_field);
    }
    message
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
