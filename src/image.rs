//! Container image references, read and normalized the way containerd and
//! CRI-O read a container's `image` (the distribution reference grammar of
//! `github.com/distribution/reference`, with `ParseNormalizedNamed`'s
//! Docker Hub defaults):
//!
//! ```text
//! reference        := name [ ":" tag ] [ "@" digest ]
//! name             := [registry "/"] path
//! registry         := host [":" port]           host: domain name, IPv4 or "[" IPv6 "]"
//! path             := path-component ["/" path-component]*
//! path-component   := [a-z0-9]+ ( ( "." | "_" | "__" | "-"+ ) [a-z0-9]+ )*
//! tag              := [A-Za-z0-9_] [A-Za-z0-9_.-]{0,127}
//! digest           := "sha256:" 64 hex | "sha384:" 96 hex | "sha512:" 128 hex  (lower-case hex)
//! ```
//!
//! Normalization: the first `/`-separated component is the registry when it
//! has a `.` or a `:`, is `localhost`, or has an upper-case letter; otherwise
//! the registry is `docker.io` and the whole name is the path. Registries are
//! compared lower-cased, and `index.docker.io` is `docker.io`. On `docker.io`
//! a one-component path gets `library/` (`nginx` is `docker.io/library/nginx`).
//!
//! [`parse`] does not add the default tag: an image *pattern* `nginx` means
//! every tag, while an image `nginx` runs `nginx:latest`; ask
//! [`ImageReference::tag_or_latest`] for the tag a runtime pulls.
//!
//! Where this module deliberately differs from the Go reference:
//! - a reference with both a tag and a digest keeps both (Go's
//!   `ParseDockerRef` drops the tag; the runtime pulls by digest);
//! - the registry is lower-cased before the Docker Hub rules apply, so
//!   `DOCKER.IO/nginx` is `docker.io/library/nginx` (Go keeps the spelling and
//!   treats it as another registry);
//! - a first component that is read as a registry must be a valid host
//!   (`foo_bar.com/x` is rejected; Go falls back to a name without registry,
//!   which no runtime can pull);
//! - an image ID alone (64 hex digits, or a digest such as `sha256:<hex>`
//!   with no repository) is rejected: runtimes look it up as a local image ID,
//!   so it names no repository that a pattern could match;
//! - there are no "familiar" forms: [`ImageReference`]'s `Display` is always
//!   the full `registry/path[:tag][@digest]`.
//!
//! The 255-character limit applies to the normalized path (without the
//! registry), as in `distribution/reference` v0.6 (containerd 2).
//!
//! Nothing here panics or slices a string at a non-ASCII position: every
//! split is at an ASCII separator, and any other character is an error.

use std::fmt;
use std::hash::{Hash, Hasher};

/// The registry of names with no registry component: Docker Hub.
pub const DOCKER_HUB: &str = "docker.io";
/// Docker Hub's legacy name, normalized to [`DOCKER_HUB`].
const DOCKER_HUB_LEGACY: &str = "index.docker.io";
/// The namespace of Docker Hub's official images (`nginx` is `library/nginx`).
const OFFICIAL_NAMESPACE: &str = "library/";
/// The tag a runtime pulls when a reference has neither tag nor digest.
pub const DEFAULT_TAG: &str = "latest";
/// The longest normalized repository path (`RepositoryNameTotalLengthMax`).
pub const PATH_MAX_LEN: usize = 255;
/// The longest tag.
pub const TAG_MAX_LEN: usize = 128;

/// Why a string is not an image reference (or prefix, path, tag, digest).
/// `Display` is a short clause to put after the offending value, e.g.
/// `image "Nginx" is not a valid image reference: {error}`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReferenceError {
    /// The reference (or prefix) is the empty string.
    Empty,
    /// 64 hex digits, or a digest, with no repository: an image ID.
    ImageId,
    /// Nothing before the `:tag` or `@digest` (`:1.0`, `@sha256:…`).
    MissingRepository,
    /// The registry component is not `host[:port]`.
    InvalidRegistry,
    /// A `/` at the start or end of the path, or `//`.
    EmptyPathComponent,
    /// The path has an upper-case letter.
    UpperCasePath,
    /// A path component has a character or separator the grammar forbids.
    InvalidPathComponent,
    /// The normalized path is longer than [`PATH_MAX_LEN`].
    PathTooLong,
    /// `name:` with nothing after the colon.
    EmptyTag,
    /// The tag has a forbidden character or starts with `.` or `-`.
    InvalidTag,
    /// The tag is longer than [`TAG_MAX_LEN`].
    TagTooLong,
    /// The digest is not `algorithm:hex` with the algorithm's length of
    /// lower-case hex digits (the algorithm named is the one expected).
    InvalidDigest(DigestAlgorithm),
    /// The digest's algorithm is not sha256, sha384 or sha512.
    UnsupportedDigestAlgorithm,
}

impl fmt::Display for ReferenceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = match self {
            ReferenceError::Empty => "it is empty",
            ReferenceError::ImageId => {
                "it is an image ID (a digest or 64 hexadecimal digits without a repository), \
                 not a repository reference"
            }
            ReferenceError::MissingRepository => {
                "there is no repository before the `:` tag or `@` digest"
            }
            ReferenceError::InvalidRegistry => {
                "the registry is not a host name, IPv4 address or [IPv6] address \
                 with an optional :port"
            }
            ReferenceError::EmptyPathComponent => {
                "the repository path has an empty component (a leading, trailing or double `/`)"
            }
            ReferenceError::UpperCasePath => {
                "the repository path has an upper-case letter; repository paths are lower case"
            }
            ReferenceError::InvalidPathComponent => {
                "a repository path component is not lower-case letters and digits \
                 separated by one `.`, one or two `_`, or dashes"
            }
            ReferenceError::PathTooLong => "the repository path is longer than 255 characters",
            ReferenceError::EmptyTag => "the tag after `:` is empty",
            ReferenceError::InvalidTag => {
                "the tag is not letters, digits, `_`, `.` and `-` starting with a letter, \
                 digit or `_`"
            }
            ReferenceError::TagTooLong => "the tag is longer than 128 characters",
            ReferenceError::InvalidDigest(algorithm) => {
                return write!(
                    f,
                    "the digest is not {}:<{} lower-case hex digits>",
                    algorithm.name(),
                    algorithm.hex_len()
                );
            }
            ReferenceError::UnsupportedDigestAlgorithm => {
                "the digest algorithm is not sha256, sha384 or sha512"
            }
        };
        f.write_str(text)
    }
}

impl std::error::Error for ReferenceError {}

/// The digest algorithms a reference may use (those containerd registers).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DigestAlgorithm {
    Sha256,
    Sha384,
    Sha512,
}

impl DigestAlgorithm {
    pub fn name(self) -> &'static str {
        match self {
            DigestAlgorithm::Sha256 => "sha256",
            DigestAlgorithm::Sha384 => "sha384",
            DigestAlgorithm::Sha512 => "sha512",
        }
    }

    /// The number of hex digits of its digests.
    pub fn hex_len(self) -> usize {
        match self {
            DigestAlgorithm::Sha256 => 64,
            DigestAlgorithm::Sha384 => 96,
            DigestAlgorithm::Sha512 => 128,
        }
    }

    fn from_name(name: &str) -> Option<DigestAlgorithm> {
        match name {
            "sha256" => Some(DigestAlgorithm::Sha256),
            "sha384" => Some(DigestAlgorithm::Sha384),
            "sha512" => Some(DigestAlgorithm::Sha512),
            _ => None,
        }
    }
}

/// A parsed, normalized image reference. Equality and hashing compare the
/// normalized registry, path, tag and digest.
#[derive(Clone, Debug)]
pub struct ImageReference {
    registry: String,
    /// The registry as written, kept only when its lower-case form would no
    /// longer read as a registry (`Foo/bar`: the upper case made `Foo` a
    /// registry), so that `Display` parses back to the same reference.
    registry_spelling: Option<Box<str>>,
    path: String,
    tag: Option<String>,
    digest: Option<String>,
}

impl ImageReference {
    /// The registry, lower case, `host[:port]` (`docker.io`, `[::1]:5000`).
    pub fn registry(&self) -> &str {
        &self.registry
    }

    /// The repository path in the registry (`library/nginx`).
    pub fn path(&self) -> &str {
        &self.path
    }

    /// The tag as written, if any (no default; see [`Self::tag_or_latest`]).
    pub fn tag(&self) -> Option<&str> {
        self.tag.as_deref()
    }

    /// The digest, `algorithm:hex`, if any.
    pub fn digest(&self) -> Option<&str> {
        self.digest.as_deref()
    }

    /// The tag a runtime resolves: the tag written, else `latest` when there is
    /// no digest either; `None` for a digest-only reference.
    pub fn tag_or_latest(&self) -> Option<&str> {
        match (&self.tag, &self.digest) {
            (Some(tag), _) => Some(tag),
            (None, None) => Some(DEFAULT_TAG),
            (None, Some(_)) => None,
        }
    }

    /// `registry/path`, e.g. `docker.io/library/nginx`.
    pub fn repository(&self) -> String {
        let registry = self.registry_display();
        let mut out = String::with_capacity(registry.len() + 1 + self.path.len());
        out.push_str(registry);
        out.push('/');
        out.push_str(&self.path);
        out
    }

    /// Whether both name the same repository (registry and path), whatever
    /// their tags and digests.
    pub fn same_repository(&self, other: &ImageReference) -> bool {
        self.registry == other.registry && self.path == other.path
    }

    fn registry_display(&self) -> &str {
        self.registry_spelling.as_deref().unwrap_or(&self.registry)
    }
}

impl PartialEq for ImageReference {
    fn eq(&self, other: &ImageReference) -> bool {
        self.same_repository(other) && self.tag == other.tag && self.digest == other.digest
    }
}

impl Eq for ImageReference {}

impl Hash for ImageReference {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.registry.hash(state);
        self.path.hash(state);
        self.tag.hash(state);
        self.digest.hash(state);
    }
}

/// The full normalized form, `registry/path[:tag][@digest]`, with no default
/// tag added: `docker.io/library/nginx:1.27`. It parses back to an equal
/// reference.
impl fmt::Display for ImageReference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.registry_display())?;
        f.write_str("/")?;
        f.write_str(&self.path)?;
        if let Some(tag) = &self.tag {
            f.write_str(":")?;
            f.write_str(tag)?;
        }
        if let Some(digest) = &self.digest {
            f.write_str("@")?;
            f.write_str(digest)?;
        }
        Ok(())
    }
}

/// `s` split at the first `byte` (ASCII, so always at a character
/// boundary). Byte searches keep the string-pattern machinery out of
/// policy.wasm.
fn split_once_byte(s: &str, byte: u8) -> Option<(&str, &str)> {
    let at = s.bytes().position(|b| b == byte)?;
    Some((&s[..at], &s[at + 1..]))
}

/// Reads and normalizes an image reference. No default tag is added.
// Not inlined: settings and the container walk both call it, and one copy
// keeps policy.wasm small.
#[inline(never)]
pub fn parse(reference: &str) -> Result<ImageReference, ReferenceError> {
    if reference.is_empty() {
        return Err(ReferenceError::Empty);
    }
    if is_image_id(reference) {
        return Err(ReferenceError::ImageId);
    }
    // `@` occurs in no name or tag: the first one starts the digest.
    let (name_and_tag, digest) = match split_once_byte(reference, b'@') {
        Some((before, digest)) => (before, Some(digest)),
        None => (reference, None),
    };
    // A tag follows the last path component: the first `:` after the last `/`
    // (a `:` before it belongs to the registry's port or IPv6 address).
    let last_component = name_and_tag
        .bytes()
        .rposition(|b| b == b'/')
        .map_or(0, |slash| slash + 1);
    let (name, tag) = match name_and_tag[last_component..]
        .bytes()
        .position(|b| b == b':')
    {
        Some(colon) => {
            let colon = last_component + colon;
            (&name_and_tag[..colon], Some(&name_and_tag[colon + 1..]))
        }
        None => (name_and_tag, None),
    };
    if name.is_empty() {
        return Err(ReferenceError::MissingRepository);
    }

    let (registry_text, path_text) = match split_once_byte(name, b'/') {
        Some((first, rest)) if is_registry_component(first) => (Some(first), rest),
        _ => (None, name),
    };
    let (registry, registry_spelling) = match registry_text {
        Some(text) => normalize_registry(text)?,
        None => (DOCKER_HUB.to_owned(), None),
    };
    validate_path_components(path_text)?;
    let official = registry == DOCKER_HUB && !path_text.bytes().any(|b| b == b'/');
    let path_len = path_text.len()
        + if official {
            OFFICIAL_NAMESPACE.len()
        } else {
            0
        };
    if path_len > PATH_MAX_LEN {
        return Err(ReferenceError::PathTooLong);
    }
    let mut path = String::with_capacity(path_len);
    if official {
        path.push_str(OFFICIAL_NAMESPACE);
    }
    path.push_str(path_text);

    if let Some(tag) = tag {
        validate_tag(tag)?;
    }
    if let Some(digest) = digest {
        validate_digest(digest)?;
    }
    Ok(ImageReference {
        registry,
        registry_spelling,
        path,
        tag: tag.map(str::to_owned),
        digest: digest.map(str::to_owned),
    })
}

/// A registry, or a registry and a path, that image patterns such as
/// `registry.example.com/*` and `docker.io/istio/*` select everything under.
#[derive(Clone, Debug)]
pub struct RepositoryPrefix {
    registry: String,
    registry_spelling: Option<Box<str>>,
    path: String,
}

impl RepositoryPrefix {
    /// The registry, normalized as in [`ImageReference::registry`].
    pub fn registry(&self) -> &str {
        &self.registry
    }

    /// The path prefix, possibly empty (the whole registry).
    pub fn path(&self) -> &str {
        &self.path
    }

    /// Whether the image's repository is under this prefix: the same
    /// registry and, when the prefix has a path, a path that continues it
    /// with `/` and at least one more component (`docker.io/istio` holds
    /// `docker.io/istio/proxyv2` and `docker.io/istio/a/b`, not
    /// `docker.io/istio-evil/x` nor `docker.io/istio` itself).
    pub fn contains(&self, image: &ImageReference) -> bool {
        image.registry == self.registry
            && (self.path.is_empty()
                || image
                    .path
                    .strip_prefix(self.path.as_str())
                    .is_some_and(|rest| rest.starts_with('/')))
    }
}

impl PartialEq for RepositoryPrefix {
    fn eq(&self, other: &RepositoryPrefix) -> bool {
        self.registry == other.registry && self.path == other.path
    }
}

impl Eq for RepositoryPrefix {}

/// `registry` or `registry/path`; parses back to an equal prefix.
impl fmt::Display for RepositoryPrefix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.registry_spelling.as_deref().unwrap_or(&self.registry))?;
        if !self.path.is_empty() {
            f.write_str("/")?;
            f.write_str(&self.path)?;
        }
        Ok(())
    }
}

/// Reads the part of a pattern before `/*`: the first component is the
/// registry by the same rule as in [`parse`] (so `registry.example.com`,
/// `localhost:5000` and `docker.io/istio` name a registry, `istio` and
/// `istio/sub` are paths on `docker.io`), and the rest must be path
/// components. Unlike [`parse`], `library/` is never added: `nginx` is the
/// prefix `docker.io/nginx`, not `docker.io/library/nginx`.
pub fn parse_repository_prefix(prefix: &str) -> Result<RepositoryPrefix, ReferenceError> {
    if prefix.is_empty() {
        return Err(ReferenceError::Empty);
    }
    let (registry_text, path) = match split_once_byte(prefix, b'/') {
        Some((first, rest)) if is_registry_component(first) => (Some(first), rest),
        Some(_) => (None, prefix),
        None if is_registry_component(prefix) => (Some(prefix), ""),
        None => (None, prefix),
    };
    let (registry, registry_spelling) = match registry_text {
        Some(text) => normalize_registry(text)?,
        None => (DOCKER_HUB.to_owned(), None),
    };
    // `registry/` (an empty path after the slash) is an empty component.
    if registry_text.is_none() || prefix.len() > registry_text.map_or(0, str::len) {
        validate_path(path)?;
    }
    Ok(RepositoryPrefix {
        registry,
        registry_spelling,
        path: path.to_owned(),
    })
}

/// Checks a repository path: `/`-separated path components, lower case, at
/// most [`PATH_MAX_LEN`] characters.
pub fn validate_path(path: &str) -> Result<(), ReferenceError> {
    validate_path_components(path)?;
    if path.len() > PATH_MAX_LEN {
        return Err(ReferenceError::PathTooLong);
    }
    Ok(())
}

/// Checks a tag: `[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}`.
pub fn validate_tag(tag: &str) -> Result<(), ReferenceError> {
    let bytes = tag.as_bytes();
    let Some((&first, rest)) = bytes.split_first() else {
        return Err(ReferenceError::EmptyTag);
    };
    let word = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
    if !word(first) || !rest.iter().all(|&b| word(b) || b == b'.' || b == b'-') {
        return Err(ReferenceError::InvalidTag);
    }
    if bytes.len() > TAG_MAX_LEN {
        return Err(ReferenceError::TagTooLong);
    }
    Ok(())
}

/// Checks a digest as go-digest does for the algorithms containerd
/// registers: `sha256:` and 64, `sha384:` and 96, or `sha512:` and 128
/// lower-case hex digits.
pub fn validate_digest(digest: &str) -> Result<(), ReferenceError> {
    let Some((algorithm, hex)) = split_once_byte(digest, b':') else {
        return Err(ReferenceError::InvalidDigest(DigestAlgorithm::Sha256));
    };
    let Some(known) = DigestAlgorithm::from_name(algorithm) else {
        let algorithm_like = !algorithm.is_empty()
            && algorithm
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'.' | b'_' | b'-'));
        return Err(if algorithm_like {
            ReferenceError::UnsupportedDigestAlgorithm
        } else {
            ReferenceError::InvalidDigest(DigestAlgorithm::Sha256)
        });
    };
    if hex.len() != known.hex_len() || !hex.bytes().all(is_lower_hex) {
        return Err(ReferenceError::InvalidDigest(known));
    }
    Ok(())
}

/// Whether the first `/`-separated component of a name is its registry
/// (`splitDockerDomain`): it has a `.` or `:`, is `localhost`, or has an
/// upper-case letter (paths are lower case).
pub fn is_registry_component(component: &str) -> bool {
    component == "localhost"
        || component
            .bytes()
            .any(|b| b == b'.' || b == b':' || b.is_ascii_uppercase())
}

/// An image ID rather than a repository: 64 lower-case hex digits
/// (`ParseNormalizedNamed` rejects it) or a whole valid digest (which
/// containerd's CRI and CRI-O look up as a local image ID).
fn is_image_id(reference: &str) -> bool {
    (reference.len() == 64 && reference.bytes().all(is_lower_hex))
        || (!reference.contains(['/', '@']) && validate_digest(reference).is_ok())
}

fn is_lower_hex(b: u8) -> bool {
    b.is_ascii_digit() || (b'a'..=b'f').contains(&b)
}

/// Validates `host[:port]` and returns it lower-cased, `index.docker.io`
/// as `docker.io`, with the original spelling when lower case would no
/// longer read as a registry.
fn normalize_registry(text: &str) -> Result<(String, Option<Box<str>>), ReferenceError> {
    if !is_valid_registry(text.as_bytes()) {
        return Err(ReferenceError::InvalidRegistry);
    }
    let mut registry = text.to_ascii_lowercase();
    if registry == DOCKER_HUB_LEGACY {
        registry.replace_range(.., DOCKER_HUB);
    }
    let spelling = (!is_registry_component(&registry)).then(|| text.into());
    Ok((registry, spelling))
}

/// `domain-name | IPv4 | "[" IPv6 "]"`, then an optional `:digits`.
fn is_valid_registry(text: &[u8]) -> bool {
    let port = if let Some(inner) = text.strip_prefix(b"[") {
        // The reference grammar's IPv6: hex digits and colons (no zone, no
        // embedded IPv4).
        let Some(close) = inner.iter().position(|&b| b == b']') else {
            return false;
        };
        let address = &inner[..close];
        if address.is_empty() || !address.iter().all(|&b| b.is_ascii_hexdigit() || b == b':') {
            return false;
        }
        &inner[close + 1..]
    } else {
        let host_end = text.iter().position(|&b| b == b':').unwrap_or(text.len());
        let domain_ok = text[..host_end].split(|&b| b == b'.').all(|component| {
            match (component.first(), component.last()) {
                (Some(first), Some(last)) => {
                    first.is_ascii_alphanumeric()
                        && last.is_ascii_alphanumeric()
                        && component
                            .iter()
                            .all(|&b| b.is_ascii_alphanumeric() || b == b'-')
                }
                _ => false,
            }
        });
        if !domain_ok {
            return false;
        }
        &text[host_end..]
    };
    match port.split_first() {
        None => true,
        Some((b':', digits)) => !digits.is_empty() && digits.iter().all(u8::is_ascii_digit),
        Some(_) => false,
    }
}

/// The path grammar without the length limit (which applies to the
/// normalized path).
fn validate_path_components(path: &str) -> Result<(), ReferenceError> {
    if path.bytes().any(|b| b.is_ascii_uppercase()) {
        return Err(ReferenceError::UpperCasePath);
    }
    path.as_bytes()
        .split(|&b| b == b'/')
        .try_for_each(validate_path_component)
}

/// `[a-z0-9]+ ( ( "." | "_" | "__" | "-"+ ) [a-z0-9]+ )*`
fn validate_path_component(component: &[u8]) -> Result<(), ReferenceError> {
    if component.is_empty() {
        return Err(ReferenceError::EmptyPathComponent);
    }
    let alphanumeric = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit();
    let mut i = 0;
    loop {
        // One or more alphanumerics.
        let run = component[i..]
            .iter()
            .take_while(|&&b| alphanumeric(b))
            .count();
        if run == 0 {
            return Err(ReferenceError::InvalidPathComponent);
        }
        i += run;
        // Then the end, or a separator followed by more alphanumerics.
        let separator = match component[i..] {
            [] => return Ok(()),
            [b'.', ..] => 1,
            [b'_', b'_', ..] => 2,
            [b'_', ..] => 1,
            [b'-', ..] => component[i..].iter().take_while(|&&b| b == b'-').count(),
            _ => return Err(ReferenceError::InvalidPathComponent),
        };
        i += separator;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    /// One test vector of `tests/image-reference-vectors.json`.
    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Vector {
        input: String,
        valid: bool,
        registry: Option<String>,
        path: Option<String>,
        tag: Option<String>,
        digest: Option<String>,
        source: String,
        #[allow(dead_code)]
        note: Option<String>,
    }

    fn vectors() -> Vec<Vector> {
        serde_json::from_str(include_str!("../tests/image-reference-vectors.json"))
            .expect("tests/image-reference-vectors.json is a list of vectors")
    }

    fn ok(input: &str) -> ImageReference {
        parse(input).unwrap_or_else(|e| panic!("{input:?} should parse: {e}"))
    }

    fn err(input: &str) -> ReferenceError {
        match parse(input) {
            Ok(r) => panic!("{input:?} should be rejected, parsed as {r}"),
            Err(e) => e,
        }
    }

    /// Parsing the `Display` of a reference gives an equal reference, and
    /// the same `Display`.
    fn assert_stable(reference: &ImageReference) {
        let shown = reference.to_string();
        let again = parse(&shown).unwrap_or_else(|e| panic!("{shown:?} does not parse back: {e}"));
        assert_eq!(&again, reference, "{shown:?}");
        assert_eq!(again.to_string(), shown);
    }

    #[test]
    fn published_vectors() {
        let vectors = vectors();
        assert!(vectors.len() > 100, "{} vectors", vectors.len());
        let mut failures = Vec::new();
        for v in &vectors {
            assert!(!v.source.is_empty(), "{:?} has no source", v.input);
            match (parse(&v.input), v.valid) {
                (Ok(r), true) => {
                    let want = (
                        v.registry.as_deref(),
                        v.path.as_deref(),
                        v.tag.as_deref(),
                        v.digest.as_deref(),
                    );
                    let got = (Some(r.registry()), Some(r.path()), r.tag(), r.digest());
                    if want != got {
                        failures.push(format!("{:?}: want {want:?}, got {got:?}", v.input));
                    }
                    assert_stable(&r);
                    // Display is the full form, the registry in the spelling
                    // that reads back as a registry.
                    let shown = r.to_string();
                    let (registry, rest) = shown.split_once('/').unwrap();
                    assert!(registry.eq_ignore_ascii_case(r.registry()), "{shown}");
                    let mut expected = r.path().to_owned();
                    if let Some(tag) = r.tag() {
                        expected = format!("{expected}:{tag}");
                    }
                    if let Some(digest) = r.digest() {
                        expected = format!("{expected}@{digest}");
                    }
                    assert_eq!(rest, expected);
                }
                (Err(e), true) => failures.push(format!("{:?}: want valid, got {e}", v.input)),
                (Ok(r), false) => failures.push(format!("{:?}: want invalid, got {r}", v.input)),
                (Err(_), false) => {
                    assert!(
                        v.registry.is_none() && v.path.is_none(),
                        "{:?}: an invalid vector has no parts",
                        v.input
                    );
                }
            }
        }
        assert!(failures.is_empty(), "{}", failures.join("\n"));
    }

    #[test]
    fn edge_cases() {
        assert_eq!(err(""), ReferenceError::Empty);
        assert_eq!(err("nginx:"), ReferenceError::EmptyTag);
        assert_eq!(err(":tag"), ReferenceError::MissingRepository);
        assert_eq!(err(":"), ReferenceError::MissingRepository);
        assert_eq!(err("@"), ReferenceError::MissingRepository);
        let hex = "a".repeat(64);
        assert_eq!(
            err(&format!("@sha256:{hex}")),
            ReferenceError::MissingRepository
        );
        assert_eq!(err(&format!("sha256:{hex}")), ReferenceError::ImageId);
        assert_eq!(err(&hex), ReferenceError::ImageId);
        assert_eq!(
            err("nginx@"),
            ReferenceError::InvalidDigest(DigestAlgorithm::Sha256)
        );
        assert_eq!(
            err("nginx@sha256:"),
            ReferenceError::InvalidDigest(DigestAlgorithm::Sha256)
        );
        assert_eq!(
            err(&format!("nginx@sha256:{}", "A".repeat(64))),
            ReferenceError::InvalidDigest(DigestAlgorithm::Sha256)
        );
        assert_eq!(
            err(&format!("nginx@sha512:{hex}")),
            ReferenceError::InvalidDigest(DigestAlgorithm::Sha512)
        );
        assert_eq!(
            err(&format!("nginx@md5:{hex}")),
            ReferenceError::UnsupportedDigestAlgorithm
        );
        assert_eq!(
            err(&format!("nginx@sha256:{hex}@x")),
            ReferenceError::InvalidDigest(DigestAlgorithm::Sha256)
        );
        assert_eq!(err("nginx:1.0:2"), ReferenceError::InvalidTag);
        assert_eq!(err("nginx:-1"), ReferenceError::InvalidTag);
        assert_eq!(
            err(&format!("nginx:{}", "t".repeat(129))),
            ReferenceError::TagTooLong
        );
        assert_eq!(
            ok(&format!("nginx:{}", "t".repeat(128)))
                .tag()
                .map(str::len),
            Some(128)
        );

        // Unicode, control characters, whitespace: errors, never panics.
        assert_eq!(err("ngínx"), ReferenceError::InvalidPathComponent);
        assert_eq!(err("nginx:1.2é"), ReferenceError::InvalidTag);
        assert_eq!(
            err("régistry.example.com/a"),
            ReferenceError::InvalidRegistry
        );
        assert_eq!(err("nginx\n"), ReferenceError::InvalidPathComponent);
        assert_eq!(err("nginx:latest\n"), ReferenceError::InvalidTag);
        assert_eq!(err(" nginx"), ReferenceError::InvalidPathComponent);
        assert_eq!(err("nginx\0"), ReferenceError::InvalidPathComponent);
        assert_eq!(err("[é]:5000/a"), ReferenceError::InvalidRegistry);
        assert_eq!(err("é:é/a"), ReferenceError::InvalidRegistry);
        assert_eq!(err("/nginx"), ReferenceError::EmptyPathComponent);
        assert_eq!(err("example.com/"), ReferenceError::EmptyPathComponent);
        assert_eq!(ok("example.com").path(), "library/example.com");

        // Long names: the normalized path counts, not the registry.
        let long = "a".repeat(247);
        assert_eq!(ok(&long).path().len(), 255);
        assert_eq!(err(&format!("{long}b")), ReferenceError::PathTooLong);
        let path255 = "b".repeat(255);
        let r = ok(&format!("{}.example.com/{path255}", "r".repeat(60)));
        assert_eq!(r.path(), path255);
        assert_eq!(
            err(&format!("example.com/{path255}c")),
            ReferenceError::PathTooLong
        );
        let huge = "a/".repeat(100_000) + "a";
        assert_eq!(err(&huge), ReferenceError::PathTooLong);

        let r = ok("localhost:5000/a");
        assert_eq!((r.registry(), r.path()), ("localhost:5000", "a"));
        let r = ok("localhost/a");
        assert_eq!((r.registry(), r.path()), ("localhost", "a"));
        // An upper-case first component is a registry, compared lower-cased,
        // displayed as written so that it reads back as a registry.
        let r = ok("Foo/bar");
        assert_eq!((r.registry(), r.path()), ("foo", "bar"));
        assert_eq!(r.to_string(), "Foo/bar");
        assert_eq!(r.repository(), "Foo/bar");
        assert_eq!(r, ok("FOO/bar"));
        assert_ne!(r, ok("foo/bar"));
        assert_eq!(ok("foo/bar").to_string(), "docker.io/foo/bar");
        assert_eq!(err("Foo/Bar"), ReferenceError::UpperCasePath);
        let r = ok("Registry.Example.COM:5000/app:V1");
        assert_eq!(r.registry(), "registry.example.com:5000");
        assert_eq!(r.to_string(), "registry.example.com:5000/app:V1");

        for docker_hub in [
            "nginx",
            "library/nginx",
            "docker.io/nginx",
            "docker.io/library/nginx",
            "index.docker.io/nginx",
            "index.docker.io/library/nginx",
            "DOCKER.IO/nginx",
            "Index.Docker.Io/library/nginx",
        ] {
            let r = ok(docker_hub);
            assert_eq!(r.repository(), "docker.io/library/nginx", "{docker_hub}");
            assert_eq!(r.tag(), None);
            assert_eq!(r.tag_or_latest(), Some("latest"));
            assert_eq!(r.to_string(), "docker.io/library/nginx");
        }
        assert_eq!(
            ok("nginx:latest").to_string(),
            "docker.io/library/nginx:latest"
        );
        assert_ne!(ok("nginx:latest"), ok("nginx")); // the default is a separate step
        assert!(ok("nginx:latest").same_repository(&ok("nginx")));

        let r = ok("[::1]:5000/a/b");
        assert_eq!((r.registry(), r.path()), ("[::1]:5000", "a/b"));
        assert_eq!(ok("[FC00::1]/a").registry(), "[fc00::1]");
        assert_eq!(err("[::1/a"), ReferenceError::InvalidRegistry);
        // The grammar's IPv6 is any hex digits and colons in brackets.
        assert_eq!(ok("[:]/a").registry(), "[:]");
        // No `.` or `:`: not a registry, so a (bad) Docker Hub path.
        assert_eq!(err("[]/a"), ReferenceError::InvalidPathComponent);
        assert_eq!(err("[::1]x/a"), ReferenceError::InvalidRegistry);
        assert_eq!(err("example.com:/a"), ReferenceError::InvalidRegistry);
        assert_eq!(err("example.com:5000:1/a"), ReferenceError::InvalidRegistry);
        assert_eq!(err("foo_bar.com/a"), ReferenceError::InvalidRegistry);

        // Tag and digest: both kept; the tag is not defaulted.
        let digest = format!("sha256:{hex}");
        let r = ok(&format!("nginx:1.27@{digest}"));
        assert_eq!((r.tag(), r.digest()), (Some("1.27"), Some(digest.as_str())));
        assert_eq!(r.tag_or_latest(), Some("1.27"));
        let r = ok(&format!("nginx@{digest}"));
        assert_eq!((r.tag(), r.tag_or_latest()), (None, None));
        assert_eq!(r.to_string(), format!("docker.io/library/nginx@{digest}"));
    }

    #[test]
    fn error_messages_are_clauses() {
        for e in [
            ReferenceError::Empty,
            ReferenceError::ImageId,
            ReferenceError::MissingRepository,
            ReferenceError::InvalidRegistry,
            ReferenceError::EmptyPathComponent,
            ReferenceError::UpperCasePath,
            ReferenceError::InvalidPathComponent,
            ReferenceError::PathTooLong,
            ReferenceError::EmptyTag,
            ReferenceError::InvalidTag,
            ReferenceError::TagTooLong,
            ReferenceError::InvalidDigest(DigestAlgorithm::Sha384),
            ReferenceError::UnsupportedDigestAlgorithm,
        ] {
            let text = e.to_string();
            assert!(!text.is_empty() && !text.ends_with('.'), "{text:?}");
            assert!(text.starts_with(|c: char| c.is_lowercase()), "{text:?}");
        }
        assert_eq!(
            ReferenceError::InvalidDigest(DigestAlgorithm::Sha384).to_string(),
            "the digest is not sha384:<96 lower-case hex digits>"
        );
    }

    #[test]
    fn repository_prefixes() {
        let p = |s: &str| parse_repository_prefix(s).unwrap_or_else(|e| panic!("{s:?}: {e}"));
        let parts = |s: &str| {
            let prefix = p(s);
            (prefix.registry().to_owned(), prefix.path().to_owned())
        };
        let pair = |r: &str, path: &str| (r.to_owned(), path.to_owned());
        assert_eq!(
            parts("registry.example.com"),
            pair("registry.example.com", "")
        );
        assert_eq!(
            parts("Registry.Example.com"),
            pair("registry.example.com", "")
        );
        assert_eq!(parts("localhost"), pair("localhost", ""));
        assert_eq!(parts("localhost:5000/team"), pair("localhost:5000", "team"));
        assert_eq!(parts("[::1]:5000"), pair("[::1]:5000", ""));
        assert_eq!(parts("Foo"), pair("foo", ""));
        assert_eq!(parts("docker.io"), pair("docker.io", ""));
        assert_eq!(parts("index.docker.io"), pair("docker.io", ""));
        assert_eq!(parts("docker.io/istio"), pair("docker.io", "istio"));
        assert_eq!(parts("istio"), pair("docker.io", "istio"));
        assert_eq!(parts("nginx"), pair("docker.io", "nginx")); // no library/
        assert_eq!(parts("library"), pair("docker.io", "library"));
        assert_eq!(parts("istio/sub"), pair("docker.io", "istio/sub"));
        assert_eq!(parts("gcr.io/a/b"), pair("gcr.io", "a/b"));

        for bad in [
            "",
            "/",
            "docker.io/",
            "docker.io//a",
            "istio/",
            "Istio/Sub",
            "docker.io/Istio",
            "foo_bar.com",
            "registry.example.com/debug*",
            "nginx:1.0",
            "nginx@sha256",
            "-x",
            "a\nb",
        ] {
            assert!(parse_repository_prefix(bad).is_err(), "{bad:?}");
        }
        assert_eq!(
            parse_repository_prefix("Istio/Sub").unwrap_err(),
            ReferenceError::UpperCasePath
        );
        assert_eq!(
            parse_repository_prefix("docker.io/").unwrap_err(),
            ReferenceError::EmptyPathComponent
        );

        let under = |prefix: &str, image: &str| p(prefix).contains(&ok(image));
        assert!(under("registry.example.com", "registry.example.com/a"));
        assert!(under("registry.example.com", "REGISTRY.example.com/a/b:1"));
        assert!(!under(
            "registry.example.com",
            "registry.example.com:5000/a"
        ));
        assert!(!under(
            "registry.example.com",
            "registry.example.community/a"
        ));
        assert!(under("docker.io/istio", "istio/proxyv2:1.22"));
        assert!(under("istio", "docker.io/istio/a/b"));
        assert!(!under("istio", "istio-evil/proxyv2"));
        assert!(!under("docker.io/istio", "istio")); // docker.io/library/istio
        assert!(!under("docker.io/library/nginx", "nginx"));
        assert!(under("docker.io/library", "nginx"));
        assert!(under("docker.io", "nginx"));
        assert!(under("index.docker.io", "nginx"));
        assert!(under("localhost", "LOCALHOST/a"));
        assert!(under("Foo", "FOO/bar"));
        assert!(!under("Foo", "foo/bar"));

        // Display reads back to the same prefix.
        for s in [
            "Foo",
            "Foo/bar",
            "docker.io",
            "index.docker.io/a",
            "istio/x",
            "[::1]:5/a",
        ] {
            let prefix = p(s);
            assert_eq!(p(&prefix.to_string()), prefix, "{s} shown as {prefix}");
        }
        assert_eq!(p("istio").to_string(), "docker.io/istio");
    }

    #[test]
    fn path_tag_and_digest_validators() {
        for good in [
            "a",
            "a/b",
            "a.b",
            "a_b",
            "a__b",
            "a---b",
            "a-b.c_d__e/f0",
            "0",
        ] {
            assert_eq!(validate_path(good), Ok(()), "{good:?}");
        }
        for (bad, e) in [
            ("", ReferenceError::EmptyPathComponent),
            ("a//b", ReferenceError::EmptyPathComponent),
            ("a/", ReferenceError::EmptyPathComponent),
            ("A", ReferenceError::UpperCasePath),
            ("a..b", ReferenceError::InvalidPathComponent),
            ("a___b", ReferenceError::InvalidPathComponent),
            ("a._b", ReferenceError::InvalidPathComponent),
            ("a-", ReferenceError::InvalidPathComponent),
            ("_a", ReferenceError::InvalidPathComponent),
            ("a:b", ReferenceError::InvalidPathComponent),
            ("a*", ReferenceError::InvalidPathComponent),
        ] {
            assert_eq!(validate_path(bad), Err(e), "{bad:?}");
        }
        assert_eq!(
            validate_path(&"a".repeat(256)),
            Err(ReferenceError::PathTooLong)
        );
        assert_eq!(validate_tag("_"), Ok(()));
        assert_eq!(validate_tag("V1.2-rc_3"), Ok(()));
        assert_eq!(validate_tag("*"), Err(ReferenceError::InvalidTag));
        assert_eq!(validate_tag(".a"), Err(ReferenceError::InvalidTag));
        assert_eq!(validate_tag(""), Err(ReferenceError::EmptyTag));
        assert_eq!(
            validate_digest(&format!("sha384:{}", "0".repeat(96))),
            Ok(())
        );
        assert_eq!(
            validate_digest(&format!("sha384:{}", "0".repeat(64))),
            Err(ReferenceError::InvalidDigest(DigestAlgorithm::Sha384))
        );
        assert_eq!(
            validate_digest(&format!("SHA256:{}", "0".repeat(64))),
            Err(ReferenceError::UnsupportedDigestAlgorithm)
        );
    }

    /// Every vector's input with each position cut, doubled or replaced by
    /// an awkward character: no panic, and whatever parses is stable.
    #[test]
    fn mutated_inputs_never_panic_and_stay_stable() {
        let replacements = [
            "", "/", ":", "@", ".", "-", "_", "[", "]", "A", "é", "\n", "\u{0}", "💥",
        ];
        let mut parsed = 0;
        for v in vectors() {
            let chars: Vec<char> = v.input.chars().collect();
            if chars.len() > 90 {
                continue;
            }
            for i in 0..=chars.len() {
                for r in replacements {
                    let mut s: String = chars[..i].iter().collect();
                    s.push_str(r);
                    s.extend(chars.get(i + 1..).unwrap_or_default());
                    if let Ok(reference) = parse(&s) {
                        parsed += 1;
                        assert_stable(&reference);
                    }
                    let _ = parse_repository_prefix(&s);
                }
            }
        }
        assert!(parsed > 1000, "{parsed}");
    }
}
