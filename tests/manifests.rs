//! Every emitted object (golden/ and the whole corpus) is checked against:
//! - the official schema of its kind in `tests/fixtures/schemas/` (strict: unknown fields fail),
//! - the k8s-openapi type, for NetworkPolicy,
//! - the back end's own server- or agent-side rules (`validate`), which the schemas
//!   cannot express (Kubernetes §8.1, Calico validator and CEL rules, Cilium agent).

use crate::util::{all_emitted, schemas};
use netpolc_schema::Validator;
use std::collections::BTreeMap;

#[test]
fn every_emitted_object_is_valid() {
    let dir = schemas();
    let mut validators: BTreeMap<&str, Validator> = BTreeMap::new();
    validators.insert(
        "NetworkPolicy@kubernetes",
        Validator::kubernetes_networkpolicy(&dir).unwrap(),
    );
    validators.insert(
        "GlobalNetworkPolicy@calico",
        Validator::crd(&dir.join("calico/projectcalico.org_globalnetworkpolicies.yaml")).unwrap(),
    );
    validators.insert(
        "NetworkPolicy@calico",
        Validator::crd(&dir.join("calico/projectcalico.org_networkpolicies.yaml")).unwrap(),
    );
    validators.insert(
        "Tier@calico",
        Validator::crd(&dir.join("calico/projectcalico.org_tiers.yaml")).unwrap(),
    );
    validators.insert(
        "CiliumNetworkPolicy@cilium",
        Validator::crd(&dir.join("cilium/ciliumnetworkpolicies.yaml")).unwrap(),
    );
    validators.insert(
        "CiliumClusterwideNetworkPolicy@cilium",
        Validator::crd(&dir.join("cilium/ciliumclusterwidenetworkpolicies.yaml")).unwrap(),
    );

    let objects = all_emitted();
    let mut counts: BTreeMap<String, usize> = BTreeMap::new();
    let mut failures = Vec::new();
    for (target, case, o) in &objects {
        let kind = o["kind"].as_str().unwrap_or("?");
        let key = format!("{kind}@{target}");
        let id = format!("{case} {target} {}", netpolc_driver::object_id(o));
        *counts.entry(key.clone()).or_default() += 1;
        match validators.get(key.as_str()) {
            Some(v) => failures.extend(
                v.validate(o)
                    .into_iter()
                    .map(|e| format!("{id}: schema: {e}")),
            ),
            None => failures.push(format!("{id}: no schema for {key}")),
        }
        if netpolc_ir::backend::is_network_policy(o) {
            if let Err(e) =
                serde_json::from_value::<k8s_openapi::api::networking::v1::NetworkPolicy>(o.clone())
            {
                failures.push(format!("{id}: k8s-openapi: {e}"));
            }
        }
        let rules = target.backend().validate(o);
        failures.extend(
            rules
                .into_iter()
                .map(|e| format!("{id}: {target} rules: {e}")),
        );
    }
    assert!(
        failures.is_empty(),
        "{} problem(s):\n{}",
        failures.len(),
        failures.join("\n")
    );
    // Every kind was exercised, many times.
    for key in validators.keys() {
        let n = counts.get(*key).copied().unwrap_or(0);
        let min = if key.starts_with("Tier")
            || key.starts_with("NetworkPolicy@calico")
            || key.starts_with("CiliumClusterwide")
        {
            1
        } else {
            10
        };
        assert!(n >= min, "only {n} {key} objects checked: {counts:?}");
    }
}

#[test]
fn schema_validation_can_fail() {
    // The validators are not vacuous: a broken object of each family is rejected.
    let dir = schemas();
    let np = Validator::kubernetes_networkpolicy(&dir).unwrap();
    let bad = serde_json::json!({"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
        "metadata": {"name": "x"}, "spec": {"podSelector": {}, "ingress": [{"ports": [{"port": 80, "protocol": "TCP", "bogus": 1}]}]}});
    assert!(!np.validate(&bad).is_empty());
    let cnp = Validator::crd(&dir.join("cilium/ciliumnetworkpolicies.yaml")).unwrap();
    let bad = serde_json::json!({"apiVersion": "cilium.io/v2", "kind": "CiliumNetworkPolicy",
        "metadata": {"name": "x"}, "spec": {"endpointSelector": {}, "egress": [{"toEntities": ["moon"]}]}});
    assert!(!cnp.validate(&bad).is_empty());
    let gnp =
        Validator::crd(&dir.join("calico/projectcalico.org_globalnetworkpolicies.yaml")).unwrap();
    let bad = serde_json::json!({"apiVersion": "projectcalico.org/v3", "kind": "GlobalNetworkPolicy",
        "metadata": {"name": "x"}, "spec": {"types": ["Sideways"]}});
    assert!(!gnp.validate(&bad).is_empty());
}
