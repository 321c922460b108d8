//! Property tests of image matching (POLICY-SPEC.md "Image references and
//! image patterns") over generated images, patterns and pods, on the native
//! core:
//!
//! - S1 every spelling of one image gets the same verdict: a pod whose
//!   images are respelled (`nginx` ↔ `docker.io/library/nginx:latest` ↔
//!   `index.docker.io/library/nginx`, registry case, `library/`) is
//!   accepted, rejected with the same message, or mutated with the same
//!   patch, under the same exemptions, rules and profiles, themselves
//!   written in any spelling;
//! - S2 a pattern built from an image's normalized parts matches it (its
//!   repository, `repository:*`, `repository:tag`, `repository@digest`, its
//!   registry or path and `/*`);
//! - S3 a pattern never matches an image of another repository (another
//!   path, a look-alike with a longer name, another registry), except `*`
//!   and a `PATH/*` that holds both.
//!
//! S1 also runs on the built `policy.wasm` for a quarter of its cases (the
//! module must give the native core's verdict on each spelling).
//!
//! Case count: `PROPTEST_CASES` (default 2000 for S2/S3, a quarter for S1,
//! which evaluates two pods per case).

#[allow(dead_code)]
mod support;

use policy_host::fixture_table::{Evaluator, Outcome};
use proptest::prelude::*;
use readonly_rootfs_policy::selector::{ContainerImage, ImagePattern};
use serde_json::{Value, json};
use std::cell::RefCell;

/// A repository: its registry as the runtime reads it (`None`: Docker Hub)
/// and its path there.
#[derive(Debug, Clone, PartialEq)]
struct Repository {
    registry: Option<&'static str>,
    path: &'static str,
}

const REPOSITORIES: [Repository; 6] = [
    Repository {
        registry: None,
        path: "library/nginx",
    },
    Repository {
        registry: None,
        path: "library/nginx-lookalike",
    },
    Repository {
        registry: None,
        path: "istio/proxyv2",
    },
    Repository {
        registry: Some("registry.example.com"),
        path: "library/nginx",
    },
    Repository {
        registry: Some("registry.example.com"),
        path: "debug/netshoot",
    },
    Repository {
        registry: Some("localhost:5000"),
        path: "debug",
    },
];

const DIGEST: &str = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

/// One image: a repository, a tag and a digest (`None`: not written).
#[derive(Debug, Clone)]
struct Image {
    repository: usize,
    tag: Option<&'static str>,
    digest: bool,
}

/// The spellings of a repository that the runtime reads as the same one.
fn spellings(repository: &Repository) -> Vec<String> {
    match repository.registry {
        None => {
            let mut out = vec![
                format!("docker.io/{}", repository.path),
                format!("index.docker.io/{}", repository.path),
                format!("DOCKER.IO/{}", repository.path),
                format!("Index.Docker.Io/{}", repository.path),
            ];
            match repository.path.strip_prefix("library/") {
                Some(short) => {
                    out.push(short.to_string());
                    out.push(repository.path.to_string());
                    out.push(format!("docker.io/{short}"));
                }
                None => out.push(repository.path.to_string()),
            }
            out
        }
        Some(registry) => vec![
            format!("{registry}/{}", repository.path),
            format!("{}/{}", registry.to_uppercase(), repository.path),
        ],
    }
}

/// `image` written with spelling `which` of its repository (modulo the
/// count), with `:latest` added or left out where it means the same.
fn write(image: &Image, which: usize) -> String {
    let repository = &REPOSITORIES[image.repository];
    let names = spellings(repository);
    let mut out = names[which % names.len()].clone();
    match (image.tag, image.digest) {
        (Some(tag), _) => {
            out.push(':');
            out.push_str(tag);
        }
        // No tag and no digest is `latest`: write it half of the time.
        (None, false) if which % 2 == 1 => out.push_str(":latest"),
        _ => {}
    }
    if image.digest {
        out.push('@');
        out.push_str(DIGEST);
    }
    out
}

fn image() -> impl Strategy<Value = Image> {
    (
        0..REPOSITORIES.len(),
        prop_oneof![Just(None), Just(Some("1.27")), Just(Some("latest"))],
        any::<bool>(),
    )
        .prop_map(|(repository, tag, digest)| Image {
            repository,
            tag,
            digest,
        })
}

/// A pattern of every form of the contract, for repository `repository`,
/// written with spelling `which`.
fn pattern_text(form: usize, repository: usize, which: usize) -> String {
    let repo = {
        let names = spellings(&REPOSITORIES[repository]);
        names[which % names.len()].clone()
    };
    match form % 7 {
        0 => "*".to_string(),
        1 => repo,
        2 => format!("{repo}:*"),
        3 => format!("{repo}:1.27"),
        4 => format!("{repo}@{DIGEST}"),
        5 => {
            // The repository's first path component and `/*`, with the
            // registry spelled in one of its ways.
            let repository = &REPOSITORIES[repository];
            let first = repository.path.split('/').next().unwrap_or_default();
            let registries: Vec<String> = match repository.registry {
                None => ["docker.io", "index.docker.io", "DOCKER.IO", ""]
                    .map(String::from)
                    .to_vec(),
                Some(registry) => vec![registry.to_string(), registry.to_uppercase()],
            };
            match registries[which % registries.len()].as_str() {
                "" => format!("{first}/*"),
                registry => format!("{registry}/{first}/*"),
            }
        }
        _ => format!("{repo}:latest"),
    }
}

/// Settings with two exemptions and a rule and the nginx profile, whose
/// image patterns are written with spelling `which`.
fn settings(patterns: &[(usize, usize)], which: usize, mutate: bool) -> Value {
    let text = |i: usize| pattern_text(patterns[i].0, patterns[i].1, which);
    json!({
        "mutate": mutate,
        "requiredWritablePaths": ["/tmp"],
        "exemptContainers": [{"name": "c0", "image": text(0)}, {"image": text(1)}],
        "containerWritablePaths": [{"image": text(2), "paths": ["/var/cache/app"]}],
        "applicationProfiles": ["nginx"],
    })
}

fn pod(images: &[Image], which: usize) -> Value {
    let containers: Vec<Value> = images
        .iter()
        .enumerate()
        .map(|(i, image)| {
            json!({
                "name": format!("c{i}"),
                "image": write(image, which + i),
                "securityContext": {"readOnlyRootFilesystem": i % 3 != 0},
            })
        })
        .collect();
    json!({
        "uid": "spellings",
        "kind": {"group": "", "version": "v1", "kind": "Pod"},
        "resource": {"group": "", "version": "v1", "resource": "pods"},
        "name": "p",
        "namespace": "default",
        "operation": "CREATE",
        "userInfo": {"username": "tester"},
        "object": {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
                   "spec": {"containers": containers}},
    })
}

fn matches(pattern: &str, image: &str) -> bool {
    ImagePattern::parse(pattern)
        .unwrap_or_else(|e| panic!("{pattern}: {e}"))
        .matches(&ContainerImage::new(Some(image)))
}

thread_local! {
    static WASM: support::WasmModule = support::WasmModule(RefCell::new(support::load_policy()));
}

fn cases(default: u32) -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(default)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(cases(2000) / 4))]

    #[test]
    fn every_spelling_of_one_image_gets_the_same_verdict(
        images in prop::collection::vec(image(), 1..6),
        patterns in prop::collection::vec((0..7usize, 0..REPOSITORIES.len()), 3),
        spelling_a in 0..8usize,
        spelling_b in 0..8usize,
        mutate in any::<bool>(),
    ) {
        let core = support::NativeCore;
        let a = core.evaluate(&pod(&images, spelling_a), &settings(&patterns, spelling_a, mutate));
        let b = core.evaluate(&pod(&images, spelling_b), &settings(&patterns, spelling_b, mutate));
        if spelling_a % 4 == 0 {
            WASM.with(|wasm| {
                let module = wasm.evaluate(&pod(&images, spelling_a), &settings(&patterns, spelling_a, mutate));
                assert_eq!(module, a, "policy.wasm and the native core differ");
            });
        }
        // A rule line quotes the pattern as written: compare without it.
        let unquoted = |message: &str| {
            message
                .lines()
                .map(|line| line.split(" (the policy's containerWritablePaths[0]").next().unwrap_or(line).to_string())
                .collect::<Vec<_>>()
        };
        match (&a, &b) {
            (Outcome::Accept { .. }, Outcome::Accept { .. }) => {}
            (Outcome::Reject { message: ma, .. }, Outcome::Reject { message: mb, .. }) => {
                prop_assert_eq!(unquoted(ma), unquoted(mb));
            }
            (Outcome::Mutate { patch: pa, .. }, Outcome::Mutate { patch: pb, .. }) => {
                prop_assert_eq!(pa, pb);
            }
            _ => prop_assert!(false, "spelling {} gave {:?}, spelling {} gave {:?}", spelling_a, a, spelling_b, b),
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(cases(2000)))]

    #[test]
    fn a_pattern_built_from_an_image_s_parts_matches_it(image in image(), which in 0..8usize) {
        let written = write(&image, which);
        let repository = &REPOSITORIES[image.repository];
        let registry = repository.registry.unwrap_or("docker.io");
        let full = format!("{registry}/{}", repository.path);
        let first = repository.path.split('/').next().unwrap_or_default();
        let mut expected = vec![
            ("*".to_string(), true),
            (full.clone(), true),
            (format!("{full}:*"), true),
            (format!("{registry}/*"), true),
            // A path prefix holds deeper repositories only.
            (format!("{registry}/{first}/*"), repository.path.contains('/')),
            (format!("{full}@{DIGEST}"), image.digest),
            (format!("{full}:9.9@{DIGEST}"), image.digest),
        ];
        match (image.tag, image.digest) {
            (Some(tag), _) => expected.push((format!("{full}:{tag}"), true)),
            // No tag and no digest is `latest`; a digest alone has no tag.
            (None, digest) => expected.push((format!("{full}:latest"), !digest)),
        }
        for (pattern, expect) in expected {
            prop_assert_eq!(matches(&pattern, &written), expect, "{} against {}", pattern, written);
        }
    }

    #[test]
    fn a_pattern_never_matches_an_image_of_another_repository(
        image in image(),
        other in 0..REPOSITORIES.len(),
        form in 1..5usize,
        which in 0..8usize,
    ) {
        prop_assume!(other != image.repository);
        let written = write(&image, which);
        let pattern = pattern_text(form, other, which);
        prop_assert!(!matches(&pattern, &written), "{} matched {}", pattern, written);
    }
}
