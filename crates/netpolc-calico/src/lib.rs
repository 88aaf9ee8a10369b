//! The Calico back end of netpolc: renders a [`netpolc_ir::Program`] as
//! `projectcalico.org/v3` manifests, checks what Calico cannot express, validates
//! manifests as Calico's API server would, and evaluates manifests with Calico's
//! semantics so that every rendering can be compared with the intended meaning.
//!
//! # Interface
//!
//! As every back end (`docs/backend-conventions.md`): [`Options`], [`check`],
//! [`render`], [`evaluator`] and [`validate`]. [`types`] holds the typed manifests,
//! [`selector`] Calico's selector language and [`codes`] the diagnostic codes
//! (`NP4xxx`).
//!
//! # How intents become Calico policy
//!
//! Calico precedence is positional: per direction, tiers in ascending order, inside a
//! tier policies by `order` then name, inside a policy rules in order; the first `Allow`
//! or `Deny` wins, and a tier in which some policy applied to the endpoint but no rule
//! decided ends with its `defaultAction`. The IR's meaning is "deny beats allow; allow
//! only where isolated; open elsewhere", and deny rules may exist on sides that are *not*
//! isolated. The rendering maps that onto two tiers:
//!
//! | IR | Calico object | tier | order | name |
//! |---|---|---|---|---|
//! | deny rules | GlobalNetworkPolicy, `Deny` rules | `netpolc` | 1000 | `netpolc.<set>-<subject>-<direction>-deny` |
//! | isolation | GlobalNetworkPolicy, `types` only, no rules | `default` | 1000 | `<set>-isolate` |
//! | allow rules | GlobalNetworkPolicy, `Allow` rules | `default` | 1000 | `<set>-<subject>-<direction>` |
//!
//! - **Deny beats allow through a tier.** The `Tier` `netpolc` has `order: 100000` and
//!   `defaultAction: Pass`. It sorts after `kube-admin` (order 1,000; and the
//!   `adminnetworkpolicy` tier of v3.29–v3.31), so cluster administrators'
//!   ClusterNetworkPolicies/AdminNetworkPolicies keep the last word, and before `default`
//!   (1,000,000), where Kubernetes NetworkPolicies and netpolc's allows live, so a netpolc
//!   deny beats every allow of `default` wherever it was written. Because the tier ends
//!   in `Pass`, a deny policy never isolates anything: a flow it does not deny continues
//!   to `default`, and from there to the namespace profile (allow) when nothing there
//!   applies. That is exactly the IR's rule that denies may sit on non-isolated sides.
//!   The tier carries `argocd.argoproj.io/sync-wave: "-1"` because Calico refuses a
//!   policy whose tier does not exist yet; it is rendered only when there is a deny.
//! - **Allows and isolation at order 1000 in `default`.** Allow-only policies commute:
//!   whatever their relative order, the first matching `Allow` decides, and otherwise the
//!   tier's `Deny`. Their position only matters relative to *other* policies that deny
//!   or pass, and Calico's convention for those is written against the order-1000
//!   policies it generates from Kubernetes NetworkPolicies (an order below 1000
//!   overrides them, above 1000 comes after). netpolc's allows mean what Kubernetes NetworkPolicies mean, so
//!   they take exactly their position: every existing Calico policy keeps its relation
//!   to them, and switching a namespace from the Kubernetes back end's output to this one
//!   changes nothing for the policies around it. Because the IR only has allows on
//!   isolated sides, every allow policy applies to pods that an isolation policy of the
//!   same tier also selects, so an allow policy never isolates by accident either.
//! - **Scope.** A GlobalNetworkPolicy ranges over every namespace and every host
//!   endpoint, so every subject selector starts with `projectcalico.org/namespace ==
//!   '<ns>'` (`projectcalico.org/namespace in {...}` for cluster-scoped subjects, which
//!   become one policy). Every pod peer carries a `namespaceSelector` (`all()` for all
//!   namespaces; the name label `kubernetes.io/metadata.name` becomes
//!   `projectcalico.org/name`, which Calico sets on every namespace whatever its
//!   Kubernetes version), and its `selector` starts with
//!   `projectcalico.org/orchestrator == 'k8s'`, as Calico's own Kubernetes conversion
//!   does, so that namespaced NetworkSets carrying the same labels are not matched.
//!   With [`Options::namespaced`], namespaced subjects become namespaced
//!   `projectcalico.org/v3` NetworkPolicies instead (same tiers, orders and names; the
//!   subject selector then omits the namespace term).
//! - **One object per subject.** The rules of every intent with the same object set
//!   (the subject's namespace's own set, [`netpolc_ir::Program::object_set`]), scope,
//!   subject selector, direction and action are merged into one policy, grouped by
//!   intent; `netpolc.dev/intent` lists the intents and, when there are several,
//!   `netpolc.dev/rules` names the intent of each rule ([`netpolc_ir::provenance`]),
//!   which the evaluator reads back. An object that would exceed 256 rules
//!   (`MAX_OBJECT_RULES`; Calico takes 1,024 per direction) continues in `-2`, `-3`, …
//!   (split between intents).
//! - **Names.** `netpolc_ir::provenance::object_name` (`<set>-<subject>-<direction>`,
//!   `<subject>` such as `app-backend` or `all-pods`, `-deny` for denies; isolation:
//!   `[set, "isolate"]`). Names include the set, so they stay unique among
//!   cluster-global objects. Deny
//!   policies are prefixed with their tier (`netpolc.`): Calico v3.29–v3.31 require
//!   `<tier>.<name>` outside the default tier and reject dots inside it; v3.32 accepts
//!   both. Names have at most one dot.
//! - **Rules.** One protocol per rule (`Ports::Only` split by protocol; `Ports::Any` has
//!   no protocol); numeric ports as numbers, ranges as `"a:b"`, named ports as strings,
//!   at most 50 per rule; ICMP as `protocol: ICMP` with `icmp: {type, code}`; CIDR peers
//!   as `nets` plus `notNets` for the holes; `Peer::Any` as no entity constraint;
//!   `kube-apiserver` as `nets` of the profile's API server addresses (one rule per
//!   address family). `types` is always explicit.
//! - **Refused** (errors from [`check`], see [`codes`]): FQDN peers (Calico Open Source
//!   has no domain matching), the `host` entity, `kube-apiserver` without addresses, L7
//!   HTTP rules (not enforced by Calico Open Source), label values containing both quote
//!   kinds, label keys the selector language cannot name, selectors over 1024
//!   characters, and anything Calico's validation would reject.
//!
//! Every object carries the label `app.kubernetes.io/managed-by: netpolc` and the
//! annotations `netpolc.dev/source` and `netpolc.dev/intent` (the tier, which implements
//! no single intent, carries only the label and the sync wave).
//!
//! Calico v3.29 or later is required (tiers in Calico Open Source).
//!
//! # Example
//!
//! ```
//! use netpolc_calico::{check, evaluator, render, validate, Options};
//! use netpolc_ir::model::{ClusterModel, Endpoint, Evaluator, Flow, Pod};
//! use netpolc_ir::{
//!     Action, Direction, Isolation, LabelSelector, ManagedNamespace, Origin, Peer,
//!     PortMatch, Ports, Program, Protocol, Rule, Scope, Subject, NAMESPACE_NAME_LABEL,
//! };
//! use serde_json::json;
//!
//! let origin = |intent: &str| Origin {
//!     file: "policies/shop.yaml".into(),
//!     set: "shop".into(),
//!     intent: intent.into(),
//!     preset: None,
//!     span: None,
//! };
//! let shop = Scope::Namespace("shop".into());
//! let mut program = Program::default();
//! program.namespaces.insert(
//!     "shop".into(),
//!     ManagedNamespace {
//!         name: "shop".into(),
//!         labels: [(NAMESPACE_NAME_LABEL.to_string(), "shop".to_string())].into(),
//!         isolated: [Direction::Ingress].into(),
//!         origin: origin("isolate"),
//!     },
//! );
//! program.isolations.push(Isolation {
//!     scope: shop.clone(),
//!     direction: Direction::Ingress,
//!     origin: origin("isolate"),
//! });
//! program.rules.push(Rule {
//!     subject: Subject {
//!         scope: shop.clone(),
//!         pods: LabelSelector::from_labels([("app", "backend")]),
//!     },
//!     direction: Direction::Ingress,
//!     action: Action::Allow,
//!     peer: Peer::pods_in("shop", LabelSelector::from_labels([("app", "frontend")])),
//!     ports: Ports::only([PortMatch::single(Protocol::Tcp, 8080)]),
//!     http: Vec::new(),
//!     origin: origin("frontend-to-backend").into(),
//! });
//!
//! let options = Options::default();
//! assert!(check(&program, &options).is_empty());
//! let objects = render(&program, &options);
//! assert_eq!(
//!     objects[0],
//!     json!({
//!         "apiVersion": "projectcalico.org/v3",
//!         "kind": "GlobalNetworkPolicy",
//!         "metadata": {
//!             "name": "shop-app-backend-ingress",
//!             "labels": {"app.kubernetes.io/managed-by": "netpolc"},
//!             "annotations": {
//!                 "netpolc.dev/intent": "shop/frontend-to-backend",
//!                 "netpolc.dev/source": "policies/shop.yaml"
//!             }
//!         },
//!         "spec": {
//!             "tier": "default",
//!             "order": 1000,
//!             "selector": "projectcalico.org/namespace == 'shop' && app == 'backend'",
//!             "types": ["Ingress"],
//!             "ingress": [{
//!                 "action": "Allow",
//!                 "protocol": "TCP",
//!                 "source": {
//!                     "selector": "projectcalico.org/orchestrator == 'k8s' && app == 'frontend'",
//!                     "namespaceSelector": "projectcalico.org/name == 'shop'"
//!                 },
//!                 "destination": {"ports": [8080]}
//!             }]
//!         }
//!     })
//! );
//! assert_eq!(objects[1]["metadata"]["name"], "shop-isolate");
//! assert!(objects.iter().all(|o| validate(o).is_empty()));
//!
//! // Evaluate the manifests on a small cluster.
//! let pod = |name: &str, ip: &str| Pod {
//!     namespace: "shop".into(),
//!     name: name.into(),
//!     labels: [("app".to_string(), name.to_string())].into(),
//!     ip: ip.parse().unwrap(),
//!     named_ports: Default::default(),
//! };
//! let model = ClusterModel {
//!     namespaces: [("shop".to_string(), program.namespaces["shop"].labels.clone())].into(),
//!     pods: vec![pod("backend", "10.244.0.2"), pod("frontend", "10.244.0.3")],
//!     ports: vec![(Protocol::Tcp, 8080)],
//!     ..ClusterModel::default()
//! };
//! let calico = evaluator(&objects).unwrap();
//! let flow = |src, dst| Flow { src: Endpoint::Pod(src), dst: Endpoint::Pod(dst), protocol: Protocol::Tcp, port: 8080 };
//! assert!(calico.verdict(&model, &flow(1, 0)).allowed()); // frontend -> backend
//! assert!(!calico.verdict(&model, &flow(0, 1)).allowed()); // backend -> frontend
//! ```
#![deny(missing_docs)]

mod backend;

pub mod codes;
mod eval;
mod knp;
mod render;
pub mod selector;
mod text;
pub mod types;
mod validate;

pub use backend::Calico;
pub use eval::types_of;

use netpolc_ir::Program;
use netpolc_source::Diagnostic;

/// The tier of netpolc's deny policies.
pub const TIER_NAME: &str = "netpolc";
/// The order of the `netpolc` tier: after `kube-admin` (1,000), before `default`
/// (1,000,000).
pub const TIER_ORDER: f64 = 100_000.0;
/// The order of every netpolc policy inside its tier: the order Calico gives the
/// policies it converts from Kubernetes NetworkPolicies.
pub const POLICY_ORDER: f64 = 1000.0;
/// Calico's default tier, where allows and isolation live.
pub const DEFAULT_TIER: &str = "default";
/// The workload-endpoint label holding the pod's namespace.
pub const NAMESPACE_LABEL: &str = "projectcalico.org/namespace";
/// The namespace label holding the namespace's name (in namespace selectors).
pub const NAME_LABEL: &str = "projectcalico.org/name";
/// The workload-endpoint label `k8s` for Kubernetes pods.
pub const ORCHESTRATOR_LABEL: &str = "projectcalico.org/orchestrator";
/// The metadata every rendered object carries (one name each, shared by every back end).
pub use netpolc_ir::metadata::{
    INTENT_ANNOTATION, MANAGED_BY, MANAGED_BY_LABEL, SOURCE_ANNOTATION,
};
/// The Argo CD sync-wave annotation put on the tier.
pub const SYNC_WAVE: &str = "argocd.argoproj.io/sync-wave";

/// Options of the Calico back end; `Default` is what `netpolc build` uses.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Options {
    /// Render namespaced subjects as namespaced `projectcalico.org/v3` NetworkPolicies
    /// instead of GlobalNetworkPolicies (same meaning; cluster-scoped subjects stay
    /// GlobalNetworkPolicies).
    pub namespaced: bool,
}

/// The capability check: one error per intent and construct Calico cannot express
/// exactly (codes `NP4001`–`NP4011`, see [`codes`]). [`render`] may be called when no
/// error is reported.
pub fn check(program: &Program, options: &Options) -> Vec<Diagnostic> {
    let mut out = nodes_undeclared(program);
    out.extend(render::plan(program, options, true).diagnostics);
    out
}

/// `NP4020` when address peers need the node networks the profile does not declare.
fn nodes_undeclared(program: &Program) -> Vec<Diagnostic> {
    netpolc_ir::nodes::undeclared(
        program,
        codes::NODES_UNDECLARED,
        "backend: calico (`projectcalico.org/v3`)",
    )
    .into_iter()
    .collect()
}

/// Checks and renders in one pass: every diagnostic of [`check`] and, when none is an
/// error, the manifests of [`render`].
pub fn compile(program: &Program, options: &Options) -> netpolc_ir::backend::Compiled {
    let mut plan = render::plan(program, options, true);
    let mut diagnostics = nodes_undeclared(program);
    diagnostics.append(&mut plan.diagnostics);
    let validated = plan.validated;
    let objects = if diagnostics.iter().any(Diagnostic::is_error) {
        Vec::new()
    } else {
        plan.into_typed()
    };
    netpolc_ir::backend::Compiled {
        diagnostics,
        objects,
        validated,
    }
}

/// Renders the program as complete manifests, in a stable order: the `netpolc` tier
/// (when there are deny rules), then GlobalNetworkPolicies by name, then namespaced
/// NetworkPolicies by namespace and name. Intents [`check`] reports are left out.
pub fn render(program: &Program, options: &Options) -> Vec<serde_json::Value> {
    render::plan(program, options, false).into_values()
}

/// The namespace whose pods a rendered GlobalNetworkPolicy selects, when it selects the
/// pods of exactly one namespace (its selector starts with
/// `projectcalico.org/namespace == '<ns>'`, as [`render`] writes every namespace-scoped
/// subject); `None` for cluster-scoped subjects and other objects. `netpolc build` files
/// such a policy with that namespace's objects.
pub fn home_namespace(object: &serde_json::Value) -> Option<String> {
    home_namespace_of(object["spec"]["selector"].as_str()?)
}

/// [`home_namespace`] of an object whose `spec.selector` is `selector` (the reader asks it
/// of the document an emitted text reads back as).
pub(crate) fn home_namespace_of(selector: &str) -> Option<String> {
    let rest = selector
        .strip_prefix(NAMESPACE_LABEL)?
        .strip_prefix(" == '")?;
    let end = rest.find('\'')?;
    let ns = &rest[..end];
    let after = &rest[end + 1..];
    (after.is_empty() || after.starts_with(" && ")).then(|| ns.to_string())
}

/// An evaluator of manifests with Calico's semantics: `projectcalico.org/v3` `Tier`,
/// `GlobalNetworkPolicy` and `NetworkPolicy`, and `networking.k8s.io/v1` NetworkPolicy
/// converted as Calico converts it. `List` objects are expanded, and Calico's storage
/// form `crd.projectcalico.org/v1` of the same kinds is read like `projectcalico.org/v3`.
///
/// # Errors
/// A message naming the object and field when an object is not one of those kinds,
/// uses a field the evaluator does not implement (for example `serviceAccounts`,
/// `services`, `http`, source ports), has an invalid selector, CIDR or port, lacks a
/// name (or, when namespaced, a namespace), is defined twice, or names a tier that is not
/// defined (`default`, `kube-admin` and `kube-baseline` always exist).
pub fn evaluator(
    objects: &[serde_json::Value],
) -> Result<impl netpolc_ir::model::Evaluator, String> {
    eval::compile(objects)
}

/// The validation rules of Calico's API server that the CRD schema cannot express
/// (semantics.md §8.2): policy and tier names, ports only with TCP/UDP/SCTP, ICMP fields,
/// IP versions, CIDR families, catch-all `notNets`, duplicate `types`, selector syntax
/// and length, `global()` placement, and the CEL rules of the CRDs. Each message starts
/// with the field path. Also flags names that Calico v3.29–v3.31 reject (`<tier>.<name>`
/// outside the default tier, no dots inside it).
pub fn validate(object: &serde_json::Value) -> Vec<String> {
    validate::validate(object)
}

#[cfg(test)]
mod tests;
