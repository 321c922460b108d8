//! `readonly-rootfs profiles`: what each built-in application profile means,
//! before anyone enables it: its repositories, its paths, why the image
//! writes each one and the public source that shows it, and the
//! `containerWritablePaths` rule to copy for a mirror registry. The data is
//! the core's (`readonly_rootfs_policy::profiles`), printed as it is.

use readonly_rootfs_policy::profiles::{APPLICATION_PROFILES, ApplicationProfile};
use serde::Serialize;
use std::fmt::Write as _;

/// The profiles named in `names` (all when empty), in the core's order, or
/// the unknown name with the known ones.
pub fn select(names: &[String]) -> Result<Vec<&'static ApplicationProfile>, String> {
    if names.is_empty() {
        return Ok(APPLICATION_PROFILES.iter().collect());
    }
    let mut selected = Vec::new();
    for name in names {
        let profile = APPLICATION_PROFILES
            .iter()
            .find(|p| p.name == name)
            .ok_or_else(|| {
                let known: Vec<&str> = APPLICATION_PROFILES.iter().map(|p| p.name).collect();
                format!(
                    "{name:?} is not a known application profile; the known profiles are: {}",
                    known.join(", ")
                )
            })?;
        if !selected.contains(&profile) {
            selected.push(profile);
        }
    }
    Ok(selected)
}

/// Each profile as a block: repositories, then each path with why and
/// where from, then the equivalent `containerWritablePaths` rule.
pub fn text(profiles: &[&ApplicationProfile]) -> String {
    let mut out = String::new();
    for (i, profile) in profiles.iter().enumerate() {
        if i > 0 {
            out.push('\n');
        }
        let _ = writeln!(out, "{}", profile.name);
        let _ = writeln!(out, "  repositories: {}", profile.repositories.join(", "));
        let width = profile.paths.iter().map(|p| p.len()).max().unwrap_or(0);
        for source in profile.sources() {
            let _ = writeln!(out, "  {:width$}  {}", source.path, source.reason);
            let _ = writeln!(out, "  {:width$}  source: {}", "", source.source);
        }
        let _ = writeln!(
            out,
            "  as containerWritablePaths rules (for a mirror, change the repository):"
        );
        for repository in profile.repositories {
            let paths: Vec<String> = profile.paths.iter().map(|p| format!("{p:?}")).collect();
            let _ = writeln!(out, "    - image: {repository:?}");
            let _ = writeln!(out, "      paths: [{}]", paths.join(", "));
        }
    }
    out
}

#[derive(Serialize)]
struct ProfileRecord<'p> {
    name: &'p str,
    repositories: &'p [&'p str],
    paths: Vec<PathRecord<'p>>,
}

#[derive(Serialize)]
struct PathRecord<'p> {
    path: &'p str,
    reason: &'p str,
    source: &'p str,
}

/// A JSON array: `{name, repositories, paths: [{path, reason, source}]}`.
pub fn json(profiles: &[&ApplicationProfile]) -> String {
    let records: Vec<ProfileRecord> = profiles
        .iter()
        .map(|profile| ProfileRecord {
            name: profile.name,
            repositories: profile.repositories,
            paths: profile
                .sources()
                .map(|s| PathRecord {
                    path: s.path,
                    reason: s.reason,
                    source: s.source,
                })
                .collect(),
        })
        .collect();
    let mut out = serde_json::to_string_pretty(&records).unwrap_or_else(|_| "[]".to_string());
    out.push('\n');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_profile_is_listed_with_every_path_and_source() {
        let all = select(&[]).unwrap();
        assert_eq!(all.len(), APPLICATION_PROFILES.len());
        let text = text(&all);
        for profile in APPLICATION_PROFILES {
            assert!(
                text.contains(&format!("\n{}\n", profile.name)) || text.starts_with(profile.name)
            );
            for source in profile.sources() {
                assert!(text.contains(source.source), "{}", source.source);
            }
        }
        let records: serde_json::Value = serde_json::from_str(&json(&all)).unwrap();
        let paths: usize = records
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["paths"].as_array().unwrap().len())
            .sum();
        let expected: usize = APPLICATION_PROFILES.iter().map(|p| p.paths.len()).sum();
        assert_eq!(paths, expected);
    }

    #[test]
    fn a_profile_prints_the_rule_to_copy() {
        let nginx = select(&["nginx".to_string()]).unwrap();
        assert!(text(&nginx).ends_with(
            "  as containerWritablePaths rules (for a mirror, change the repository):\n    - image: \"docker.io/library/nginx\"\n      paths: [\"/var/cache/nginx\", \"/var/run\"]\n"
        ));
    }

    #[test]
    fn unknown_names_list_the_known_ones() {
        let e = select(&["ngnix".to_string()]).unwrap_err();
        assert!(e.starts_with("\"ngnix\" is not a known application profile; the known profiles are: nginx, nginx-unprivileged"), "{e}");
    }
}
