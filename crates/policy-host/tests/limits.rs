//! Hostile-size inputs through the built `policy.wasm`: each gets an answer
//! (accept, mutate or reject, never a trap or guest error) within bounded
//! linear memory. Time and peak memory are printed (`cargo test --test
//! limits -- --nocapture`), not asserted: the Limits table of
//! docs/threat-model.md comes from here.
//!
//! The payloads are raw bytes, as the engine would hand them to the guest;
//! the 100,000-level nesting could not even pass through a host that parses
//! the request into `serde_json::Value` first (serde_json stops at 128).

#[path = "../src/bin/bench/rawhost.rs"]
#[allow(dead_code)]
mod rawhost;

#[allow(dead_code)]
mod support;

use serde::Deserialize;
use serde_json::value::RawValue;
use std::time::Instant;

const MIB: usize = 1024 * 1024;

/// A Pod CREATE payload; `spec` and `metadata_extra` are raw JSON text.
fn pod_payload(spec: &str, metadata_extra: &str, settings: &str) -> Vec<u8> {
    format!(
        r#"{{"request":{{"uid":"limits","kind":{{"group":"","version":"v1","kind":"Pod"}},"resource":{{"group":"","version":"v1","resource":"pods"}},"operation":"CREATE","userInfo":{{"username":"u"}},"object":{{"apiVersion":"v1","kind":"Pod","metadata":{{"name":"big"{metadata_extra}}},"spec":{spec}}}}},"settings":{settings}}}"#
    )
    .into_bytes()
}

fn containers(count: usize, read_only: bool) -> String {
    let security = if read_only {
        r#","securityContext":{"readOnlyRootFilesystem":true}"#
    } else {
        ""
    };
    let items: Vec<String> = (0..count)
        .map(|i| format!(r#"{{"name":"c{i}","image":"registry.example.com/app:1.0"{security}}}"#))
        .collect();
    format!("[{}]", items.join(","))
}

struct Limit {
    name: &'static str,
    payload: Vec<u8>,
    expect_accepted: bool,
    /// Fragments the rejection message must contain.
    message: Vec<String>,
    /// The mutated object must be present (mutation happened).
    expect_mutation: bool,
}

struct Measured {
    accepted: bool,
    message: String,
    mutated: bool,
    millis: f64,
    memory: usize,
}

#[derive(Deserialize)]
struct Response<'a> {
    accepted: bool,
    message: Option<String>,
    #[serde(borrow)]
    mutated_object: Option<&'a RawValue>,
}

fn run(module: &rawhost::RawModule, payload: &[u8]) -> Measured {
    let mut instance = module.instantiate().expect("the policy instantiates");
    let started = Instant::now();
    let (response, _fuel) = instance
        .call("validate", payload)
        .unwrap_or_else(|e| panic!("the policy trapped or returned a guest error: {e}"));
    let millis = started.elapsed().as_secs_f64() * 1000.0;
    // The mutated object is kept as text: it is as deep as the request's.
    let response: Response =
        serde_json::from_slice(&response).expect("the response is a ValidationResponse");
    Measured {
        accepted: response.accepted,
        message: response.message.unwrap_or_default(),
        mutated: response.mutated_object.is_some(),
        millis,
        memory: instance.memory_bytes(),
    }
}

fn limits() -> Vec<Limit> {
    let ten_mb_annotation = format!(r#","annotations":{{"blob":"{}"}}"#, "x".repeat(10 * MIB));
    let compliant_spec = format!(r#"{{"containers":{}}}"#, containers(3, true));
    let violating_spec = format!(r#"{{"containers":{}}}"#, containers(3, false));
    let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    let deep_spec =
        |containers: &str| format!(r#"{{"containers":{containers},"futureField":{deep}}}"#);
    let huge_name = "n".repeat(MIB);
    let huge_name_spec = format!(
        r#"{{"containers":[{{"name":"{huge_name}","image":"registry.example.com/app:1.0"}}]}}"#
    );
    let mutate_tmp = r#"{"mutate":true,"requiredWritablePaths":["/tmp"]}"#;
    vec![
        Limit {
            name: "10 MB request (annotation), compliant Pod",
            payload: pod_payload(&compliant_spec, &ten_mb_annotation, "{}"),
            expect_accepted: true,
            message: vec![],
            expect_mutation: false,
        },
        Limit {
            name: "10 MB request (annotation), mutated",
            payload: pod_payload(&violating_spec, &ten_mb_annotation, mutate_tmp),
            expect_accepted: true,
            message: vec![],
            expect_mutation: true,
        },
        Limit {
            name: "Pod with 10,000 compliant containers",
            payload: pod_payload(
                &format!(r#"{{"containers":{}}}"#, containers(10_000, true)),
                "",
                "{}",
            ),
            expect_accepted: true,
            message: vec![],
            expect_mutation: false,
        },
        Limit {
            name: "Pod with 10,000 violating containers",
            payload: pod_payload(
                &format!(r#"{{"containers":{}}}"#, containers(10_000, false)),
                "",
                "{}",
            ),
            expect_accepted: false,
            message: vec![
                "(10000 violations)".into(),
                "- container \"c19\" (spec.containers[19])".into(),
                "\n- and 9980 more violations not listed (the first 20 are shown)".into(),
            ],
            expect_mutation: false,
        },
        Limit {
            name: "Pod with 10,000 containers, mutated (/tmp each)",
            payload: pod_payload(
                &format!(r#"{{"containers":{}}}"#, containers(10_000, false)),
                "",
                mutate_tmp,
            ),
            expect_accepted: true,
            message: vec![],
            expect_mutation: true,
        },
        Limit {
            name: "JSON nested 100,000 deep in an unknown field, validate",
            payload: pod_payload(&deep_spec(&containers(1, true)), "", "{}"),
            expect_accepted: true,
            message: vec![],
            expect_mutation: false,
        },
        Limit {
            // The edits are spliced into the object's text: the unknown
            // field comes back as it was, however deep.
            name: "JSON nested 100,000 deep in an unknown field, mutate",
            payload: pod_payload(&deep_spec(&containers(1, false)), "", mutate_tmp),
            expect_accepted: true,
            message: vec![],
            expect_mutation: true,
        },
        Limit {
            name: "container name of 1 MB",
            payload: pod_payload(&huge_name_spec, "", "{}"),
            expect_accepted: false,
            message: vec![format!("container \"{huge_name}\" (spec.containers[0])")],
            expect_mutation: false,
        },
        Limit {
            name: "container name of 1 MB, mutated",
            payload: pod_payload(&huge_name_spec, "", mutate_tmp),
            expect_accepted: true,
            message: vec![],
            expect_mutation: true,
        },
    ]
}

#[test]
fn hostile_sizes_get_an_answer_in_bounded_memory() {
    let engine = rawhost::engine().expect("wasmtime engine");
    let module =
        rawhost::RawModule::new(&engine, &support::policy_bytes()).expect("policy.wasm compiles");
    let mut failures = Vec::new();
    println!("| input | request | verdict | time | peak linear memory |");
    println!("|---|---|---|---|---|");
    for limit in limits() {
        let measured = run(&module, &limit.payload);
        let verdict = match (measured.accepted, measured.mutated) {
            (false, _) => "rejected",
            (true, true) => "mutated",
            (true, false) => "accepted",
        };
        println!(
            "| {} | {:.1} MB | {verdict} | {:.0} ms | {:.1} MiB |",
            limit.name,
            limit.payload.len() as f64 / 1e6,
            measured.millis,
            measured.memory as f64 / MIB as f64
        );
        if measured.accepted != limit.expect_accepted || measured.mutated != limit.expect_mutation {
            failures.push(format!(
                "{}: expected accepted={} mutated={}, got {verdict}: {:.300}",
                limit.name, limit.expect_accepted, limit.expect_mutation, measured.message
            ));
        }
        for fragment in &limit.message {
            if !measured.message.contains(fragment.as_str()) {
                failures.push(format!(
                    "{}: the message lacks {:.100}: {:.300}",
                    limit.name, fragment, measured.message
                ));
            }
        }
        // A header, at most 20 violations and one line counting the rest.
        if measured.message.lines().count() > 22 {
            failures.push(format!(
                "{}: the message has {} lines, more than 22",
                limit.name,
                measured.message.lines().count()
            ));
        }
        // Bounded: a small multiple of the request, never the 4 GiB a
        // wasm32 module could grow to.
        let bound = 24 * limit.payload.len() + 64 * MIB;
        if measured.memory > bound {
            failures.push(format!(
                "{}: linear memory grew to {} bytes, over the bound of {bound}",
                limit.name, measured.memory
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
