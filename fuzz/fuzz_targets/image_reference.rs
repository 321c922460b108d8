//! The image-reference reader, the image patterns and the quoting of
//! request strings (POLICY-SPEC.md "Image references and image patterns",
//! "Responses"), on any UTF-8 text.
//!
//! Invariants: nothing panics; a reference that reads is stable (its
//! normalized form reads back to the same reference and is the same image);
//! a pattern built from a reference's normalized parts matches it (the
//! repository, `repository:*`, `repository:tag`, `repository@digest`, its
//! registry and path prefixes), and a pattern for another repository never
//! does; a text that is not a reference matches only `*`; quoting escapes
//! every control character and reads back as JSON to the text itself.

#![no_main]

use libfuzzer_sys::fuzz_target;
use readonly_rootfs_policy::escape::{line_safe, quoted};
use readonly_rootfs_policy::image;
use readonly_rootfs_policy::selector::{ContainerImage, ImagePattern, same_image};

fn pattern(text: &str) -> ImagePattern {
    ImagePattern::parse(text).unwrap_or_else(|e| panic!("{text:?} should be a pattern: {e}"))
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let container = ContainerImage::new(Some(text));
    // Any text may be a pattern or not; reading one never panics.
    let _ = ImagePattern::parse(text);
    assert!(pattern("*").matches(&container));

    match image::parse(text) {
        Ok(reference) => {
            let normalized = reference.to_string();
            let again = image::parse(&normalized).unwrap_or_else(|e| {
                panic!("{normalized:?} (from {text:?}) does not read back: {e}")
            });
            assert_eq!(again, reference, "{text:?}");
            assert!(same_image(Some(text), Some(&normalized)), "{text:?}");
            let repository = reference.repository();
            assert!(pattern(&repository).matches(&container), "{text:?}");
            assert!(pattern(&format!("{repository}:*")).matches(&container));
            if let Some(tag) = reference.tag_or_latest() {
                assert!(pattern(&format!("{repository}:{tag}")).matches(&container));
            }
            if let Some(digest) = reference.digest() {
                assert!(pattern(&format!("{repository}@{digest}")).matches(&container));
            }
            // The registry as written (`Foo` stays a registry only in upper case).
            let registry = repository.split('/').next().unwrap_or_default();
            assert!(
                pattern(&format!("{registry}/*")).matches(&container),
                "{text:?}"
            );
            // Another repository: the same path with one more component.
            let other = format!("{repository}x");
            if let Ok(other_pattern) = ImagePattern::parse(&other) {
                assert!(
                    !other_pattern.matches(&container),
                    "{other:?} matched {text:?}"
                );
            }
            if let Ok(under) = ImagePattern::parse(&format!("{repository}/*")) {
                assert!(
                    !under.matches(&container),
                    "a repository is not under itself"
                );
            }
        }
        Err(_) => {
            // Fail closed: only `*` matches an image that is not a reference.
            for other in ["nginx", "docker.io/*", "nginx:latest", "localhost/*"] {
                assert!(
                    !pattern(other).matches(&container),
                    "{other} matched {text:?}"
                );
            }
        }
    }

    let quoted_text = quoted(text);
    assert!(
        !quoted_text.chars().any(|c| c.is_control()),
        "{quoted_text:?}"
    );
    assert_eq!(
        serde_json::from_str::<String>(&quoted_text).ok().as_deref(),
        Some(text)
    );
    assert!(!line_safe(text).chars().any(|c| c == '\n' || c == '\r'));
});
