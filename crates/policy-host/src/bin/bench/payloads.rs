//! The benchmark's requests, generated: admission requests shaped like the
//! ones the API server sends (envelope, userInfo, options, object metadata)
//! around pods whose containers carry the usual fields (image, ports, env,
//! resources, probes, volumeMounts, securityContext).

use serde_json::{Value, json};

/// What a case expects the policy to answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expect {
    Accept,
    Reject,
    Mutate,
}

pub struct Case {
    pub name: String,
    /// The exact bytes given to `validate`.
    pub payload: Vec<u8>,
    pub expect: Expect,
    /// Number of pod containers, for the linear-growth check.
    pub containers: usize,
    pub compliant: bool,
    /// One of the plain Pod cases the targets are about.
    pub plain_pod: bool,
}

/// How the containers of a generated pod look.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// readOnlyRootFilesystem: true and an emptyDir at /tmp.
    Compliant,
    /// No readOnlyRootFilesystem, no writable /tmp (a config mount instead):
    /// two violations per container.
    Violating,
}

/// A container with every field a real one usually has (image, ports,
/// env, resources, a probe, volume mounts, securityContext), written
/// compactly.
fn container(name: &str, index: usize, shape: Shape) -> Value {
    let port = 8080 + (index % 10) as u64;
    let mut c = json!({
        "name": name,
        "image": format!("ghcr.io/shop/{name}:1.{}", index % 7),
        "ports": [{"containerPort": port}],
        "env": [{"name": "LOG_LEVEL", "value": "info"}],
        "resources": {"limits": {"memory": "128Mi"}},
        "readinessProbe": {"httpGet": {"path": "/healthz", "port": port}}
    });
    match shape {
        Shape::Compliant => {
            c["volumeMounts"] = json!([{"name": "tmp", "mountPath": "/tmp"}]);
            c["securityContext"] = json!({"readOnlyRootFilesystem": true});
        }
        Shape::Violating => {
            c["volumeMounts"] = json!([{"name": "config", "mountPath": "/etc/app"}]);
            c["securityContext"] = json!({"allowPrivilegeEscalation": false});
        }
    }
    c
}

/// A container with only a name, an image and (when compliant) the one
/// field the policy checks: the request sizes of the reference
/// figures (114 KB for 1000 containers).
fn minimal_container(name: &str, shape: Shape) -> Value {
    match shape {
        Shape::Compliant => json!({
            "name": name,
            "image": "nginx:1.27",
            "securityContext": {"readOnlyRootFilesystem": true}
        }),
        Shape::Violating => json!({"name": name, "image": "nginx:1.27"}),
    }
}

fn volumes() -> Value {
    json!([
        {"name": "tmp", "emptyDir": {}},
        {"name": "config", "configMap": {"name": "shop-config"}}
    ])
}

fn pod_spec(containers: Vec<Value>, init: Vec<Value>) -> Value {
    let mut spec = json!({
        "containers": containers,
        "volumes": volumes(),
        "restartPolicy": "Always",
        "serviceAccountName": "shop",
        "securityContext": {"runAsNonRoot": true, "seccompProfile": {"type": "RuntimeDefault"}}
    });
    if !init.is_empty() {
        spec["initContainers"] = Value::Array(init);
    }
    spec
}

fn metadata(name: &str) -> Value {
    json!({
        "name": name,
        "namespace": "shop",
        "labels": {"app.kubernetes.io/name": "shop", "pod-template-hash": "7d9f8b6c5"},
        "creationTimestamp": null
    })
}

/// An AdmissionRequest for a CREATE of `object`.
fn request(group: &str, version: &str, kind: &str, resource: &str, object: Value) -> Value {
    let gvk = json!({"group": group, "version": version, "kind": kind});
    let gvr = json!({"group": group, "version": version, "resource": resource});
    json!({
        "uid": "705ab4f5-6393-11e8-b7cc-42010a800002",
        "kind": gvk,
        "resource": gvr,
        "requestKind": gvk,
        "requestResource": gvr,
        "name": object["metadata"]["name"],
        "namespace": "shop",
        "operation": "CREATE",
        "userInfo": {
            "username": "system:serviceaccount:kube-system:replicaset-controller",
            "groups": ["system:serviceaccounts", "system:serviceaccounts:kube-system", "system:authenticated"]
        },
        "object": object,
        "dryRun": false,
        "options": {"kind": "CreateOptions", "apiVersion": "meta.k8s.io/v1"}
    })
}

fn pod_request(containers: Vec<Value>) -> Value {
    let object = json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": metadata("shop-7d9f8b6c5-x2x7k"),
        "spec": pod_spec(containers, Vec::new())
    });
    request("", "v1", "Pod", "pods", object)
}

fn pod_of(count: usize, shape: Shape) -> Value {
    pod_request(
        (0..count)
            .map(|i| container(&format!("app-{i}"), i, shape))
            .collect(),
    )
}

fn minimal_pod_of(count: usize, shape: Shape) -> Value {
    pod_request(
        (0..count)
            .map(|i| minimal_container(&format!("app-{i}"), shape))
            .collect(),
    )
}

fn deployment() -> Value {
    let containers = ["api", "worker", "metrics"]
        .iter()
        .enumerate()
        .map(|(i, n)| container(n, i, Shape::Compliant))
        .collect();
    let init = vec![container("migrate", 3, Shape::Compliant)];
    let object = json!({
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "shop", "namespace": "shop", "labels": {"app.kubernetes.io/name": "shop"}, "creationTimestamp": null},
        "spec": {
            "replicas": 3,
            "selector": {"matchLabels": {"app.kubernetes.io/name": "shop"}},
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"}},
            "template": {
                "metadata": {"labels": {"app.kubernetes.io/name": "shop"}, "creationTimestamp": null},
                "spec": pod_spec(containers, init)
            }
        }
    });
    request("apps", "v1", "Deployment", "deployments", object)
}

/// 50 exemptions of the three forms, none matching the pod's containers, so
/// every one is tried against every container.
fn fifty_exemptions() -> Value {
    let entries: Vec<Value> = (0..50)
        .map(|i| match i % 3 {
            0 => json!(format!("debug-{i}")),
            1 => json!({"name": format!("istio-proxy-{i}"), "image": format!("docker.io/istio/proxyv2:1.{i}.0")}),
            _ => json!({"image": format!("registry.example.com/debug-{i}/*")}),
        })
        .collect();
    json!({"requiredWritablePaths": ["/tmp"], "exemptContainers": entries})
}

fn case(
    name: String,
    request: &Value,
    settings: &Value,
    expect: Expect,
    containers: usize,
    compliant: bool,
) -> Case {
    let payload = policy_host::validate_payload(request, settings)
        .unwrap_or_else(|e| panic!("bench case {name}: {e}"));
    Case {
        name,
        payload,
        expect,
        containers,
        compliant,
        plain_pod: false,
    }
}

/// Every case of the benchmark, in table order. The plain Pod cases use
/// the default settings (`{}`: only readOnlyRootFilesystem is checked, like
/// the upstream policy the reference figures are for).
pub fn cases() -> Vec<Case> {
    let default = json!({});
    let tmp = json!({"requiredWritablePaths": ["/tmp"]});
    let mut cases = Vec::new();
    for count in [1usize, 100, 1000] {
        let plural = if count == 1 { "" } else { "s" };
        for (shape, compliant, expect, label) in [
            (Shape::Compliant, true, Expect::Accept, "compliant"),
            (Shape::Violating, false, Expect::Reject, "violating"),
        ] {
            let mut plain = case(
                format!("Pod, {count} container{plural}, {label}"),
                &pod_of(count, shape),
                &default,
                expect,
                count,
                compliant,
            );
            plain.plain_pod = true;
            cases.push(plain);
        }
    }
    for (shape, compliant, expect, label) in [
        (Shape::Compliant, true, Expect::Accept, "compliant"),
        (Shape::Violating, false, Expect::Reject, "violating"),
    ] {
        cases.push(case(
            format!("Pod, 1000 minimal containers, {label}"),
            &minimal_pod_of(1000, shape),
            &default,
            expect,
            1000,
            compliant,
        ));
    }
    for (shape, compliant, expect, label) in [
        (Shape::Compliant, true, Expect::Accept, "compliant"),
        (Shape::Violating, false, Expect::Reject, "violating"),
    ] {
        cases.push(case(
            format!("Pod, 1000 containers, {label}, requiredWritablePaths [/tmp]"),
            &pod_of(1000, shape),
            &tmp,
            expect,
            1000,
            compliant,
        ));
    }
    cases.push(case(
        "Deployment, 3 containers + 1 init, requiredWritablePaths [/tmp]".into(),
        &deployment(),
        &tmp,
        Expect::Accept,
        4,
        true,
    ));
    cases.push(case(
        "Mutation: /tmp injected into 10 containers".into(),
        &pod_of(10, Shape::Violating),
        &json!({"mutate": true, "requiredWritablePaths": ["/tmp"]}),
        Expect::Mutate,
        10,
        false,
    ));
    // The settings of examples/cluster-policy-mutate-profiles.yaml, validate
    // only: what a cluster with profiles pays per request for its settings.
    let profiles = json!({
        "requiredWritablePaths": ["/tmp"],
        "exemptContainers": [{"name": "istio-proxy", "image": "docker.io/istio/proxyv2"}],
        "applicationProfiles": ["nginx", "postgres", "mysql", "mongo", "grafana", "traefik"],
    });
    cases.push(case(
        "6 profiles and an exemption, Pod 1 container".into(),
        &pod_of(1, Shape::Compliant),
        &profiles,
        Expect::Accept,
        1,
        true,
    ));
    for count in [1usize, 100] {
        let plural = if count == 1 { "" } else { "s" };
        cases.push(case(
            format!("50 exemptions, Pod {count} container{plural}"),
            &pod_of(count, Shape::Compliant),
            &fifty_exemptions(),
            Expect::Accept,
            count,
            true,
        ));
    }
    cases
}
