//! The packaging files say the same thing as the code and as each other.
//!
//! * one version: root Cargo.toml = metadata.yml `io.kubewarden.policy.version`
//!   = artifacthub-pkg.yml `version`, and the `:v<version>` tag everywhere the
//!   OCI repository is named (containersImages, install text, examples);
//! * one set of kinds: metadata.yml `rules` cover exactly the kinds the code
//!   checks (`CheckedKind::ALL`) plus `pods/ephemeralcontainers`;
//! * artifacthub-pkg.yml is what `kwctl scaffold artifacthub` derives from
//!   metadata.yml and questions-ui.yml (`kubewarden/rules`,
//!   `kubewarden/questions-ui`, mutation, resources, display name...);
//! * one set of settings: `SETTING_KEYS` = questions-ui.yml variables = the
//!   rows of README.md's settings table; the examples use only those keys,
//!   with values the policy accepts;
//! * one set of application profiles: README.md's profile table has a row per
//!   profile of `APPLICATION_PROFILES` with each path and its source,
//!   docs/profiles.md a row per path with its reason and source, and the
//!   questions-ui.yml help text names exactly the known profiles.
//!
//! Failures name the file and the value to fix.

//!
//! Whether kwctl accepts metadata.yml is checked by kwctl itself: `make
//! annotated-policy.wasm` runs `kwctl annotate`, and e2e.bats inspects,
//! pushes and pulls the result.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use readonly_rootfs_policy::profiles::{APPLICATION_PROFILES, ApplicationProfile};
use readonly_rootfs_policy::request::CheckedKind;
use readonly_rootfs_policy::settings::{SETTING_KEYS, Settings};
use serde::Deserialize;
use serde_norway::Value as Yaml;

const EPHEMERAL_SUBRESOURCE: &str = "pods/ephemeralcontainers";
const ANNOTATION_VERSION: &str = "io.kubewarden.policy.version";

/// The parts of metadata.yml this test compares (kwctl reads the whole file).
#[derive(Deserialize)]
struct Metadata {
    rules: Vec<Rule>,
    mutating: bool,
    #[serde(default)]
    annotations: BTreeMap<String, String>,
}

impl Metadata {
    fn annotation(&self, key: &str) -> Option<&str> {
        self.annotations.get(key).map(String::as_str)
    }
}

/// One admission rule, of metadata.yml or of a policy resource.
#[derive(Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Rule {
    api_groups: Vec<String>,
    api_versions: Vec<String>,
    resources: Vec<String>,
    operations: Vec<String>,
}

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .expect("repository root")
}

fn read(name: &str) -> String {
    let path = repo_root().join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

fn yaml(name: &str) -> Yaml {
    serde_norway::from_str(&read(name)).unwrap_or_else(|e| panic!("{name} is not valid YAML: {e}"))
}

fn metadata() -> Metadata {
    serde_norway::from_str(&read("metadata.yml"))
        .unwrap_or_else(|e| panic!("metadata.yml: rules, mutating or annotations unreadable: {e}"))
}

fn artifacthub() -> Yaml {
    yaml("artifacthub-pkg.yml")
}

fn str_at<'a>(doc: &'a Yaml, path: &[&str], file: &str) -> &'a str {
    let mut node = doc;
    for key in path {
        node = node
            .get(*key)
            .unwrap_or_else(|| panic!("{file}: missing {}", path.join(".")));
    }
    node.as_str()
        .unwrap_or_else(|| panic!("{file}: {} is not a string", path.join(".")))
}

fn annotation<'a>(metadata: &'a Metadata, key: &str) -> &'a str {
    metadata
        .annotation(key)
        .unwrap_or_else(|| panic!("metadata.yml: missing annotation {key}"))
}

/// `version = "..."` of the `[package]` table of the root Cargo.toml.
fn cargo_version() -> String {
    let mut in_package = false;
    for line in read("Cargo.toml").lines() {
        let line = line.trim();
        if line.starts_with('[') {
            in_package = line == "[package]";
            continue;
        }
        if in_package
            && let Some(value) = line.strip_prefix("version")
            && let Some(value) = value.trim_start().strip_prefix('=')
        {
            return value.trim().trim_matches('"').to_owned();
        }
    }
    panic!("Cargo.toml: no version in [package]");
}

/// `registry-host/path/name` (no tag), from io.kubewarden.policy.ociUrl.
fn oci_repository() -> String {
    annotation(&metadata(), "io.kubewarden.policy.ociUrl").to_owned()
}

#[test]
fn metadata_oci_url_is_a_repository() {
    let oci = oci_repository();
    assert!(
        !oci.contains("://") && !oci.rsplit('/').next().unwrap().contains(':'),
        "metadata.yml: io.kubewarden.policy.ociUrl must be a repository without scheme or tag, got {oci}"
    );
}

#[test]
fn one_version_everywhere() {
    let version = cargo_version();
    let metadata = metadata();
    assert_eq!(
        annotation(&metadata, ANNOTATION_VERSION),
        version,
        "metadata.yml {ANNOTATION_VERSION} differs from Cargo.toml"
    );
    let hub = artifacthub();
    assert_eq!(
        str_at(&hub, &["version"], "artifacthub-pkg.yml"),
        version,
        "artifacthub-pkg.yml version differs from Cargo.toml"
    );

    let image = format!("{}:v{version}", oci_repository());
    let images = hub
        .get("containersImages")
        .and_then(Yaml::as_sequence)
        .expect("artifacthub-pkg.yml: containersImages");
    assert!(
        !images.is_empty(),
        "artifacthub-pkg.yml: containersImages is empty"
    );
    for entry in images {
        assert_eq!(
            str_at(entry, &["image"], "artifacthub-pkg.yml containersImages"),
            image,
            "artifacthub-pkg.yml: containersImages image must be ociUrl:v<version>"
        );
    }

    // Every mention of the repository in the install text carries the tag.
    let install = str_at(&hub, &["install"], "artifacthub-pkg.yml");
    let mentions: Vec<&str> = install
        .match_indices(&oci_repository())
        .map(|(i, _)| {
            install[i..]
                .split(|c: char| c.is_whitespace() || c == '`')
                .next()
                .unwrap()
        })
        .collect();
    assert!(
        !mentions.is_empty(),
        "artifacthub-pkg.yml: the install text never names {}",
        oci_repository()
    );
    for mention in mentions {
        assert_eq!(
            mention, image,
            "artifacthub-pkg.yml: install text names {mention}, expected {image}"
        );
    }

    // Release links point at the same tag.
    for link in hub
        .get("links")
        .and_then(Yaml::as_sequence)
        .into_iter()
        .flatten()
    {
        let url = str_at(link, &["url"], "artifacthub-pkg.yml links");
        if let Some(rest) = url.split("/releases/download/").nth(1) {
            let tag = rest.split('/').next().unwrap();
            assert_eq!(
                tag,
                format!("v{version}"),
                "artifacthub-pkg.yml: release link {url} has the wrong tag"
            );
        }
    }

    // The examples deploy this version.
    for (name, doc) in examples() {
        if let Some(module) = doc.get("spec").and_then(|s| s.get("module")) {
            assert_eq!(
                module.as_str(),
                Some(format!("registry://{image}").as_str()),
                "examples/{name}: spec.module must be registry://{image}"
            );
        }
    }
}

/// `(apiGroup, resource)` pairs of a rule list.
fn rule_resources(rules: &[Rule]) -> BTreeSet<(String, String)> {
    rules
        .iter()
        .flat_map(|rule| {
            rule.api_groups.iter().flat_map(move |group| {
                rule.resources
                    .iter()
                    .map(move |resource| (group.clone(), resource.clone()))
            })
        })
        .collect()
}

#[test]
fn metadata_rules_cover_exactly_the_checked_kinds() {
    let metadata = metadata();
    let mut expected: BTreeSet<(String, String)> = CheckedKind::ALL
        .into_iter()
        .map(|kind| (kind.group_kind().0.to_owned(), kind.resource().to_owned()))
        .collect();
    expected.insert((String::new(), EPHEMERAL_SUBRESOURCE.to_owned()));
    let actual = rule_resources(&metadata.rules);
    let missing: Vec<_> = expected.difference(&actual).collect();
    let extra: Vec<_> = actual.difference(&expected).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "metadata.yml rules: (apiGroup, resource) missing {missing:?}, not handled by the code {extra:?}"
    );
    for (i, rule) in metadata.rules.iter().enumerate() {
        assert_eq!(
            rule.api_versions,
            ["v1"],
            "metadata.yml rules[{i}]: every checked kind is served as v1"
        );
        assert_eq!(
            rule.operations,
            ["CREATE", "UPDATE"],
            "metadata.yml rules[{i}]: the policy checks CREATE and UPDATE (DELETE and CONNECT are always accepted)"
        );
    }

    let kinds: BTreeSet<&str> = CheckedKind::ALL
        .into_iter()
        .map(|k| k.group_kind().1)
        .collect();
    let listed = |value: &str| -> BTreeSet<String> {
        value.split(',').map(|s| s.trim().to_owned()).collect()
    };
    let kinds: BTreeSet<String> = kinds.into_iter().map(str::to_owned).collect();
    assert_eq!(
        listed(annotation(&metadata, "io.artifacthub.resources")),
        kinds,
        "metadata.yml io.artifacthub.resources must list the checked kinds"
    );
    assert_eq!(
        listed(str_at(
            &artifacthub(),
            &["annotations", "kubewarden/resources"],
            "artifacthub-pkg.yml"
        )),
        kinds,
        "artifacthub-pkg.yml kubewarden/resources must list the checked kinds"
    );
}

#[test]
fn artifacthub_pkg_matches_metadata_and_questions() {
    let metadata = metadata();
    let hub = artifacthub();
    let file = "artifacthub-pkg.yml";

    let rules: Vec<Rule> =
        serde_norway::from_str(str_at(&hub, &["annotations", "kubewarden/rules"], file))
            .expect("artifacthub-pkg.yml kubewarden/rules is not a rule list");
    assert_eq!(
        rules, metadata.rules,
        "artifacthub-pkg.yml kubewarden/rules differs from metadata.yml rules"
    );

    let questions: Yaml = serde_norway::from_str(str_at(
        &hub,
        &["annotations", "kubewarden/questions-ui"],
        file,
    ))
    .expect("artifacthub-pkg.yml kubewarden/questions-ui is not YAML");
    assert_eq!(
        questions,
        yaml("questions-ui.yml"),
        "artifacthub-pkg.yml kubewarden/questions-ui differs from questions-ui.yml"
    );

    assert_eq!(
        str_at(&hub, &["annotations", "kubewarden/mutation"], file),
        metadata.mutating.to_string(),
        "artifacthub-pkg.yml kubewarden/mutation differs from metadata.yml mutating"
    );
    for (hub_key, annotation_key) in [
        ("displayName", "io.artifacthub.displayName"),
        ("description", "io.kubewarden.policy.description"),
        ("license", "io.kubewarden.policy.license"),
        ("homeURL", "io.kubewarden.policy.url"),
        ("name", "io.kubewarden.policy.title"),
    ] {
        assert_eq!(
            str_at(&hub, &[hub_key], file),
            annotation(&metadata, annotation_key),
            "{file} {hub_key} differs from metadata.yml {annotation_key}"
        );
    }
    let keywords: Vec<String> = annotation(&metadata, "io.artifacthub.keywords")
        .split(',')
        .map(|s| s.trim().to_owned())
        .collect();
    let hub_keywords: Vec<String> = serde_norway::from_value(
        hub.get("keywords")
            .cloned()
            .expect("artifacthub-pkg.yml keywords"),
    )
    .expect("artifacthub-pkg.yml keywords is a list of strings");
    assert_eq!(
        hub_keywords, keywords,
        "artifacthub-pkg.yml keywords differ from metadata.yml io.artifacthub.keywords"
    );
}

fn expected_keys() -> BTreeSet<String> {
    SETTING_KEYS.iter().map(|k| (*k).to_owned()).collect()
}

fn compare_keys(found: &[String], source: &str) {
    let expected = expected_keys();
    let set: BTreeSet<String> = found.iter().cloned().collect();
    assert_eq!(
        set.len(),
        found.len(),
        "{source}: a setting is listed twice: {found:?}"
    );
    let missing: Vec<_> = expected.difference(&set).collect();
    let extra: Vec<_> = set.difference(&expected).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "{source}: settings missing {missing:?}, not accepted by the code {extra:?}"
    );
}

#[test]
fn questions_ui_lists_exactly_the_settings() {
    let questions = yaml("questions-ui.yml");
    let list = questions
        .get("questions")
        .and_then(Yaml::as_sequence)
        .expect("questions-ui.yml: questions");
    let variables: Vec<String> = list
        .iter()
        .map(|q| str_at(q, &["variable"], "questions-ui.yml questions[]").to_owned())
        .collect();
    compare_keys(&variables, "questions-ui.yml");
    // Sub-questions of a map setting are `<setting>.<field>`.
    for question in list {
        let parent = str_at(question, &["variable"], "questions-ui.yml");
        for sub in question
            .get("subquestions")
            .and_then(Yaml::as_sequence)
            .into_iter()
            .flatten()
        {
            let variable = str_at(sub, &["variable"], "questions-ui.yml subquestions[]");
            assert!(
                variable.starts_with(&format!("{parent}.")),
                "questions-ui.yml: subquestion {variable} of {parent} must be named {parent}.<field>"
            );
        }
    }
}

/// The first-column keys of README.md's settings table: the first Markdown
/// table of the `## Settings` section, rows like "| `key` | type | default | meaning |".
fn readme_setting_rows(readme: &str) -> Vec<String> {
    let mut lines = readme.lines().skip_while(|l| l.trim() != "## Settings");
    assert!(
        lines.next().is_some(),
        "README.md: no `## Settings` section"
    );
    let section: Vec<&str> = lines.take_while(|l| !l.starts_with("## ")).collect();
    let table: Vec<&str> = section
        .iter()
        .skip_while(|l| !l.trim_start().starts_with('|'))
        .take_while(|l| l.trim_start().starts_with('|'))
        .copied()
        .collect();
    assert!(
        table.len() >= 3,
        "README.md: the `## Settings` section has no settings table (| key | type | default | meaning |)"
    );
    table[2..]
        .iter()
        .map(|row| {
            let cell = row
                .trim()
                .trim_start_matches('|')
                .split('|')
                .next()
                .unwrap()
                .trim();
            cell.strip_prefix('`')
                .and_then(|c| c.strip_suffix('`'))
                .unwrap_or_else(|| {
                    panic!("README.md settings table: row does not start with | `key` |: {row}")
                })
                .to_owned()
        })
        .collect()
}

#[test]
fn readme_settings_table_lists_exactly_the_settings() {
    compare_keys(
        &readme_setting_rows(&read("README.md")),
        "README.md settings table",
    );
}

#[test]
fn readme_table_parser() {
    let readme = "# x\n\n## Settings\n\ntext\n\n| key | type | default | meaning |\n|---|---|---|---|\n| `a` | bool | `false` | x |\n| `b` | list | `[]` | y |\n\n| other | table |\n|---|---|\n| `c` | z |\n\n## Next\n| `d` | q |\n";
    assert_eq!(readme_setting_rows(readme), ["a", "b"]);
}

fn examples() -> Vec<(String, Yaml)> {
    let dir = repo_root().join("examples");
    let mut out = Vec::new();
    let mut paths: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("examples/")
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml" || e == "yml"))
        .collect();
    paths.sort();
    for path in paths {
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let text = std::fs::read_to_string(&path).unwrap();
        for doc in serde_norway::Deserializer::from_str(&text) {
            let value = Yaml::deserialize(doc)
                .unwrap_or_else(|e| panic!("examples/{name} is not valid YAML: {e}"));
            if !value.is_null() {
                out.push((name.clone(), value));
            }
        }
    }
    assert!(!out.is_empty(), "no example in examples/");
    out
}

#[test]
fn examples_use_valid_settings_and_known_rules() {
    let metadata = metadata();
    let allowed: BTreeSet<(String, String, String, String)> = metadata
        .rules
        .iter()
        .flat_map(|r| {
            r.api_groups.iter().flat_map(move |g| {
                r.api_versions.iter().flat_map(move |v| {
                    r.resources.iter().flat_map(move |res| {
                        r.operations
                            .iter()
                            .map(move |op| (g.clone(), v.clone(), res.clone(), op.clone()))
                    })
                })
            })
        })
        .collect();
    for (name, doc) in examples() {
        let kind = doc.get("kind").and_then(Yaml::as_str).unwrap_or("");
        if !kind.ends_with("AdmissionPolicy") {
            continue;
        }
        let spec = doc
            .get("spec")
            .unwrap_or_else(|| panic!("examples/{name}: no spec"));
        let settings = spec
            .get("settings")
            .cloned()
            .unwrap_or(Yaml::Mapping(Default::default()));
        let json: serde_json::Value = serde_norway::from_value(settings)
            .unwrap_or_else(|e| panic!("examples/{name}: settings are not JSON-like: {e}"));
        if let Some(map) = json.as_object() {
            for key in map.keys() {
                assert!(
                    SETTING_KEYS.contains(&key.as_str()),
                    "examples/{name}: unknown setting {key}"
                );
            }
        }
        if let Err(message) = Settings::from_json(&json) {
            panic!("examples/{name}: the policy rejects these settings: {message}");
        }
        let mutate = json.get("mutate").and_then(serde_json::Value::as_bool) == Some(true);
        let mutating = spec.get("mutating").and_then(Yaml::as_bool) == Some(true);
        assert!(
            !mutate || mutating,
            "examples/{name}: settings.mutate is true but spec.mutating is not: Kubewarden would drop the patches"
        );
        let rules: Vec<Rule> = serde_norway::from_value(
            spec.get("rules")
                .cloned()
                .unwrap_or_else(|| panic!("examples/{name}: no spec.rules")),
        )
        .unwrap_or_else(|e| panic!("examples/{name}: spec.rules: {e}"));
        for rule in &rules {
            for g in &rule.api_groups {
                for v in &rule.api_versions {
                    for res in &rule.resources {
                        for op in &rule.operations {
                            assert!(
                                allowed.contains(&(g.clone(), v.clone(), res.clone(), op.clone())),
                                "examples/{name}: rule ({g:?}, {v}, {res}, {op:?}) is not in metadata.yml rules"
                            );
                        }
                    }
                }
            }
        }
    }
}

#[test]
fn metadata_annotations_are_single_line_where_oci_needs_them() {
    // kwctl push copies only single-line annotations into the OCI manifest;
    // the ones that identify the policy must get there (e2e.bats reads the
    // manifest kwctl pushed).
    let metadata = metadata();
    for key in [
        "io.kubewarden.policy.title",
        ANNOTATION_VERSION,
        "io.kubewarden.policy.source",
        "io.kubewarden.policy.description",
    ] {
        let value = annotation(&metadata, key);
        assert!(
            !value.contains('\n'),
            "metadata.yml {key} must be a single line to reach the OCI manifest"
        );
    }
}

/// The `| \`name\` ...` rows of a Markdown file, or of its section under
/// HEADING when given.
fn profile_rows(text: &str, heading: Option<&str>) -> Vec<String> {
    let lines: Vec<&str> = match heading {
        Some(heading) => text
            .lines()
            .skip_while(|l| l.trim() != heading)
            .skip(1)
            .take_while(|l| !l.starts_with("## ") && !l.starts_with("### "))
            .collect(),
        None => text.lines().collect(),
    };
    lines
        .into_iter()
        .filter(|l| l.starts_with("| `"))
        .map(str::to_owned)
        .collect()
}

fn profile_repositories(profile: &ApplicationProfile) -> String {
    profile
        .repositories
        .iter()
        .map(|r| format!("`{r}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// README.md's profile table (under `### \`applicationProfiles\``): a row
/// per profile, its repositories, and each path with its source, as the
/// data would write them.
#[test]
fn readme_profile_table_is_the_profiles_data() {
    let expected: Vec<String> = APPLICATION_PROFILES
        .iter()
        .map(|profile| {
            let paths: Vec<String> = profile
                .sources()
                .map(|source| format!("`{}` ([source]({}))", source.path, source.source))
                .collect();
            format!(
                "| `{}` | {} | {} |",
                profile.name,
                profile_repositories(profile),
                paths.join(", ")
            )
        })
        .collect();
    assert_eq!(
        profile_rows(&read("README.md"), Some("### `applicationProfiles`")),
        expected,
        "README.md: the applicationProfiles table must list every profile with its repositories and every path with its source, as src/profiles.rs has them"
    );
}

/// docs/profiles.md: a row per profile path, with what the image writes
/// there and the source, as the data would write them.
#[test]
fn docs_profile_table_is_the_profiles_data() {
    let mut expected = Vec::new();
    for profile in APPLICATION_PROFILES {
        for source in profile.sources() {
            expected.push(format!(
                "| `{}` | {} | `{}` | {} | [source]({}) |",
                profile.name,
                profile_repositories(profile),
                source.path,
                source.reason,
                source.source
            ));
        }
    }
    assert_eq!(
        profile_rows(&read("docs/profiles.md"), None),
        expected,
        "docs/profiles.md: the table must list every profile path with its reason and source, as src/profiles.rs has them"
    );
}

#[test]
fn questions_ui_names_exactly_the_known_profiles() {
    let questions = yaml("questions-ui.yml");
    let question = questions["questions"]
        .as_sequence()
        .and_then(|list| {
            list.iter()
                .find(|q| q["variable"].as_str() == Some("applicationProfiles"))
        })
        .expect("questions-ui.yml: no applicationProfiles question");
    let description = str_at(
        question,
        &["description"],
        "questions-ui.yml applicationProfiles",
    );
    let listed = description
        .split("Known profiles: ")
        .nth(1)
        .and_then(|rest| rest.split('.').next())
        .expect("questions-ui.yml applicationProfiles: the description must say \"Known profiles: a, b, c.\"");
    let names: Vec<&str> = listed.split(", ").collect();
    let known: Vec<&str> = APPLICATION_PROFILES.iter().map(|p| p.name).collect();
    assert_eq!(
        names, known,
        "questions-ui.yml: applicationProfiles must name exactly the known profiles"
    );
}
