//! Arbitrary bytes as `validate_settings` payloads.
//!
//! Invariants: never panics; `settings_validation` answers valid JSON whose
//! `valid` agrees with `Settings::from_slice`; a rejection has a non-empty
//! message; accepted settings are consistent (normalised absolute paths
//! without duplicates, in `requiredWritablePaths` and in each
//! `containerWritablePaths` rule; well-formed exemptions and rule selectors,
//! never empty; rules with at least one path; a supported writable volume)
//! and survive a round trip through their JSON form unchanged.

#![no_main]

use libfuzzer_sys::fuzz_target;
use readonly_rootfs_policy::settings::{ContainerSelector, ImagePattern, SETTING_KEYS, Settings, is_quantity};
use readonly_rootfs_policy::settings_validation;
use serde_json::{Value, json};

fuzz_target!(|data: &[u8]| {
    let response = settings_validation(data);
    let response: Value =
        serde_json::from_slice(&response).expect("settings_validation answers JSON");
    let parsed = Settings::from_slice(data);
    assert_eq!(
        response["valid"].as_bool(),
        Some(parsed.is_ok()),
        "settings_validation and Settings::from_slice disagree: {response}"
    );
    match parsed {
        Err(message) => {
            assert!(!message.is_empty(), "empty settings error");
            assert_eq!(response["message"].as_str(), Some(message.as_str()));
        }
        Ok(settings) => {
            check_consistent(&settings);
            // The input was JSON: null or an object with known keys only.
            let value: Value = serde_json::from_slice(data).expect("accepted settings are JSON");
            match &value {
                Value::Null => assert_eq!(settings, Settings::default()),
                Value::Object(map) => {
                    for key in map.keys() {
                        assert!(SETTING_KEYS.contains(&key.as_str()), "unknown key {key:?} accepted");
                    }
                }
                other => panic!("settings {other} accepted though not an object"),
            }
            // Canonical JSON form parses back to the same settings.
            let canonical = to_json(&settings);
            let again = Settings::from_json(&canonical)
                .unwrap_or_else(|e| panic!("canonical form {canonical} rejected: {e}"));
            assert_eq!(again, settings, "round trip through {canonical}");
        }
    }
});

fn check_consistent(settings: &Settings) {
    check_paths(&settings.required_writable_paths);
    for exemption in &settings.exempt_containers {
        check_selector(exemption);
    }
    for rule in &settings.container_writable_paths {
        check_selector(&rule.selector);
        assert!(!rule.paths.is_empty(), "a rule without paths accepted");
        check_paths(&rule.paths);
    }
    let volume = &settings.writable_volume;
    assert!(volume.medium.is_empty() || volume.medium == "Memory", "medium {:?}", volume.medium);
    if let Some(limit) = &volume.size_limit {
        assert!(is_quantity(limit), "sizeLimit {limit:?} is not a quantity");
        assert!(!limit.starts_with('-'), "negative sizeLimit {limit:?}");
        let mantissa_nonzero = limit
            .bytes()
            .take_while(|b| b.is_ascii_digit() || *b == b'.' || *b == b'+')
            .any(|b| (b'1'..=b'9').contains(&b));
        assert!(mantissa_nonzero, "zero sizeLimit {limit:?} accepted");
    }
}

/// Absolute, normalised, unique, not `/`.
fn check_paths(paths: &[String]) {
    for (i, path) in paths.iter().enumerate() {
        assert!(path.starts_with('/'), "path {path:?} not absolute");
        assert!(path.len() > 1, "root directory accepted as a required path");
        assert!(!path.ends_with('/'), "path {path:?} not normalised");
        for segment in path[1..].split('/') {
            assert!(
                !segment.is_empty() && segment != "." && segment != "..",
                "path {path:?} has segment {segment:?}"
            );
        }
        assert!(!paths[..i].contains(path), "duplicate path {path:?}");
    }
}

/// An exemption or a rule's selector: never empty (a blank must not widen
/// it), a name without `*`, an image with at most a trailing `*`.
fn check_selector(selector: &ContainerSelector) {
    assert!(selector.name.is_some() || selector.image.is_some(), "empty selector accepted");
    if let Some(name) = &selector.name {
        assert!(!name.is_empty() && !name.contains('*'), "bad name {name:?}");
    }
    match &selector.image {
        None => {}
        Some(ImagePattern::Exact(image)) => {
            assert!(!image.is_empty() && !image.contains('*'), "bad exact image {image:?}")
        }
        Some(ImagePattern::Prefix(prefix)) => {
            assert!(!prefix.contains('*'), "bad image prefix {prefix:?}")
        }
    }
}

fn selector_json(selector: &ContainerSelector) -> serde_json::Map<String, Value> {
    let mut entry = serde_json::Map::new();
    if let Some(name) = &selector.name {
        entry.insert("name".into(), json!(name));
    }
    if let Some(image) = &selector.image {
        entry.insert("image".into(), json!(image.to_string()));
    }
    entry
}

fn to_json(settings: &Settings) -> Value {
    let exemptions: Vec<Value> =
        settings.exempt_containers.iter().map(|e| Value::Object(selector_json(e))).collect();
    let rules: Vec<Value> = settings
        .container_writable_paths
        .iter()
        .map(|rule| {
            let mut entry = selector_json(&rule.selector);
            entry.insert("paths".into(), json!(rule.paths));
            Value::Object(entry)
        })
        .collect();
    let mut volume = serde_json::Map::new();
    volume.insert("medium".into(), json!(settings.writable_volume.medium));
    if let Some(limit) = &settings.writable_volume.size_limit {
        volume.insert("sizeLimit".into(), json!(limit));
    }
    json!({
        "requiredWritablePaths": settings.required_writable_paths,
        "exemptContainers": exemptions,
        "exemptEphemeralContainers": settings.exempt_ephemeral_containers,
        "mutate": settings.mutate,
        "writableVolume": volume,
        "containerWritablePaths": rules,
        "warnSubPathMounts": settings.warn_sub_path_mounts,
    })
}
