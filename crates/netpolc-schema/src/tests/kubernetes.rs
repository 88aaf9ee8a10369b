//! `networking.k8s.io/v1` `NetworkPolicy` against the Kubernetes OpenAPI document.

use super::*;
use serde_json::json;

fn validator() -> Validator {
    Validator::kubernetes_networkpolicy(&schemas_dir()).unwrap()
}

const VALID: &str = r#"
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: production-frontend-to-backend-ingress
  namespace: production
  labels:
    app.kubernetes.io/managed-by: netpolc
  annotations:
    netpolc.dev/source: policies/production.yaml
    netpolc.dev/intent: production/frontend-to-backend
spec:
  podSelector:
    matchLabels: {app: backend}
    matchExpressions:
      - {key: tier, operator: NotIn, values: [legacy]}
  policyTypes: [Ingress, Egress]
  ingress:
    - from:
        - podSelector: {matchLabels: {app: frontend}}
          namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: production}}
        - ipBlock: {cidr: 0.0.0.0/0, except: [169.254.169.254/32]}
      ports:
        - {protocol: TCP, port: 8080}
        - {protocol: TCP, port: http-alt}
        - {protocol: UDP, port: 30000, endPort: 32767}
  egress:
    - {}
"#;

#[test]
fn a_valid_network_policy_passes() {
    let v = validator();
    assert_eq!(v.validate(&doc(VALID)), Vec::<String>::new());
    // The smallest useful policy: deny all ingress.
    let deny = json!({
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": "deny", "creationTimestamp": null},
        "spec": {"podSelector": {}}
    });
    assert_eq!(v.validate(&deny), Vec::<String>::new());
}

#[test]
fn wrong_types_are_reported_with_paths() {
    let v = validator();
    let base = doc(VALID);
    let e = errors_after(&v, &base, |p| {
        *at(p, "/spec/ingress/0/ports/0/port") = json!(true);
    });
    assert_eq!(
        e,
        ["spec.ingress[0].ports[0].port: expected integer or string"]
    );
    let e = errors_after(&v, &base, |p| {
        *at(p, "/spec/ingress/0/ports/2/endPort") = json!("32767");
        *at(p, "/spec/podSelector") = json!("app=backend");
        *at(p, "/metadata/labels/app.kubernetes.io~1managed-by") = json!(1);
        *at(p, "/spec/policyTypes") = json!("Ingress");
    });
    assert_eq!(
        e,
        [
            "metadata.labels[\"app.kubernetes.io/managed-by\"]: expected string",
            "spec.podSelector: expected object",
            "spec.policyTypes: expected array",
            "spec.ingress[0].ports[2].endPort: expected integer",
        ]
    );
    // A float is not an integer, and int32 has a range.
    let e = errors_after(&v, &base, |p| {
        *at(p, "/spec/ingress/0/ports/0/port") = json!(80.5);
        *at(p, "/spec/ingress/0/ports/2/endPort") = json!(4_294_967_296u64);
    });
    assert_eq!(
        e,
        [
            "spec.ingress[0].ports[0].port: expected integer or string",
            "spec.ingress[0].ports[2].endPort: `4294967296` does not fit int32",
        ]
    );
    // Null where a value is required.
    let e = errors_after(&v, &base, |p| {
        *at(p, "/spec/ingress/0/from/1/ipBlock/cidr") = Value::Null;
    });
    assert_eq!(
        e,
        ["spec.ingress[0].from[1].ipBlock.cidr: required field is missing"]
    );
}

#[test]
fn unknown_fields_are_errors() {
    let v = validator();
    let base = doc(VALID);
    let e = errors_after(&v, &base, |p| {
        let spec = at(p, "/spec").as_object_mut().unwrap();
        spec.insert("ingres".into(), json!([]));
        let port = at(p, "/spec/ingress/0/ports/0").as_object_mut().unwrap();
        port.insert("prot".into(), json!("TCP"));
        at(p, "/metadata")
            .as_object_mut()
            .unwrap()
            .insert("label".into(), json!({}));
        p.as_object_mut()
            .unwrap()
            .insert("status".into(), json!({}));
    });
    assert_eq!(
        e,
        [
            "status: unknown field",
            "metadata.label: unknown field",
            "spec.ingres: unknown field",
            "spec.ingress[0].ports[0].prot: unknown field",
        ]
    );
}

#[test]
fn required_fields_and_object_identity() {
    let v = validator();
    let base = doc(VALID);
    let e = errors_after(&v, &base, |p| {
        at(p, "/spec/ingress/0/from/1/ipBlock")
            .as_object_mut()
            .unwrap()
            .remove("cidr");
        at(p, "/spec/podSelector/matchExpressions/0")
            .as_object_mut()
            .unwrap()
            .remove("operator");
    });
    assert_eq!(
        e,
        [
            "spec.podSelector.matchExpressions[0].operator: required field is missing",
            "spec.ingress[0].from[1].ipBlock.cidr: required field is missing",
        ]
    );
    let e = errors_after(&v, &base, |p| {
        *at(p, "/apiVersion") = json!("networking.k8s.io/v1beta1");
        p.as_object_mut().unwrap().remove("kind");
        at(p, "/metadata").as_object_mut().unwrap().remove("name");
    });
    assert_eq!(
        e,
        [
            "apiVersion: expected `networking.k8s.io/v1`, found `networking.k8s.io/v1beta1`",
            "kind: required field is missing",
            "metadata.name: required field is missing",
        ]
    );
    assert_eq!(
        v.validate(&json!([])),
        [
            "apiVersion: required field is missing",
            "kind: required field is missing",
            "<root>: expected object"
        ]
    );
}

#[test]
fn kubernetes_has_no_cel_rules() {
    assert!(validator().cel_rules().is_empty());
}

#[test]
fn missing_files_are_errors_not_panics() {
    let e = Validator::kubernetes_networkpolicy(std::path::Path::new("/nonexistent")).unwrap_err();
    assert!(e.contains("/nonexistent/kubernetes/"), "{e}");
    let e = Validator::from_openapi(json!({}), "X").unwrap_err();
    assert!(e.contains("no schema `X`"), "{e}");
}
