//! Arbitrary bytes as `validate_settings` payloads.
//!
//! Invariants: never panics; `settings_validation` answers valid JSON whose
//! `valid` agrees with `Settings::from_slice`; a rejection has a non-empty
//! message; accepted settings are consistent (normalised absolute paths
//! without duplicates, in `requiredWritablePaths` and in each
//! `containerWritablePaths` rule; well-formed exemptions and rule selectors,
//! never empty, whose image patterns read again to the same pattern; rules
//! with at least one path; profiles known and each once, their rules after
//! the settings' rules; a supported writable volume) and survive a round
//! trip through their JSON form unchanged.

#![no_main]

use libfuzzer_sys::fuzz_target;
use readonly_rootfs_policy::settings::{
    ContainerSelector, ImagePattern, RuleOrigin, SETTING_KEYS, Settings, is_quantity,
};
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
                        assert!(
                            SETTING_KEYS.contains(&key.as_str()),
                            "unknown key {key:?} accepted"
                        );
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
    for (index, rule) in settings.container_writable_paths.iter().enumerate() {
        check_selector(&rule.selector);
        assert!(!rule.paths.is_empty(), "a rule without paths accepted");
        check_paths(&rule.paths);
        assert_eq!(rule.origin, RuleOrigin::Setting { index });
    }
    for (i, profile) in settings.application_profiles.iter().enumerate() {
        assert!(
            !settings.application_profiles[..i]
                .iter()
                .any(|p| p.name == profile.name),
            "profile {} accepted twice",
            profile.name
        );
    }
    let expected_rules: usize = settings
        .application_profiles
        .iter()
        .map(|p| p.repositories.len())
        .sum();
    assert_eq!(settings.profile_rules.len(), expected_rules);
    for rule in &settings.profile_rules {
        assert!(matches!(rule.origin, RuleOrigin::Profile(_)));
        check_paths(&rule.paths);
    }
    let volume = &settings.writable_volume;
    assert!(
        volume.medium.is_empty() || volume.medium == "Memory",
        "medium {:?}",
        volume.medium
    );
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
/// it), a name without `*`, an image pattern with `*` only where the
/// contract allows it, that reads again to the same pattern.
fn check_selector(selector: &ContainerSelector) {
    assert!(
        selector.name.is_some() || selector.image.is_some(),
        "empty selector accepted"
    );
    if let Some(name) = &selector.name {
        assert!(!name.is_empty() && !name.contains('*'), "bad name {name:?}");
    }
    if let Some(pattern) = &selector.image {
        let written = pattern.written();
        let stars = written.matches('*').count();
        assert!(
            stars == 0
                || written == "*"
                || (stars == 1 && (written.ends_with("/*") || written.ends_with(":*"))),
            "a * where the contract does not allow it: {written:?}"
        );
        assert_eq!(ImagePattern::parse(written).as_ref(), Ok(pattern));
    }
}

fn selector_json(selector: &ContainerSelector) -> serde_json::Map<String, Value> {
    let mut entry = serde_json::Map::new();
    if let Some(name) = &selector.name {
        entry.insert("name".into(), json!(name));
    }
    if let Some(image) = &selector.image {
        entry.insert("image".into(), json!(image.written()));
    }
    entry
}

fn to_json(settings: &Settings) -> Value {
    let exemptions: Vec<Value> = settings
        .exempt_containers
        .iter()
        .map(|e| Value::Object(selector_json(e)))
        .collect();
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
        "applicationProfiles": settings.application_profiles.iter().map(|p| p.name).collect::<Vec<_>>(),
    })
}
