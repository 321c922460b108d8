//! Applies the policy's JSON patch to the YAML tree of the input document,
//! so that a fixed manifest keeps the input's key order (a serde_json object
//! would sort the keys: the workspace does not enable `preserve_order`,
//! which would change the policy core's own behaviour).

use crate::yaml::{from_json, key_text};
use serde_json::Value as Json;
use serde_norway::Value as Yaml;

/// Applies `add`, `replace` and `remove` operations (all that
/// `json_patch::diff` produces) in order.
pub fn apply(document: &mut Yaml, patch: &[Json]) -> Result<(), String> {
    for operation in patch {
        apply_one(document, operation).map_err(|e| format!("{e} (operation {operation})"))?;
    }
    Ok(())
}

fn apply_one(document: &mut Yaml, operation: &Json) -> Result<(), String> {
    let op = operation["op"].as_str().ok_or("no \"op\"")?;
    let path = operation["path"].as_str().ok_or("no \"path\"")?;
    let tokens = pointer_tokens(path)?;
    let Some((last, parents)) = tokens.split_last() else {
        // The whole document: replaced (an add at "" replaces too).
        return match op {
            "add" | "replace" => {
                *document = from_json(&operation["value"]);
                Ok(())
            }
            _ => Err(format!("cannot {op} the whole document")),
        };
    };
    let parent = parents
        .iter()
        .try_fold(document, |node, token| child(node, token))?;
    match op {
        "add" => add(parent, last, from_json(&operation["value"])),
        "replace" => {
            *child(parent, last)? = from_json(&operation["value"]);
            Ok(())
        }
        "remove" => remove(parent, last),
        other => Err(format!("unsupported patch operation {other:?}")),
    }
}

/// RFC 6901: `/a~1b/~0c` is `["a/b", "~c"]`.
fn pointer_tokens(path: &str) -> Result<Vec<String>, String> {
    if path.is_empty() {
        return Ok(Vec::new());
    }
    let rest = path
        .strip_prefix('/')
        .ok_or_else(|| format!("the path {path:?} does not start with /"))?;
    Ok(rest
        .split('/')
        .map(|t| t.replace("~1", "/").replace("~0", "~"))
        .collect())
}

fn child<'v>(node: &'v mut Yaml, token: &str) -> Result<&'v mut Yaml, String> {
    match node {
        Yaml::Mapping(map) => map
            .iter_mut()
            .find(|(key, _)| key_text(key).is_ok_and(|k| k == token))
            .map(|(_, value)| value)
            .ok_or_else(|| format!("no key {token:?}")),
        Yaml::Sequence(items) => {
            let index = index(token, items.len())?;
            items
                .get_mut(index)
                .ok_or_else(|| format!("no item {index}"))
        }
        _ => Err(format!("{token:?} is below a scalar")),
    }
}

fn add(parent: &mut Yaml, token: &str, value: Yaml) -> Result<(), String> {
    match parent {
        Yaml::Mapping(map) => {
            // An existing key keeps its place; a new one goes last.
            match map
                .iter_mut()
                .find(|(key, _)| key_text(key).is_ok_and(|k| k == token))
            {
                Some((_, slot)) => *slot = value,
                None => {
                    map.insert(Yaml::String(token.to_string()), value);
                }
            }
            Ok(())
        }
        Yaml::Sequence(items) => {
            let at = if token == "-" {
                items.len()
            } else {
                index(token, items.len() + 1)?
            };
            items.insert(at, value);
            Ok(())
        }
        _ => Err(format!("cannot add {token:?} below a scalar")),
    }
}

fn remove(parent: &mut Yaml, token: &str) -> Result<(), String> {
    match parent {
        Yaml::Mapping(map) => {
            let key = map
                .keys()
                .find(|key| key_text(key).is_ok_and(|k| k == token))
                .cloned()
                .ok_or_else(|| format!("no key {token:?}"))?;
            map.shift_remove(&key);
            Ok(())
        }
        Yaml::Sequence(items) => {
            let at = index(token, items.len())?;
            items.remove(at);
            Ok(())
        }
        _ => Err(format!("cannot remove {token:?} below a scalar")),
    }
}

/// A sequence index below `bound`.
fn index(token: &str, bound: usize) -> Result<usize, String> {
    match token.parse::<usize>() {
        Ok(i) if i < bound && (token == "0" || !token.starts_with('0')) => Ok(i),
        _ => Err(format!("{token:?} is not an index below {bound}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::yaml::{read_documents, to_json};
    use serde_json::json;

    fn yaml(text: &str) -> Yaml {
        read_documents(text).0.remove(0)
    }

    #[test]
    fn the_patched_tree_equals_the_patched_json_and_keeps_key_order() {
        let mut doc = yaml(
            "spec:\n  containers:\n  - name: app\n    securityContext:\n      runAsNonRoot: true\n    image: x\n  volumes: null\n",
        );
        let before = to_json(&doc).unwrap();
        let mut after = before.clone();
        after["spec"]["containers"][0]["securityContext"]["readOnlyRootFilesystem"] = json!(true);
        after["spec"]["containers"][0]["volumeMounts"] =
            json!([{"mountPath": "/tmp", "name": "rw-app-tmp"}]);
        after["spec"]["volumes"] = json!([{"emptyDir": {}, "name": "rw-app-tmp"}]);
        let patch = serde_json::to_value(json_patch::diff(&before, &after)).unwrap();
        apply(&mut doc, patch.as_array().unwrap()).unwrap();
        assert_eq!(to_json(&doc).unwrap(), after);
        assert_eq!(
            serde_norway::to_string(&doc).unwrap(),
            "spec:\n  containers:\n  - name: app\n    securityContext:\n      runAsNonRoot: true\n      readOnlyRootFilesystem: true\n    image: x\n    volumeMounts:\n    - name: rw-app-tmp\n      mountPath: /tmp\n  volumes:\n  - name: rw-app-tmp\n    emptyDir: {}\n"
        );
    }

    #[test]
    fn sequence_adds_insert_and_remove_shifts() {
        let mut doc = yaml("a: [1, 3]\nb/c: {x~y: 1, z: 2}\n");
        let patch = json!([
            {"op": "add", "path": "/a/1", "value": 2},
            {"op": "add", "path": "/a/-", "value": 4},
            {"op": "remove", "path": "/b~1c/x~0y"},
            {"op": "replace", "path": "/b~1c/z", "value": "two"}
        ]);
        apply(&mut doc, patch.as_array().unwrap()).unwrap();
        assert_eq!(
            to_json(&doc).unwrap(),
            json!({"a": [1, 2, 3, 4], "b/c": {"z": "two"}})
        );
    }

    #[test]
    fn a_path_that_does_not_exist_is_an_error() {
        let mut doc = yaml("a: [1]\n");
        for op in [
            json!({"op": "replace", "path": "/b", "value": 1}),
            json!({"op": "add", "path": "/a/5", "value": 1}),
            json!({"op": "add", "path": "/a/01", "value": 1}),
            json!({"op": "add", "path": "/a/0/x", "value": 1}),
            json!({"op": "move", "path": "/a", "from": "/b"}),
        ] {
            assert!(apply(&mut doc, std::slice::from_ref(&op)).is_err(), "{op}");
        }
    }
}
