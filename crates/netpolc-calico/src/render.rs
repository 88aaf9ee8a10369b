//! Lowering the IR to Calico manifests ([`render`](crate::render())) and the capability
//! check ([`check`](crate::check())).
//!
//! Both run the same planner, so that `check` reports exactly what `render` could not
//! write: the planner turns every isolation and rule into typed manifests and records a
//! diagnostic for anything it cannot express; `render` drops the diagnostics and `check`
//! drops the manifests.

use crate::codes;
use crate::selector;
use crate::types::{
    Action as CAction, EntityRule, GlobalNetworkPolicy, GlobalNetworkPolicySpec, IcmpFields,
    NetworkPolicy, NetworkPolicySpec, ObjectMeta, Order, PolicyType, Port, Protocol as CProtocol,
    Rule as CRule, Tier, TierAction, TierSpec,
};
use crate::Calico;
use crate::{
    Options, DEFAULT_TIER, INTENT_ANNOTATION, MANAGED_BY, MANAGED_BY_LABEL, NAMESPACE_LABEL,
    NAME_LABEL, ORCHESTRATOR_LABEL, POLICY_ORDER, SOURCE_ANNOTATION, SYNC_WAVE, TIER_NAME,
    TIER_ORDER,
};
use ipnet::IpNet;
use netpolc_ir::backend::{Backend as _, Form, Packed, Unsupported};
use netpolc_ir::derive::WordHasher;
use netpolc_ir::provenance::{
    numbered_object_name, scoped_subject_words, split_at_intents, Provenance, RULES_ANNOTATION,
};
use netpolc_ir::{
    Action, Direction, Entity, LabelSelector, Op, Origin, Peer, PortSpec, Ports, Program,
    Requirement, Rule, Scope, NAMESPACE_NAME_LABEL,
};
use netpolc_source::{Diagnostic, Severity};
use std::collections::hash_map::Entry;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::hash::BuildHasherDefault;

const BACKEND_NOTE: &str = "backend: calico (`projectcalico.org/v3`)";

/// Calico's limits on one selector and on the rules of one direction.
const MAX_SELECTOR: usize = 1024;
const MAX_RULES: usize = 1024;
/// Most rules netpolc merges into one policy (an intent of more is a policy of its own).
const MERGED_RULES: usize = if netpolc_ir::provenance::MAX_OBJECT_RULES < MAX_RULES {
    netpolc_ir::provenance::MAX_OBJECT_RULES
} else {
    MAX_RULES
};

/// Ports per rule: Calico's documented limit on `ports`.
const MAX_PORTS: usize = 50;

/// A rendered object (serialised as the object itself).
#[derive(Clone, Debug, serde::Serialize)]
#[serde(untagged)]
pub(crate) enum Manifest {
    Tier(Tier),
    Global(GlobalNetworkPolicy),
    Namespaced(NetworkPolicy),
}

impl Manifest {
    /// Sort key and identity: tiers first (they must exist before their policies), then
    /// cluster-wide policies by name, then namespaced ones by namespace and name. The
    /// names are moved out of the object, which goes.
    fn into_key(self) -> (u8, String, String) {
        match self {
            Manifest::Tier(t) => (0, String::new(), t.metadata.name),
            Manifest::Global(p) => (1, String::new(), p.metadata.name),
            Manifest::Namespaced(p) => {
                (2, p.metadata.namespace.unwrap_or_default(), p.metadata.name)
            }
        }
    }

    /// Packs the object once built: its identity, rule counts and (with `validate`)
    /// what Calico's validation refuses in it are kept beside its JSON text, and the
    /// typed object is freed.
    fn pack(self, origin: Option<&Origin>, validate: bool) -> Planned<'_> {
        let mut messages = Vec::new();
        if validate {
            match &self {
                Manifest::Tier(t) => crate::validate::tier(t, &mut messages),
                Manifest::Global(p) => crate::validate::global_policy(p, &mut messages),
                Manifest::Namespaced(p) => crate::validate::namespaced_policy(p, &mut messages),
            }
        }
        let rule_counts = self.rule_counts();
        // The pipeline plans with validation and takes texts (policies written straight,
        // `crate::text`); `render` returns trees.
        let text = match &self {
            Manifest::Global(p) if validate => crate::text::global_policy(p),
            Manifest::Namespaced(p) if validate => crate::text::namespaced_policy(p),
            _ => None,
        };
        let object = match text {
            Some(text) => {
                // Written as its JSON tree would be: every debug run checks every object.
                debug_assert_eq!(
                    text,
                    netpolc_ir::yaml::to_string(&serde_json::to_value(&self).unwrap_or_default())
                        .unwrap_or_default()
                );
                Object::Text(text.into_boxed_str())
            }
            None => Object::Packed(Packed::new(
                &self,
                if validate { Form::Text } else { Form::Tree },
            )),
        };
        Planned {
            key: self.into_key(),
            rule_counts,
            messages,
            object,
            origin,
        }
    }

    fn rule_counts(&self) -> (usize, usize) {
        match self {
            Manifest::Tier(_) => (0, 0),
            Manifest::Global(p) => (p.spec.ingress.len(), p.spec.egress.len()),
            Manifest::Namespaced(p) => (p.spec.ingress.len(), p.spec.egress.len()),
        }
    }
}

/// A planned object as the pipeline takes it: a policy's YAML text written by
/// [`crate::text`], or what [`Packed`] keeps of anything else.
#[derive(Debug)]
pub(crate) enum Object {
    Text(Box<str>),
    Packed(Packed),
}

impl Object {
    /// The JSON tree of an object kept as JSON ([`Packed::to_value`]); `None` for a text.
    fn to_value(&self) -> Option<serde_json::Value> {
        match self {
            Object::Text(_) => None,
            Object::Packed(p) => p.to_value(),
        }
    }
}

impl netpolc_ir::backend::Manifest for Object {
    fn take(self: Box<Self>) -> netpolc_ir::backend::Taken {
        match *self {
            Object::Text(text) => netpolc_ir::backend::Taken::Text(text.into_string()),
            Object::Packed(p) => Box::new(p).take(),
        }
    }
}

/// One planned object, packed ([`Manifest::pack`]), and the intent it implements (none
/// for the tier; the program's own, not a copy).
struct Planned<'p> {
    /// Sort key and identity ([`Manifest::into_key`]).
    key: (u8, String, String),
    /// Rules in (ingress, egress).
    rule_counts: (usize, usize),
    /// What Calico's validation refuses in the object (planned with `validate`).
    messages: Vec<String>,
    object: Object,
    origin: Option<&'p Origin>,
}

impl Planned<'_> {
    /// `Kind namespace/name` or `Kind name`.
    fn describe(&self) -> String {
        let (kind, namespace, name) = &self.key;
        match kind {
            0 => format!("Tier {name}"),
            1 => format!("GlobalNetworkPolicy {name}"),
            _ => format!("NetworkPolicy {namespace}/{name}"),
        }
    }
}

/// The planner's result.
pub(crate) struct Plan<'p> {
    objects: Vec<Planned<'p>>,
    /// The objects' indices in their stable order (by [`Planned::key`], ties in plan
    /// order).
    order: Vec<usize>,
    pub(crate) diagnostics: Vec<Diagnostic>,
    /// Every object was checked by Calico's validation rules on its typed form, and any
    /// problem is among the diagnostics (planned with `validate`; the tier, which has no
    /// intent to report against, had none).
    pub(crate) validated: bool,
}

impl Plan<'_> {
    /// The manifests in their stable order.
    pub(crate) fn manifests(mut self) -> Vec<Object> {
        netpolc_ir::par::permute(&mut self.objects, &self.order);
        self.objects.into_iter().map(|p| p.object).collect()
    }

    /// The objects' JSON trees, in [`Plan::manifests`] order; the typed objects are
    /// consumed as they are converted (both forms are never held in full). On one thread:
    /// trees built on other threads are freed later by this one, and mimalloc's frees
    /// across threads cost more than the conversion saves.
    pub(crate) fn into_values(self) -> Vec<serde_json::Value> {
        // Planned without validation, each is kept as a tree: were it not, the object
        // would show as `null` rather than go missing.
        self.manifests()
            .into_iter()
            .map(|m| m.to_value().unwrap_or(serde_json::Value::Null))
            .collect()
    }

    /// The typed objects in [`Plan::manifests`] order, each turned into JSON when the
    /// pipeline takes it.
    pub(crate) fn into_typed(self) -> Vec<Box<dyn netpolc_ir::backend::Manifest>> {
        netpolc_ir::backend::manifests(self.manifests())
    }
}

/// What planning one group yields, in order: objects, problems about intents, and that
/// a deny object was planned (the tier is then needed). Nearly every step is an object:
/// boxing them to shrink the rare others would cost an allocation per object.
#[allow(clippy::large_enum_variant)]
enum Planning<'p> {
    Object(Planned<'p>),
    Problem(Problem, &'p Origin),
    Deny,
}

/// Something the planner cannot express, about one intent.
struct Problem {
    code: &'static str,
    message: String,
    label: &'static str,
    why: String,
    help: Option<String>,
}

impl Problem {
    /// The same problem about intent `to` instead of `from` (both qualified).
    fn about(&self, from: &str, to: &str) -> Problem {
        Problem {
            code: self.code,
            message: self
                .message
                .replace(&format!("`{from}`"), &format!("`{to}`")),
            label: self.label,
            why: self.why.clone(),
            help: self.help.clone(),
        }
    }

    fn into_diagnostic(self, origin: &Origin) -> Diagnostic {
        let d = Diagnostic::new(Severity::Error, self.code, self.message)
            .with_note(BACKEND_NOTE)
            .with_note(self.why);
        let d = match self.help {
            Some(h) => d.with_help(h),
            None => d,
        };
        match origin.span {
            Some(span) => d.with_label(span, self.label),
            None => d.with_file(origin.file.clone()),
        }
    }
}

/// Why a selector cannot be written.
enum SelectorProblem {
    Key(String),
    Value(String),
    TooLong(usize),
}

impl SelectorProblem {
    fn problem(self, q: &str) -> Problem {
        match self {
            SelectorProblem::Key(key) => Problem {
                code: codes::BAD_LABEL_KEY,
                message: format!(
                    "intent `{q}` selects on the label key `{key}`, which a Calico selector cannot name"
                ),
                label: "a label key",
                why: "Calico selector label names are 1 to 512 characters of `[A-Za-z0-9_./-]`"
                    .to_string(),
                help: Some("use a label key that is a Kubernetes qualified name".to_string()),
            },
            SelectorProblem::Value(value) => Problem {
                code: codes::UNQUOTABLE_VALUE,
                message: format!(
                    "intent `{q}` selects on the label value `{value}`, which contains both quote kinds"
                ),
                label: "a label value",
                why: "Calico selector strings are quoted with `'` or `\"` and have no escapes"
                    .to_string(),
                help: Some("use label values with at most one kind of quote".to_string()),
            },
            SelectorProblem::TooLong(n) => Problem {
                code: codes::SELECTOR_TOO_LONG,
                message: format!(
                    "intent `{q}` needs a Calico selector of {n} characters, more than the 1024 Calico accepts"
                ),
                label: "selects too much by enumeration",
                why: "Calico rejects selectors longer than 1024 characters".to_string(),
                help: Some(
                    "select by a shared label instead of listing many values or namespaces"
                        .to_string(),
                ),
            },
        }
    }
}

/// `value` quoted into `out` ([`selector::quote_into`]); a value Calico cannot quote is
/// the selector's problem.
fn push_quoted(out: &mut String, value: &str) -> Result<(), SelectorProblem> {
    if selector::quote_into(out, value) {
        Ok(())
    } else {
        Err(SelectorProblem::Value(value.to_string()))
    }
}

fn checked_key(key: &str) -> Result<&str, SelectorProblem> {
    if selector::is_valid_key(key) {
        Ok(key)
    } else {
        Err(SelectorProblem::Key(key.to_string()))
    }
}

/// A selector written term by term into one string (`a && b && ...`, `all()` without
/// terms): a term, its key and its value set are not each a string of their own (tens
/// of thousands of rules each write two or three selectors).
struct Terms {
    out: String,
}

impl Terms {
    /// No terms yet, with room for the usual selector (a namespace or orchestrator term
    /// and a label or two: grown from nothing, it was copied three times).
    fn new() -> Terms {
        Terms {
            out: String::with_capacity(64),
        }
    }

    /// Starts a term (after the ` && ` that separates it from the one before).
    fn next(&mut self) -> &mut String {
        if !self.out.is_empty() {
            self.out.push_str(" && ");
        }
        &mut self.out
    }

    /// `{'a', 'b'}`.
    fn value_set<'v>(
        &mut self,
        values: impl IntoIterator<Item = &'v str>,
    ) -> Result<(), SelectorProblem> {
        self.out.push('{');
        for (i, v) in values.into_iter().enumerate() {
            if i > 0 {
                self.out.push_str(", ");
            }
            push_quoted(&mut self.out, v)?;
        }
        self.out.push('}');
        Ok(())
    }

    /// One IR requirement as a Calico term, with its key renamed by `key_map`.
    fn term(&mut self, r: &Requirement, key_map: fn(&str) -> &str) -> Result<(), SelectorProblem> {
        let key = checked_key(key_map(&r.key))?;
        let values = || r.values.iter().map(String::as_str);
        match r.op {
            Op::In => match r.as_match_label() {
                Some((_, v)) => {
                    // On an error the selector is dropped: a term half written is never
                    // seen.
                    let out = self.next();
                    out.push_str(key);
                    out.push_str(" == ");
                    push_quoted(out, v)?;
                }
                None => {
                    let out = self.next();
                    out.push_str(key);
                    out.push_str(" in ");
                    self.value_set(values())?;
                }
            },
            Op::NotIn => {
                let out = self.next();
                out.push_str(key);
                out.push_str(" not in ");
                self.value_set(values())?;
            }
            Op::Exists => {
                let out = self.next();
                out.push_str("has(");
                out.push_str(key);
                out.push(')');
            }
            Op::DoesNotExist => {
                let out = self.next();
                out.push_str("!has(");
                out.push_str(key);
                out.push(')');
            }
        }
        Ok(())
    }

    /// Every requirement of `sel`, in order.
    fn terms(
        &mut self,
        sel: &LabelSelector,
        key_map: fn(&str) -> &str,
    ) -> Result<(), SelectorProblem> {
        sel.requirements().try_for_each(|r| self.term(r, key_map))
    }

    /// The selector, or why Calico would refuse it.
    fn done(self) -> Result<String, SelectorProblem> {
        let s = if self.out.is_empty() {
            "all()".to_string()
        } else {
            self.out
        };
        if s.len() > MAX_SELECTOR {
            return Err(SelectorProblem::TooLong(s.len()));
        }
        Ok(s)
    }
}

fn same_key(k: &str) -> &str {
    k
}

/// `projectcalico.org/namespace == 'ns'` or `projectcalico.org/namespace in {...}`.
fn scope_term(t: &mut Terms, scope: &Scope) -> Result<(), SelectorProblem> {
    // Sorted and distinct.
    let names = scope.namespaces();
    if let [one] = names.as_slice() {
        let out = t.next();
        out.push_str(NAMESPACE_LABEL);
        out.push_str(" == ");
        return push_quoted(out, one);
    }
    let out = t.next();
    out.push_str(NAMESPACE_LABEL);
    out.push_str(" in ");
    t.value_set(names)
}

/// The selector of a policy's subject: namespace-scoped for a GlobalNetworkPolicy,
/// pod terms only for a namespaced NetworkPolicy.
fn subject_selector(
    scope: &Scope,
    pods: &LabelSelector,
    namespaced: bool,
) -> Result<String, SelectorProblem> {
    let mut t = Terms::new();
    if !namespaced {
        scope_term(&mut t, scope)?;
    }
    t.terms(pods, same_key)?;
    t.done()
}

/// A namespace selector over namespace labels; the name label becomes Calico's
/// `projectcalico.org/name`, which every namespace profile carries.
fn namespace_selector(sel: &LabelSelector) -> Result<String, SelectorProblem> {
    fn map(k: &str) -> &str {
        if k == NAMESPACE_NAME_LABEL {
            NAME_LABEL
        } else {
            k
        }
    }
    let mut t = Terms::new();
    t.terms(sel, map)?;
    t.done()
}

/// A pod peer selector: always carries the orchestrator term, so that it matches
/// workload endpoints only (never network sets or host endpoints with the same labels).
fn pod_peer_selector(pods: &LabelSelector) -> Result<String, SelectorProblem> {
    let mut t = Terms::new();
    t.next().push_str(ORCHESTRATOR_LABEL);
    t.out.push_str(" == 'k8s'");
    t.terms(pods, same_key)?;
    t.done()
}

/// The entity rules a peer becomes (one per address family for the API server),
/// appended to `out` (nothing on an error).
fn peer_entities(
    program: &Program,
    peer: &Peer,
    origin: &Origin,
    written: &mut Written,
    out: &mut Vec<EntityRule>,
) -> Result<(), Problem> {
    match peer {
        Peer::Any => out.push(EntityRule::default()),
        Peer::Pods { namespaces, pods } => {
            let selector = Written::text(&mut written.pods, pods, pod_peer_selector)
                .map_err(|p| p.problem(&origin.qualified()))?;
            let namespace_selector =
                Written::text(&mut written.namespaces, namespaces, namespace_selector)
                    .map_err(|p| p.problem(&origin.qualified()))?;
            out.push(EntityRule {
                selector: Some(selector),
                namespace_selector: Some(namespace_selector),
                ..EntityRule::default()
            });
        }
        Peer::Cidr(block) => out.push(EntityRule {
            nets: vec![block.net.to_string()],
            not_nets: block.except.iter().map(|n| n.to_string()).collect(),
            ..EntityRule::default()
        }),
        Peer::Entity(Entity::KubeApiserver) => {
            let cidrs = &program.profile.api_server_cidrs;
            if cidrs.is_empty() {
                // Refused by the capability check before; kept so that this never widens.
                return Err(refusal(
                    Unsupported::ApiServerWithoutCidrs,
                    &origin.qualified(),
                ));
            }
            // Calico rejects rules that mix IPv4 and IPv6 CIDRs: one rule per family.
            let mut v4: Vec<String> = Vec::new();
            let mut v6: Vec<String> = Vec::new();
            for net in cidrs {
                let list = match net {
                    IpNet::V4(_) => &mut v4,
                    IpNet::V6(_) => &mut v6,
                };
                let s = net.trunc().to_string();
                if !list.contains(&s) {
                    list.push(s);
                }
            }
            out.extend(
                [v4, v6]
                    .into_iter()
                    .filter(|l| !l.is_empty())
                    .map(|nets| EntityRule {
                        nets,
                        ..EntityRule::default()
                    }),
            );
        }
        // Refused by the capability check before; kept so that these never widen.
        Peer::Entity(Entity::Host) => return Err(refusal(Unsupported::Host, &origin.qualified())),
        Peer::Fqdn(name) => return Err(refusal(Unsupported::Fqdn(name), &origin.qualified())),
    }
    Ok(())
}

/// This back end's table from what it cannot express ([`Unsupported`], found by the one
/// capability check) to its problem.
fn refusal(u: Unsupported<'_>, q: &str) -> Problem {
    match u {
        Unsupported::ApiServerWithoutCidrs => Problem {
            code: codes::NO_API_SERVER_CIDRS,
            message: format!(
                "intent `{q}` names `kube-apiserver`, but the cluster profile lists no API server addresses"
            ),
            label: "the kube-apiserver entity",
            why: "Calico evaluates policy after Service DNAT and can only name the API \
                  server by its endpoint addresses (`nets`)"
                .to_string(),
            help: Some(
                "set `apiServer.cidrs` in the cluster profile to the API server endpoint addresses"
                    .to_string(),
            ),
        },
        Unsupported::Host => Problem {
            code: codes::HOST_ENTITY,
            message: format!("intent `{q}` names the `host` entity, which Calico cannot express"),
            label: "the pod's own node",
            why: "Calico has no selector for a pod's own node without HostEndpoints; traffic \
                  from a pod to its node is decided by its egress policy and then \
                  FelixConfiguration `defaultEndpointToHostAction`"
                .to_string(),
            help: Some(
                "render this intent for cilium, or name the node addresses as CIDRs".to_string(),
            ),
        },
        Unsupported::Fqdn(name) => Problem {
            code: codes::FQDN_PEER,
            message: format!(
                "intent `{q}` names the DNS name `{name}`, which Calico Open Source cannot express"
            ),
            label: "a DNS-name peer",
            why: "the projectcalico.org/v3 entity rule has no domain matching in Calico Open \
                  Source (domains are a Calico Enterprise feature)"
                .to_string(),
            help: Some(
                "use the addresses behind the name as CIDRs, or render for cilium".to_string(),
            ),
        },
        Unsupported::Http => Problem {
            code: codes::L7_HTTP,
            message: format!(
                "intent `{q}` has L7 HTTP rules, which Calico Open Source does not enforce"
            ),
            label: "an HTTP match",
            why: "the rule `http` field is enforced only with Calico's Istio-based \
                  application-layer-policy integration, and dropping it would widen the rule"
                .to_string(),
            help: Some("render this intent for cilium, or remove the HTTP match".to_string()),
        },
        // Calico expresses ICMP (the capability is set); bad combinations of protocol,
        // ports and ICMP fields are `BAD_PORTS`.
        Unsupported::Icmp => ports_problem(q, "ICMP".to_string()),
    }
}

/// The protocol part of one Calico rule.
struct ProtoRule {
    protocol: Option<CProtocol>,
    ports: Vec<Port>,
    icmp: Option<IcmpFields>,
}

fn ports_problem(q: &str, what: String) -> Problem {
    Problem {
        code: codes::BAD_PORTS,
        message: format!("intent `{q}` has ports Calico cannot express: {what}"),
        label: "these ports",
        why: "a Calico rule has one protocol; ports only with TCP, UDP or SCTP; ICMP type \
              0-254 and code 0-255 only with ICMP or ICMPv6"
            .to_string(),
        help: None,
    }
}

/// Splits ports into one Calico rule per protocol (more for ICMP types and long lists),
/// appended to `out` (on an error, some may have been).
fn proto_rules(ports: &Ports, origin: &Origin, out: &mut Vec<ProtoRule>) -> Result<(), Problem> {
    let Some(set) = ports.as_set() else {
        out.push(ProtoRule {
            protocol: None,
            ports: Vec::new(),
            icmp: None,
        });
        return Ok(());
    };
    // The set is ordered by protocol first: each protocol's ports are one run of it, in
    // protocol order, walked by a copy of the iterator (no list of them is made).
    let mut rest = set.iter();
    loop {
        let run = rest.clone();
        let Some(first) = rest.next() else { break };
        let protocol = first.protocol;
        let mut len = 1;
        while rest.clone().next().is_some_and(|m| m.protocol == protocol) {
            rest.next();
            len += 1;
        }
        let specs = run.take(len).map(|m| &m.port);
        let name = || Some(CProtocol::name(protocol.as_str()));
        // `All` sorts first among a protocol's ports: the run has it if it starts with it.
        if first.port == PortSpec::All {
            out.push(ProtoRule {
                protocol: name(),
                ports: Vec::new(),
                icmp: None,
            });
            continue;
        }
        if protocol.has_ports() {
            let mut list = Vec::with_capacity(len);
            for spec in specs {
                list.push(match spec {
                    PortSpec::Range { start, end } if start == end => {
                        Port::Number(i64::from(*start))
                    }
                    PortSpec::Range { start, end } => Port::Text(format!("{start}:{end}")),
                    PortSpec::Named(n) => Port::Text(n.clone()),
                    PortSpec::All => continue,
                    PortSpec::Icmp { .. } => {
                        return Err(ports_problem(
                            &origin.qualified(),
                            format!("an ICMP type on {protocol}"),
                        ))
                    }
                });
            }
            if list.len() <= MAX_PORTS {
                // The usual rule: its one list is moved, not copied.
                out.push(ProtoRule {
                    protocol: name(),
                    ports: list,
                    icmp: None,
                });
            } else {
                for chunk in list.chunks(MAX_PORTS) {
                    out.push(ProtoRule {
                        protocol: name(),
                        ports: chunk.to_vec(),
                        icmp: None,
                    });
                }
            }
        } else {
            for spec in specs {
                match spec {
                    PortSpec::Icmp { icmp_type, code } => {
                        if *icmp_type > 254 {
                            return Err(ports_problem(
                                &origin.qualified(),
                                format!("ICMP type {icmp_type} is outside 0-254"),
                            ));
                        }
                        out.push(ProtoRule {
                            protocol: name(),
                            ports: Vec::new(),
                            icmp: Some(IcmpFields {
                                icmp_type: Some(i64::from(*icmp_type)),
                                code: code.map(i64::from),
                            }),
                        });
                    }
                    PortSpec::All => {}
                    PortSpec::Range { .. } | PortSpec::Named(_) => {
                        return Err(ports_problem(
                            &origin.qualified(),
                            format!("a port on {protocol}"),
                        ))
                    }
                }
            }
        }
    }
    Ok(())
}

/// The parts of the rules being built, kept between IR rules so that their lists are
/// not allocated again for each one (every rule has them), and the peer selectors
/// written so far.
#[derive(Default)]
struct Scratch {
    entities: Vec<EntityRule>,
    protos: Vec<ProtoRule>,
    written: Written,
}

/// Texts by address: see [`Written`].
type ByAddress = HashMap<usize, String, BuildHasherDefault<WordHasher>>;

/// The peer selectors written for the rules of one group, each by the shared copy of the
/// IR selector it was written from ([`LabelSelector::shared_address`]): the lowering
/// shares one copy per value, so a peer recurs in many rules of a namespace as one
/// address, and while the program is borrowed no copy goes, so an address stands for
/// one value. A selector that cannot be written is not kept (it is refused each time).
#[derive(Default)]
struct Written {
    /// By [`pod_peer_selector`].
    pods: ByAddress,
    /// By [`namespace_selector`].
    namespaces: ByAddress,
}

impl Written {
    /// `write(sel)`, written once for each copy of `sel` in `texts`.
    fn text(
        texts: &mut ByAddress,
        sel: &LabelSelector,
        write: fn(&LabelSelector) -> Result<String, SelectorProblem>,
    ) -> Result<String, SelectorProblem> {
        match texts.entry(sel.shared_address()) {
            Entry::Occupied(text) => Ok(text.get().clone()),
            Entry::Vacant(slot) => Ok(slot.insert(write(sel)?).clone()),
        }
    }
}

/// The Calico rules of one IR rule, in order: per peer entity, per protocol, appended to
/// `out` (nothing on an error).
fn calico_rules(
    program: &Program,
    rule: &Rule,
    scratch: &mut Scratch,
    out: &mut Vec<CRule>,
) -> Result<(), Vec<Problem>> {
    let mut problems = Vec::new();
    // The one capability check; HTTP is reported before the peer, as always here.
    let missing = Calico.capabilities().unsupported(program, rule);
    let peer_refused = missing.iter().any(|u| *u != Unsupported::Http);
    if !missing.is_empty() {
        // The intent's name only for a problem: nearly every rule has none.
        let q = rule.origin.qualified();
        let (http, others): (Vec<Unsupported<'_>>, Vec<Unsupported<'_>>) =
            missing.into_iter().partition(|u| *u == Unsupported::Http);
        problems.extend(http.into_iter().chain(others).map(|u| refusal(u, &q)));
    }
    let Scratch {
        entities,
        protos,
        written,
    } = scratch;
    entities.clear();
    protos.clear();
    let entities_ok = !peer_refused
        && peer_entities(program, &rule.peer, &rule.origin, written, entities)
            .map_err(|p| problems.push(p))
            .is_ok();
    let protos_ok = proto_rules(&rule.ports, &rule.origin, protos)
        .map_err(|p| problems.push(p))
        .is_ok();
    if !entities_ok || !protos_ok || !problems.is_empty() {
        return Err(problems);
    }
    let action = match rule.action {
        Action::Allow => CAction::Allow,
        Action::Deny => CAction::Deny,
    };
    // Each (entity, protocol) pair; the last use of each part is moved, not copied (one
    // entity and one protocol, the usual rule, copies nothing).
    out.reserve(entities.len() * protos.len());
    let last_entity = entities.len().saturating_sub(1);
    let last_proto = protos.len().saturating_sub(1);
    for (e, entity) in entities.drain(..).enumerate() {
        let mut entity = Some(entity);
        for (k, p) in protos.iter_mut().enumerate() {
            let (protocol, ports, icmp) = if e == last_entity {
                (
                    p.protocol.take(),
                    std::mem::take(&mut p.ports),
                    p.icmp.take(),
                )
            } else {
                (p.protocol.clone(), p.ports.clone(), p.icmp.clone())
            };
            let entity = if k == last_proto {
                entity.take().unwrap_or_default()
            } else {
                entity.clone().unwrap_or_default()
            };
            // Every field written once (an assignment would drop the empty field first).
            let (source, destination) = match rule.direction {
                Direction::Ingress => (
                    entity,
                    EntityRule {
                        ports,
                        ..EntityRule::default()
                    },
                ),
                Direction::Egress => (EntityRule::default(), EntityRule { ports, ..entity }),
            };
            out.push(CRule {
                action,
                protocol,
                not_protocol: None,
                icmp,
                not_icmp: None,
                ip_version: None,
                source,
                destination,
                metadata: None,
            });
        }
    }
    Ok(())
}

/// The metadata of an object of `origin`'s file, `intent` its intent annotation.
fn metadata(
    name: String,
    namespace: Option<String>,
    origin: &Origin,
    intent: String,
) -> ObjectMeta {
    // Inserted one by one: a map made from an array sorts the array first, which cost
    // more than the inserts into maps this small.
    let mut labels = BTreeMap::new();
    labels.insert(MANAGED_BY_LABEL.to_string(), MANAGED_BY.to_string());
    let mut annotations = BTreeMap::new();
    annotations.insert(SOURCE_ANNOTATION.to_string(), origin.file.clone());
    annotations.insert(INTENT_ANNOTATION.to_string(), intent);
    ObjectMeta {
        name,
        namespace,
        labels,
        annotations,
    }
}

fn policy_type(d: Direction) -> PolicyType {
    match d {
        Direction::Ingress => PolicyType::Ingress,
        Direction::Egress => PolicyType::Egress,
    }
}

fn direction_word(d: Direction) -> &'static str {
    match d {
        Direction::Ingress => "ingress",
        Direction::Egress => "egress",
    }
}

/// What one object holds before it becomes a manifest; the planned object keeps its
/// `origin` (`'p`: the program's).
struct Draft<'a, 'p> {
    name: String,
    deny: bool,
    scope: &'a Scope,
    pods: &'a LabelSelector,
    types: Vec<PolicyType>,
    ingress: Vec<CRule>,
    egress: Vec<CRule>,
    origin: &'p Origin,
    /// The intent of each rule, for objects merging the rules of several intents (one
    /// intent is named by `origin`).
    provenance: Option<Provenance>,
}

/// Builds the object of `draft`, packed (validated with `validate`).
fn build<'p>(
    draft: Draft<'_, 'p>,
    options: &Options,
    validate: bool,
) -> Result<Planned<'p>, Problem> {
    let namespace = match draft.scope {
        Scope::Namespace(ns) if options.namespaced => Some(ns.clone()),
        _ => None,
    };
    let selector = subject_selector(draft.scope, draft.pods, namespace.is_some())
        .map_err(|p| p.problem(&draft.origin.qualified()))?;
    let (tier, name) = if draft.deny {
        // Tier-prefixed names keep Calico v3.29-v3.31 happy (at most one dot).
        (TIER_NAME, format!("{TIER_NAME}.{}", draft.name))
    } else {
        (DEFAULT_TIER, draft.name)
    };
    // A merged object names the intents of its rules; any other, its one intent.
    let intent = match &draft.provenance {
        Some(p) => p.intent_annotation(),
        None => draft.origin.qualified(),
    };
    let namespaced = namespace.is_some();
    let mut meta = metadata(name, namespace, draft.origin, intent);
    if let Some(rules) = draft
        .provenance
        .as_ref()
        .and_then(Provenance::rules_annotation)
    {
        meta.annotations.insert(RULES_ANNOTATION.to_string(), rules);
    }
    let manifest = if namespaced {
        Manifest::Namespaced(NetworkPolicy::new(
            meta,
            NetworkPolicySpec {
                tier: Some(tier.to_string()),
                order: Some(Order(POLICY_ORDER)),
                selector: Some(selector),
                types: Some(draft.types),
                ingress: draft.ingress,
                egress: draft.egress,
                performance_hints: Vec::new(),
            },
        ))
    } else {
        Manifest::Global(GlobalNetworkPolicy::new(
            meta,
            GlobalNetworkPolicySpec {
                tier: Some(tier.to_string()),
                order: Some(Order(POLICY_ORDER)),
                selector: Some(selector),
                types: Some(draft.types),
                ingress: draft.ingress,
                egress: draft.egress,
                ..GlobalNetworkPolicySpec::default()
            },
        ))
    };
    Ok(manifest.pack(Some(draft.origin), validate))
}

fn tier_manifest(validate: bool) -> Planned<'static> {
    let meta = ObjectMeta {
        name: TIER_NAME.to_string(),
        namespace: None,
        labels: [(MANAGED_BY_LABEL.to_string(), MANAGED_BY.to_string())].into(),
        // Argo CD applies lower waves first: the tier must exist before its policies.
        annotations: [(SYNC_WAVE.to_string(), "-1".to_string())].into(),
    };
    Manifest::Tier(Tier::new(
        meta,
        TierSpec {
            order: Some(Order(TIER_ORDER)),
            default_action: Some(TierAction::Pass),
        },
    ))
    .pack(None, validate)
}

/// Names `base` when it is alone, `base-1`, `base-2`, ... otherwise.
fn numbered(parts: &[&str], index: usize, count: usize) -> String {
    let (set, rest) = parts
        .split_first()
        .expect("a set and at least one more part");
    if count == 1 {
        netpolc_ir::naming::object_name(set, rest, 63)
    } else {
        let n = (index + 1).to_string();
        let mut all = rest.to_vec();
        all.push(&n);
        netpolc_ir::naming::object_name(set, &all, 63)
    }
}

/// Collects diagnostics, one per (code, intent), and remembers which intents failed.
#[derive(Default)]
struct Reporter {
    reported: BTreeSet<(&'static str, String)>,
    failed: BTreeSet<String>,
    diagnostics: Vec<Diagnostic>,
}

impl Reporter {
    fn problem(&mut self, p: Problem, origin: &Origin) {
        let q = origin.qualified();
        self.failed.insert(q.clone());
        if self.reported.insert((p.code, q)) {
            self.diagnostics.push(p.into_diagnostic(origin));
        }
    }

    fn diagnostic(&mut self, d: Diagnostic, origin: &Origin) {
        let q = origin.qualified();
        self.failed.insert(q.clone());
        if self.reported.insert((d.code, q)) {
            self.diagnostics.push(d);
        }
    }
}

fn about_object(code: &'static str, message: String, origin: &Origin) -> Diagnostic {
    let d = Diagnostic::error(code, message).with_note(BACKEND_NOTE);
    match origin.span {
        Some(span) => d.with_label(span, "this intent"),
        None => d.with_file(origin.file.clone()),
    }
}

/// Plans every object of the program and every diagnostic; `validate` also runs Calico's
/// validation on every object (the capability check does, rendering need not).
pub(crate) fn plan<'p>(program: &'p Program, options: &Options, validate: bool) -> Plan<'p> {
    let mut objects: Vec<Planned> = Vec::new();
    let mut rep = Reporter::default();

    // Isolation: one object per intent set and scope, listing its isolated directions.
    let mut isolations: BTreeMap<&str, BTreeMap<&Scope, (BTreeSet<Direction>, &Origin)>> =
        BTreeMap::new();
    for iso in &program.isolations {
        let entry = isolations
            .entry(iso.origin.set.as_str())
            .or_default()
            .entry(&iso.scope)
            .or_insert((BTreeSet::new(), &iso.origin));
        entry.0.insert(iso.direction);
    }
    let all_pods = LabelSelector::all();
    for (set, scopes) in &isolations {
        let count = scopes.len();
        for (i, (scope, (directions, origin))) in scopes.iter().enumerate() {
            let draft = Draft {
                name: numbered(&[set, "isolate"], i, count),
                deny: false,
                scope,
                pods: &all_pods,
                types: directions.iter().map(|d| policy_type(*d)).collect(),
                ingress: Vec::new(),
                egress: Vec::new(),
                origin,
                provenance: None,
            };
            match build(draft, options, validate) {
                Ok(p) => objects.push(p),
                Err(p) => rep.problem(p, origin),
            }
        }
    }

    // Rules: one object per (intent set, subject scope, direction, action, subject
    // selector), merging the rules of every intent of the set with that subject, grouped
    // by intent; the provenance annotations name each rule's intent.
    let groups = program.rules_by_object();
    // Global policies share one name space; namespaced ones (`--calico-namespaced`) one
    // per namespace.
    let cluster_wide =
        |scope: &Scope| !(options.namespaced && matches!(scope, Scope::Namespace(_)));
    // Each (set, direction, action) on every core; objects and problems in the order of
    // the groups.
    // Taken by value: each group's maps are freed on the thread that planned it.
    let planned =
        netpolc_ir::par::flat_map_into(netpolc_ir::par::threads(), groups, 256, |group, out| {
            let ((set, direction, action), subjects) = &group;
            let deny = *action == Action::Deny;
            let keys: Vec<(&Scope, &LabelSelector)> = subjects.keys().copied().collect();
            let mut scratch = Scratch::default();
            let words = scoped_subject_words(&keys, &cluster_wide);
            for (((scope, pods), by_intent), word) in subjects.iter().zip(words) {
                // Each intent's Calico rules, one after the other in one list; an intent
                // with a problem is reported and left out, and so is one left with no rule.
                let mut rules: Vec<CRule> =
                    Vec::with_capacity(by_intent.values().map(Vec::len).sum());
                let mut intents: Vec<(&Origin, usize)> = Vec::new();
                for indices in by_intent.values() {
                    // Every intent of a group has a rule; its origin is its first rule's.
                    let Some(origin) = indices.first().map(|&i| &program.rules[i].origin) else {
                        continue;
                    };
                    let start = rules.len();
                    let mut failed = false;
                    for rule in indices.iter().map(|&i| &program.rules[i]) {
                        if let Err(rule_problems) =
                            calico_rules(program, rule, &mut scratch, &mut rules)
                        {
                            failed = true;
                            out.extend(
                                rule_problems
                                    .into_iter()
                                    .map(|p| Planning::Problem(p, origin)),
                            );
                        }
                    }
                    if failed {
                        rules.truncate(start);
                    } else if rules.len() > start {
                        intents.push((origin, rules.len() - start));
                    }
                }
                // Calico accepts at most MAX_RULES rules per direction in one policy, and
                // netpolc merges at most MAX_OBJECT_RULES into one (which keeps the
                // provenance annotations small): a new object (`-2`, `-3`, …) starts at
                // an intent boundary when the next intent would not fit.
                let runs = split_at_intents(intents.iter().map(|&(_, n)| n), MERGED_RULES);
                let last = runs.len().saturating_sub(1);
                let mut intents = intents.into_iter();
                let mut rules = rules.into_iter();
                let field = direction_word(*direction);
                for (n, count) in runs.into_iter().enumerate() {
                    let run: Vec<(&Origin, usize)> = intents.by_ref().take(count).collect();
                    // Each run's rules are moved once; the last takes the rest, which for
                    // the only run (nearly always) is the list itself, not a copy.
                    let calico: Vec<CRule> = if n == last {
                        std::mem::take(&mut rules).collect()
                    } else {
                        let len = run.iter().map(|&(_, n)| n).sum();
                        rules.by_ref().take(len).collect()
                    };
                    // The rules of one intent need no provenance beyond its name (the
                    // intent annotation, with no rules annotation).
                    let provenance = (run.len() > 1).then(|| {
                        let mut provenance = Provenance::default();
                        let mut index = 0;
                        for &(origin, n) in &run {
                            let q = origin.qualified();
                            for _ in 0..n {
                                provenance.push_rule(field, index, q.clone());
                                index += 1;
                            }
                        }
                        provenance
                    });
                    let origins: Vec<&Origin> = run.iter().map(|&(origin, _)| origin).collect();
                    if deny {
                        out.push(Planning::Deny);
                    }
                    let (ingress, egress) = match direction {
                        Direction::Ingress => (calico, Vec::new()),
                        Direction::Egress => (Vec::new(), calico),
                    };
                    let name = numbered_object_name(set, &word, *direction, deny, n + 1);
                    let draft = Draft {
                        name,
                        deny,
                        scope,
                        pods,
                        types: vec![policy_type(*direction)],
                        ingress,
                        egress,
                        origin: origins[0],
                        provenance,
                    };
                    match build(draft, options, validate) {
                        Ok(p) => out.push(Planning::Object(p)),
                        Err(p) => {
                            // The subject is every intent's: report it about each of them.
                            let first = origins[0].qualified();
                            for origin in origins {
                                out.push(Planning::Problem(
                                    p.about(&first, &origin.qualified()),
                                    origin,
                                ));
                            }
                        }
                    }
                }
            }
        });
    let mut any_deny = false;
    objects.reserve_exact(planned.len() + 1);
    for step in planned {
        match step {
            Planning::Object(p) => objects.push(p),
            Planning::Problem(p, origin) => rep.problem(p, origin),
            Planning::Deny => any_deny = true,
        }
    }
    if any_deny {
        objects.push(tier_manifest(validate));
    }

    // Problems of the objects themselves: name collisions, size limits, and finally
    // Calico's own validation as a safety net (run as each object was built; reported in
    // order, for the objects whose intent has no problem yet).
    // An object without an intent (the tier) has nothing to report against: with a
    // problem, the driver's net validates every object and reports it (NP6012).
    let validated_all = validate
        && objects
            .iter()
            .all(|planned| planned.origin.is_some() || planned.messages.is_empty());
    // The stable order, sorted on every core (tens of thousands of keys whose strings lie
    // all over the heap: a map of them cost a third of a second of one core). Objects
    // with one key are then next to each other, in plan order: each one after the first
    // collides with the one before it.
    let order = netpolc_ir::par::order(netpolc_ir::par::threads(), objects.iter().map(|p| &p.key));
    let mut earlier: Vec<Option<usize>> = vec![None; objects.len()];
    let mut last: Option<usize> = None;
    for (k, &i) in order.iter().enumerate() {
        if k > 0 && objects[order[k - 1]].key != objects[i].key {
            last = None;
        }
        if objects[i].origin.is_some() {
            earlier[i] = last;
            last = Some(i);
        }
    }
    for (i, planned) in objects.iter().enumerate() {
        let Some(origin) = planned.origin.as_ref() else {
            continue;
        };
        let first = earlier[i].and_then(|e| objects[e].origin.as_ref());
        if let Some(first) = first {
            let q = origin.qualified();
            let what = planned.describe();
            let mut d = about_object(
                codes::NAME_COLLISION,
                format!("intent `{q}` renders to `{what}`, which another intent also renders to"),
                origin,
            )
            .with_note("object names are derived from the set, intent and direction names")
            .with_help("rename one of the intents so that their DNS-label forms differ");
            if let Some(other) = first.span {
                d = d.with_secondary(other, "the other intent");
            }
            rep.diagnostic(d, origin);
        }
        let (ingress, egress) = planned.rule_counts;
        let most = ingress.max(egress);
        if most > MAX_RULES {
            let q = origin.qualified();
            let d = about_object(
                codes::TOO_MANY_RULES,
                format!("intent `{q}` renders to {most} rules in one direction, more than the 1024 Calico accepts"),
                origin,
            )
            .with_note("Calico accepts at most 1024 rules per direction in one policy")
            .with_help("split the intent into several intents");
            rep.diagnostic(d, origin);
        }
        // The typed object is checked by the rules `validate` applies once an object
        // deserialises, without a trip through JSON: its JSON is the serialisation of
        // this very value, so the driver does not validate it again (`validated`).
        let messages = &planned.messages;
        if !validate || messages.is_empty() {
            continue;
        }
        let q = origin.qualified();
        if !rep.failed.contains(&q) {
            let what = planned.describe();
            let mut d = about_object(
                codes::REJECTED_BY_CALICO,
                format!("intent `{q}` renders to `{what}`, which Calico would reject"),
                origin,
            );
            for m in messages {
                d = d.with_note(m.as_str());
            }
            rep.diagnostic(d, origin);
        }
    }
    Plan {
        objects,
        order,
        diagnostics: rep.diagnostics,
        validated: validated_all,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::selector::Selector;
    use netpolc_ir::Requirement;

    fn reparse(s: &str) -> bool {
        Selector::parse(s).is_ok()
    }

    #[test]
    fn a_planned_object_is_packed_with_its_identity_and_reads_back_as_its_tree() {
        let planned = tier_manifest(true);
        assert_eq!(planned.key, (0, String::new(), TIER_NAME.to_string()));
        assert_eq!(planned.describe(), "Tier netpolc");
        assert_eq!(planned.rule_counts, (0, 0));
        assert!(planned.messages.is_empty(), "{:?}", planned.messages);
        // Planned for the pipeline, it is kept as its text; for `render`, as its tree.
        assert!(planned.object.to_value().is_none());
        let value = tier_manifest(false)
            .object
            .to_value()
            .expect("a tree for render");
        assert_eq!(value["kind"], "Tier");
        assert_eq!(value["metadata"]["name"], TIER_NAME);
        assert_eq!(value["spec"]["order"].as_f64(), Some(TIER_ORDER));
        // The text is the serialisation of the typed object, and reads back as the tree
        // the typed object serialises to.
        let typed: Tier = serde_json::from_value(value.clone()).expect("a tier");
        assert_eq!(serde_json::to_value(&typed).expect("serialises"), value);
        let keys: Vec<&String> = value.as_object().expect("an object").keys().collect();
        assert_eq!(keys, ["apiVersion", "kind", "metadata", "spec"]);
    }

    #[test]
    fn every_port_sorts_first_among_a_protocols_ports() {
        // What lets `proto_rules` look only at the first of a protocol's ports for `All`.
        let others = [
            PortSpec::Range { start: 1, end: 1 },
            PortSpec::Named("a".into()),
            PortSpec::Icmp {
                icmp_type: 0,
                code: None,
            },
        ];
        assert!(others.iter().all(|p| PortSpec::All < *p));
    }

    #[test]
    fn selector_terms() {
        let sel = LabelSelector::from_requirements([
            Requirement::is_in("app", ["web"]),
            Requirement::is_in("tier", ["a", "b"]),
            Requirement::not_in("env", ["dev"]),
            Requirement::exists("team"),
            Requirement::does_not_exist("canary"),
        ])
        .unwrap();
        let s = subject_selector(&Scope::Namespace("prod".into()), &sel, false).ok();
        assert_eq!(
            s.as_deref(),
            Some(
                "projectcalico.org/namespace == 'prod' && app == 'web' && !has(canary) && \
                 env not in {'dev'} && has(team) && tier in {'a', 'b'}"
            )
        );
        assert!(reparse(s.as_deref().unwrap_or_default()));
        let ns = LabelSelector::from_labels([(NAMESPACE_NAME_LABEL, "kube-system")]);
        assert_eq!(
            namespace_selector(&ns).ok().as_deref(),
            Some("projectcalico.org/name == 'kube-system'")
        );
        assert_eq!(
            namespace_selector(&LabelSelector::all()).ok().as_deref(),
            Some("all()")
        );
        let quote = LabelSelector::from_labels([("a", "it's")]);
        assert_eq!(
            pod_peer_selector(&quote).ok().as_deref(),
            Some("projectcalico.org/orchestrator == 'k8s' && a == \"it's\"")
        );
        let both = LabelSelector::from_labels([("a", "'\"")]);
        assert!(matches!(
            pod_peer_selector(&both),
            Err(SelectorProblem::Value(_))
        ));
        let bad_key = LabelSelector::from_labels([("a b", "x")]);
        assert!(matches!(
            pod_peer_selector(&bad_key),
            Err(SelectorProblem::Key(_))
        ));
        let cluster = Scope::Cluster(["b".to_string(), "a".to_string()].into());
        assert_eq!(
            subject_selector(&cluster, &LabelSelector::all(), false)
                .ok()
                .as_deref(),
            Some("projectcalico.org/namespace in {'a', 'b'}")
        );
        assert_eq!(
            subject_selector(&Scope::Namespace("x".into()), &LabelSelector::all(), true)
                .ok()
                .as_deref(),
            Some("all()")
        );
    }
}
