//! Mutation: turns findings into edits of the request's own JSON object.
//! The object is edited in place as a `serde_json::Value`, never
//! round-tripped through typed structs, so fields the policy does not know,
//! newer API fields and explicit `null`s all survive. Edits only add or
//! replace; nothing is ever removed.

use crate::podspec::{ContainerList, PodSpecView};
use crate::settings::WritableVolume;
use crate::validate::{Finding, Problem, RootFilesystem, Violation};
use serde_json::{Map, Value, json};
use std::collections::HashSet;

/// Edits for one container.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContainerFix {
    pub list: ContainerList,
    pub index: usize,
    pub set_read_only_root: bool,
    /// `(mount path, injected volume name)`.
    pub mounts: Vec<(String, String)>,
}

/// What mutation will do: edits, or the violations it cannot fix.
#[derive(Debug, Default)]
pub struct MutationPlan {
    pub fixes: Vec<ContainerFix>,
    pub unfixable: Vec<Violation>,
}

/// Decides the edits for `findings`. `may_add_volumes` is false where the
/// pod's volumes cannot change (the ephemeralcontainers subresource).
pub fn plan(findings: &[Finding], spec: &PodSpecView, may_add_volumes: bool) -> MutationPlan {
    let mut plan = MutationPlan::default();
    let mut taken = names_in_use(spec);
    for finding in findings {
        // A running container's securityContext and volumes cannot change.
        if finding.image_change.is_some() {
            plan.unfixable
                .extend(crate::validate::violations(std::slice::from_ref(finding)));
            continue;
        }
        let mut fix = ContainerFix {
            list: finding.list,
            index: finding.index,
            set_read_only_root: false,
            mounts: Vec::new(),
        };
        match finding.root {
            RootFilesystem::ReadOnly => {}
            RootFilesystem::Unset => fix.set_read_only_root = true,
            RootFilesystem::Writable => plan.unfixable.push(Violation::new(
                finding,
                Problem::RootFilesystemFalseNotOverridden,
            )),
        }
        for problem in &finding.path_problems {
            // A mount the user placed is never overridden or shadowed.
            if problem.blocking_mount.is_some() || !may_add_volumes {
                plan.unfixable.push(Violation::new(
                    finding,
                    Problem::PathNotWritable(problem.clone()),
                ));
                continue;
            }
            let name = injected_volume_name(&finding.name, &problem.path, &taken);
            taken.insert(name.clone());
            fix.mounts.push((problem.path.clone(), name));
        }
        if fix.set_read_only_root || !fix.mounts.is_empty() {
            plan.fixes.push(fix);
        }
    }
    plan
}

/// Volume names an injected volume must not take: the pod's volumes, and
/// every name a mount refers to, even one with no volume behind it. Taking a
/// dangling mount's name would silently attach that mount to another
/// container's private volume.
fn names_in_use(spec: &PodSpecView) -> HashSet<String> {
    let volumes = spec.volumes().iter().map(|v| v.name.to_string());
    let mounts = ContainerList::ALL.into_iter().flat_map(|list| {
        spec.list(list)
            .iter()
            .flat_map(|c| c.volume_mounts.as_deref().unwrap_or_default())
            .map(|m| m.name.to_string())
    });
    volumes.chain(mounts).collect()
}

/// Applies `fixes` to the pod spec at `pod_spec_path` inside `object`.
/// Returns an error only if the object does not have the shape the views
/// already read from it, which would be a bug; the caller rejects then.
pub fn apply(
    object: &mut Value,
    pod_spec_path: &[&str],
    fixes: &[ContainerFix],
    volume: &WritableVolume,
) -> Result<(), String> {
    let mut spec = &mut *object;
    for key in pod_spec_path {
        spec = spec
            .get_mut(*key)
            .ok_or_else(|| format!("mutation could not find {}", pod_spec_path.join(".")))?;
    }
    let spec = spec
        .as_object_mut()
        .ok_or_else(|| "mutation found a pod spec that is not an object".to_string())?;
    for fix in fixes {
        let container = spec
            .get_mut(fix.list.field())
            .and_then(|list| list.get_mut(fix.index))
            .and_then(Value::as_object_mut)
            .ok_or_else(|| {
                format!(
                    "mutation could not find {}[{}]",
                    fix.list.field(),
                    fix.index
                )
            })?;
        if fix.set_read_only_root {
            set_read_only_root(container);
        }
        for (path, name) in &fix.mounts {
            push(
                container,
                "volumeMounts",
                json!({"name": name, "mountPath": path}),
            );
        }
    }
    for (_, name) in fixes.iter().flat_map(|f| f.mounts.iter()) {
        push(spec, "volumes", injected_volume(name, volume));
    }
    Ok(())
}

fn set_read_only_root(container: &mut Map<String, Value>) {
    let context = container
        .entry("securityContext")
        .or_insert_with(|| Value::Object(Map::new()));
    if !context.is_object() {
        // null: the views read it as "no securityContext".
        *context = Value::Object(Map::new());
    }
    if let Some(context) = context.as_object_mut() {
        context.insert("readOnlyRootFilesystem".to_string(), Value::Bool(true));
    }
}

/// Appends to the list at `key`, creating it if absent or null.
fn push(map: &mut Map<String, Value>, key: &str, item: Value) {
    let list = map.entry(key).or_insert_with(|| Value::Array(Vec::new()));
    if !list.is_array() {
        *list = Value::Array(Vec::new());
    }
    if let Some(list) = list.as_array_mut() {
        list.push(item);
    }
}

fn injected_volume(name: &str, volume: &WritableVolume) -> Value {
    let mut empty_dir = Map::new();
    if !volume.medium.is_empty() {
        empty_dir.insert("medium".into(), Value::String(volume.medium.clone()));
    }
    if let Some(limit) = &volume.size_limit {
        empty_dir.insert("sizeLimit".into(), Value::String(limit.clone()));
    }
    json!({"name": name, "emptyDir": empty_dir})
}

/// Longest name of a Kubernetes volume (a DNS-1123 label).
const MAX_VOLUME_NAME: usize = 63;

/// A DNS-1123 label naming the volume injected for `container` at `path`:
/// readable (`rw-app-var-cache`) when that fits and is free, otherwise
/// shortened and made unique with a hash of the input, then with a counter.
/// Deterministic: the same spec always yields the same names.
pub fn injected_volume_name(container: &str, path: &str, taken: &HashSet<String>) -> String {
    let readable = slug(&format!("rw-{container}-{path}"));
    if readable.len() <= MAX_VOLUME_NAME && !taken.contains(&readable) {
        return readable;
    }
    let hash = format!("{:08x}", fnv1a(container, path));
    for attempt in 1u32.. {
        let suffix = if attempt == 1 {
            hash.clone()
        } else {
            format!("{hash}-{attempt}")
        };
        let room = MAX_VOLUME_NAME - suffix.len() - 1;
        let stem = readable[..readable.len().min(room)].trim_end_matches('-');
        let candidate = format!("{stem}-{suffix}");
        if !taken.contains(&candidate) {
            return candidate;
        }
    }
    unreachable!("the counter outlasts any set of taken names")
}

/// Lowercase alphanumerics and single dashes, no dash at either end.
fn slug(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.is_empty() && !out.ends_with('-') {
            out.push('-');
        }
    }
    while out.ends_with('-') {
        out.pop();
    }
    out
}

fn fnv1a(container: &str, path: &str) -> u32 {
    let mut hash: u32 = 0x811c_9dc5;
    for byte in container.bytes().chain([0u8]).chain(path.bytes()) {
        hash ^= u32::from(byte);
        hash = hash.wrapping_mul(0x0100_0193);
    }
    hash
}

#[cfg(test)]
mod tests {
    use super::*;

    fn is_dns1123_label(s: &str) -> bool {
        !s.is_empty()
            && s.len() <= 63
            && s.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            && !s.starts_with('-')
            && !s.ends_with('-')
    }

    #[test]
    fn numbers_in_unknown_fields_keep_their_exact_text() {
        // Found by fuzzing: without serde_json's arbitrary_precision this
        // integer came back as 8.088888888888889e124.
        let big = "8088888888888888888888888888888888888888888888888888888888888888888888888888888888888888888888888888888888888888888888888880";
        let payload = format!(
            r#"{{"request":{{"kind":{{"group":"","kind":"Pod"}},"operation":"CREATE","object":{{"spec":{{"containers":[{{"name":"a"}}]}},"x":{big},"y":1.10}}}},"settings":{{"mutate":true}}}}"#
        );
        let crate::Verdict::Mutate { object, .. } = crate::evaluate_payload(payload.as_bytes())
        else {
            panic!("expected a mutation");
        };
        let text = serde_json::to_string(&object).unwrap();
        assert!(text.contains(&format!(r#""x":{big}"#)), "{text}");
        assert!(text.contains(r#""y":1.10"#), "{text}");
    }

    #[test]
    fn readable_names_when_they_fit() {
        let taken = HashSet::new();
        assert_eq!(injected_volume_name("app", "/tmp", &taken), "rw-app-tmp");
        assert_eq!(
            injected_volume_name("app", "/var/Cache_x/", &taken),
            "rw-app-var-cache-x"
        );
    }

    #[test]
    fn long_and_colliding_names_stay_valid_and_unique() {
        let long_name = "a".repeat(63);
        let path = "/very/long/path/that/goes/on/and/on/for/ever/and/ever";
        let mut taken = HashSet::new();
        let first = injected_volume_name(&long_name, path, &taken);
        assert!(is_dns1123_label(&first), "{first}");
        taken.insert(first.clone());
        let second = injected_volume_name(&long_name, path, &taken);
        assert!(is_dns1123_label(&second), "{second}");
        assert_ne!(first, second);
        taken.insert("rw-app-tmp".into());
        let third = injected_volume_name("app", "/tmp", &taken);
        assert!(is_dns1123_label(&third) && third != "rw-app-tmp", "{third}");
        assert_eq!(
            third,
            injected_volume_name("app", "/tmp", &taken),
            "deterministic"
        );
    }
}
