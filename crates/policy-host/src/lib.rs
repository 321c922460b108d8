//! A waPC host that runs a Kubewarden policy (`wasm32-wasip1`, waPC protocol)
//! the way Kubewarden's engine does.
//!
//! Kubewarden evaluates policies through `policy-evaluator` (the library behind
//! `kwctl run` and `policy-server`). This crate reproduces the parts of it that
//! matter for a self-contained, non context-aware policy:
//!
//! * the module runs under wasmtime through `wasmtime-provider`, with WASI
//!   enabled, wrapped in a [`wapc::WapcHost`];
//! * host calls: `kubewarden/tracing/log` is accepted (and ignored unless
//!   `POLICY_HOST_LOG` is set, in which case the payload goes to stderr); every
//!   other capability fails with the same `unknown binding/namespace/operation`
//!   errors that policy-evaluator returns for capabilities it does not know;
//! * the request given to `kwctl run --request-path` may be a whole
//!   `AdmissionReview` or the bare `AdmissionRequest`; it is parsed into
//!   policy-evaluator's typed `AdmissionRequest` and serialised back, so the guest
//!   receives exactly the document Kubewarden would send (unknown top-level
//!   fields dropped, `object: null` omitted, ...);
//! * the payload of `validate` is `{"request": <AdmissionRequest>, "settings": <settings>}`;
//! * the guest's `ValidationResponse` becomes an `AdmissionResponse` as in
//!   policy-evaluator's `admission_response.rs`: a mutated object is turned into
//!   a base64 JSONPatch computed with `json_patch::diff(request.object, mutated)`.
//!
//! Everything the guest does wrong (trap, guest error, unparsable response)
//! surfaces as a [`HostError`], so tests can assert that it never happens.
//!
//! Annotating, inspecting and distributing the policy is left to the real
//! `kwctl` (`annotate`, `inspect`, `push`, `pull`); `e2e.bats` runs it.

pub mod fixture_table;

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use wasmtime_provider::wasmtime;
use wasmtime_provider::{EpochDeadlines, WasmtimeEngineProviderBuilder, WasmtimeEngineProviderPre};

/// Errors raised by the host. None of them is a policy decision: a policy that
/// rejects a request produces an [`AdmissionResponse`] with `allowed: false`.
#[derive(Debug, thiserror::Error)]
pub enum HostError {
    /// A file (wasm module, request, settings) could not be read.
    #[error("cannot read {}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The bytes are not a valid wasm module, or it does not import/export
    /// what a waPC guest must.
    #[error("cannot compile the wasm module: {0}")]
    Compile(String),
    /// The module could not be instantiated, or its waPC initialisation
    /// (`_start`/`wapc_init`) failed.
    #[error("cannot instantiate the wasm module: {0}")]
    Instantiate(String),
    /// The guest trapped (panic, unreachable, out-of-bounds access, timeout)
    /// or returned a waPC guest error instead of a response.
    #[error("guest function `{function}` failed (trap or guest error): {message}")]
    GuestCall { function: String, message: String },
    /// The guest answered, but not with the JSON document the protocol expects.
    #[error(
        "guest function `{function}` returned an invalid response: {message}; response: {response}"
    )]
    InvalidResponse {
        function: String,
        message: String,
        /// The start of the response, lossily decoded.
        response: String,
    },
    /// The request is not something `kwctl run` would evaluate (not an object,
    /// an `AdmissionReview` without `request`, missing `uid`/`kind`/... fields).
    #[error("invalid request: {0}")]
    InvalidRequest(String),
    /// Settings are not a JSON object (or null).
    #[error("invalid settings: {0}")]
    InvalidSettings(String),
    /// The JSON patch could not be serialised (should never happen).
    #[error("cannot serialize JSONPatch: {0}")]
    Patch(String),
}

impl HostError {
    /// The text policy-evaluator puts after `internal server error: ` when it
    /// turns this failure into a 500 AdmissionResponse.
    pub fn engine_message(&self) -> String {
        match self {
            HostError::GuestCall { message, .. } => message.clone(),
            HostError::InvalidResponse { message, .. } => message.clone(),
            other => other.to_string(),
        }
    }
}

// ---------------------------------------------------------------------------
// Engine
// ---------------------------------------------------------------------------

/// Interval of the epoch ticker used to enforce [`PolicyOptions::timeout`].
const EPOCH_TICK: Duration = Duration::from_millis(10);

fn plain_engine() -> Result<wasmtime::Engine, HostError> {
    static ENGINE: OnceLock<Result<wasmtime::Engine, String>> = OnceLock::new();
    ENGINE
        .get_or_init(|| {
            wasmtime::Engine::new(&wasmtime::Config::default()).map_err(|e| e.to_string())
        })
        .clone()
        .map_err(HostError::Compile)
}

/// Engine with epoch interruption, plus one process-wide thread that ticks it.
fn epoch_engine() -> Result<wasmtime::Engine, HostError> {
    static ENGINE: OnceLock<Result<wasmtime::Engine, String>> = OnceLock::new();
    ENGINE
        .get_or_init(|| {
            let mut config = wasmtime::Config::default();
            config.epoch_interruption(true);
            let engine = wasmtime::Engine::new(&config).map_err(|e| e.to_string())?;
            // The engine lives as long as the process, and so does its ticker.
            let ticker = engine.clone();
            std::thread::Builder::new()
                .name("policy-host-epoch".into())
                .spawn(move || {
                    loop {
                        std::thread::sleep(EPOCH_TICK);
                        ticker.increment_epoch();
                    }
                })
                .map_err(|e| e.to_string())?;
            Ok(engine)
        })
        .clone()
        .map_err(HostError::Compile)
}

/// How a policy is run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PolicyOptions {
    /// Interrupt a guest call that runs longer than this (policy-server's
    /// `policy-timeout`, 2 s by default there). `None` (the default, as with
    /// `kwctl run`) lets a call run for ever. A timeout surfaces as
    /// [`HostError::GuestCall`] whose message contains
    /// `guest code interrupted, execution deadline exceeded`. Precision: 10 ms.
    pub timeout: Option<Duration>,
}

/// A compiled policy module. Compiling is the expensive step (cranelift);
/// [`CompiledPolicy::instantiate`] is cheap and can be called many times to get
/// fresh, independent instances.
#[derive(Clone)]
pub struct CompiledPolicy {
    pre: WasmtimeEngineProviderPre,
    options: PolicyOptions,
}

impl fmt::Debug for CompiledPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CompiledPolicy")
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

impl CompiledPolicy {
    /// Compile a module (binary wasm, or WAT text) already read into memory.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, HostError> {
        Self::from_bytes_with_options(bytes, PolicyOptions::default())
    }

    /// Read and compile a module.
    pub fn from_file(path: impl AsRef<Path>) -> Result<Self, HostError> {
        Self::from_bytes(&read_file(path.as_ref())?)
    }

    /// Compile with non-default [`PolicyOptions`].
    pub fn from_bytes_with_options(
        bytes: &[u8],
        options: PolicyOptions,
    ) -> Result<Self, HostError> {
        let engine = if options.timeout.is_some() {
            epoch_engine()?
        } else {
            plain_engine()?
        };
        let module = wasmtime::Module::new(&engine, bytes)
            .map_err(|e| HostError::Compile(format!("{e:#}")))?;
        let builder = WasmtimeEngineProviderBuilder::new()
            .engine(engine)
            .module(module)
            .wasi_params(wapc::WasiParams::default());
        let pre = builder
            .build_pre()
            .map_err(|e| HostError::Compile(e.to_string()))?;
        Ok(Self { pre, options })
    }

    /// Create a fresh instance (new store, new linear memory), running the
    /// guest's waPC initialisation.
    pub fn instantiate(&self) -> Result<Policy, HostError> {
        let deadlines = self.options.timeout.map(|timeout| {
            let ticks = (timeout.as_millis() / EPOCH_TICK.as_millis()).max(1) as u64 + 1;
            EpochDeadlines {
                wapc_init: ticks,
                wapc_func: ticks,
            }
        });
        let provider = self
            .pre
            .rehydrate(deadlines)
            .map_err(|e| HostError::Instantiate(e.to_string()))?;
        let host = wapc::WapcHost::new(Box::new(provider), Some(Box::new(host_callback)))
            .map_err(|e| HostError::Instantiate(e.to_string()))?;
        Ok(Policy {
            host,
            compiled: self.clone(),
        })
    }
}

/// The waPC host callback (`__host_call`): what the guest may ask of the host.
fn host_callback(
    _id: u64,
    binding: &str,
    namespace: &str,
    operation: &str,
    payload: &[u8],
) -> Result<Vec<u8>, Box<dyn std::error::Error + Send + Sync>> {
    match (binding, namespace, operation) {
        ("kubewarden", "tracing", "log") => {
            if std::env::var_os("POLICY_HOST_LOG").is_some() {
                eprintln!("[policy log] {}", String::from_utf8_lossy(payload));
            }
            Ok(Vec::new())
        }
        ("kubewarden", "tracing", _) => Err(format!("unknown operation: {operation}").into()),
        ("kubewarden", _, _) => Err(format!(
            "unknown namespace: {namespace} (policy-host only implements kubewarden/tracing/log; \
             operation {operation} is not available)"
        )
        .into()),
        _ => Err(format!("unknown binding: {binding}").into()),
    }
}

fn read_file(path: &Path) -> Result<Vec<u8>, HostError> {
    std::fs::read(path).map_err(|source| HostError::Io {
        path: path.to_path_buf(),
        source,
    })
}

// ---------------------------------------------------------------------------
// Policy
// ---------------------------------------------------------------------------

/// One instance of a policy module: a wasmtime store with its linear memory,
/// reused across calls like policy-server reuses its instances.
///
/// Not `Send`/`Sync` (the waPC host keeps its engine in a `RefCell`): create one
/// per thread, from a shared [`CompiledPolicy`] if compile time matters.
pub struct Policy {
    host: wapc::WapcHost,
    compiled: CompiledPolicy,
}

impl fmt::Debug for Policy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Policy")
            .field("id", &self.host.id())
            .finish()
    }
}

/// Outcome of the guest's `validate_settings`
/// (the SDK's `SettingsValidationResponse`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SettingsValidation {
    pub valid: bool,
    #[serde(default)]
    pub message: Option<String>,
}

/// Value returned by the guest's `protocol_version`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ProtocolVersion {
    #[serde(rename = "Unknown")]
    Unknown,
    #[serde(rename = "v1")]
    V1,
}

impl fmt::Display for ProtocolVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ProtocolVersion::Unknown => "Unknown",
            ProtocolVersion::V1 => "v1",
        })
    }
}

impl Policy {
    /// The compiled module this instance comes from.
    pub fn compiled(&self) -> &CompiledPolicy {
        &self.compiled
    }

    /// Replace this instance with a fresh one (new store and linear memory),
    /// as policy-evaluator does after a timeout: after a trap the guest's
    /// memory may be left in any state.
    pub fn reset(&mut self) -> Result<(), HostError> {
        *self = self.compiled.instantiate()?;
        Ok(())
    }

    /// Read, compile and instantiate a module.
    pub fn from_file(path: impl AsRef<Path>) -> Result<Self, HostError> {
        CompiledPolicy::from_file(path)?.instantiate()
    }

    /// Compile and instantiate a module already read into memory.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, HostError> {
        CompiledPolicy::from_bytes(bytes)?.instantiate()
    }

    /// Compile and instantiate with non-default [`PolicyOptions`].
    pub fn from_bytes_with_options(
        bytes: &[u8],
        options: PolicyOptions,
    ) -> Result<Self, HostError> {
        CompiledPolicy::from_bytes_with_options(bytes, options)?.instantiate()
    }

    /// Call any guest function with any payload. A trap or a guest error is an
    /// `Err`.
    pub fn call_raw(&self, function: &str, payload: &[u8]) -> Result<Vec<u8>, HostError> {
        self.host
            .call(function, payload)
            .map_err(|e| HostError::GuestCall {
                function: function.to_owned(),
                message: e.to_string(),
            })
    }

    /// Call the guest's `validate` with arbitrary bytes (for malformed-input
    /// tests). Returns the guest's raw response.
    pub fn call_validate_raw(&self, payload: &[u8]) -> Result<Vec<u8>, HostError> {
        self.call_raw("validate", payload)
    }

    /// Call `validate` with arbitrary bytes and parse the answer as a
    /// `ValidationResponse`: an unparsable answer is an `Err` as well.
    pub fn call_validate_parsed(&self, payload: &[u8]) -> Result<ValidationResponse, HostError> {
        let raw = self.call_validate_raw(payload)?;
        parse_response("validate", &raw)
    }

    /// The guest's `protocol_version`.
    pub fn protocol_version(&self) -> Result<ProtocolVersion, HostError> {
        let raw = self.call_raw("protocol_version", &[])?;
        parse_response("protocol_version", &raw)
    }

    /// The guest's `validate_settings`, given the settings the way
    /// policy-evaluator passes them: the JSON of the settings object (`null`
    /// means `{}`; anything but an object or null is refused before the guest
    /// is called, as kwctl and policy-server do).
    pub fn validate_settings(&self, settings: &Value) -> Result<SettingsValidation, HostError> {
        let settings = settings_object(settings)?;
        let payload =
            serde_json::to_vec(&settings).map_err(|e| HostError::InvalidSettings(e.to_string()))?;
        let raw = self.call_raw("validate_settings", &payload)?;
        parse_response("validate_settings", &raw)
    }

    /// Evaluate a request as `kwctl run` does (without validating the settings
    /// first: call [`Policy::validate_settings`] for that).
    ///
    /// `request` is an `AdmissionReview` (`{"kind": "AdmissionReview",
    /// "request": {...}}`) or a bare `AdmissionRequest`. A trap, a guest error
    /// or an unparsable `ValidationResponse` is an `Err`.
    pub fn evaluate(
        &self,
        request: &Value,
        settings: &Value,
    ) -> Result<AdmissionResponse, HostError> {
        let request = parse_request(request)?;
        let payload = payload_for(&request, settings)?;
        let raw = self.call_validate_raw(&payload)?;
        let response: ValidationResponse = parse_response("validate", &raw)?;
        AdmissionResponse::from_validation_response(
            request.uid.clone(),
            request.object.as_ref(),
            &response,
        )
    }
}

fn parse_response<T: for<'de> Deserialize<'de>>(
    function: &str,
    raw: &[u8],
) -> Result<T, HostError> {
    serde_json::from_slice(raw).map_err(|e| {
        let shown = &raw[..raw.len().min(512)];
        HostError::InvalidResponse {
            function: function.to_owned(),
            message: format!("cannot deserialize policy response: {e}"),
            response: String::from_utf8_lossy(shown).into_owned(),
        }
    })
}

fn settings_object(settings: &Value) -> Result<Map<String, Value>, HostError> {
    match settings {
        Value::Null => Ok(Map::new()),
        Value::Object(map) => Ok(map.clone()),
        other => Err(HostError::InvalidSettings(format!(
            "policy settings must be a JSON object or null, got {}",
            json_type(other)
        ))),
    }
}

fn json_type(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

// ---------------------------------------------------------------------------
// Request: what policy-evaluator sends to the guest
// ---------------------------------------------------------------------------

/// policy-evaluator's `admission_request::AdmissionRequest`: the typed request
/// kwctl and policy-server parse the incoming JSON into, and serialise again
/// when building the guest payload. Field names, required fields and omission
/// rules follow it.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct AdmissionRequest {
    uid: String,
    kind: GroupVersionKind,
    resource: GroupVersionResource,
    #[serde(skip_serializing_if = "Option::is_none")]
    sub_resource: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    request_kind: Option<GroupVersionKind>,
    #[serde(skip_serializing_if = "Option::is_none")]
    request_resource: Option<GroupVersionResource>,
    #[serde(skip_serializing_if = "Option::is_none")]
    request_sub_resource: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    namespace: Option<String>,
    operation: String,
    user_info: UserInfo,
    #[serde(skip_serializing_if = "Option::is_none")]
    object: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    old_object: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    dry_run: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    options: Option<Value>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct GroupVersionKind {
    group: String,
    version: String,
    kind: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct GroupVersionResource {
    group: String,
    version: String,
    resource: String,
}

/// k8s-openapi's `authentication::v1::UserInfo`: every field optional.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct UserInfo {
    #[serde(skip_serializing_if = "Option::is_none")]
    extra: Option<BTreeMap<String, Vec<String>>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    groups: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    uid: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    username: Option<String>,
}

/// Turn what `kwctl run --request-path` accepts into the `AdmissionRequest`
/// JSON the guest receives as `request`.
///
/// Like kwctl: an object whose `kind` is `AdmissionReview` is unwrapped to its
/// `request`; anything else must be the request itself. The result went
/// through policy-evaluator's typed `AdmissionRequest`, so `uid`, `kind`,
/// `resource`, `operation` and `userInfo` are required, unknown top-level
/// fields are dropped and `object`/`oldObject` set to `null` are omitted.
pub fn normalize_request(input: &Value) -> Result<Value, HostError> {
    serde_json::to_value(parse_request(input)?)
        .map_err(|e| HostError::InvalidRequest(e.to_string()))
}

fn parse_request(input: &Value) -> Result<AdmissionRequest, HostError> {
    let Value::Object(object) = input else {
        return Err(HostError::InvalidRequest(format!(
            "request to evaluate is invalid: expected an AdmissionReview or an AdmissionRequest object, got {}",
            json_type(input)
        )));
    };
    let request = if object.get("kind").and_then(Value::as_str) == Some("AdmissionReview") {
        object.get("request").ok_or_else(|| {
            HostError::InvalidRequest("invalid admission review object: no `request`".into())
        })?
    } else {
        input
    };
    AdmissionRequest::deserialize(request).map_err(|e| {
        HostError::InvalidRequest(format!(
            "cannot build AdmissionRequest object from given input: {e}"
        ))
    })
}

/// The document policy-evaluator sends to `validate`:
/// `json!({"request": request, "settings": settings})`.
#[derive(Serialize)]
struct ValidatePayload<'a> {
    request: &'a AdmissionRequest,
    settings: &'a Map<String, Value>,
}

fn payload_for(request: &AdmissionRequest, settings: &Value) -> Result<Vec<u8>, HostError> {
    let settings = settings_object(settings)?;
    serde_json::to_vec(&ValidatePayload {
        request,
        settings: &settings,
    })
    .map_err(|e| HostError::InvalidRequest(e.to_string()))
}

/// The exact bytes [`Policy::evaluate`] passes to the guest's `validate`:
/// `{"request": <normalized AdmissionRequest>, "settings": <settings>}`.
/// Handy to time the guest alone with [`Policy::call_validate_raw`].
pub fn validate_payload(request: &Value, settings: &Value) -> Result<Vec<u8>, HostError> {
    payload_for(&parse_request(request)?, settings)
}

// ---------------------------------------------------------------------------
// Response
// ---------------------------------------------------------------------------

/// What the guest's `validate` returns (kubewarden-policy-sdk's
/// `response::ValidationResponse`; snake_case field names on the wire).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ValidationResponse {
    pub accepted: bool,
    #[serde(default)]
    pub message: Option<String>,
    #[serde(default)]
    pub code: Option<u16>,
    #[serde(default)]
    pub mutated_object: Option<Value>,
    #[serde(default)]
    pub audit_annotations: Option<BTreeMap<String, String>>,
    #[serde(default)]
    pub warnings: Option<Vec<String>>,
}

/// `status` of an [`AdmissionResponse`].
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct AdmissionResponseStatus {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code: Option<u16>,
}

/// policy-evaluator's `AdmissionResponse` (Kubernetes admission/v1
/// AdmissionResponse): what `kwctl run` prints.
///
/// Serialised with the same names and omission rules: camelCase; `patchType`,
/// `patch` and `status` omitted when absent; `auditAnnotations` and `warnings`
/// always present (`null` when absent), as policy-evaluator does.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AdmissionResponse {
    pub uid: String,
    pub allowed: bool,
    /// `"JSONPatch"` when `patch` is set.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub patch_type: Option<String>,
    /// Base64 of the serialised RFC 6902 patch.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub patch: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<AdmissionResponseStatus>,
    pub audit_annotations: Option<BTreeMap<String, String>>,
    pub warnings: Option<Vec<String>>,
    /// For tests, not serialised: the object exactly as the guest returned it in
    /// `mutated_object` (also when it equals the request's object, in which case
    /// there is no patch).
    #[serde(skip)]
    pub mutated_object: Option<Value>,
}

impl AdmissionResponse {
    /// policy-evaluator's `AdmissionResponse::reject`.
    pub fn reject(uid: String, message: String, code: u16) -> Self {
        AdmissionResponse {
            uid,
            allowed: false,
            status: Some(AdmissionResponseStatus {
                message: Some(message),
                code: Some(code),
            }),
            ..Default::default()
        }
    }

    /// policy-evaluator's `reject_internal_server_error`: what kwctl prints when
    /// the evaluation itself failed.
    pub fn internal_server_error(uid: String, message: &str) -> Self {
        Self::reject(uid, format!("internal server error: {message}"), 500)
    }

    /// policy-evaluator's `AdmissionResponse::from_policy_validation_response`.
    ///
    /// `request_object` is the request's `object` (`None` for a DELETE). A
    /// mutation of a request without object is refused the way policy-evaluator
    /// does; otherwise the patch is `json_patch::diff(object, mutated_object)`,
    /// omitted when empty.
    pub fn from_validation_response(
        uid: String,
        request_object: Option<&Value>,
        response: &ValidationResponse,
    ) -> Result<Self, HostError> {
        let Some(request_object) = request_object else {
            if response.mutated_object.is_some() {
                return Ok(AdmissionResponse {
                    uid,
                    allowed: false,
                    status: Some(AdmissionResponseStatus {
                        message: Some(
                            "Incoming object is null, which happens only with DELETE operations, \
                             but the policy is attempting a mutation. This is not allowed"
                                .to_owned(),
                        ),
                        code: None,
                    }),
                    mutated_object: response.mutated_object.clone(),
                    ..Default::default()
                });
            }
            return Ok(Self::from_parts(uid, None, response));
        };

        let patch = match &response.mutated_object {
            Some(mutated) => {
                let diff = json_patch::diff(request_object, mutated);
                if diff.0.is_empty() {
                    None
                } else {
                    let json = serde_json::to_string(&diff)
                        .map_err(|e| HostError::Patch(e.to_string()))?;
                    Some(BASE64.encode(json))
                }
            }
            None => None,
        };
        Ok(Self::from_parts(uid, patch, response))
    }

    fn from_parts(uid: String, patch: Option<String>, response: &ValidationResponse) -> Self {
        let status = if response.message.is_some() || response.code.is_some() {
            Some(AdmissionResponseStatus {
                message: response.message.clone(),
                code: response.code,
            })
        } else {
            None
        };
        AdmissionResponse {
            uid,
            allowed: response.accepted,
            patch_type: patch.as_ref().map(|_| "JSONPatch".to_owned()),
            patch,
            status,
            audit_annotations: response.audit_annotations.clone(),
            warnings: response.warnings.clone(),
            mutated_object: response.mutated_object.clone(),
        }
    }

    /// The status message, if any.
    pub fn message(&self) -> Option<&str> {
        self.status.as_ref().and_then(|s| s.message.as_deref())
    }

    /// True when the response carries a (non-empty) JSON patch.
    pub fn is_mutated(&self) -> bool {
        self.patch.is_some()
    }

    /// The JSON patch operations, decoded from `patch` (empty without patch).
    ///
    /// Panics if `patch` is not base64 of a JSON array, which cannot happen for
    /// a response built by this crate.
    pub fn patch_operations(&self) -> Vec<Value> {
        let Some(patch) = &self.patch else {
            return Vec::new();
        };
        let bytes = BASE64.decode(patch).expect("patch is not valid base64");
        serde_json::from_slice(&bytes).expect("patch is not a JSON array of operations")
    }

    /// Apply the patch to `object` the way the API server would, returning the
    /// patched object (`object` unchanged without patch).
    pub fn apply_patch(&self, object: &Value) -> Result<Value, HostError> {
        let mut patched = object.clone();
        if self.patch.is_some() {
            let ops = Value::Array(self.patch_operations());
            let patch: json_patch::Patch =
                serde_json::from_value(ops).map_err(|e| HostError::Patch(e.to_string()))?;
            json_patch::patch(&mut patched, &patch).map_err(|e| HostError::Patch(e.to_string()))?;
        }
        Ok(patched)
    }

    /// One-line JSON, as `kwctl run` prints it.
    pub fn to_json_line(&self) -> String {
        serde_json::to_string(self).expect("AdmissionResponse always serialises")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// A minimal waPC guest, in WAT: `validate` answers `{"accepted":true}`,
    /// `protocol_version` answers `"v1"`, anything else is a guest error.
    const WAT_GUEST: &str = r#"
(module
  (import "wapc" "__guest_request" (func $guest_request (param i32 i32)))
  (import "wapc" "__guest_response" (func $guest_response (param i32 i32)))
  (import "wapc" "__guest_error" (func $guest_error (param i32 i32)))
  (memory (export "memory") 1)
  (data (i32.const 1024) "{\"accepted\":true}")
  (data (i32.const 1100) "\"v1\"")
  (data (i32.const 1200) "unknown function")
  (func (export "__guest_call") (param $op_len i32) (param $msg_len i32) (result i32)
    (call $guest_request (i32.const 0) (i32.const 4096))
    ;; op "validate" (8 bytes): compare first byte 'v' and length 8
    (if (i32.and (i32.eq (local.get $op_len) (i32.const 8))
                 (i32.eq (i32.load8_u (i32.const 0)) (i32.const 118)))
      (then (call $guest_response (i32.const 1024) (i32.const 17)) (return (i32.const 1))))
    ;; op "protocol_version" (16 bytes)
    (if (i32.eq (local.get $op_len) (i32.const 16))
      (then (call $guest_response (i32.const 1100) (i32.const 4)) (return (i32.const 1))))
    ;; op "trap"
    (if (i32.eq (local.get $op_len) (i32.const 4)) (then unreachable))
    (call $guest_error (i32.const 1200) (i32.const 16))
    (i32.const 0))
)
"#;

    fn admission_request(object: Value) -> Value {
        json!({
            "uid": "abc",
            "kind": {"group": "", "version": "v1", "kind": "Pod"},
            "resource": {"group": "", "version": "v1", "resource": "pods"},
            "operation": "CREATE",
            "userInfo": {"username": "alice"},
            "object": object,
            "extraField": "dropped"
        })
    }

    #[test]
    fn smoke_wat_guest() {
        let mut policy = Policy::from_bytes(WAT_GUEST.as_bytes()).unwrap();
        assert_eq!(policy.protocol_version().unwrap(), ProtocolVersion::V1);
        let req = json!({"kind": "AdmissionReview", "request": admission_request(json!({"a": 1}))});
        let resp = policy.evaluate(&req, &json!({})).unwrap();
        assert!(resp.allowed);
        assert_eq!(resp.uid, "abc");
        assert_eq!(
            resp.to_json_line(),
            r#"{"uid":"abc","allowed":true,"auditAnnotations":null,"warnings":null}"#
        );
        // a guest error and a trap are errors, and the instance survives them
        assert!(matches!(
            policy.call_raw("nope", b""),
            Err(HostError::GuestCall { .. })
        ));
        assert!(matches!(
            policy.call_raw("trap", b""),
            Err(HostError::GuestCall { .. })
        ));
        // settings response is not a SettingsValidationResponse here
        assert!(matches!(
            policy.call_raw("validate_settings", b"{}"),
            Err(HostError::GuestCall { .. })
        ));
        policy.reset().unwrap();
        assert!(policy.evaluate(&req, &Value::Null).unwrap().allowed);
    }

    #[test]
    fn timeout_interrupts() {
        let wat = r#"(module
          (import "wapc" "__guest_request" (func (param i32 i32)))
          (memory (export "memory") 1)
          (func (export "__guest_call") (param i32 i32) (result i32) (loop (br 0)) (i32.const 0)))"#;
        let policy = Policy::from_bytes_with_options(
            wat.as_bytes(),
            PolicyOptions {
                timeout: Some(Duration::from_millis(50)),
            },
        )
        .unwrap();
        let err = policy.call_validate_raw(b"{}").unwrap_err();
        assert!(err.to_string().contains("deadline exceeded"), "{err}");
    }

    #[test]
    fn normalize_request_like_kwctl() {
        let bare = admission_request(json!(null));
        let norm = normalize_request(&bare).unwrap();
        assert!(norm.get("object").is_none(), "object: null is omitted");
        assert!(norm.get("extraField").is_none());
        assert_eq!(norm["userInfo"], json!({"username": "alice"}));
        let review = json!({"kind": "AdmissionReview", "apiVersion": "admission.k8s.io/v1", "request": bare});
        assert_eq!(normalize_request(&review).unwrap(), norm);
        assert!(normalize_request(&json!({"kind": "AdmissionReview"})).is_err());
        assert!(normalize_request(&json!([1])).is_err());
        let mut no_user = admission_request(json!({}));
        no_user.as_object_mut().unwrap().remove("userInfo");
        let err = normalize_request(&no_user).unwrap_err().to_string();
        assert!(err.contains("userInfo"), "{err}");
    }

    #[test]
    fn payload_shape() {
        let payload = validate_payload(&admission_request(json!({"a": 1})), &Value::Null).unwrap();
        let v: Value = serde_json::from_slice(&payload).unwrap();
        assert_eq!(v["settings"], json!({}));
        assert_eq!(v["request"]["object"], json!({"a": 1}));
        assert!(validate_payload(&admission_request(json!({})), &json!([])).is_err());
    }

    #[test]
    fn response_conversion() {
        let object = json!({"metadata": {"name": "p", "creationTimestamp": null}, "spec": {"containers": [{"name": "c"}]}});
        let mut mutated = object.clone();
        mutated["spec"]["containers"][0]["securityContext"] =
            json!({"readOnlyRootFilesystem": true});
        let vr = ValidationResponse {
            accepted: true,
            message: None,
            code: None,
            mutated_object: Some(mutated.clone()),
            audit_annotations: None,
            warnings: Some(vec!["w".into()]),
        };
        let resp =
            AdmissionResponse::from_validation_response("u".into(), Some(&object), &vr).unwrap();
        assert_eq!(resp.patch_type.as_deref(), Some("JSONPatch"));
        assert_eq!(
            resp.patch_operations(),
            vec![
                json!({"op": "add", "path": "/spec/containers/0/securityContext", "value": {"readOnlyRootFilesystem": true}})
            ]
        );
        assert_eq!(resp.apply_patch(&object).unwrap(), mutated);
        let line = resp.to_json_line();
        assert!(
            line.starts_with(r#"{"uid":"u","allowed":true,"patchType":"JSONPatch","patch":""#),
            "{line}"
        );
        assert!(
            line.ends_with(r#","auditAnnotations":null,"warnings":["w"]}"#),
            "{line}"
        );

        // same object: no patch
        let same = ValidationResponse {
            mutated_object: Some(object.clone()),
            ..vr.clone()
        };
        let resp =
            AdmissionResponse::from_validation_response("u".into(), Some(&object), &same).unwrap();
        assert!(resp.patch.is_none() && resp.patch_type.is_none() && resp.mutated_object.is_some());

        // DELETE with mutation
        let resp = AdmissionResponse::from_validation_response("u".into(), None, &vr).unwrap();
        assert!(!resp.allowed);
        assert!(resp.message().unwrap().contains("Incoming object is null"));

        // rejection
        let rej = ValidationResponse {
            accepted: false,
            message: Some("no".into()),
            code: Some(403),
            mutated_object: None,
            audit_annotations: None,
            warnings: None,
        };
        let resp =
            AdmissionResponse::from_validation_response("u".into(), Some(&object), &rej).unwrap();
        assert_eq!(
            resp.to_json_line(),
            r#"{"uid":"u","allowed":false,"status":{"message":"no","code":403},"auditAnnotations":null,"warnings":null}"#
        );
    }
}
