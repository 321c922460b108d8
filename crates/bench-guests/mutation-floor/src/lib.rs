//! Benchmark baseline guest for mutation: the least a guest can do to
//! return the mutated object the policy returns for the benchmark's mutation
//! request (`/tmp` required writable, `mutate: true`, containers without
//! `readOnlyRootFilesystem` and without a writable `/tmp`). `validate`
//! parses the request's object into a `serde_json::Value`, and for every
//! container sets `securityContext.readOnlyRootFilesystem: true`, mounts an
//! `emptyDir` named `rw-<container>-tmp` at `/tmp` and adds that volume to
//! the pod, then answers with the object. It checks nothing (not the
//! settings, the kind, the operation, existing mounts or volume names): it
//! is the cost of the mutation's output alone, the floor under which no
//! mutating policy can go in the same engine. Names are the policy's for
//! container names that are already DNS labels (the benchmark's are).
//! Built for `wasm32-wasip1` only; the native build is empty.

#[cfg(target_arch = "wasm32")]
mod guest {
    use serde::{Deserialize, Serialize};
    use serde_json::{Map, Value, json};
    use wapc_guest::{CallResult, register_function};

    #[unsafe(no_mangle)]
    pub extern "C" fn wapc_init() {
        // With the `write-first` feature, the policy's first write
        // (crates/write-first): the baseline without the TLB flush that a
        // plain wapc-guest module pays per request in policy-server.
        #[cfg(feature = "write-first")]
        write_first::write_first();
        register_function("validate", validate);
        register_function("validate_settings", validate_settings);
        register_function("protocol_version", protocol_version);
    }

    #[derive(Deserialize)]
    struct Payload {
        request: Request,
    }

    #[derive(Deserialize)]
    struct Request {
        object: Value,
    }

    #[derive(Serialize)]
    struct Response<'a> {
        accepted: bool,
        mutated_object: &'a Value,
    }

    fn validate(payload: &[u8]) -> CallResult {
        let Ok(Payload {
            request: Request { mut object },
        }) = serde_json::from_slice::<Payload>(payload)
        else {
            return Ok(br#"{"accepted":false,"message":"not a request"}"#.to_vec());
        };
        if let Some(spec) = object.get_mut("spec").and_then(Value::as_object_mut) {
            let mut volumes = Vec::new();
            if let Some(containers) = spec.get_mut("containers").and_then(Value::as_array_mut) {
                for container in containers.iter_mut().filter_map(Value::as_object_mut) {
                    let name = format!(
                        "rw-{}-tmp",
                        container.get("name").and_then(Value::as_str).unwrap_or("")
                    );
                    let context = container
                        .entry("securityContext")
                        .or_insert_with(|| Value::Object(Map::new()));
                    if let Some(context) = context.as_object_mut() {
                        context.insert("readOnlyRootFilesystem".into(), Value::Bool(true));
                    }
                    let mounts = container
                        .entry("volumeMounts")
                        .or_insert_with(|| Value::Array(Vec::new()));
                    if let Some(mounts) = mounts.as_array_mut() {
                        mounts.push(json!({"name": name, "mountPath": "/tmp"}));
                    }
                    volumes.push(json!({"name": name, "emptyDir": {}}));
                }
            }
            let list = spec
                .entry("volumes")
                .or_insert_with(|| Value::Array(Vec::new()));
            if let Some(list) = list.as_array_mut() {
                list.extend(volumes);
            }
        }
        let response = Response {
            accepted: true,
            mutated_object: &object,
        };
        Ok(serde_json::to_vec(&response)
            .unwrap_or_else(|_| br#"{"accepted":false,"message":"encoding"}"#.to_vec()))
    }

    fn validate_settings(_payload: &[u8]) -> CallResult {
        Ok(br#"{"valid":true}"#.to_vec())
    }

    fn protocol_version(_payload: &[u8]) -> CallResult {
        Ok(br#""v1""#.to_vec())
    }
}
