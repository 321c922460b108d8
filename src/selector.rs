//! Which containers an exemption, a `containerWritablePaths` rule or an
//! application profile applies to: a container name, an image pattern, or
//! both. One matcher for all three. Images are compared as the container
//! runtime resolves them (see [`crate::image`]), never as strings:
//! `nginx:1.27`, `library/nginx:1.27` and `docker.io/library/nginx:1.27` are
//! one image.

use crate::escape::{push_quoted, quoted};
use crate::image::{self, ImageReference, RepositoryPrefix};
use std::borrow::Cow;
use std::cell::OnceCell;

/// When both `name` and `image` are set, both must match: that is what
/// stops a pod from exempting itself by naming a container like a trusted
/// sidecar.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContainerSelector {
    pub name: Option<String>,
    pub image: Option<ImagePattern>,
}

/// An image pattern of the settings, read once when the settings are read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImagePattern {
    /// As written in the settings, for messages.
    written: Cow<'static, str>,
    kind: PatternKind,
}

/// The forms of the contract's table.
#[derive(Debug, Clone, PartialEq, Eq)]
enum PatternKind {
    /// `*`: every image, including one that is not a valid reference.
    AnyImage,
    /// `REPOSITORY` or `REPOSITORY:*`: every tag and digest (the
    /// reference has neither).
    Repository(ImageReference),
    /// `REPOSITORY:TAG`: that tag, with or without a digest.
    Tag(ImageReference),
    /// `REPOSITORY@DIGEST` or `REPOSITORY:TAG@DIGEST`: that digest.
    Digest(ImageReference),
    /// `PATH/*`: every repository under a registry or a path of it, at any
    /// depth.
    Under(RepositoryPrefix),
    /// A repository of the policy's own data, already normalized
    /// (`docker.io/library/nginx`): an application profile's. Read without
    /// parsing, as profiles are turned into rules on every request.
    BuiltInRepository {
        registry: &'static str,
        path: &'static str,
    },
}

/// A container's `image`, read as a reference the first time a pattern
/// needs it (name-only selectors never read it) and then kept.
pub struct ContainerImage<'a> {
    raw: Option<&'a str>,
    reference: OnceCell<Option<ImageReference>>,
}

impl<'a> ContainerImage<'a> {
    pub fn new(raw: Option<&'a str>) -> ContainerImage<'a> {
        ContainerImage {
            raw,
            reference: OnceCell::new(),
        }
    }

    /// `None` when the container has no image or the image is not a valid
    /// reference.
    fn reference(&self) -> Option<&ImageReference> {
        self.reference
            .get_or_init(|| self.raw.and_then(|raw| image::parse(raw).ok()))
            .as_ref()
    }
}

impl ContainerSelector {
    pub fn matches(&self, container_name: &str, container_image: &ContainerImage) -> bool {
        self.name.as_deref().is_none_or(|n| n == container_name)
            && self
                .image
                .as_ref()
                .is_none_or(|pattern| pattern.matches(container_image))
    }

    /// How a rejection message names the selector: `image "nginx"`,
    /// `name "web" and image "nginx"`.
    pub fn describe(&self) -> String {
        let name = self.name.as_deref().map(|n| format!("name {}", quoted(n)));
        let image = self
            .image
            .as_ref()
            .map(|i| format!("image {}", quoted(&i.written)));
        match (name, image) {
            (Some(name), Some(image)) => format!("{name} and {image}"),
            (Some(one), None) | (None, Some(one)) => one,
            (None, None) => "every container".to_string(),
        }
    }
}

impl ImagePattern {
    /// Reads a pattern of the settings. `Err` says what is wrong and which
    /// form to use instead; the caller puts the key in front.
    pub fn parse(written: &str) -> Result<ImagePattern, String> {
        if written.is_empty() {
            return Err("the image is empty; enter an image, a repository, \"<repository>:*\" or \"<path>/*\", or remove the key to match on the name only".to_string());
        }
        let kind = if written == "*" {
            PatternKind::AnyImage
        } else if written == "/*" {
            return Err("\"/*\": name a registry or path before /*, such as \"registry.example.com/*\", or write \"*\" for every image".to_string());
        } else if let Some(prefix) = written.strip_suffix("/*").filter(|p| !has_star(p)) {
            let prefix = image::parse_repository_prefix(prefix)
                .map_err(|why| invalid(written, &why.to_string()))?;
            PatternKind::Under(prefix)
        } else if let Some(repository) = written.strip_suffix(":*").filter(|r| !has_star(r)) {
            let reference =
                image::parse(repository).map_err(|why| invalid(written, &why.to_string()))?;
            if reference.tag().is_some() || reference.digest().is_some() {
                return Err(format!(
                    "{}: \":*\" follows a repository without a tag or digest, as in \"nginx:*\"",
                    quoted(written)
                ));
            }
            PatternKind::Repository(reference)
        } else if has_star(written) {
            return Err(misplaced_star(written));
        } else {
            let reference =
                image::parse(written).map_err(|why| invalid(written, &why.to_string()))?;
            match (reference.tag(), reference.digest()) {
                (_, Some(_)) => PatternKind::Digest(reference),
                (Some(_), None) => PatternKind::Tag(reference),
                (None, None) => PatternKind::Repository(reference),
            }
        };
        Ok(ImagePattern {
            written: Cow::Owned(written.to_string()),
            kind,
        })
    }

    /// The pattern of a normalized repository of the policy's data
    /// (`docker.io/library/nginx`): every tag and digest of it. A unit test
    /// checks that it matches as [`ImagePattern::parse`] would read it.
    pub fn built_in_repository(repository: &'static str) -> ImagePattern {
        let (registry, path) = match repository.bytes().position(|b| b == b'/') {
            Some(slash) => (&repository[..slash], &repository[slash + 1..]),
            None => ("", repository),
        };
        ImagePattern {
            written: Cow::Borrowed(repository),
            kind: PatternKind::BuiltInRepository { registry, path },
        }
    }

    /// The pattern as written in the settings.
    pub fn written(&self) -> &str {
        &self.written
    }

    pub fn matches(&self, image: &ContainerImage) -> bool {
        if image.raw.is_none() {
            return false;
        }
        if self.kind == PatternKind::AnyImage {
            return true;
        }
        // Fail closed: an image that is not a valid reference matches no
        // pattern but `*` (the kubelet could not pull it anyway).
        let Some(reference) = image.reference() else {
            return false;
        };
        match &self.kind {
            PatternKind::AnyImage => true,
            PatternKind::Repository(repository) => repository.same_repository(reference),
            PatternKind::Tag(pattern) => {
                pattern.same_repository(reference) && reference.tag_or_latest() == pattern.tag()
            }
            PatternKind::Digest(pattern) => {
                pattern.same_repository(reference) && reference.digest() == pattern.digest()
            }
            PatternKind::Under(prefix) => prefix.contains(reference),
            PatternKind::BuiltInRepository { registry, path } => {
                reference.registry() == *registry && reference.path() == *path
            }
        }
    }
}

fn has_star(s: &str) -> bool {
    s.bytes().any(|b| b == b'*')
}

fn invalid(written: &str, why: &str) -> String {
    format!("{} is not a valid image reference: {why}", quoted(written))
}

/// The message for a `*` outside the three allowed places, with the
/// pattern the user most likely meant.
fn misplaced_star(written: &str) -> String {
    let mut message = format!(
        "{}: a * is allowed only as \"*\", \"<repository>:*\" or \"<path>/*\"",
        quoted(written)
    );
    let star = written
        .bytes()
        .position(|b| b == b'*')
        .unwrap_or(written.len());
    let before = &written[..star];
    // The * follows a path (`registry.example.com/*/debug`, `reg/**`).
    if let Some(path) = before.strip_suffix('/') {
        push_every_repository_under(&mut message, path);
        return message;
    }
    let base = before.trim_end_matches([':', '.', '-', '_', '@']);
    // A registry alone (`registry.example.com*`, `localhost:5000*`).
    if names_a_registry(base) {
        push_every_repository_under(&mut message, base);
        return message;
    }
    // A tag being typed (`proxyv2:1.2*`): the repository is before its `:`.
    let base = match base.bytes().rposition(|b| b == b':' || b == b'/') {
        Some(colon) if base.as_bytes()[colon] == b':' => &base[..colon],
        _ => base,
    };
    if !base.is_empty()
        && image::parse(base).is_ok_and(|r| r.tag().is_none() && r.digest().is_none())
    {
        message.push_str("; for every tag of ");
        message.push_str(base);
        message.push_str(" write ");
        push_quoted(&mut message, base);
        if base.bytes().any(|b| b == b'/') {
            message.push(',');
            push_every_repository_under(&mut message, base);
        }
    }
    message
}

/// `; for every repository under PATH/ write "PATH/*"`, when that is a
/// valid pattern.
fn push_every_repository_under(message: &mut String, path: &str) {
    if image::parse_repository_prefix(path).is_ok() {
        message.push_str(if message.ends_with(',') { " " } else { "; " });
        message.push_str("for every repository under ");
        message.push_str(path);
        message.push_str("/ write ");
        push_quoted(message, &format!("{path}/*"));
    }
}

/// A registry host on its own (`registry.example.com`, `localhost:5000`),
/// not a repository with a tag (`nginx:1`).
fn names_a_registry(text: &str) -> bool {
    let host = &text[..text.bytes().position(|b| b == b':').unwrap_or(text.len())];
    (host == "localhost" || host.bytes().any(|b| b == b'.' || b.is_ascii_uppercase()))
        && image::parse_repository_prefix(text).is_ok_and(|prefix| prefix.path().is_empty())
}

/// Whether two container images are the same image to the runtime: equal
/// as written, or both valid references that normalize to the same
/// registry, repository, tag (`latest` when none) and digest. On a Pod
/// UPDATE a container whose image is not the same is checked as new.
pub fn same_image(a: Option<&str>, b: Option<&str>) -> bool {
    match (a, b) {
        (None, None) => true,
        (Some(a), Some(b)) if a == b => true,
        (Some(a), Some(b)) => match (image::parse(a), image::parse(b)) {
            (Ok(a), Ok(b)) => {
                a.same_repository(&b)
                    && a.tag_or_latest() == b.tag_or_latest()
                    && a.digest() == b.digest()
            }
            _ => false,
        },
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pattern(p: &str) -> ImagePattern {
        ImagePattern::parse(p).unwrap_or_else(|e| panic!("{p}: {e}"))
    }

    fn matches(p: &str, image: &str) -> bool {
        pattern(p).matches(&ContainerImage::new(Some(image)))
    }

    #[test]
    fn every_spelling_of_one_image_is_one_image() {
        let spellings = [
            "nginx:1.27",
            "library/nginx:1.27",
            "docker.io/library/nginx:1.27",
            "docker.io/nginx:1.27",
            "index.docker.io/library/nginx:1.27",
            "DOCKER.IO/library/nginx:1.27",
        ];
        for p in [
            "nginx",
            "nginx:*",
            "nginx:1.27",
            "docker.io/library/nginx",
            "docker.io/library/*",
            "docker.io/*",
            "*",
        ] {
            for image in spellings {
                assert!(matches(p, image), "{p} should match {image}");
            }
        }
        for image in spellings {
            for other in spellings {
                assert!(same_image(Some(image), Some(other)), "{image} {other}");
            }
        }
    }

    #[test]
    fn forms_of_the_table() {
        let digest = format!("sha256:{}", "a".repeat(64));
        assert!(matches("nginx", "nginx"));
        assert!(matches("nginx", &format!("nginx@{digest}")));
        assert!(matches("nginx:latest", "nginx"));
        assert!(!matches("nginx:latest", &format!("nginx@{digest}")));
        assert!(matches("nginx:1.27", &format!("nginx:1.27@{digest}")));
        assert!(!matches("nginx:1.27", "nginx:1.27.1"));
        assert!(matches(
            &format!("nginx@{digest}"),
            &format!("nginx:1.27@{digest}")
        ));
        assert!(matches(
            &format!("nginx:1.27@{digest}"),
            &format!("nginx@{digest}")
        ));
        assert!(!matches(&format!("nginx@{digest}"), "nginx:1.27"));
        assert!(matches(
            "registry.example.com/*",
            "registry.example.com/a/b/c:1"
        ));
        assert!(matches("REGISTRY.example.com/*", "registry.example.com/a"));
        assert!(matches("docker.io/istio/*", "istio/proxyv2:1.22"));
        assert!(matches("istio/*", "docker.io/istio/proxyv2:1.22"));
        assert!(!matches("docker.io/istio/*", "docker.io/istiofake/proxyv2"));
        assert!(!matches(
            "registry.example.com/debug/*",
            "registry.example.com/debugger-evil/x"
        ));
        assert!(!matches(
            "registry.example.com/debug/*",
            "registry.example.com/debug"
        ));
        assert!(!matches("nginx", "registry.example.com/library/nginx"));
        assert!(!matches("nginx", "nginx-unprivileged"));
        assert!(!matches("docker.io/istio/proxyv2", "istio/proxyv2-evil:1"));
    }

    #[test]
    fn invalid_and_missing_images_match_only_star() {
        for image in ["Nginx:1", "evil:1\n- fine", "nginx:", ""] {
            assert!(matches("*", image), "{image:?}");
            for p in ["nginx", "docker.io/*", "nginx:*"] {
                assert!(!matches(p, image), "{p} {image:?}");
            }
        }
        assert!(!pattern("*").matches(&ContainerImage::new(None)));
    }

    #[test]
    fn misplaced_stars_say_which_form_to_use() {
        assert_eq!(
            ImagePattern::parse("nginx*").unwrap_err(),
            "\"nginx*\": a * is allowed only as \"*\", \"<repository>:*\" or \"<path>/*\"; for every tag of nginx write \"nginx\""
        );
        assert_eq!(
            ImagePattern::parse("registry.example.com/debug*").unwrap_err(),
            "\"registry.example.com/debug*\": a * is allowed only as \"*\", \"<repository>:*\" or \"<path>/*\"; for every tag of registry.example.com/debug write \"registry.example.com/debug\", for every repository under registry.example.com/debug/ write \"registry.example.com/debug/*\""
        );
        let tag_prefix = ImagePattern::parse("docker.io/istio/proxyv2:1.2*").unwrap_err();
        assert!(
            tag_prefix.ends_with("for every tag of docker.io/istio/proxyv2 write \"docker.io/istio/proxyv2\", for every repository under docker.io/istio/proxyv2/ write \"docker.io/istio/proxyv2/*\""),
            "{tag_prefix}"
        );
        for (bad, suggestion) in [
            (
                "registry.example.com/*/debug",
                "; for every repository under registry.example.com/ write \"registry.example.com/*\"",
            ),
            (
                "registry.example.com*",
                "; for every repository under registry.example.com/ write \"registry.example.com/*\"",
            ),
            (
                "localhost:5000*",
                "; for every repository under localhost:5000/ write \"localhost:5000/*\"",
            ),
            (
                "reg/**",
                "; for every repository under reg/ write \"reg/*\"",
            ),
            ("nginx:1*", "; for every tag of nginx write \"nginx\""),
            ("nginx:1.2*", "; for every tag of nginx write \"nginx\""),
        ] {
            let message = ImagePattern::parse(bad).unwrap_err();
            assert!(message.ends_with(suggestion), "{bad}: {message}");
        }
        assert!(
            ImagePattern::parse("/*")
                .unwrap_err()
                .contains("name a registry or path before /*")
        );
        for bad in ["**", "reg/*/x", "*/nginx", "nginx:*:*", "a/**"] {
            assert!(ImagePattern::parse(bad).is_err(), "{bad}");
        }
        assert!(ImagePattern::parse("nginx:1.27:*").is_err());
        assert!(
            ImagePattern::parse("Nginx")
                .unwrap_err()
                .contains("is not a valid image reference")
        );
    }
}
