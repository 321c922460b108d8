//! OCI distribution of a policy module, as `kwctl push` / `kwctl pull` do it.
//!
//! A Kubewarden policy is an OCI artifact made of:
//! * an OCI image manifest (`application/vnd.oci.image.manifest.v1+json`);
//! * a config blob `{}` of media type [`WASM_CONFIG_MEDIA_TYPE`];
//! * exactly one layer, the module, of media type [`WASM_LAYER_MEDIA_TYPE`];
//! * manifest annotations copied from the module's single-line metadata
//!   annotations (values trimmed), plus `org.opencontainers.image.source` taken
//!   from `io.kubewarden.policy.source` when it is not set already.
//!
//! Registries on a loopback address (`localhost`, `127.0.0.0/8`, `[::1]`) are
//! spoken to over plain HTTP, like a registry listed under `insecure_sources`
//! in kwctl's `sources.yaml`; every other registry over HTTPS with the system's
//! trust store. Access is anonymous.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::str::FromStr;

use oci_client::client::{ClientConfig, ClientProtocol, Config, ImageLayer};
use oci_client::manifest::OciImageManifest;
use oci_client::secrets::RegistryAuth;
use oci_client::{Client, Reference};
use sha2::{Digest as _, Sha256};

use crate::metadata::{ANNOTATION_SOURCE, Metadata, MetadataError, OCI_ANNOTATION_SOURCE};

pub use oci_client::manifest::{WASM_CONFIG_MEDIA_TYPE, WASM_LAYER_MEDIA_TYPE};

/// Why a push or pull failed.
#[derive(Debug, thiserror::Error)]
pub enum OciError {
    /// The reference cannot be parsed.
    #[error("invalid OCI reference {reference:?}: {message}")]
    Reference { reference: String, message: String },
    /// The module has no Kubewarden metadata and the push was not forced.
    #[error("Cannot push a policy that is not annotated. Use `annotate` command or `push --force`")]
    NotAnnotated,
    /// The module's metadata cannot be read.
    #[error(transparent)]
    Metadata(#[from] MetadataError),
    /// The registry refused, or could not be reached.
    #[error("{operation} failed: {message}")]
    Registry {
        operation: &'static str,
        message: String,
    },
    /// The artifact pulled is not a Kubewarden policy, or does not match its
    /// manifest.
    #[error("invalid policy artifact: {0}")]
    Artifact(String),
    /// The async runtime could not start.
    #[error("cannot start the async runtime: {0}")]
    Runtime(String),
}

/// Result of [`push`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pushed {
    /// `REF@sha256:...`: the reference as given (without `registry://`) plus
    /// the manifest digest the registry reports.
    pub immutable_ref: String,
    /// `sha256:...` of the manifest.
    pub manifest_digest: String,
    /// `sha256:...` of the layer (the module).
    pub layer_digest: String,
    /// The annotations written in the manifest.
    pub annotations: BTreeMap<String, String>,
}

/// Result of [`pull`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pulled {
    /// The module bytes (the wasm layer).
    pub wasm: Vec<u8>,
    /// `REF@sha256:...`, as for [`Pushed::immutable_ref`].
    pub immutable_ref: String,
    /// `sha256:...` of the manifest.
    pub manifest_digest: String,
    /// `sha256:...` of the layer, checked against the bytes.
    pub layer_digest: String,
    /// The manifest's annotations.
    pub annotations: BTreeMap<String, String>,
}

/// `sha256:<hex>` of `bytes`.
pub fn sha256_digest(bytes: &[u8]) -> String {
    let digest = Sha256::digest(bytes);
    let mut out = String::with_capacity(7 + 64);
    out.push_str("sha256:");
    for byte in digest {
        out.push_str(&format!("{byte:02x}"));
    }
    out
}

/// kwctl's `build_oci_annotations`: the metadata annotations whose value fits
/// on one line (trimmed), plus `org.opencontainers.image.source` from
/// `io.kubewarden.policy.source` unless already present.
pub fn oci_annotations(metadata: &Metadata) -> BTreeMap<String, String> {
    let mut out: BTreeMap<String, String> = metadata
        .annotations
        .iter()
        .flatten()
        .filter(|(_, v)| v.lines().count() <= 1)
        .map(|(k, v)| (k.clone(), v.trim().to_owned()))
        .collect();
    if let Some(source) = out.get(ANNOTATION_SOURCE).cloned() {
        out.entry(OCI_ANNOTATION_SOURCE.to_owned())
            .or_insert(source);
    }
    out
}

fn parse_reference(reference: &str) -> Result<(String, Reference), OciError> {
    let plain = reference
        .strip_prefix("registry://")
        .unwrap_or(reference)
        .to_owned();
    let parsed = Reference::from_str(&plain).map_err(|e| OciError::Reference {
        reference: reference.to_owned(),
        message: e.to_string(),
    })?;
    Ok((plain, parsed))
}

/// True for `localhost`, `127.x.y.z` and `[::1]` (with or without port).
pub fn is_loopback_registry(registry: &str) -> bool {
    let host = if let Some(rest) = registry.strip_prefix('[') {
        rest.split(']').next().unwrap_or("")
    } else {
        registry.rsplit_once(':').map_or(registry, |(h, _)| h)
    };
    host.eq_ignore_ascii_case("localhost")
        || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

fn client_for(reference: &Reference) -> Client {
    // reqwest is built without a default rustls crypto provider: install ring's
    // (an error only means one is installed already).
    let _ = rustls::crypto::ring::default_provider().install_default();
    let protocol = if is_loopback_registry(reference.resolve_registry()) {
        ClientProtocol::Http
    } else {
        ClientProtocol::Https
    };
    Client::new(ClientConfig {
        protocol,
        ..Default::default()
    })
}

fn runtime() -> Result<tokio::runtime::Runtime, OciError> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| OciError::Runtime(e.to_string()))
}

fn immutable(plain: &str, reference: &Reference, digest: &str) -> String {
    match reference.digest() {
        // already immutable: REPO@sha256:...
        Some(_) => plain.to_owned(),
        None => format!("{plain}@{digest}"),
    }
}

/// `kwctl push [--force] FILE.wasm REF`: push the module as a Kubewarden policy
/// artifact. `REF` may start with `registry://`. Without `force`, a module
/// without metadata is refused, as kwctl does.
pub fn push(wasm: &[u8], reference: &str, force: bool) -> Result<Pushed, OciError> {
    if !crate::metadata::is_wasm_module(wasm) {
        return Err(OciError::Artifact(
            "the file is not a binary wasm module".into(),
        ));
    }
    let metadata = Metadata::from_wasm(wasm)?;
    if metadata.is_none() && !force {
        return Err(OciError::NotAnnotated);
    }
    let annotations = metadata.as_ref().map(oci_annotations).unwrap_or_default();
    let (plain, parsed) = parse_reference(reference)?;

    let layers = vec![ImageLayer::new(
        wasm.to_vec(),
        WASM_LAYER_MEDIA_TYPE.to_owned(),
        None,
    )];
    let config = Config::new(b"{}".to_vec(), WASM_CONFIG_MEDIA_TYPE.to_owned(), None);
    // As policy-fetcher builds it: no top-level `mediaType` (the registry gets
    // it from the Content-Type of the upload), annotations only when any.
    let manifest = OciImageManifest::build(
        &layers,
        &config,
        (!annotations.is_empty()).then(|| annotations.clone()),
    );
    let layer_digest = manifest.layers[0].digest.clone();

    let client = client_for(&parsed);
    let auth = RegistryAuth::Anonymous;
    let manifest_digest = runtime()?.block_on(async {
        client
            .push(&parsed, &layers, config, &auth, Some(manifest))
            .await
            .map_err(|e| OciError::Registry {
                operation: "push",
                message: e.to_string(),
            })?;
        client
            .fetch_manifest_digest(&parsed, &auth)
            .await
            .map_err(|e| OciError::Registry {
                operation: "reading the pushed manifest's digest",
                message: e.to_string(),
            })
    })?;
    Ok(Pushed {
        immutable_ref: immutable(&plain, &parsed, &manifest_digest),
        manifest_digest,
        layer_digest,
        annotations,
    })
}

/// `kwctl pull REF`: fetch a policy artifact and return its module.
///
/// The manifest must have exactly one layer of media type
/// [`WASM_LAYER_MEDIA_TYPE`]; its bytes must hash to the layer digest the
/// manifest names and start with the wasm magic bytes.
pub fn pull(reference: &str) -> Result<Pulled, OciError> {
    let (plain, parsed) = parse_reference(reference)?;
    let client = client_for(&parsed);
    let auth = RegistryAuth::Anonymous;
    let image = runtime()?.block_on(async {
        client
            .pull(&parsed, &auth, vec![WASM_LAYER_MEDIA_TYPE])
            .await
            .map_err(|e| OciError::Registry {
                operation: "pull",
                message: e.to_string(),
            })
    })?;
    let manifest = image
        .manifest
        .ok_or_else(|| OciError::Artifact("the registry returned no image manifest".into()))?;
    let manifest_digest = image
        .digest
        .ok_or_else(|| OciError::Artifact("the registry returned no manifest digest".into()))?;
    if manifest.config.media_type != WASM_CONFIG_MEDIA_TYPE {
        return Err(OciError::Artifact(format!(
            "config media type is {:?}, expected {WASM_CONFIG_MEDIA_TYPE}",
            manifest.config.media_type
        )));
    }
    let wasm_layers: Vec<_> = manifest
        .layers
        .iter()
        .zip(&image.layers)
        .filter(|(descriptor, _)| descriptor.media_type == WASM_LAYER_MEDIA_TYPE)
        .collect();
    let [(descriptor, layer)] = wasm_layers.as_slice() else {
        return Err(OciError::Artifact(format!(
            "expected exactly one {WASM_LAYER_MEDIA_TYPE} layer, found {}",
            wasm_layers.len()
        )));
    };
    let actual = sha256_digest(&layer.data);
    if actual != descriptor.digest {
        return Err(OciError::Artifact(format!(
            "layer digest mismatch: manifest says {}, content is {actual}",
            descriptor.digest
        )));
    }
    if !crate::metadata::is_wasm_module(&layer.data) {
        return Err(OciError::Artifact(
            "the layer is not a binary wasm module (no \\0asm header)".into(),
        ));
    }
    Ok(Pulled {
        wasm: layer.data.to_vec(),
        immutable_ref: immutable(&plain, &parsed, &manifest_digest),
        manifest_digest,
        layer_digest: actual,
        annotations: manifest.annotations.unwrap_or_default(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_detection() {
        for r in [
            "localhost",
            "localhost:5000",
            "127.0.0.1:41234",
            "127.1.2.3",
            "[::1]:5000",
            "[::1]",
        ] {
            assert!(is_loopback_registry(r), "{r}");
        }
        for r in [
            "ghcr.io",
            "10.0.0.1:5000",
            "registry.example.com:443",
            "docker.io",
        ] {
            assert!(!is_loopback_registry(r), "{r}");
        }
    }

    #[test]
    fn annotations_like_kwctl_push() {
        let metadata = Metadata::from_yaml(
            "rules: []\nmutating: false\nannotations:\n  io.kubewarden.policy.source: https://example.com/src\n  io.kubewarden.policy.usage: |\n    line 1\n    line 2\n  io.kubewarden.policy.description: \"trailing \\n\"\n",
        )
        .unwrap();
        let a = oci_annotations(&metadata);
        assert_eq!(
            a["org.opencontainers.image.source"],
            "https://example.com/src"
        );
        assert_eq!(a["io.kubewarden.policy.description"], "trailing");
        assert!(!a.contains_key("io.kubewarden.policy.usage"));

        let metadata = Metadata::from_yaml(
            "rules: []\nmutating: false\nannotations:\n  io.kubewarden.policy.source: a\n  org.opencontainers.image.source: b\n",
        )
        .unwrap();
        assert_eq!(
            oci_annotations(&metadata)["org.opencontainers.image.source"],
            "b"
        );
    }

    #[test]
    fn references() {
        let (plain, r) = parse_reference("registry://127.0.0.1:5000/policies/p:v1").unwrap();
        assert_eq!(plain, "127.0.0.1:5000/policies/p:v1");
        assert_eq!(r.registry(), "127.0.0.1:5000");
        assert_eq!(r.repository(), "policies/p");
        assert_eq!(r.tag(), Some("v1"));
        assert_eq!(
            immutable(&plain, &r, "sha256:abc"),
            "127.0.0.1:5000/policies/p:v1@sha256:abc"
        );
        assert!(parse_reference("UPPER/Case:x").is_err());
        assert_eq!(
            sha256_digest(b""),
            "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }

    #[test]
    fn push_refuses_unannotated_and_non_wasm() {
        assert!(matches!(
            push(b"not wasm", "127.0.0.1:1/p:v1", true),
            Err(OciError::Artifact(_))
        ));
        let module = [0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00];
        assert!(matches!(
            push(&module, "127.0.0.1:1/p:v1", false),
            Err(OciError::NotAnnotated)
        ));
    }
}
