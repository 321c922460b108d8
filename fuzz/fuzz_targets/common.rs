//! Contract invariants shared by the fuzz targets (see POLICY-SPEC.md).

#![allow(dead_code)]

use readonly_rootfs_policy::request::CheckedKind;
use readonly_rootfs_policy::{Verdict, encode_verdict, evaluate_payload};
use serde_json::Value;
use serde_json::value::RawValue;
use std::collections::HashMap;

/// At most this many violations are listed in a rejection message, and
/// this many warnings given; then one line saying how many more.
pub use contract_model::MAX_LISTED;

/// Invariants of every verdict: a rejection says why, warnings are not
/// empty and at most 21, and the encoded response is JSON whose `accepted`
/// matches the verdict.
pub fn check_verdict(verdict: &Verdict) {
    let accepted = match verdict {
        Verdict::Reject { message, .. } => {
            assert!(
                !message.trim().is_empty(),
                "a Reject verdict has an empty message"
            );
            false
        }
        Verdict::Accept { .. } | Verdict::Mutate { .. } => true,
    };
    let (Verdict::Accept { warnings }
    | Verdict::Mutate { warnings, .. }
    | Verdict::Reject { warnings, .. }) = verdict;
    for w in warnings {
        assert!(!w.trim().is_empty(), "empty warning");
    }
    assert!(
        warnings.len() <= MAX_LISTED + 1,
        "{} warnings: {warnings:?}",
        warnings.len()
    );
    if warnings.len() == MAX_LISTED + 1 {
        assert!(
            warnings[MAX_LISTED].starts_with("and ")
                && warnings[MAX_LISTED].contains(" more warning"),
            "the 21st warning does not say how many more: {warnings:?}"
        );
    }
    let encoded = encode_verdict(verdict.clone());
    // Members as raw text: the mutated object is as deep as the request's,
    // deeper than a serde_json::Value may be.
    let response: HashMap<&str, &RawValue> =
        serde_json::from_slice(&encoded).expect("encode_verdict produces a JSON object");
    let field = |key: &str| response.get(key).map(|value| value.get());
    let expected = if accepted { "true" } else { "false" };
    assert_eq!(field("accepted"), Some(expected), "encoded: {response:?}");
    if let Verdict::Mutate { object, .. } = verdict {
        assert_eq!(
            field("mutated_object"),
            Some(object.json()),
            "encoded mutated object"
        );
    }
}

pub fn warnings(verdict: &Verdict) -> &[String] {
    match verdict {
        Verdict::Accept { warnings }
        | Verdict::Mutate { warnings, .. }
        | Verdict::Reject { warnings, .. } => warnings,
    }
}

/// The verdict with its warnings dropped.
pub fn without_warnings(verdict: &Verdict) -> Verdict {
    match verdict.clone() {
        Verdict::Accept { .. } => Verdict::Accept {
            warnings: Vec::new(),
        },
        Verdict::Mutate { object, .. } => Verdict::Mutate {
            object,
            warnings: Vec::new(),
        },
        Verdict::Reject { message, .. } => Verdict::Reject {
            message,
            warnings: Vec::new(),
        },
    }
}

pub fn evaluate_value(payload: &Value) -> Verdict {
    let bytes = serde_json::to_vec(payload).expect("payload serialises");
    let verdict = evaluate_payload(&bytes);
    check_verdict(&verdict);
    verdict
}

pub fn checked_kind(request: &Value) -> Option<CheckedKind> {
    let gvk = request.get("kind")?;
    let group = gvk.get("group").and_then(Value::as_str).unwrap_or("");
    let kind = gvk.get("kind").and_then(Value::as_str).unwrap_or("");
    CheckedKind::from_group_kind(group, kind)
}

pub fn at<'v>(value: &'v Value, path: &[&str]) -> Option<&'v Value> {
    path.iter().try_fold(value, |v, key| v.get(*key))
}

pub fn is_dns1123_label(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 63
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !s.starts_with('-')
        && !s.ends_with('-')
}

/// Mount paths compared as the kernel would: by non-empty, non-`.` segments.
pub fn mount_segments(path: &str) -> Vec<&str> {
    path.split('/')
        .filter(|s| !s.is_empty() && *s != ".")
        .collect()
}

fn array(value: Option<&Value>) -> &[Value] {
    value
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or(&[])
}

/// Checks the contract's invariants of a Mutate verdict for `payload`
/// (`{"request": ..., "settings": ...}`) whose request object was replaced
/// by `mutated`.
pub fn check_mutation(payload: &Value, mutated: &Value) {
    let request = &payload["request"];
    let original = &request["object"];
    let settings = &payload["settings"];
    assert_eq!(
        settings.get("mutate").and_then(Value::as_bool),
        Some(true),
        "Mutate verdict though settings.mutate is not true"
    );
    let kind = checked_kind(request).expect("Mutate verdict for a kind that is not checked");
    let operation = request.get("operation").and_then(Value::as_str);
    assert!(
        matches!(operation, Some("CREATE") | Some("UPDATE")),
        "Mutate verdict for operation {operation:?}"
    );

    // (a) The engine's patch only adds and replaces.
    let patch = json_patch::diff(original, mutated);
    for op in patch.iter() {
        match op {
            json_patch::PatchOperation::Add(_) | json_patch::PatchOperation::Replace(_) => {}
            other => panic!(
                "mutation patch has a non add/replace operation: {other:?}\npatch: {patch:?}"
            ),
        }
    }
    assert!(!patch.is_empty(), "Mutate verdict with an unchanged object");

    let spec_path = kind.pod_spec_path();
    let old_spec = at(original, spec_path).expect("original pod spec");
    let new_spec = at(mutated, spec_path).expect("mutated pod spec");
    assert_ne!(
        at(new_spec, &["os", "name"]).and_then(Value::as_str),
        Some("windows"),
        "a Windows pod was mutated"
    );
    // Only the pod spec changes.
    let mut outside = mutated.clone();
    let mut outside_original = original.clone();
    *at_mut(&mut outside, spec_path) = Value::Null;
    *at_mut(&mut outside_original, spec_path) = Value::Null;
    assert_eq!(
        outside, outside_original,
        "mutation changed the object outside the pod spec"
    );

    let strip_lists = |spec: &Value| {
        let mut spec = spec.clone();
        if let Some(map) = spec.as_object_mut() {
            for key in [
                "volumes",
                "initContainers",
                "containers",
                "ephemeralContainers",
            ] {
                map.remove(key);
            }
        }
        spec
    };
    assert_eq!(
        strip_lists(old_spec),
        strip_lists(new_spec),
        "mutation changed other pod spec fields"
    );

    // (d) Injected volumes: appended, uniquely named DNS-1123 labels.
    let old_volumes = array(old_spec.get("volumes"));
    let new_volumes = array(new_spec.get("volumes"));
    assert!(
        new_volumes.len() >= old_volumes.len(),
        "volumes were removed"
    );
    assert_eq!(
        &new_volumes[..old_volumes.len()],
        old_volumes,
        "existing volumes changed"
    );
    let pod_update = kind == CheckedKind::Pod && operation == Some("UPDATE");
    if pod_update {
        assert_eq!(
            request.get("subResource").and_then(Value::as_str),
            Some("ephemeralcontainers"),
            "a Pod UPDATE other than pods/ephemeralcontainers was mutated"
        );
        assert_eq!(
            new_volumes.len(),
            old_volumes.len(),
            "volumes added on a Pod UPDATE"
        );
    }
    let mut injected_names = Vec::new();
    for volume in &new_volumes[old_volumes.len()..] {
        let name = volume["name"].as_str().expect("injected volume has a name");
        assert!(
            is_dns1123_label(name),
            "injected volume name {name:?} is not a DNS-1123 label"
        );
        let same = new_volumes
            .iter()
            .filter(|v| v["name"].as_str() == Some(name))
            .count();
        assert_eq!(
            same, 1,
            "injected volume name {name:?} is not unique among the pod's volumes"
        );
        assert!(
            volume.get("emptyDir").is_some_and(Value::is_object),
            "injected volume {volume} is not an emptyDir"
        );
        injected_names.push(name);
    }

    // (e) Mounts: appended, never a second mount at a path the container
    // already mounts (or mounts twice now). Containers never share an
    // injected volume.
    let mut used_injected: Vec<&str> = Vec::new();
    for list in ["initContainers", "containers", "ephemeralContainers"] {
        let old_list = array(old_spec.get(list));
        let new_list = array(new_spec.get(list));
        assert_eq!(old_list.len(), new_list.len(), "{list} changed length");
        for (i, (old_c, new_c)) in old_list.iter().zip(new_list).enumerate() {
            let old_mounts = array(old_c.get("volumeMounts"));
            let new_mounts = array(new_c.get("volumeMounts"));
            assert!(
                new_mounts.len() >= old_mounts.len(),
                "{list}[{i}] lost mounts"
            );
            assert_eq!(
                &new_mounts[..old_mounts.len()],
                old_mounts,
                "{list}[{i}] mounts changed"
            );
            if list == "ephemeralContainers" {
                assert_eq!(
                    new_mounts.len(),
                    old_mounts.len(),
                    "mount added to ephemeral container"
                );
            }
            for (j, mount) in new_mounts.iter().enumerate().skip(old_mounts.len()) {
                let path = mount["mountPath"].as_str().expect("injected mountPath");
                let name = mount["name"].as_str().expect("injected mount name");
                assert!(path.starts_with('/'), "injected mount path {path:?}");
                assert!(
                    injected_names.contains(&name),
                    "{list}[{i}] mounts {name:?}, not an injected volume"
                );
                assert!(
                    !used_injected.contains(&name),
                    "injected volume {name:?} mounted twice"
                );
                used_injected.push(name);
                for (k, other) in new_mounts.iter().enumerate() {
                    if k != j {
                        let other_path =
                            other.get("mountPath").and_then(Value::as_str).unwrap_or("");
                        assert_ne!(
                            mount_segments(other_path),
                            mount_segments(path),
                            "{list}[{i}] has two mounts at {path:?} after mutation"
                        );
                    }
                }
            }
            // Only securityContext and volumeMounts may change.
            let mut a = old_c.clone();
            let mut b = new_c.clone();
            for c in [&mut a, &mut b] {
                if let Some(map) = c.as_object_mut() {
                    map.remove("volumeMounts");
                    if let Some(sc) = map
                        .get_mut("securityContext")
                        .and_then(Value::as_object_mut)
                    {
                        sc.remove("readOnlyRootFilesystem");
                    }
                    if map.get("securityContext").is_some_and(|sc| {
                        sc.is_null() || sc.as_object().is_some_and(|m| m.is_empty())
                    }) {
                        map.remove("securityContext");
                    }
                }
            }
            assert_eq!(
                a, b,
                "{list}[{i}] changed beyond securityContext.readOnlyRootFilesystem and volumeMounts"
            );
            let old_ro = at(old_c, &["securityContext", "readOnlyRootFilesystem"]);
            let new_ro = at(new_c, &["securityContext", "readOnlyRootFilesystem"]);
            if old_ro != new_ro {
                assert!(
                    old_ro.is_none_or(Value::is_null),
                    "{list}[{i}]: explicit readOnlyRootFilesystem {old_ro:?} overridden"
                );
                assert_eq!(
                    new_ro,
                    Some(&Value::Bool(true)),
                    "{list}[{i}]: set to {new_ro:?}"
                );
            }
        }
    }
    assert_eq!(
        used_injected.len(),
        injected_names.len(),
        "an injected volume is not mounted"
    );
    // No mount that was already there (e.g. one naming a missing volume)
    // now resolves to an injected volume: that would share it.
    for list in ["initContainers", "containers", "ephemeralContainers"] {
        for (i, c) in array(old_spec.get(list)).iter().enumerate() {
            for mount in array(c.get("volumeMounts")) {
                let name = mount.get("name").and_then(Value::as_str);
                assert!(
                    !name.is_some_and(|n| injected_names.contains(&n)),
                    "existing mount {mount} of {list}[{i}] now resolves to an injected volume"
                );
            }
        }
    }

    // (b) Idempotent: the mutated object, same settings and operation, is accepted as is.
    let mut again = payload.clone();
    again["request"]["object"] = mutated.clone();
    let verdict = evaluate_value(&again);
    assert!(
        matches!(verdict, Verdict::Accept { .. }),
        "mutation is not idempotent: evaluating the mutated object gives {verdict:?}"
    );
    // (c) Accepted in validate-only mode.
    again["settings"]["mutate"] = Value::Bool(false);
    let verdict = evaluate_value(&again);
    assert!(
        matches!(verdict, Verdict::Accept { .. }),
        "mutated object rejected by validate-only mode: {verdict:?}"
    );
}

fn at_mut<'v>(value: &'v mut Value, path: &[&str]) -> &'v mut Value {
    path.iter().fold(value, |v, key| &mut v[*key])
}
