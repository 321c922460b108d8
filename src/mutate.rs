//! Mutation: turns findings into edits of the request's own JSON object.
//! The edits are spliced into the object's JSON text, which is never
//! round-tripped through typed structs or a JSON tree, so fields the policy
//! does not know, newer API fields, explicit `null`s, key order and the
//! spelling of numbers all survive byte for byte. Edits only add or replace;
//! nothing is ever removed.

use crate::podspec::{ContainerList, PodSpecView};
use crate::request::read_path;
use crate::settings::WritableVolume;
use crate::validate::{Finding, Problem, RootFilesystem, Violation};
use serde::de::{self, DeserializeSeed, IgnoredAny, MapAccess, Visitor};
use serde::{Deserialize, Deserializer};
use serde_json::value::RawValue;
use std::collections::HashSet;
use std::fmt;
use std::ops::Range;

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

/// Applies `fixes` to the pod spec at `pod_spec_path` inside `object`, the
/// object's JSON text: each edit is spliced into the text at the place it
/// changes, so every other byte comes back as it was (unknown fields, key
/// order, the spelling of numbers), and the object is never parsed into a
/// tree, edited and printed again. The places are found by reading the pod
/// spec's text for its containers and `volumes`, then each container to fix
/// for its `securityContext` and `volumeMounts`. Returns an error only if
/// the object does not have the shape the views already read from it, which
/// would be a bug; the caller rejects then.
pub fn apply(
    object: &str,
    pod_spec_path: &[&str],
    fixes: &[ContainerFix],
    volume: &WritableVolume,
) -> Result<String, String> {
    const NOT_FOUND: &str = "mutation could not find the pod spec the policy read";
    let spec_text = read_path::<&RawValue>(object, pod_spec_path)
        .ok()
        .flatten()
        .ok_or(NOT_FOUND)?
        .get();
    let spec: SpecMembers = serde_json::from_str(spec_text).map_err(|_| NOT_FOUND)?;
    let mut edits = Vec::new();
    for list_index in in_text_order(&spec) {
        let list = ContainerList::ALL[list_index];
        for fix in fixes.iter().filter(|fix| fix.list == list) {
            let container = spec.lists[list_index]
                .get(fix.index)
                .ok_or("mutation could not find a container the policy read")?;
            container_edits(object, container.get(), fix, &mut edits)?;
        }
    }
    let mut volumes = String::new();
    for (_, name) in fixes.iter().flat_map(|f| f.mounts.iter()) {
        push_item(&mut volumes, &injected_volume(name, volume));
    }
    if let Some(new_member) = add_to_list(object, spec.volumes, "volumes", &volumes, &mut edits)? {
        edits.push(add_member(object, spec_text, new_member)?);
    }
    splice(object, edits)
}

/// The indexes of the container lists in `spec`, in the order they appear
/// in its text: edits made list by list then come out nearly sorted.
fn in_text_order(spec: &SpecMembers) -> [usize; 3] {
    let start = |index: usize| {
        spec.lists[index]
            .first()
            .map(|container| container.get().as_ptr() as usize)
    };
    let mut order = [0, 1, 2];
    insertion_sort_by_key(&mut order, |&index| start(index));
    order
}

/// Sorts `items` by `key`, stably, in place. Linear on nearly sorted input,
/// which is what the mutation sorts, and much smaller in the module than
/// the standard library's sorts.
fn insertion_sort_by_key<T, K: PartialOrd>(items: &mut [T], key: impl Fn(&T) -> K) {
    for i in 1..items.len() {
        let mut j = i;
        while j > 0 && key(&items[j - 1]) > key(&items[j]) {
            items.swap(j - 1, j);
            j -= 1;
        }
    }
}

/// The edits of one container: `readOnlyRootFilesystem: true` and its
/// mounts.
fn container_edits(
    object: &str,
    container: &str,
    fix: &ContainerFix,
    edits: &mut Vec<Edit>,
) -> Result<(), String> {
    let found = members(container, &["securityContext", "volumeMounts"])?;
    // Members the container lacks, added in one edit.
    let mut new_members = String::new();
    if fix.set_read_only_root {
        match found[0].map(RawValue::get) {
            None => push_item(
                &mut new_members,
                r#""securityContext":{"readOnlyRootFilesystem":true}"#,
            ),
            Some(context) if context.starts_with('{') => {
                match members(context, &["readOnlyRootFilesystem"])?[0] {
                    // null: the views read it as unset.
                    Some(value) => edits.push(Edit::replace(object, value.get(), "true")?),
                    None => edits.push(add_member(
                        object,
                        context,
                        r#""readOnlyRootFilesystem":true"#.into(),
                    )?),
                }
            }
            // null: the views read it as "no securityContext".
            Some(context) => edits.push(Edit::replace(
                object,
                context,
                r#"{"readOnlyRootFilesystem":true}"#,
            )?),
        }
    }
    let mut mounts = String::new();
    for (path, name) in &fix.mounts {
        push_item(&mut mounts, &injected_mount(name, path));
    }
    if let Some(member) = add_to_list(object, found[1], "volumeMounts", &mounts, edits)? {
        push_item(&mut new_members, &member);
    }
    if !new_members.is_empty() {
        edits.push(add_member(object, container, new_members)?);
    }
    Ok(())
}

/// Appends `item` to `items`, a comma-separated list of JSON texts.
fn push_item(items: &mut String, item: &str) {
    if !items.is_empty() {
        items.push(',');
    }
    items.push_str(item);
}

/// Appends `items` (comma-separated JSON texts, maybe none) to `list`, the
/// value of `key`: at its end when it is a list, in its place when it is
/// null. When it is absent, returns the member to add: `"key":[items]`.
fn add_to_list(
    object: &str,
    list: Option<&RawValue>,
    key: &str,
    items: &str,
    edits: &mut Vec<Edit>,
) -> Result<Option<String>, String> {
    if items.is_empty() {
        return Ok(None);
    }
    match list.map(RawValue::get) {
        None => return Ok(Some(format!(r#""{key}":[{items}]"#))),
        Some(list) if list.starts_with('[') => {
            let end = span(object, list)?.end - 1;
            let empty = is_empty(list);
            let text = if empty {
                items.into()
            } else {
                ",".to_string() + items
            };
            edits.push(Edit {
                range: end..end,
                text,
            });
        }
        Some(value) => edits.push(Edit::replace(object, value, &format!("[{items}]"))?),
    }
    Ok(None)
}

/// Adds `member` (`"key":value`, or several, comma-separated) to the object
/// whose text is `owner`, as its first members: one edit per object, so
/// members added to an empty object are separated.
fn add_member(object: &str, owner: &str, member: String) -> Result<Edit, String> {
    let start = span(object, owner)?.start + 1;
    let empty = is_empty(owner);
    Ok(Edit {
        range: start..start,
        text: if empty { member } else { member + "," },
    })
}

/// Whether the JSON object or list `text` has no members or items.
fn is_empty(text: &str) -> bool {
    // JSON whitespace is ASCII; a non-empty value does not close next.
    let next = text.bytes().skip(1).find(|b| !b.is_ascii_whitespace());
    matches!(next, Some(b'}' | b']'))
}

/// Replaces `range` of the object's text with `text`.
#[derive(Debug)]
struct Edit {
    range: Range<usize>,
    text: String,
}

impl Edit {
    /// Replaces `part`, a value inside `object`'s text.
    fn replace(object: &str, part: &str, text: &str) -> Result<Edit, String> {
        Ok(Edit {
            range: span(object, part)?,
            text: text.into(),
        })
    }
}

/// Where `part`, a slice of `object`, lies in it.
fn span(object: &str, part: &str) -> Result<Range<usize>, String> {
    let start = (part.as_ptr() as usize)
        .checked_sub(object.as_ptr() as usize)
        .filter(|start| start + part.len() <= object.len() && !part.is_empty())
        .ok_or("mutation lost its place in the object")?;
    Ok(start..start + part.len())
}

/// The object's text with `edits` applied.
fn splice(object: &str, mut edits: Vec<Edit>) -> Result<String, String> {
    // The edits come nearly in text order (lists in text order, containers
    // in list order).
    insertion_sort_by_key(&mut edits, |edit| edit.range.start);
    let added: usize = edits.iter().map(|edit| edit.text.len()).sum();
    let mut out = String::with_capacity(object.len() + added);
    let mut at = 0;
    for edit in edits {
        let unchanged = object
            .get(at..edit.range.start)
            .ok_or("mutation found overlapping edits")?;
        out.push_str(unchanged);
        out.push_str(&edit.text);
        at = edit.range.end;
    }
    out.push_str(object.get(at..).unwrap_or_default());
    Ok(out)
}

/// The pod spec as the mutation reads it: the text of each container of
/// each list, and the `volumes` value.
struct SpecMembers<'a> {
    lists: [Vec<&'a RawValue>; 3],
    volumes: Option<&'a RawValue>,
}

impl<'de> Deserialize<'de> for SpecMembers<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_map(SpecVisitor)
    }
}

struct SpecVisitor;

impl<'de> Visitor<'de> for SpecVisitor {
    type Value = SpecMembers<'de>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a pod spec")
    }

    fn visit_map<M: MapAccess<'de>>(self, mut map: M) -> Result<Self::Value, M::Error> {
        const KEYS: [&str; 4] = [
            "initContainers",
            "containers",
            "ephemeralContainers",
            "volumes",
        ];
        let mut spec = SpecMembers {
            lists: Default::default(),
            volumes: None,
        };
        // On a duplicate key the last one wins, as everywhere in the policy.
        while let Some(key) = map.next_key_seed(KeyIndex(&KEYS))? {
            match key {
                Some(3) => spec.volumes = Some(map.next_value()?),
                Some(list) => spec.lists[list] = map.next_value::<Option<_>>()?.unwrap_or_default(),
                None => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(spec)
    }
}

/// The values of `keys` in the JSON object `text` (on a duplicate key the
/// last one wins, as everywhere in the policy).
fn members<'a>(text: &'a str, keys: &[&str]) -> Result<Vec<Option<&'a RawValue>>, &'static str> {
    serde_json::Deserializer::from_str(text)
        .deserialize_map(MembersVisitor(keys))
        .map_err(|_| "mutation could not read an object the policy read")
}

struct MembersVisitor<'k>(&'k [&'k str]);

impl<'de> Visitor<'de> for MembersVisitor<'_> {
    type Value = Vec<Option<&'de RawValue>>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an object")
    }

    fn visit_map<M: MapAccess<'de>>(self, mut map: M) -> Result<Self::Value, M::Error> {
        let mut found = vec![None; self.0.len()];
        while let Some(key) = map.next_key_seed(KeyIndex(self.0))? {
            match key {
                Some(index) => found[index] = Some(map.next_value()?),
                None => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(found)
    }
}

/// Reads a map key and tells which of `self.0` it is, without allocating
/// (an escaped key is compared after unescaping).
struct KeyIndex<'k>(&'k [&'k str]);

impl<'de> DeserializeSeed<'de> for KeyIndex<'_> {
    type Value = Option<usize>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for KeyIndex<'_> {
    type Value = Option<usize>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a string key")
    }

    fn visit_str<E: de::Error>(self, key: &str) -> Result<Self::Value, E> {
        Ok(self.0.iter().position(|k| *k == key))
    }
}

/// The JSON text of an injected volume: `{"name":...,"emptyDir":{...}}`.
fn injected_volume(name: &str, volume: &WritableVolume) -> String {
    let mut empty_dir = Vec::new();
    if !volume.medium.is_empty() {
        empty_dir.push(format!(r#""medium":{}"#, json_string(&volume.medium)));
    }
    if let Some(limit) = &volume.size_limit {
        empty_dir.push(format!(r#""sizeLimit":{}"#, json_string(limit)));
    }
    format!(
        r#"{{"name":{},"emptyDir":{{{}}}}}"#,
        json_string(name),
        empty_dir.join(",")
    )
}

/// The JSON text of an injected mount.
fn injected_mount(name: &str, path: &str) -> String {
    format!(
        r#"{{"name":{},"mountPath":{}}}"#,
        json_string(name),
        json_string(path)
    )
}

/// `text` as a JSON string, quoted and escaped.
fn json_string(text: &str) -> String {
    // Serialising a string cannot fail.
    serde_json::to_string(text).unwrap_or_default()
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
    use serde_json::Value;

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
        // Found by fuzzing: when the object was edited as a
        // serde_json::Value without arbitrary_precision, this integer came
        // back as 8.088888888888889e124. The edits are spliced into the
        // object's text now, which keeps every number as it was written.
        let big = "8088888888888888888888888888888888888888888888888888888888888888888888888888888888888888888888888888888888888888888888888880";
        let payload = format!(
            r#"{{"request":{{"kind":{{"group":"","kind":"Pod"}},"operation":"CREATE","object":{{"spec":{{"containers":[{{"name":"a"}}]}},"x":{big},"y":1.10}}}},"settings":{{"mutate":true}}}}"#
        );
        let crate::Verdict::Mutate { object, .. } = crate::evaluate_payload(payload.as_bytes())
        else {
            panic!("expected a mutation");
        };
        let text = object.json();
        assert!(text.contains(&format!(r#""x":{big}"#)), "{text}");
        assert!(text.contains(r#""y":1.10"#), "{text}");
    }

    fn fix(list: ContainerList, index: usize, read_only: bool, mounts: &[&str]) -> ContainerFix {
        ContainerFix {
            list,
            index,
            set_read_only_root: read_only,
            mounts: mounts
                .iter()
                .map(|path| {
                    (
                        path.to_string(),
                        format!("rw{index}{}", path.replace('/', "-")),
                    )
                })
                .collect(),
        }
    }

    /// `apply` at `path`, read back as a Value (which also checks it is JSON).
    fn applied(object: &str, path: &[&str], fixes: &[ContainerFix]) -> (String, Value) {
        let volume = WritableVolume::default();
        let text = apply(object, path, fixes, &volume).expect("the edits apply");
        let value = serde_json::from_str(&text).expect("the mutated object is JSON");
        (text, value)
    }

    const C: ContainerList = ContainerList::Containers;
    const INIT: ContainerList = ContainerList::InitContainers;

    #[test]
    fn edits_absent_null_empty_and_present_members() {
        let object = r#"{"spec":{"containers":[
            {"name":"a"},
            {"name":"b","securityContext":null,"volumeMounts":null},
            {"name":"c","securityContext":{"runAsUser":1,"readOnlyRootFilesystem":null},"volumeMounts":[{"name":"x","mountPath":"/x"}]},
            {"name":"d","securityContext":{ },"volumeMounts":[ ]},
            {}
        ],"volumes":null}}"#;
        let fixes: Vec<_> = (0..5).map(|i| fix(C, i, true, &["/tmp"])).collect();
        let (_, value) = applied(object, &["spec"], &fixes);
        let read_only = serde_json::json!({"readOnlyRootFilesystem": true});
        let mount =
            |i: usize| serde_json::json!({"name": format!("rw{i}-tmp"), "mountPath": "/tmp"});
        assert_eq!(
            value["spec"]["containers"],
            serde_json::json!([
                {"name": "a", "securityContext": read_only, "volumeMounts": [mount(0)]},
                {"name": "b", "securityContext": read_only, "volumeMounts": [mount(1)]},
                {"name": "c", "securityContext": {"runAsUser": 1, "readOnlyRootFilesystem": true},
                 "volumeMounts": [{"name": "x", "mountPath": "/x"}, mount(2)]},
                {"name": "d", "securityContext": read_only, "volumeMounts": [mount(3)]},
                {"securityContext": read_only, "volumeMounts": [mount(4)]},
            ])
        );
        let volumes: Vec<Value> = (0..5)
            .map(|i| serde_json::json!({"name": format!("rw{i}-tmp"), "emptyDir": {}}))
            .collect();
        assert_eq!(value["spec"]["volumes"], Value::Array(volumes));
    }

    #[test]
    fn every_byte_outside_the_edits_is_kept() {
        let object = "{\n  \"zeta\": 1.10,\n  \"spec\": {\n    \"volumes\": [ {\"name\": \"v\"} ],\n    \"containers\": [\n      { \"name\": \"a\", \"big\": 80888888888888888888888888 }\n    ]\n  },\n  \"alpha\": \"\\u00e9\"\n}";
        let (text, _) = applied(object, &["spec"], &[fix(C, 0, true, &["/tmp"])]);
        let inserted = [
            r#""securityContext":{"readOnlyRootFilesystem":true},"#,
            r#""volumeMounts":[{"name":"rw0-tmp","mountPath":"/tmp"}],"#,
            r#",{"name":"rw0-tmp","emptyDir":{}}"#,
        ];
        let mut original = text.clone();
        for snippet in inserted {
            assert!(original.contains(snippet), "{snippet} not in {text}");
            original = original.replacen(snippet, "", 1);
        }
        assert_eq!(original, object);
    }

    #[test]
    fn lists_in_any_text_order_and_spec_without_volumes() {
        let object = r#"{"kind":"Deployment","spec":{"template":{"spec":{
            "containers":[{"name":"a"},{"name":"b"}],
            "initContainers":[{"name":"i"}]}}}}"#;
        let fixes = [
            fix(INIT, 0, true, &["/tmp"]),
            fix(C, 0, false, &["/cache", "/tmp"]),
            fix(C, 1, true, &[]),
        ];
        let (_, value) = applied(object, &["spec", "template", "spec"], &fixes);
        let spec = &value["spec"]["template"]["spec"];
        assert_eq!(
            spec["initContainers"][0]["volumeMounts"],
            serde_json::json!([{"name": "rw0-tmp", "mountPath": "/tmp"}])
        );
        assert_eq!(spec["containers"][0].get("securityContext"), None);
        assert_eq!(
            spec["containers"][0]["volumeMounts"]
                .as_array()
                .map(Vec::len),
            Some(2)
        );
        assert_eq!(
            spec["containers"][1]["securityContext"]["readOnlyRootFilesystem"],
            true
        );
        assert_eq!(spec["containers"][1].get("volumeMounts"), None);
        assert_eq!(spec["volumes"].as_array().map(Vec::len), Some(3));
    }

    #[test]
    fn escaped_and_repeated_keys_are_read_as_everywhere_in_the_policy() {
        // The last of a repeated key wins (as in serde_json::Value and the
        // API server); an escaped key is the key it spells.
        let object = r#"{"spec":{"containers":[{"name":"a","securityContext":{"runAsUser":1},"securityContext":null,"volumeMounts":[{"name":"x","mountPath":"/x"}]}]}}"#;
        let (_, value) = applied(object, &["spec"], &[fix(C, 0, true, &["/tmp"])]);
        let container = &value["spec"]["containers"][0];
        assert_eq!(
            container["securityContext"],
            serde_json::json!({"readOnlyRootFilesystem": true})
        );
        assert_eq!(container["volumeMounts"].as_array().map(Vec::len), Some(2));
    }

    #[test]
    fn injected_volumes_take_the_writable_volume_settings() {
        let volume = WritableVolume {
            medium: "Memory".into(),
            size_limit: Some("64Mi".into()),
        };
        let object = r#"{"spec":{"containers":[{"name":"a"}],"volumes":[]}}"#;
        let text = apply(object, &["spec"], &[fix(C, 0, true, &["/tmp"])], &volume).unwrap();
        let value: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(
            value["spec"]["volumes"],
            serde_json::json!([{"name": "rw0-tmp", "emptyDir": {"medium": "Memory", "sizeLimit": "64Mi"}}])
        );
    }

    #[test]
    fn a_shape_the_views_did_not_read_is_an_error_not_a_panic() {
        let volume = WritableVolume::default();
        for object in [r#"{"spec":null}"#, r#"{"spec":{"containers":[]}}"#, r#"{}"#] {
            assert!(
                apply(object, &["spec"], &[fix(C, 0, true, &[])], &volume).is_err(),
                "{object}"
            );
        }
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
