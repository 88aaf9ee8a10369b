//! The Kubernetes back end of netpolc: renders a [`netpolc_ir::Program`] as
//! `networking.k8s.io/v1` NetworkPolicy objects, checks what they cannot express,
//! validates objects like the API server does, and evaluates manifests on a cluster model.
//!
//! # How the IR maps to NetworkPolicy
//!
//! NetworkPolicy is allow-only (a union of allows; both sides of a connection must
//! allow), so [`check`] and [`render`] first call [`netpolc_ir::allow_only::lower`], which
//! subtracts deny intents from the allows. Then:
//!
//! | IR | NetworkPolicy |
//! |---|---|
//! | [`Isolation`](netpolc_ir::Isolation) of a set | one object `<set>-isolate` per namespace: `podSelector: {}`, `policyTypes` = the isolated directions, no rules |
//! | allow [`Rule`](netpolc_ir::Rule)s of one object set ([`netpolc_ir::Program::object_set`]: the subject's namespace's own set, or a cluster set), direction and subject selector, whatever their intents and sets | one object `<set>-<subject>-<direction>` per namespace in scope (`<subject>` from [`netpolc_ir::provenance::subject_word`], e.g. `app-backend`, `all-pods`), `policyTypes` = that direction, one NetworkPolicy rule per IR rule, grouped by intent, at most 256 rules an object (then `-2`, `-3`, …) |
//! | subject / selectors | `matchLabels` for single-value `In`, `matchExpressions` for the rest |
//! | [`Peer::Pods`](netpolc_ir::Peer::Pods) | `podSelector` alone when the namespace selector names exactly the object's namespace; otherwise `namespaceSelector` (+ `podSelector` unless it selects every pod) |
//! | [`Peer::Cidr`](netpolc_ir::Peer::Cidr) | `ipBlock {cidr, except}` |
//! | [`Peer::Any`](netpolc_ir::Peer::Any) | a rule without `from` / `to` |
//! | `kube-apiserver` | one `ipBlock` per `profile.api_server_cidrs` entry (warning `NP3009`) |
//! | ports | explicit `protocol` always; `port` + `endPort` for ranges; named ports as strings; no `ports` for any port |
//! | `host`, FQDN, L7 HTTP, ICMP | errors, see [`codes`] |
//!
//! Every object carries the label `app.kubernetes.io/managed-by: netpolc` and the
//! annotations `netpolc.dev/intent` (its intents) and `netpolc.dev/source`; an object
//! whose rules come from several intents also carries `netpolc.dev/rules`, naming the
//! intent of each rule ([`netpolc_ir::provenance`]), which the evaluator reads back to
//! name the intent of the deciding rule. Objects are sorted by
//! (namespace, name). Names are [`netpolc_ir::naming::dns_label`]s of at most 63
//! characters.
//!
//! # Example
//!
//! ```
//! use netpolc_ir::model::{ClusterModel, Evaluator, Pod};
//! use netpolc_ir::*;
//! use serde_json::json;
//! use std::collections::{BTreeMap, BTreeSet};
//!
//! let origin = |intent: &str| Origin {
//!     file: "policies/shop.yaml".into(),
//!     set: "shop".into(),
//!     intent: intent.into(),
//!     preset: None,
//!     span: None,
//! };
//! let app = |v: &str| LabelSelector::from_labels([("app", v)]);
//! // Namespace `shop` isolates ingress; frontend may call backend on 8080/tcp.
//! let mut program = Program::default();
//! program.namespaces.insert("shop".into(), ManagedNamespace {
//!     name: "shop".into(),
//!     labels: BTreeMap::from([(NAMESPACE_NAME_LABEL.into(), "shop".into())]),
//!     isolated: BTreeSet::from([Direction::Ingress]),
//!     origin: origin("isolate"),
//! });
//! program.isolations.push(Isolation {
//!     scope: Scope::Namespace("shop".into()),
//!     direction: Direction::Ingress,
//!     origin: origin("isolate"),
//! });
//! program.rules.push(Rule {
//!     subject: Subject { scope: Scope::Namespace("shop".into()), pods: app("backend") },
//!     direction: Direction::Ingress,
//!     action: Action::Allow,
//!     peer: Peer::pods_in("shop", app("frontend")),
//!     ports: Ports::only([PortMatch::single(Protocol::Tcp, 8080)]),
//!     http: Vec::new(),
//!     origin: origin("frontend-to-backend").into(),
//! });
//!
//! let options = netpolc_k8s::Options::default();
//! assert!(netpolc_k8s::check(&program, &options).is_empty());
//! let objects = netpolc_k8s::render(&program, &options);
//! assert_eq!(objects.len(), 2);
//! assert_eq!(objects[0]["metadata"]["name"], "shop-app-backend-ingress");
//! assert_eq!(objects[0]["spec"], json!({
//!     "podSelector": {"matchLabels": {"app": "backend"}},
//!     "policyTypes": ["Ingress"],
//!     "ingress": [{
//!         "from": [{"podSelector": {"matchLabels": {"app": "frontend"}}}],
//!         "ports": [{"protocol": "TCP", "port": 8080}]
//!     }]
//! }));
//! assert_eq!(objects[1]["metadata"]["name"], "shop-isolate");
//! assert!(objects.iter().all(|o| netpolc_k8s::validate(o).is_empty()));
//!
//! // Evaluate the manifests on a small cluster and compare with the intended meaning.
//! let pod = |name: &str, ip: &str| Pod {
//!     namespace: "shop".into(),
//!     name: name.into(),
//!     labels: BTreeMap::from([("app".to_string(), name.to_string())]),
//!     ip: ip.parse().unwrap(),
//!     named_ports: BTreeMap::new(),
//! };
//! let model = ClusterModel {
//!     namespaces: BTreeMap::from([("shop".into(), BTreeMap::from([(NAMESPACE_NAME_LABEL.into(), "shop".into())]))]),
//!     pods: vec![pod("backend", "10.244.0.2"), pod("frontend", "10.244.0.3")],
//!     externals: vec!["192.0.2.1".parse().unwrap()],
//!     api_server: Vec::new(),
//!     nodes: Vec::new(),
//!     ports: vec![(Protocol::Tcp, 8080), (Protocol::Tcp, 9090)],
//! };
//! let evaluator = netpolc_k8s::evaluator(&objects).unwrap();
//! assert!(netpolc_ir::eval::first_disagreements(&program, &model, &evaluator, 10).is_empty());
//! let flows = model.flows();
//! let to_backend = flows.iter().find(|f| model.flow_name(f) == "shop/frontend -> shop/backend 8080/tcp").unwrap();
//! assert_eq!(
//!     evaluator.verdict(&model, to_backend).ingress.to_string(),
//!     "allowed by NetworkPolicy shop/shop-app-backend-ingress spec.ingress[0] (intent shop/frontend-to-backend)"
//! );
//! ```
#![deny(missing_docs)]

mod backend;
pub mod codes;

mod check;
mod emit;
mod evaluate;
mod ranked;
mod text;
mod validate;

#[cfg(test)]
mod tests;

pub use backend::Kubernetes;
pub use check::{check, compile};
pub use evaluate::evaluator;
pub use validate::validate;

use netpolc_ir::Program;
use serde_json::Value;

/// Options of the Kubernetes back end. `Options::default()` is what `netpolc build` uses;
/// there is nothing to choose yet.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Options {}

/// Renders `program` as NetworkPolicy manifests (complete objects, sorted by namespace
/// and name; see the crate docs for the mapping).
///
/// Call it only when [`check`] reported no error. It never panics on user input: what
/// `check` would reject is rendered *fail closed* (a rule that cannot be expressed is left
/// out, which only removes allows), and when the deny rules cannot be subtracted only the
/// isolation objects are rendered.
pub fn render(program: &Program, options: &Options) -> Vec<Value> {
    let _ = options;
    let lowered = match netpolc_ir::allow_only::lower(program) {
        Ok(p) => p,
        Err(_) => {
            let mut isolation_only = program.clone();
            isolation_only.rules.clear();
            isolation_only
        }
    };
    // Consume the packed objects while converting them, so that both forms are never
    // held in full at once.
    emit::objects(&lowered, netpolc_ir::backend::Form::Tree)
        .into_iter()
        .map(|r| match r.object {
            emit::Packed::Tree(tree) => tree,
            // Never (trees were asked for); were it to happen, the object shows as
            // `null` rather than going missing.
            emit::Packed::Text(_) => Value::Null,
        })
        .collect()
}
