//! Calico, Cilium and network-policy-api custom resources against their CRDs.

use super::*;
use serde_json::json;

const CALICO_GNP: &str = r#"
apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata:
  name: netpolc.block-cloud-metadata
  labels: {app.kubernetes.io/managed-by: netpolc}
  annotations: {netpolc.dev/intent: baseline/block-cloud-metadata}
spec:
  tier: default
  order: 100.5
  selector: all()
  namespaceSelector: has(projectcalico.org/name)
  types: [Ingress, Egress]
  ingress:
    - action: Allow
      protocol: TCP
      source:
        selector: app == 'frontend'
        namespaceSelector: projectcalico.org/name == 'production'
      destination:
        ports: [8080, "8000:8100", http]
  egress:
    - action: Deny
      destination:
        nets: [169.254.169.254/32, 100.100.100.200/32]
    - action: Allow
      protocol: UDP
      destination:
        selector: k8s-app == 'kube-dns'
        ports: [53]
    - action: Allow
      protocol: ICMP
      icmp: {type: 8, code: 0}
      ipVersion: 4
    - action: Pass
"#;

const CILIUM_CNP: &str = r#"
apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata:
  name: production-backend
  namespace: production
  labels: {app.kubernetes.io/managed-by: netpolc}
spec:
  description: backend accepts the frontend, reaches its database, DNS and one API
  endpointSelector:
    matchLabels: {app: backend}
  ingress:
    - fromEndpoints:
        - matchLabels:
            app: frontend
            k8s:io.kubernetes.pod.namespace: production
      toPorts:
        - ports: [{port: "8080", protocol: TCP}]
          rules:
            http: [{method: GET, path: "/api/.*"}]
  egress:
    - toEndpoints:
        - matchLabels: {k8s:io.kubernetes.pod.namespace: kube-system, k8s-app: kube-dns}
      toPorts:
        - ports: [{port: "53", protocol: ANY}]
          rules:
            dns: [{matchPattern: "*"}]
    - toFQDNs: [{matchName: api.example.com}]
      toPorts: [{ports: [{port: "443", protocol: TCP}]}]
    - toCIDRSet:
        - {cidr: 203.0.113.0/24, except: [203.0.113.128/25]}
      toPorts: [{ports: [{port: "5432", endPort: 5440, protocol: TCP}]}]
    - toEntities: [kube-apiserver]
  egressDeny:
    - toCIDR: [169.254.169.254/32]
"#;

#[test]
fn every_crd_loads() {
    for file in [
        "calico/projectcalico.org_globalnetworkpolicies.yaml",
        "calico/projectcalico.org_networkpolicies.yaml",
        "calico/projectcalico.org_tiers.yaml",
        "cilium/ciliumnetworkpolicies.yaml",
        "cilium/ciliumclusterwidenetworkpolicies.yaml",
        "network-policy-api/policy.networking.k8s.io_adminnetworkpolicies.yaml",
        "network-policy-api/policy.networking.k8s.io_baselineadminnetworkpolicies.yaml",
        "network-policy-api/policy.networking.k8s.io_clusternetworkpolicies.yaml",
    ] {
        // Every pattern of every CRD compiles with the `regex` crate.
        let v = crd(file);
        assert!(!v.validate(&json!({})).is_empty(), "{file}");
    }
}

#[test]
fn calico_global_network_policy() {
    let v = crd("calico/projectcalico.org_globalnetworkpolicies.yaml");
    let base = doc(CALICO_GNP);
    assert_eq!(v.validate(&base), Vec::<String>::new());

    let e = errors_after(&v, &base, |p| {
        *at(p, "/spec/egress/0/action") = json!("Drop");
        *at(p, "/spec/types") = json!(["Egress", "Egress", "Ingress"]);
        *at(p, "/spec/ingress/0/destination/ports/0") = json!(true);
        *at(p, "/spec/egress/2/icmp/type") = json!(255);
        *at(p, "/spec/egress/2/ipVersion") = json!(5);
        at(p, "/spec/egress/1")
            .as_object_mut()
            .unwrap()
            .remove("action");
        at(p, "/spec/egress/3")
            .as_object_mut()
            .unwrap()
            .insert("actions".into(), json!("Pass"));
        *at(p, "/spec/order") = json!("100");
        at(p, "/metadata")
            .as_object_mut()
            .unwrap()
            .insert("namespace".into(), json!(7));
    });
    assert_eq!(
        e,
        [
            "metadata.namespace: expected string",
            "spec.order: expected number",
            "spec.types: must have at most 2 items",
            "spec.types[1]: duplicate value `Egress` in a set (same as [0])",
            "spec.ingress[0].destination.ports[0]: expected integer or string",
            "spec.egress[0].action: unsupported value `Drop`, expected one of `Allow`, `Deny`, `Log`, `Pass`",
            "spec.egress[1].action: required field is missing",
            "spec.egress[2].icmp.type: must be at most 254",
            "spec.egress[2].ipVersion: unsupported value `5`, expected one of `4`, `6`",
            "spec.egress[3].actions: unknown field",
        ]
    );
    // The root requires `spec`; identity is checked.
    let e = errors_after(&v, &base, |p| {
        p.as_object_mut().unwrap().remove("spec");
        *at(p, "/kind") = json!("NetworkPolicy");
    });
    assert_eq!(
        e,
        [
            "kind: expected `GlobalNetworkPolicy`, found `NetworkPolicy`",
            "spec: required field is missing"
        ]
    );
}

#[test]
fn calico_cel_rules_are_listed() {
    let v = crd("calico/projectcalico.org_globalnetworkpolicies.yaml");
    let rules = v.cel_rules();
    assert_eq!(rules.len(), 14, "{rules:#?}");
    assert!(rules.contains(&(
        "spec".to_string(),
        "!((has(self.doNotTrack) && self.doNotTrack) && (has(self.preDNAT) && self.preDNAT))"
            .to_string(),
        "preDNAT and doNotTrack cannot both be true".to_string()
    )));
    assert!(rules
        .iter()
        .any(|(path, rule, message)| path == "spec.egress[*]"
            && rule == "self.action == 'Allow' || !has(self.http)"
            && message == "HTTP match is only valid on Allow rules"));
    assert!(rules
        .iter()
        .any(|(path, _, _)| path == "spec.ingress[*].icmp"));
    // The rules are not evaluated: preDNAT with doNotTrack passes the schema.
    let e = errors_after(&v, &doc(CALICO_GNP), |p| {
        let spec = at(p, "/spec").as_object_mut().unwrap();
        spec.insert("preDNAT".into(), json!(true));
        spec.insert("doNotTrack".into(), json!(true));
    });
    assert!(e.is_empty(), "{e:?}");
}

#[test]
fn calico_namespaced_policy_and_tier() {
    let v = crd("calico/projectcalico.org_networkpolicies.yaml");
    let mut policy = doc(CALICO_GNP);
    *at(&mut policy, "/kind") = json!("NetworkPolicy");
    at(&mut policy, "/metadata")
        .as_object_mut()
        .unwrap()
        .insert("namespace".into(), json!("production"));
    at(&mut policy, "/spec")
        .as_object_mut()
        .unwrap()
        .remove("namespaceSelector");
    assert_eq!(v.validate(&policy), Vec::<String>::new());

    let tier = crd("calico/projectcalico.org_tiers.yaml");
    let t = doc("apiVersion: projectcalico.org/v3\nkind: Tier\nmetadata: {name: netpolc}\nspec: {order: 100}\n");
    assert_eq!(tier.validate(&t), Vec::<String>::new());
}

#[test]
fn cilium_network_policy() {
    let v = crd("cilium/ciliumnetworkpolicies.yaml");
    let base = doc(CILIUM_CNP);
    assert_eq!(v.validate(&base), Vec::<String>::new());

    let e = errors_after(&v, &base, |p| {
        *at(p, "/spec/egress/2/toCIDRSet/0/cidr") = json!("203.0.113.0/33");
        *at(p, "/spec/egress/1/toPorts/0/ports/0/protocol") = json!("ICMP");
        *at(p, "/spec/egress/3/toEntities/0") = json!("kube-apiservr");
        *at(p, "/spec/ingress/0/toPorts/0/ports/0/port") = json!("-8080");
        *at(p, "/spec/endpointSelector/matchLabels/app") = json!("back end");
        *at(p, "/spec/egress/1/toFQDNs/0") =
            json!({"matchName": "a.example.com", "matchPattern": "*.example.com"});
        at(p, "/spec/ingress/0")
            .as_object_mut()
            .unwrap()
            .insert("fromEndpoint".into(), json!([]));
    });
    assert_eq!(
        e,
        [
            "spec.endpointSelector.matchLabels.app: `back end` does not match the pattern `^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$`",
            "spec.ingress[0].fromEndpoint: unknown field",
            "spec.ingress[0].toPorts[0].ports[0].port: `-8080` does not match the pattern `^(6553[0-5]|655[0-2][0-9]|65[0-4][0-9]{2}|6[0-4][0-9]{3}|[1-5][0-9]{4}|[0-9]{1,4})|([a-zA-Z0-9]-?)*[a-zA-Z](-?[a-zA-Z0-9])*$`",
            "spec.egress[1].toFQDNs[0]: only one of `matchName`, `matchPattern` may be set",
            "spec.egress[1].toPorts[0].ports[0].protocol: unsupported value `ICMP`, expected one of `TCP`, `UDP`, `SCTP`, `VRRP`, `IGMP`, `ANY`",
            "spec.egress[2].toCIDRSet[0].cidr: `203.0.113.0/33` is not a CIDR such as `10.0.0.0/8` or `2001:db8::/32`",
            "spec.egress[3].toEntities[0]: unsupported value `kube-apiservr`, expected one of `all`, `world`, `cluster`, `host`, `init`, `ingress`, `unmanaged`, `remote-node`, `health`, `none`, `kube-apiserver`",
        ]
    );
    // `spec` needs exactly one subject selector and at least one rule list.
    let e = errors_after(&v, &base, |p| {
        *at(p, "/spec") = json!({"nodeSelector": {}, "endpointSelector": {}});
    });
    assert_eq!(
        e,
        [
            "spec: needs at least one of `ingress`, `ingressDeny`, `egress`, `egressDeny`",
            "spec: only one of `endpointSelector`, `nodeSelector` may be set",
        ]
    );
    let e = errors_after(&v, &base, |p| {
        *at(p, "/spec") = json!({"ingress": [{}]});
    });
    assert_eq!(
        e,
        ["spec: needs exactly one of `endpointSelector`, `nodeSelector`"]
    );
    assert!(v.cel_rules().is_empty());
}

#[test]
fn cilium_clusterwide_policy() {
    let v = crd("cilium/ciliumclusterwidenetworkpolicies.yaml");
    let mut policy = doc(CILIUM_CNP);
    *at(&mut policy, "/kind") = json!("CiliumClusterwideNetworkPolicy");
    at(&mut policy, "/metadata")
        .as_object_mut()
        .unwrap()
        .remove("namespace");
    assert_eq!(v.validate(&policy), Vec::<String>::new());
    *at(&mut policy, "/apiVersion") = json!("cilium.io/v1");
    assert_eq!(
        v.validate(&policy),
        ["apiVersion: expected `cilium.io/v2`, found `cilium.io/v1`"]
    );
}

#[test]
fn cluster_network_policy() {
    let v = crd("network-policy-api/policy.networking.k8s.io_clusternetworkpolicies.yaml");
    let rules = v.cel_rules();
    assert!(!rules.is_empty());
    let e = v.validate(&json!({
        "apiVersion": "policy.networking.k8s.io/v1alpha2",
        "kind": "ClusterNetworkPolicy",
        "metadata": {"name": "x"},
        "spec": {"tier": "Nowhere", "priority": -1, "subject": {"namespaces": {}}}
    }));
    assert!(
        e.iter()
            .any(|m| m.starts_with("spec.tier: unsupported value `Nowhere`")),
        "{e:#?}"
    );
    assert!(
        e.iter()
            .any(|m| m.starts_with("spec.priority: must be at least 0")),
        "{e:#?}"
    );
}

#[test]
fn broken_crd_files_are_errors() {
    let dir = std::env::temp_dir().join(format!("netpolc-schema-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let write = |name: &str, text: &str| {
        let p = dir.join(name);
        std::fs::write(&p, text).unwrap();
        p
    };
    let e = Validator::crd(&write("bad.yaml", "a: [1\n")).unwrap_err();
    assert!(
        e.contains("bad.yaml:2:1: invalid YAML") && e.contains("[NP1003]"),
        "{e}"
    );
    let e = Validator::crd(&write("none.yaml", "kind: Other\n")).unwrap_err();
    assert!(e.contains("no CustomResourceDefinition"), "{e}");
    let e = Validator::crd(&write(
        "pattern.yaml",
        "kind: CustomResourceDefinition\nspec:\n  group: x.io\n  names: {kind: X}\n  versions:\n  - name: v1\n    served: true\n    storage: true\n    schema:\n      openAPIV3Schema:\n        type: object\n        properties:\n          spec: {type: string, pattern: '(unclosed'}\n",
    ))
    .unwrap_err();
    assert!(
        e.contains("spec: the pattern `(unclosed` does not compile"),
        "{e}"
    );
    let e = Validator::crd(&dir.join("missing.yaml")).unwrap_err();
    assert!(e.contains("missing.yaml"), "{e}");
    let _ = std::fs::remove_dir_all(&dir);
}
