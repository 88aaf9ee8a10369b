//! The Cilium back end: renders a [`netpolc_ir::Program`] into `cilium.io/v2`
//! CiliumNetworkPolicy (CNP) and CiliumClusterwideNetworkPolicy (CCNP) manifests, checks
//! what Cilium cannot express, validates manifests against the agent's rules and
//! evaluates manifests (also plain Kubernetes NetworkPolicy) under Cilium's semantics.
//!
//! The output requires **Cilium ≥ 1.16**: every object uses `enableDefaultDeny`, added by
//! cilium/cilium#30572 for 1.16 (the release that also made namespace-label peers cross
//! namespaces in a CNP, commit b35017b01c, which the output does not rely on). Facts and
//! their sources are in `shared/docs/semantics.md` (Cilium parts pinned at the 1.19
//! branch point).
//!
//! # Interface
//!
//! The one every back end has (`docs/backend-conventions.md`): [`Options`], [`check`],
//! [`render`], [`evaluator`] and [`validate`], plus the typed manifests in [`types`] and
//! the diagnostic codes in [`codes`].
//!
//! # Design
//!
//! - **Isolation only through the isolation object.** Each intent set's isolated
//!   directions become one object selecting every pod of its scope (`endpointSelector:
//!   {}` in a CNP) with `ingress: [{}]` and/or `egress: [{}]`: an empty rule allows
//!   nothing but puts the direction into default deny. Every other object, allow or
//!   deny, carries `enableDefaultDeny: {ingress: false, egress: false}`. Without it a
//!   rule list switches its direction to default deny, and a deny-only policy would
//!   isolate pods the intents leave open. The IR only has allows on isolated sides, so
//!   allows never need to isolate; deny rules may sit on open sides and must not.
//!   The isolation object also states its directions in `enableDefaultDeny`, so no
//!   object depends on a default.
//! - **Denies** become `ingressDeny`/`egressDeny`, which beat every allow of any CNP,
//!   CCNP or Kubernetes NetworkPolicy, exactly the IR's "deny beats allow".
//! - **Subjects.** A namespace scope is a CNP whose `endpointSelector` is the pod
//!   selector; Cilium itself pins it to the CNP's namespace. A cluster scope is one CCNP
//!   whose selector adds `k8s:io.kubernetes.pod.namespace In [<managed namespaces>]`
//!   (never `{}`, which in a CCNP would also hit cilium-health endpoints).
//! - **Label keys are written `k8s:<key>`.** A bare key means "any source", which also
//!   matches labels of other sources (`reserved:`, `container:`, …); the `k8s:` source
//!   says exactly "this Kubernetes label".
//! - **Pod peers name their namespace explicitly.** The namespace-name label
//!   (`kubernetes.io/metadata.name`) becomes `k8s:io.kubernetes.pod.namespace`; other
//!   namespace labels become `k8s:io.cilium.k8s.namespace.labels.<key>`; when no
//!   namespace name is required the selector gets `k8s:io.kubernetes.pod.namespace
//!   Exists`. Because the selector always has the namespace key, Cilium never injects
//!   the policy's namespace (so the meaning does not depend on where the object lives,
//!   and is the same in a CNP and a CCNP), and no `NotIn`/`DoesNotExist` requirement can
//!   match identities that lack the key (world, host, …). Namespace-label peers therefore
//!   select across namespaces even on Cilium < 1.16, where an unpinned one would have
//!   been silently confined to the policy's namespace.
//! - **Other peers.** CIDRs with holes are `toCIDRSet`/`fromCIDRSet` (they never match
//!   pods; the IR has already carved cluster networks out); "any peer" is the entity
//!   `all`; the API server is `kube-apiserver`; the node is `host`; DNS names are
//!   `toFQDNs` (`matchPattern` when the name has `*`), egress allows only.
//! - **FQDN needs the DNS proxy.** Cilium learns the addresses of a name from the answers
//!   its DNS proxy sees, so the port-53 entries of every egress allow toward the
//!   profile's DNS pods whose subject overlaps an FQDN allow's get
//!   `rules: {dns: [{matchPattern: "*"}]}` (allowing every name, so no DNS query is
//!   narrowed). If an FQDN allow's pods have no such DNS allow the check fails: netpolc
//!   never adds an allow the intents did not ask for.
//! - **Ports** are `toPorts[].ports[]` items `{port: "8080", protocol: TCP}` (strings;
//!   ranges add `endPort`; named ports are lower-cased), at most 40 per `toPorts` item;
//!   "any port" is a rule without `toPorts`. ICMP types go to a separate rule item with
//!   `icmps` (Cilium rejects `icmps` beside `toPorts`); "all ICMP" lists types 0–255.
//!   HTTP constraints become `rules.http` on TCP ports.
//! - **Objects and names** follow the conventions: one object per (object set, subject
//!   scope, subject selector, direction, action), the object set being the subject's
//!   namespace's own set ([`netpolc_ir::Program::object_set`]), merging the rule items
//!   of every intent with that subject (at most 256 an object, then `-2`, `-3`, …) (grouped by intent, `netpolc.dev/rules` naming each item's intent
//!   when there are several, read back by the evaluator), named
//!   `<set>-<subject>-<direction>` (`-deny` for denies; `<subject>` such as `app-web` or
//!   `all-pods`, see `netpolc_ir::provenance`), one isolation object `<set>-isolate` per intent set; output sorted (CCNPs, then CNPs by
//!   namespace and name).
//! - **Evaluator.** [`evaluator`] reads manifests back (never the IR) and decides each
//!   side of a flow the way the agent does: identities carry `k8s:` pod labels after the
//!   default identity label filter, `k8s:io.kubernetes.pod.namespace`, the namespace's
//!   labels under `k8s:io.cilium.k8s.namespace.labels.` and the cluster label; external
//!   addresses are `reserved:world` (API server addresses also `reserved:kube-apiserver`)
//!   and are the only identities CIDR rules match. Peer selectors get the namespace
//!   scoping Cilium applies on import (CNP: the policy's namespace unless the selector
//!   names the namespace key, uses namespace labels or a `reserved:` key; CCNP:
//!   `io.kubernetes.pod.namespace Exists`). A deny from any object wins; otherwise a
//!   direction is default deny when any policy selecting the pod requests it (explicitly
//!   or by having rules for it), and then needs a matching allow; `ingress: [{}]` allows
//!   nothing. Kubernetes NetworkPolicies are converted as the agent converts them. L7
//!   rules count as L4 allows (flows have no HTTP requests) and `toFQDNs` matches no
//!   modelled address. Objects [`validate`] finds invalid are not enforced, as on a
//!   cluster; fields the evaluator does not model make it refuse the input.
//! - **Fail closed.** [`render`] expects a program [`check`] accepted. It never panics:
//!   called anyway, it drops FQDN ingress allows and turns FQDN denies into denies of
//!   every peer and L7 denies into denies of the whole port.
//!
//! # Example
//!
//! ```
//! use netpolc_ir::model::{ClusterModel, Endpoint, Evaluator, Flow, Pod};
//! use netpolc_ir::*;
//! use std::collections::{BTreeMap, BTreeSet};
//!
//! let origin = |intent: &str| Origin {
//!     file: "policies/shop.yaml".into(),
//!     set: "shop".into(),
//!     intent: intent.into(),
//!     preset: None,
//!     span: None,
//! };
//! let scope = Scope::Namespace("shop".into());
//! let app = |a: &str| LabelSelector::from_labels([("app", a)]);
//! let subject = |a: &str| Subject { scope: scope.clone(), pods: app(a) };
//! let web_to_api = |direction, subject, peer| Rule {
//!     subject,
//!     direction,
//!     action: Action::Allow,
//!     peer,
//!     ports: Ports::only([PortMatch::single(Protocol::Tcp, 8080)]),
//!     http: vec![],
//!     origin: origin("web-to-api").into(),
//! };
//! let mut program = Program::default();
//! program.namespaces.insert("shop".into(), ManagedNamespace {
//!     name: "shop".into(),
//!     labels: [(NAMESPACE_NAME_LABEL.to_string(), "shop".to_string())].into(),
//!     isolated: Direction::BOTH.into(),
//!     origin: origin("isolate"),
//! });
//! for direction in Direction::BOTH {
//!     program.isolations.push(Isolation { scope: scope.clone(), direction, origin: origin("isolate") });
//! }
//! program.rules.push(web_to_api(Direction::Egress, subject("web"), Peer::pods_in("shop", app("api"))));
//! program.rules.push(web_to_api(Direction::Ingress, subject("api"), Peer::pods_in("shop", app("web"))));
//! program.canonicalise();
//!
//! let options = netpolc_cilium::Options::default();
//! assert!(netpolc_cilium::check(&program, &options).is_empty());
//! let objects = netpolc_cilium::render(&program, &options);
//! let names: Vec<&str> = objects.iter().map(|o| o["metadata"]["name"].as_str().unwrap()).collect();
//! assert_eq!(names, ["shop-app-api-ingress", "shop-app-web-egress", "shop-isolate"]);
//! assert_eq!(objects[1]["spec"]["egress"][0]["toEndpoints"][0]["matchLabels"]["k8s:app"], "api");
//! assert_eq!(objects[1]["spec"]["egress"][0]["toPorts"][0]["ports"][0]["port"], "8080");
//! assert!(objects.iter().all(|o| netpolc_cilium::validate(o).is_empty()));
//!
//! // Evaluate the manifests on a two-pod cluster.
//! let pod = |name: &str, ip: &str| Pod {
//!     namespace: "shop".into(),
//!     name: name.into(),
//!     labels: [("app".to_string(), name.to_string())].into(),
//!     ip: ip.parse().unwrap(),
//!     named_ports: BTreeMap::new(),
//! };
//! let model = ClusterModel {
//!     namespaces: [("shop".to_string(), [(NAMESPACE_NAME_LABEL.to_string(), "shop".to_string())].into())].into(),
//!     pods: vec![pod("api", "10.244.0.2"), pod("web", "10.244.0.3")],
//!     ports: vec![(Protocol::Tcp, 8080)],
//!     ..ClusterModel::default()
//! };
//! let cilium = netpolc_cilium::evaluator(&objects).unwrap();
//! let web_to_api = Flow { src: Endpoint::Pod(1), dst: Endpoint::Pod(0), protocol: Protocol::Tcp, port: 8080 };
//! let api_to_web = Flow { src: Endpoint::Pod(0), dst: Endpoint::Pod(1), protocol: Protocol::Tcp, port: 8080 };
//! assert!(cilium.verdict(&model, &web_to_api).allowed());
//! assert!(!cilium.verdict(&model, &api_to_web).allowed());
//! ```
#![deny(missing_docs)]

mod backend;
mod check;
pub mod codes;
mod dns;
mod eval;
mod knp;
mod labels;
mod plain;
mod render;
mod text;
pub mod types;
mod validate;

#[cfg(test)]
mod tests;

pub use backend::Cilium;
pub use check::check;
pub use eval::evaluator;
pub use labels::identity_label_kept;
pub use render::render;
pub use validate::validate;

/// Checks and renders in one pass: every diagnostic of [`check`] and, when none is an
/// error, the manifests of [`render`].
pub fn compile(program: &netpolc_ir::Program, options: &Options) -> netpolc_ir::backend::Compiled {
    let diagnostics = check(program, options);
    let objects = if diagnostics.iter().any(netpolc_source::Diagnostic::is_error) {
        Vec::new()
    } else {
        netpolc_ir::backend::manifests(render::render_packed(
            program,
            options,
            netpolc_ir::backend::Form::Text,
        ))
    };
    netpolc_ir::backend::Compiled {
        diagnostics,
        objects,
        validated: false,
    }
}

/// Options of the Cilium back end; `Default` is what `netpolc build` uses.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Options {
    /// The Cilium agents run with `enable-sctp` (off by default), so SCTP ports may be
    /// rendered.
    pub sctp: bool,
}
