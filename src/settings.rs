//! Policy settings: parsed by hand from JSON so that every error names the
//! offending key or value, and unknown keys are rejected (a typo must never
//! silently switch a feature off).

use crate::escape::quoted;
use crate::profiles::{APPLICATION_PROFILES, ApplicationProfile};
pub use crate::selector::{ContainerImage, ContainerSelector, ImagePattern};
use serde_json::{Map, Value};

/// The keys `validate_settings` accepts, in documentation order.
pub const SETTING_KEYS: [&str; 8] = [
    "requiredWritablePaths",
    "exemptContainers",
    "exemptEphemeralContainers",
    "mutate",
    "writableVolume",
    "containerWritablePaths",
    "warnSubPathMounts",
    "applicationProfiles",
];

const WRITABLE_VOLUME_KEYS: [&str; 2] = ["medium", "sizeLimit"];
const EXEMPTION_KEYS: [&str; 2] = ["name", "image"];
const RULE_KEYS: [&str; 3] = ["name", "image", "paths"];

/// Where a value is in the settings (`containerWritablePaths[1].paths[0]`),
/// written out only when an error names it: settings are read on every
/// request (policy-server runs each in a fresh instance), and valid ones
/// need no key strings.
#[derive(Clone, Copy)]
enum Key<'a> {
    Setting(&'static str),
    Index(&'a Key<'a>, usize),
    Field(&'a Key<'a>, &'static str),
}

impl std::fmt::Display for Key<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        match self {
            Key::Setting(name) => f.write_str(name),
            Key::Index(parent, index) => write!(f, "{parent}[{index}]"),
            Key::Field(parent, field) => write!(f, "{parent}.{field}"),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// Absolute, normalised (no trailing slash) paths every checked regular
    /// and init container must be able to write to.
    pub required_writable_paths: Vec<String>,
    pub exempt_containers: Vec<ContainerSelector>,
    pub exempt_ephemeral_containers: bool,
    pub mutate: bool,
    pub writable_volume: WritableVolume,
    /// More required writable paths for the containers each rule selects.
    pub container_writable_paths: Vec<WritablePathRule>,
    pub warn_sub_path_mounts: bool,
    /// The profiles named in `applicationProfiles`, in that order.
    pub application_profiles: Vec<&'static ApplicationProfile>,
    /// One rule per repository of each profile, in that order: checked and
    /// injected exactly like `containerWritablePaths`, after them.
    pub profile_rules: Vec<WritablePathRule>,
}

impl Default for Settings {
    fn default() -> Settings {
        Settings {
            required_writable_paths: Vec::new(),
            exempt_containers: Vec::new(),
            exempt_ephemeral_containers: false,
            mutate: false,
            writable_volume: WritableVolume::default(),
            container_writable_paths: Vec::new(),
            warn_sub_path_mounts: true,
            application_profiles: Vec::new(),
            profile_rules: Vec::new(),
        }
    }
}

/// A `containerWritablePaths` rule or an application profile: the
/// containers it selects must be able to write to each of `paths`
/// (absolute, normalised, unique).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WritablePathRule {
    pub selector: ContainerSelector,
    pub paths: Vec<String>,
    pub origin: RuleOrigin,
}

/// Where a rule comes from, as a rejection message names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RuleOrigin {
    /// `containerWritablePaths[index]`.
    Setting { index: usize },
    /// A built-in profile named in `applicationProfiles`.
    Profile(&'static ApplicationProfile),
}

/// Shape of the `emptyDir` that mutation injects.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WritableVolume {
    /// `""` (node disk) or `"Memory"` (tmpfs).
    pub medium: String,
    pub size_limit: Option<String>,
}

impl Settings {
    pub fn is_exempt(&self, container_name: &str, container_image: &ContainerImage) -> bool {
        self.exempt_containers
            .iter()
            .any(|e| e.matches(container_name, container_image))
    }

    /// Every rule that adds required writable paths: `containerWritablePaths`
    /// in order, then the application profiles' rules.
    pub fn writable_path_rules(&self) -> impl Iterator<Item = &WritablePathRule> {
        self.container_writable_paths
            .iter()
            .chain(&self.profile_rules)
    }

    /// Parses and validates settings. `null` means "no settings".
    pub fn from_json(value: &Value) -> Result<Settings, String> {
        let map = match value {
            Value::Null => return Ok(Settings::default()),
            Value::Object(map) => map,
            other => {
                return Err(format!(
                    "settings must be an object, got {}",
                    describe(other)
                ));
            }
        };
        reject_unknown_keys(map, &SETTING_KEYS, None)?;
        let mut settings = Settings::default();
        if let Some(v) = present(map, "requiredWritablePaths") {
            settings.required_writable_paths =
                parse_paths(v, &Key::Setting("requiredWritablePaths"))?;
        }
        if let Some(v) = present(map, "exemptContainers") {
            settings.exempt_containers = parse_exemptions(v)?;
        }
        if let Some(v) = present(map, "exemptEphemeralContainers") {
            settings.exempt_ephemeral_containers =
                parse_bool(v, &Key::Setting("exemptEphemeralContainers"))?;
        }
        if let Some(v) = present(map, "mutate") {
            settings.mutate = parse_bool(v, &Key::Setting("mutate"))?;
        }
        if let Some(v) = present(map, "writableVolume") {
            settings.writable_volume = parse_writable_volume(v)?;
        }
        if let Some(v) = present(map, "containerWritablePaths") {
            settings.container_writable_paths = parse_rules(v)?;
        }
        if let Some(v) = present(map, "warnSubPathMounts") {
            settings.warn_sub_path_mounts = parse_bool(v, &Key::Setting("warnSubPathMounts"))?;
        }
        if let Some(v) = present(map, "applicationProfiles") {
            settings.application_profiles = parse_profiles(v)?;
            settings.profile_rules = profile_rules(&settings.application_profiles);
        }
        Ok(settings)
    }

    pub fn from_slice(bytes: &[u8]) -> Result<Settings, String> {
        let value: Value = serde_json::from_slice(bytes)
            .map_err(|e| format!("settings are not valid JSON: {e}"))?;
        Settings::from_json(&value)
    }
}

/// A key whose value is `null` counts as absent, as in Kubernetes manifests.
fn present<'v>(map: &'v Map<String, Value>, key: &str) -> Option<&'v Value> {
    map.get(key).filter(|v| !v.is_null())
}

/// `parent`: the object's key (`None` for the settings themselves).
fn reject_unknown_keys(
    map: &Map<String, Value>,
    allowed: &[&str],
    parent: Option<&Key>,
) -> Result<(), String> {
    match map.keys().find(|k| !allowed.contains(&k.as_str())) {
        None => Ok(()),
        Some(key) => Err(format!(
            "unknown setting {}; valid {} are: {}",
            quoted(&match parent {
                Some(parent) => format!("{parent}.{key}"),
                None => key.to_string(),
            }),
            if parent.is_none() {
                "settings"
            } else {
                "keys here"
            },
            allowed.join(", ")
        )),
    }
}

fn describe(value: &Value) -> String {
    match value {
        Value::Null => "null".to_string(),
        Value::Bool(b) => format!("the boolean {b}"),
        Value::Number(n) => format!("the number {n}"),
        Value::String(s) => format!("the string {}", quoted(s)),
        Value::Array(_) => "a list".to_string(),
        Value::Object(_) => "an object".to_string(),
    }
}

fn parse_bool(value: &Value, key: &Key) -> Result<bool, String> {
    value
        .as_bool()
        .ok_or_else(|| format!("{key} must be true or false, got {}", describe(value)))
}

/// A list of absolute paths at `key` (`requiredWritablePaths`, or a rule's
/// `paths`), normalised and unique.
fn parse_paths(value: &Value, key: &Key) -> Result<Vec<String>, String> {
    let items = value.as_array().ok_or_else(|| {
        format!(
            "{key} must be a list of absolute paths, got {}",
            describe(value)
        )
    })?;
    let mut paths: Vec<String> = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let item_key = Key::Index(key, i);
        let raw = match item {
            Value::String(raw) if !raw.is_empty() => raw,
            // A form's empty row arrives as "" or null: say what to enter.
            Value::String(_) | Value::Null => {
                return Err(format!(
                    "{item_key} is empty: enter an absolute path such as /tmp, or remove the entry"
                ));
            }
            other => {
                return Err(format!(
                    "{item_key} must be a string, got {}",
                    describe(other)
                ));
            }
        };
        let path = normalize_required_path(raw).map_err(|why| format!("{item_key}: {why}"))?;
        if let Some(first) = paths.iter().position(|p| *p == path) {
            return Err(format!(
                "{item_key}: {} duplicates {key}[{first}] ({})",
                quoted(raw),
                quoted(&path)
            ));
        }
        paths.push(path);
    }
    Ok(paths)
}

/// Validates a required writable path and removes trailing slashes.
fn normalize_required_path(raw: &str) -> Result<String, String> {
    if !raw.starts_with('/') {
        return Err(format!("{} is not an absolute path", quoted(raw)));
    }
    let trimmed = raw.trim_end_matches('/');
    if trimmed.is_empty() {
        return Err(format!(
            "{} is the root directory; a writable volume at / would make the whole filesystem writable",
            quoted(raw)
        ));
    }
    if trimmed.chars().any(char::is_control) {
        return Err(format!("{} contains a control character", quoted(raw)));
    }
    for segment in trimmed[1..].split('/') {
        match segment {
            "" => return Err(format!("{} contains an empty path segment", quoted(raw))),
            "." | ".." => {
                return Err(format!(
                    "{} contains a \"{segment}\" segment; write the path without . or ..",
                    quoted(raw)
                ));
            }
            _ => {}
        }
    }
    Ok(trimmed.to_string())
}

/// A list at `key` whose items `parse` reads, each named `key[i]` in errors.
fn parse_list<T>(
    value: &Value,
    key: &Key,
    expected: &str,
    parse: impl Fn(&Value, &Key) -> Result<T, String>,
) -> Result<Vec<T>, String> {
    let items = value.as_array().ok_or_else(|| {
        format!(
            "{key} must be a list of {expected}, got {}",
            describe(value)
        )
    })?;
    items
        .iter()
        .enumerate()
        .map(|(i, item)| parse(item, &Key::Index(key, i)))
        .collect()
}

fn parse_exemptions(value: &Value) -> Result<Vec<ContainerSelector>, String> {
    parse_list(
        value,
        &Key::Setting("exemptContainers"),
        "container names or {name, image} objects",
        parse_exemption,
    )
}

fn parse_exemption(item: &Value, key: &Key) -> Result<ContainerSelector, String> {
    match item {
        // A bare name has no key to remove: say so for a blank one.
        Value::String(name) if name.is_empty() => Err(format!(
            "{key} is empty: enter a container name, or remove the entry"
        )),
        Value::String(name) => Ok(ContainerSelector {
            name: Some(parse_name(name, key)?),
            image: None,
        }),
        Value::Object(map) => {
            reject_unknown_keys(map, &EXEMPTION_KEYS, Some(key))?;
            parse_selector(map, key)
        }
        // A form's blank entry arrives as null.
        Value::Null => Err(empty_selector(key)),
        other => Err(format!(
            "{key} must be a container name or an object with name and/or image, got {}",
            describe(other)
        )),
    }
}

/// The `name` and `image` of an exemption object or a rule: at least one,
/// each valid. A key set to null counts as absent; an empty string is an
/// error, never "match anything" (a blank must not widen a selector).
fn parse_selector(map: &Map<String, Value>, key: &Key) -> Result<ContainerSelector, String> {
    let name = match present(map, "name") {
        None => None,
        Some(v) => {
            let name_key = Key::Field(key, "name");
            Some(parse_name(string_at(v, &name_key)?, &name_key)?)
        }
    };
    let image = match present(map, "image") {
        None => None,
        Some(v) => {
            let image_key = Key::Field(key, "image");
            Some(parse_image_pattern(string_at(v, &image_key)?, &image_key)?)
        }
    };
    if name.is_none() && image.is_none() {
        return Err(empty_selector(key));
    }
    Ok(ContainerSelector { name, image })
}

fn empty_selector(key: &Key) -> String {
    format!("{key} is empty: give a container name, an image, or both")
}

fn parse_rules(value: &Value) -> Result<Vec<WritablePathRule>, String> {
    let mut rules = parse_list(
        value,
        &Key::Setting("containerWritablePaths"),
        "{name, image, paths} rules",
        parse_rule,
    )?;
    for (index, rule) in rules.iter_mut().enumerate() {
        rule.origin = RuleOrigin::Setting { index };
    }
    Ok(rules)
}

fn parse_rule(item: &Value, key: &Key) -> Result<WritablePathRule, String> {
    let map = match item {
        Value::Object(map) => map,
        Value::Null => {
            return Err(format!(
                "{key} is empty: give a container name, an image, or both, and the paths"
            ));
        }
        other => {
            return Err(format!(
                "{key} must be an object with name and/or image, and paths, got {}",
                describe(other)
            ));
        }
    };
    reject_unknown_keys(map, &RULE_KEYS, Some(key))?;
    let selector = parse_selector(map, key)?;
    let paths_key = Key::Field(key, "paths");
    let paths = match present(map, "paths") {
        None => {
            return Err(format!(
                "{paths_key} is missing: list at least one absolute path"
            ));
        }
        Some(v) => parse_paths(v, &paths_key)?,
    };
    if paths.is_empty() {
        return Err(format!(
            "{paths_key} is empty: list at least one absolute path"
        ));
    }
    Ok(WritablePathRule {
        selector,
        paths,
        origin: RuleOrigin::Setting { index: 0 },
    })
}

/// `applicationProfiles`: names of built-in profiles, each once.
fn parse_profiles(value: &Value) -> Result<Vec<&'static ApplicationProfile>, String> {
    let items = value.as_array().ok_or_else(|| {
        format!(
            "applicationProfiles must be a list of profile names, got {}",
            describe(value)
        )
    })?;
    let mut profiles: Vec<&'static ApplicationProfile> = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let name = match item {
            Value::String(name) if !name.is_empty() => name,
            Value::String(_) | Value::Null => {
                return Err(format!(
                    "applicationProfiles[{i}] is empty: enter a profile name ({}), or remove the entry",
                    known_profiles()
                ));
            }
            other => {
                return Err(format!(
                    "applicationProfiles[{i}] must be a profile name, got {}",
                    describe(other)
                ));
            }
        };
        let Some(profile) = APPLICATION_PROFILES.iter().find(|p| p.name == name) else {
            return Err(format!(
                "applicationProfiles[{i}]: {} is not a known application profile; the known profiles are: {}",
                quoted(name),
                known_profiles()
            ));
        };
        if let Some(first) = profiles.iter().position(|p| p.name == profile.name) {
            return Err(format!(
                "applicationProfiles[{i}]: {} repeats applicationProfiles[{first}]",
                quoted(name)
            ));
        }
        profiles.push(profile);
    }
    Ok(profiles)
}

fn known_profiles() -> String {
    let mut names = String::new();
    for profile in APPLICATION_PROFILES {
        if !names.is_empty() {
            names.push_str(", ");
        }
        names.push_str(profile.name);
    }
    names
}

/// The rules of `profiles`: one per repository, selecting it by image.
fn profile_rules(profiles: &[&'static ApplicationProfile]) -> Vec<WritablePathRule> {
    let mut rules = Vec::new();
    for &profile in profiles {
        for repository in profile.repositories {
            rules.push(WritablePathRule {
                selector: ContainerSelector {
                    name: None,
                    image: Some(ImagePattern::built_in_repository(repository)),
                },
                paths: profile.paths.iter().map(|p| p.to_string()).collect(),
                origin: RuleOrigin::Profile(profile),
            });
        }
    }
    rules
}

fn string_at<'v>(value: &'v Value, key: &Key) -> Result<&'v str, String> {
    value
        .as_str()
        .ok_or_else(|| format!("{key} must be a string, got {}", describe(value)))
}

fn parse_name(name: &str, key: &Key) -> Result<String, String> {
    if name.is_empty() {
        return Err(format!(
            "{key}: the container name is empty; enter a name, or remove the key to match on the image only"
        ));
    }
    if name.contains('*') {
        return Err(format!(
            "{key}: container name {} contains \"*\"; names match exactly; only images take patterns (\"*\", \"<repository>:*\", \"<path>/*\")",
            quoted(name)
        ));
    }
    Ok(name.to_string())
}

fn parse_image_pattern(image: &str, key: &Key) -> Result<ImagePattern, String> {
    ImagePattern::parse(image).map_err(|why| format!("{key}: {why}"))
}

fn parse_writable_volume(value: &Value) -> Result<WritableVolume, String> {
    let map = value.as_object().ok_or_else(|| {
        format!(
            "writableVolume must be an object with medium and/or sizeLimit, got {}",
            describe(value)
        )
    })?;
    reject_unknown_keys(
        map,
        &WRITABLE_VOLUME_KEYS,
        Some(&Key::Setting("writableVolume")),
    )?;
    let mut volume = WritableVolume::default();
    if let Some(v) = present(map, "medium") {
        let medium = string_at(v, &Key::Field(&Key::Setting("writableVolume"), "medium"))?;
        if !medium.is_empty() && medium != "Memory" {
            return Err(format!(
                "writableVolume.medium: {} is not supported; use \"\" (node disk) or \"Memory\" (tmpfs)",
                quoted(medium)
            ));
        }
        volume.medium = medium.to_string();
    }
    if let Some(v) = present(map, "sizeLimit") {
        let limit = match v {
            Value::String(s) => s.clone(),
            Value::Number(n) => n.to_string(),
            other => {
                return Err(format!(
                    "writableVolume.sizeLimit must be a Kubernetes quantity such as \"64Mi\", got {}",
                    describe(other)
                ));
            }
        };
        check_size_limit(&limit)?;
        volume.size_limit = Some(limit);
    }
    Ok(volume)
}

fn check_size_limit(limit: &str) -> Result<(), String> {
    if limit.is_empty() {
        return Err(
            "writableVolume.sizeLimit is empty: enter a Kubernetes quantity such as \"64Mi\", or remove the key for no limit"
                .to_string(),
        );
    }
    if !is_quantity(limit) {
        return Err(format!(
            "writableVolume.sizeLimit: {} is not a Kubernetes quantity (examples: \"64Mi\", \"1Gi\", \"500M\")",
            quoted(limit)
        ));
    }
    // A zero-sized emptyDir evicts the pod on its first write: refuse it.
    let mantissa_is_zero = !limit
        .bytes()
        .take_while(|b| b.is_ascii_digit() || *b == b'.' || *b == b'+')
        .any(|b| (b'1'..=b'9').contains(&b));
    if limit.starts_with('-') || mantissa_is_zero {
        return Err(format!(
            "writableVolume.sizeLimit: {} must be greater than zero",
            quoted(limit)
        ));
    }
    Ok(())
}

/// Kubernetes quantity syntax (k8s.io/apimachinery resource.Quantity):
/// `<sign><digits>[.<digits>]<suffix>` where suffix is a binary SI suffix
/// (Ki..Ei), a decimal SI suffix (n u m "" k M G T P E) or a decimal exponent
/// (e/E followed by a signed integer).
pub fn is_quantity(s: &str) -> bool {
    let bytes = s.as_bytes();
    let mut i = 0;
    if i < bytes.len() && (bytes[i] == b'+' || bytes[i] == b'-') {
        i += 1;
    }
    let int_start = i;
    while i < bytes.len() && bytes[i].is_ascii_digit() {
        i += 1;
    }
    let int_digits = i - int_start;
    let mut frac_digits = 0;
    if i < bytes.len() && bytes[i] == b'.' {
        i += 1;
        let frac_start = i;
        while i < bytes.len() && bytes[i].is_ascii_digit() {
            i += 1;
        }
        frac_digits = i - frac_start;
    }
    if int_digits + frac_digits == 0 {
        return false;
    }
    let suffix = &s[i..];
    match suffix {
        "" | "n" | "u" | "m" | "k" | "M" | "G" | "T" | "P" | "E" => true,
        "Ki" | "Mi" | "Gi" | "Ti" | "Pi" | "Ei" => true,
        _ => is_decimal_exponent(suffix),
    }
}

fn is_decimal_exponent(suffix: &str) -> bool {
    let Some(rest) = suffix
        .strip_prefix('e')
        .or_else(|| suffix.strip_prefix('E'))
    else {
        return false;
    };
    let digits = rest
        .strip_prefix('+')
        .or_else(|| rest.strip_prefix('-'))
        .unwrap_or(rest);
    !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn err(v: Value) -> String {
        Settings::from_json(&v).expect_err("settings should be rejected")
    }

    #[test]
    fn empty_and_null_settings_are_defaults() {
        assert_eq!(
            Settings::from_json(&json!({})).unwrap(),
            Settings::default()
        );
        assert_eq!(
            Settings::from_json(&Value::Null).unwrap(),
            Settings::default()
        );
    }

    #[test]
    fn full_settings_parse() {
        let s = Settings::from_json(&json!({
            "requiredWritablePaths": ["/tmp/", "/var/cache/nginx"],
            "exemptContainers": ["debugger", {"name": "istio-proxy", "image": "docker.io/istio/proxyv2:*"}, {"image": "*"}],
            "exemptEphemeralContainers": true,
            "mutate": true,
            "writableVolume": {"medium": "Memory", "sizeLimit": "64Mi"}
        }))
        .unwrap();
        assert_eq!(s.required_writable_paths, vec!["/tmp", "/var/cache/nginx"]);
        assert_eq!(s.exempt_containers[1].name.as_deref(), Some("istio-proxy"));
        assert_eq!(
            s.exempt_containers[1]
                .image
                .as_ref()
                .map(ImagePattern::written),
            Some("docker.io/istio/proxyv2:*")
        );
        assert_eq!(
            s.exempt_containers[2]
                .image
                .as_ref()
                .map(ImagePattern::written),
            Some("*")
        );
        assert!(s.exempt_ephemeral_containers && s.mutate);
        assert_eq!(s.writable_volume.size_limit.as_deref(), Some("64Mi"));
    }

    #[test]
    fn unknown_keys_are_named() {
        assert!(
            err(json!({"requiredWriteablePaths": ["/tmp"]})).contains("\"requiredWriteablePaths\"")
        );
        assert!(
            err(json!({"writableVolume": {"size": "1Gi"}})).contains("\"writableVolume.size\"")
        );
        assert!(
            err(json!({"exemptContainers": [{"nmae": "x"}]}))
                .contains("\"exemptContainers[0].nmae\"")
        );
    }

    #[test]
    fn bad_paths_are_named() {
        assert!(
            err(json!({"requiredWritablePaths": ["tmp"]}))
                .contains("requiredWritablePaths[0]: \"tmp\" is not an absolute path")
        );
        assert!(err(json!({"requiredWritablePaths": ["/"]})).contains("root directory"));
        assert!(err(json!({"requiredWritablePaths": ["/a/../b"]})).contains("\"..\" segment"));
        assert!(err(json!({"requiredWritablePaths": ["/a/./b"]})).contains("\".\" segment"));
        assert!(err(json!({"requiredWritablePaths": ["/a//b"]})).contains("empty path segment"));
        assert!(
            err(json!({"requiredWritablePaths": [""]}))
                .contains("requiredWritablePaths[0] is empty")
        );
        let dup = err(json!({"requiredWritablePaths": ["/tmp", "/var", "/tmp/"]}));
        assert!(
            dup.contains("requiredWritablePaths[2]: \"/tmp/\" duplicates requiredWritablePaths[0]"),
            "{dup}"
        );
        assert!(err(json!({"requiredWritablePaths": "/tmp"})).contains("must be a list"));
        assert!(
            err(json!({"requiredWritablePaths": [5]}))
                .contains("requiredWritablePaths[0] must be a string")
        );
    }

    #[test]
    fn bad_exemptions_are_named() {
        assert!(err(json!({"exemptContainers": [{}]})).contains("exemptContainers[0] is empty"));
        assert!(
            err(json!({"exemptContainers": [""]})).contains(
                "exemptContainers[0] is empty: enter a container name, or remove the entry"
            )
        );
        assert!(
            err(json!({"exemptContainers": [{"name": ""}]})).contains(
                "exemptContainers[0].name: the container name is empty; enter a name, or remove the key to match on the image only"
            )
        );
        assert!(
            err(json!({"exemptContainers": [{"name": "a", "image": ""}]}))
                .contains("exemptContainers[0].image: the image is empty")
        );
        assert!(
            err(json!({"exemptContainers": [{"image": "reg/*/x"}]})).contains(
                "exemptContainers[0].image: \"reg/*/x\": a * is allowed only as \"*\", \"<repository>:*\" or \"<path>/*\""
            )
        );
        assert!(
            err(json!({"exemptContainers": [{"image": "**"}]})).contains("a * is allowed only as")
        );
        assert!(err(json!({"exemptContainers": ["a*"]})).contains("contains \"*\""));
        assert!(err(json!({"exemptContainers": [7]})).contains("exemptContainers[0] must be"));
    }

    #[test]
    fn rules_parse() {
        let s = Settings::from_json(&json!({
            "requiredWritablePaths": ["/tmp"],
            "containerWritablePaths": [
                {"image": "docker.io/library/nginx", "paths": ["/var/cache/nginx/", "/var/run"]},
                {"name": "web", "image": "nginx:1.27", "paths": ["/tmp"]},
                {"name": "uploader", "image": null, "paths": ["/data/uploads"]}
            ],
            "warnSubPathMounts": false
        }))
        .unwrap();
        assert_eq!(s.container_writable_paths.len(), 3);
        let first = &s.container_writable_paths[0];
        assert_eq!(first.paths, vec!["/var/cache/nginx", "/var/run"]);
        assert_eq!(first.origin, RuleOrigin::Setting { index: 0 });
        assert_eq!(
            first.selector.describe(),
            "image \"docker.io/library/nginx\""
        );
        assert_eq!(
            s.container_writable_paths[1].selector.describe(),
            "name \"web\" and image \"nginx:1.27\""
        );
        assert_eq!(
            s.container_writable_paths[2].selector.describe(),
            "name \"uploader\""
        );
        assert_eq!(
            s.container_writable_paths[2].origin,
            RuleOrigin::Setting { index: 2 }
        );
        assert!(!s.warn_sub_path_mounts);
        assert!(Settings::default().warn_sub_path_mounts);
    }

    #[test]
    fn bad_rules_are_named() {
        let rule =
            |r: Value| err(json!({"containerWritablePaths": [{"image": "x", "paths": ["/a"]}, r]}));
        assert!(rule(json!({"paths": ["/a"]})).contains(
            "containerWritablePaths[1] is empty: give a container name, an image, or both"
        ));
        assert!(rule(json!({"image": "nginx"})).contains(
            "containerWritablePaths[1].paths is missing: list at least one absolute path"
        ));
        assert!(
            rule(json!({"image": "nginx", "paths": []})).contains(
                "containerWritablePaths[1].paths is empty: list at least one absolute path"
            )
        );
        assert!(
            rule(json!({"image": "nginx", "paths": ["/a", "var"]}))
                .contains("containerWritablePaths[1].paths[1]: \"var\" is not an absolute path")
        );
        assert!(
            rule(json!({"image": "nginx", "paths": ["/a", "/a/"]})).contains(
                "containerWritablePaths[1].paths[1]: \"/a/\" duplicates containerWritablePaths[1].paths[0] (\"/a\")"
            )
        );
        for bad in ["/", "/a/../b", "/a/./b", "/a//b"] {
            assert!(
                rule(json!({"image": "nginx", "paths": [bad]}))
                    .starts_with("containerWritablePaths[1].paths[0]: "),
                "{bad}"
            );
        }
        assert!(
            rule(json!({"image": "ng*inx", "paths": ["/a"]}))
                .contains("containerWritablePaths[1].image: \"ng*inx\": a * is allowed only as")
        );
        assert!(
            rule(json!({"name": "", "paths": ["/a"]}))
                .contains("containerWritablePaths[1].name: the container name is empty")
        );
        assert!(
            rule(json!({"image": "nginx", "path": ["/a"]}))
                .contains("unknown setting \"containerWritablePaths[1].path\"")
        );
        assert!(rule(json!(null)).contains("containerWritablePaths[1] is empty"));
        assert!(rule(json!("nginx")).contains("containerWritablePaths[1] must be an object"));
        assert!(
            err(json!({"containerWritablePaths": {"image": "x"}}))
                .contains("containerWritablePaths must be a list")
        );
        assert!(
            err(json!({"warnSubPathMounts": "no"}))
                .contains("warnSubPathMounts must be true or false")
        );
    }

    /// What a form (the Kubewarden UI in Rancher) sends for a blank field:
    /// an empty list row arrives as "" or null, a blank entry as null or {}.
    /// Each is refused with what to fill in; none widens a selector.
    #[test]
    fn blanks_from_a_form_say_what_to_fill_in() {
        for blank in [json!(""), json!(null)] {
            assert!(
                err(json!({"requiredWritablePaths": ["/tmp", blank]}))
                    .contains("requiredWritablePaths[1] is empty: enter an absolute path such as /tmp, or remove the entry")
            );
        }
        for blank in [json!(null), json!({}), json!({"name": null, "image": null})] {
            assert!(err(json!({"exemptContainers": [blank]})).contains(
                "exemptContainers[0] is empty: give a container name, an image, or both"
            ));
        }
        assert!(
            err(json!({"exemptContainers": [{"name": "istio-proxy", "image": ""}]}))
                .contains("exemptContainers[0].image: the image is empty; enter an image, a repository, \"<repository>:*\" or \"<path>/*\", or remove the key to match on the name only")
        );
        assert!(
            err(json!({"writableVolume": {"sizeLimit": ""}}))
                .contains("writableVolume.sizeLimit is empty: enter a Kubernetes quantity such as \"64Mi\", or remove the key for no limit")
        );
        // Keys a form leaves out (or sets to null) are absent.
        let s = Settings::from_json(&json!({
            "exemptContainers": [{"name": "debug-shell"}],
            "writableVolume": {"medium": ""},
            "mutate": false
        }))
        .unwrap();
        assert_eq!(s.exempt_containers[0].image, None);
        assert_eq!(s.writable_volume, WritableVolume::default());
    }

    #[test]
    fn bad_scalars_and_volume_are_named() {
        assert!(
            err(json!({"mutate": "yes"}))
                .contains("mutate must be true or false, got the string \"yes\"")
        );
        assert!(
            err(json!({"exemptEphemeralContainers": 1}))
                .contains("exemptEphemeralContainers must be true or false")
        );
        assert!(
            err(json!({"writableVolume": {"medium": "HugePages"}}))
                .contains("\"HugePages\" is not supported")
        );
        assert!(
            err(json!({"writableVolume": {"sizeLimit": "64MB"}}))
                .contains("\"64MB\" is not a Kubernetes quantity")
        );
        assert!(
            err(json!({"writableVolume": {"sizeLimit": "-1Gi"}})).contains("greater than zero")
        );
        assert!(err(json!({"writableVolume": {"sizeLimit": "0"}})).contains("greater than zero"));
        assert!(err(json!([])).contains("settings must be an object"));
    }

    #[test]
    fn quantities() {
        for q in [
            "64Mi", "1Gi", "500M", "1", "1.5Gi", ".5Gi", "1e3", "1E+3", "100m", "+1k",
        ] {
            assert!(is_quantity(q), "{q}");
        }
        for q in [
            "", "Mi", "64MB", "1.2.3", "1e", "1e+", "64 Mi", "0x10", "1Ki2",
        ] {
            assert!(!is_quantity(q), "{q}");
        }
    }

    #[test]
    fn exemption_matching() {
        let both = ContainerSelector {
            name: Some("istio-proxy".into()),
            image: Some(ImagePattern::parse("docker.io/istio/proxyv2:*").unwrap()),
        };
        let matches = |name, image| both.matches(name, &ContainerImage::new(image));
        assert!(matches("istio-proxy", Some("docker.io/istio/proxyv2:1.22")));
        assert!(matches("istio-proxy", Some("istio/proxyv2:1.22")));
        assert!(!matches(
            "istio-proxy",
            Some("evil.example/istio/proxyv2:1.22")
        ));
        assert!(!matches("istio-proxy", None));
        assert!(!matches("app", Some("docker.io/istio/proxyv2:1.22")));
    }

    #[test]
    fn application_profiles_parse_into_rules_after_the_settings_rules() {
        let s = Settings::from_json(&json!({
            "containerWritablePaths": [{"name": "web", "paths": ["/cache"]}],
            "applicationProfiles": ["grafana", "nginx"]
        }))
        .unwrap();
        let names: Vec<&str> = s.application_profiles.iter().map(|p| p.name).collect();
        assert_eq!(names, ["grafana", "nginx"]);
        // grafana has two repositories: one rule each.
        assert_eq!(s.profile_rules.len(), 3);
        let rules: Vec<&WritablePathRule> = s.writable_path_rules().collect();
        assert_eq!(rules[0].origin, RuleOrigin::Setting { index: 0 });
        assert!(matches!(rules[1].origin, RuleOrigin::Profile(p) if p.name == "grafana"));
        assert!(matches!(rules[3].origin, RuleOrigin::Profile(p) if p.name == "nginx"));
        assert_eq!(rules[3].paths, ["/var/cache/nginx", "/var/run"]);
    }

    #[test]
    fn unknown_repeated_and_blank_profiles_are_named() {
        let unknown = err(json!({"applicationProfiles": ["nginx", "ngnix"]}));
        assert!(
            unknown.starts_with("applicationProfiles[1]: \"ngnix\" is not a known application profile; the known profiles are: nginx, nginx-unprivileged, postgres"),
            "{unknown}"
        );
        assert_eq!(
            err(json!({"applicationProfiles": ["nginx", "postgres", "nginx"]})),
            "applicationProfiles[2]: \"nginx\" repeats applicationProfiles[0]"
        );
        assert!(
            err(json!({"applicationProfiles": [""]}))
                .starts_with("applicationProfiles[0] is empty: enter a profile name (nginx, ")
        );
        assert!(
            err(json!({"applicationProfiles": "nginx"}))
                .starts_with("applicationProfiles must be a list of profile names")
        );
        assert!(
            err(json!({"applicationProfiles": [1]}))
                .starts_with("applicationProfiles[0] must be a profile name, got the number 1")
        );
        assert_eq!(
            Settings::from_json(&json!({"applicationProfiles": []})).unwrap(),
            Settings::default()
        );
    }

    #[test]
    fn paths_with_control_characters_are_rejected() {
        assert_eq!(
            err(json!({"requiredWritablePaths": ["/tmp\n- x"]})),
            "requiredWritablePaths[0]: \"/tmp\\n- x\" contains a control character"
        );
    }
}
