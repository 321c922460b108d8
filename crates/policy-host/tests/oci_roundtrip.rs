//! OCI distribution against a real registry: the CNCF distribution registry
//! (Debian's `docker-registry`) on 127.0.0.1, a free port and a temporary
//! storage directory.
//!
//! policy.wasm is annotated with metadata.yml and README.md (as
//! `make annotated-policy.wasm` does), pushed as
//! `127.0.0.1:PORT/policies/readonly-rootfs:v<version>`, pulled back by tag and
//! by digest, compared byte for byte, and the pulled module evaluates a
//! request. The registry is always stopped (Drop guard), also when an
//! assertion fails.
//!
//! Skipped, with a message, only when /usr/bin/docker-registry is not
//! installed (`.ci/run` installs it).

use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use policy_host::metadata::{self, Metadata};
use policy_host::oci;
use policy_host::{AdmissionResponse, Policy};
use serde_json::{Value, json};

const REGISTRY_BINARY: &str = "/usr/bin/docker-registry";

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// A running registry; killed and its storage removed on drop.
struct Registry {
    child: Child,
    addr: SocketAddr,
    dir: PathBuf,
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

impl Registry {
    fn start() -> Registry {
        let dir = std::env::temp_dir().join(format!(
            "policy-host-oci-roundtrip-{}-{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos())
                .unwrap_or_default()
        ));
        std::fs::create_dir_all(dir.join("storage")).expect("temp dir");
        // Ask the kernel for a free loopback port, then hand it to the registry.
        let addr = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
            .and_then(|l| l.local_addr())
            .expect("free port");
        let config = dir.join("config.yml");
        std::fs::write(
            &config,
            format!(
                "version: 0.1\nlog:\n  level: error\n  accesslog:\n    disabled: true\nstorage:\n  filesystem:\n    rootdirectory: {}\nhttp:\n  addr: {addr}\n  secret: policy-host-test\n",
                dir.join("storage").display()
            ),
        )
        .expect("registry config");
        let log = std::fs::File::create(dir.join("registry.log")).expect("log file");
        let child = Command::new(REGISTRY_BINARY)
            .arg("serve")
            .arg(&config)
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log file"))
            .stderr(log)
            .spawn()
            .expect("start docker-registry");
        let mut registry = Registry { child, addr, dir };
        registry.wait_ready();
        registry
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("registry.log")).unwrap_or_default()
    }

    /// Poll `GET /v2/` until it answers 200 (10 s at most).
    fn wait_ready(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(status) = self.child.try_wait().expect("registry status") {
                panic!("docker-registry exited with {status}:\n{}", self.log());
            }
            if http_get_status(self.addr, "/v2/") == Some(200) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "docker-registry did not answer /v2/ on {} within 10 s:\n{}",
                self.addr,
                self.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

/// Status code of a plain HTTP/1.1 GET, `None` when nothing answers.
fn http_get_status(addr: SocketAddr, path: &str) -> Option<u16> {
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_millis(500)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut head = [0u8; 12];
    stream.read_exact(&mut head).ok()?;
    std::str::from_utf8(&head[9..12]).ok()?.parse().ok()
}

fn registry_available() -> bool {
    if Path::new(REGISTRY_BINARY).exists() {
        return true;
    }
    // Written to stderr directly, not with eprintln!: the test harness
    // captures (and hides) the output of passing tests, but not this.
    let _ = writeln!(
        std::io::stderr(),
        "SKIPPED: {REGISTRY_BINARY} is not installed (apt-get install docker-registry; .ci/run does), \
         the OCI round trip against a real registry did not run"
    );
    false
}

fn annotated_policy() -> Vec<u8> {
    let root = repo_root();
    let wasm = std::fs::read(root.join("policy.wasm"))
        .expect("policy.wasm is missing: run `make policy.wasm` first");
    let metadata_yaml = std::fs::read_to_string(root.join("metadata.yml")).expect("metadata.yml");
    let usage = std::fs::read_to_string(root.join("README.md")).ok();
    let (annotated, _) = metadata::annotate(
        &wasm,
        &metadata_yaml,
        usage.as_deref(),
        &metadata::tool_version(),
    )
    .expect("annotate policy.wasm");
    annotated
}

fn noncompliant_pod_request() -> Value {
    json!({
        "kind": "AdmissionReview",
        "apiVersion": "admission.k8s.io/v1",
        "request": {
            "uid": "oci-roundtrip",
            "kind": {"group": "", "version": "v1", "kind": "Pod"},
            "resource": {"group": "", "version": "v1", "resource": "pods"},
            "operation": "CREATE",
            "userInfo": {"username": "tester"},
            "object": {
                "apiVersion": "v1",
                "kind": "Pod",
                "metadata": {"name": "web", "namespace": "default"},
                "spec": {"containers": [{"name": "app", "image": "nginx:1.27"}]}
            }
        }
    })
}

fn evaluate(wasm: &[u8]) -> AdmissionResponse {
    let policy = Policy::from_bytes(wasm).expect("pulled module loads");
    let settings = json!({});
    assert!(policy.validate_settings(&settings).unwrap().valid);
    policy
        .evaluate(&noncompliant_pod_request(), &settings)
        .expect("pulled module evaluates")
}

#[test]
fn push_pull_roundtrip_against_distribution_registry() {
    if !registry_available() {
        return;
    }
    let annotated = annotated_policy();
    let metadata = Metadata::from_wasm(&annotated).unwrap().unwrap();
    let version = metadata
        .annotation(metadata::ANNOTATION_VERSION)
        .expect("io.kubewarden.policy.version")
        .to_owned();

    let registry = Registry::start();
    let reference = format!("{}/policies/readonly-rootfs:v{version}", registry.addr);

    let pushed = oci::push(&annotated, &reference, false)
        .unwrap_or_else(|e| panic!("push: {e}\n{}", registry.log()));
    assert!(
        pushed
            .immutable_ref
            .starts_with(&format!("{reference}@sha256:")),
        "{}",
        pushed.immutable_ref
    );
    assert_eq!(
        pushed.immutable_ref,
        format!("{reference}@{}", pushed.manifest_digest)
    );
    assert_eq!(pushed.layer_digest, oci::sha256_digest(&annotated));
    // kwctl push: single-line metadata annotations + org.opencontainers.image.source
    assert_eq!(pushed.annotations, oci::oci_annotations(&metadata));
    assert!(
        pushed
            .annotations
            .contains_key("org.opencontainers.image.source")
    );
    assert!(!pushed.annotations.contains_key(metadata::ANNOTATION_USAGE));

    // By tag, over the registry's HTTP API.
    let pulled = oci::pull(&format!("registry://{reference}"))
        .unwrap_or_else(|e| panic!("pull: {e}\n{}", registry.log()));
    assert_eq!(pulled.manifest_digest, pushed.manifest_digest);
    assert_eq!(pulled.layer_digest, pushed.layer_digest);
    assert!(
        pulled.wasm == annotated,
        "pulled bytes differ from pushed bytes"
    );
    assert_eq!(pulled.annotations, pushed.annotations);
    assert_eq!(
        Metadata::from_wasm(&pulled.wasm).unwrap().as_ref(),
        Some(&metadata),
        "the metadata travels inside the module"
    );

    // By digest.
    let by_digest = format!(
        "{}/policies/readonly-rootfs@{}",
        registry.addr, pushed.manifest_digest
    );
    let again = oci::pull(&by_digest).unwrap_or_else(|e| panic!("pull by digest: {e}"));
    assert!(again.wasm == annotated);
    assert_eq!(again.immutable_ref, by_digest);

    // The pulled module is the policy: a Pod without a read-only root is rejected.
    let response = evaluate(&pulled.wasm);
    assert!(!response.allowed, "{}", response.to_json_line());
    assert_eq!(response.uid, "oci-roundtrip");
    let message = response.message().unwrap_or_default();
    assert!(message.contains("readOnlyRootFilesystem"), "{message}");

    // An unknown tag is an error, not an empty module.
    let missing = format!("{}/policies/readonly-rootfs:v0.0.0-missing", registry.addr);
    assert!(oci::pull(&missing).is_err());

    // Without metadata the push is refused unless forced, as kwctl does.
    let bare = std::fs::read(repo_root().join("policy.wasm")).unwrap();
    let bare_ref = format!("{}/policies/unannotated:v1", registry.addr);
    assert!(matches!(
        oci::push(&bare, &bare_ref, false),
        Err(oci::OciError::NotAnnotated)
    ));
    let forced = oci::push(&bare, &bare_ref, true).expect("forced push");
    assert!(forced.annotations.is_empty());
    assert!(oci::pull(&bare_ref).unwrap().wasm == bare);

    drop(registry);
}
