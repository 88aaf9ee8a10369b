//! The capability check: everything plain NetworkPolicy cannot express exactly, as
//! diagnostics with the stable codes of [`crate::codes`].

use crate::codes;
use crate::emit;
use crate::Kubernetes;
use crate::Options;
use netpolc_ir::backend::{Backend as _, Compiled, Unsupported};
use netpolc_ir::{allow_only, Action, Entity, Origin, Peer, Program, Rule};
use netpolc_source::{Diagnostic, Severity};
use std::collections::BTreeSet;

const BACKEND_NOTE: &str = "backend: kubernetes (`networking.k8s.io/v1` NetworkPolicy)";

/// Checks that `program` can be rendered exactly as Kubernetes NetworkPolicy.
///
/// Reports, in order: what [`allow_only::lower`] reports (deny intents that cannot be
/// subtracted, `NP3010`–`NP3012`), one diagnostic per intent and unsupported construct (`NP3002`
/// host entity, `NP3003` FQDN, `NP3004` L7 HTTP, `NP3005` ICMP, `NP3006` kube-apiserver
/// without addresses, warning `NP3009` kube-apiserver as `ipBlock`), then problems of the
/// rendered objects (`NP3007` name collisions, `NP3008` objects the API server would
/// reject). [`render`](crate::render) may be called when no error is reported.
pub fn check(program: &Program, options: &Options) -> Vec<Diagnostic> {
    compile(program, options).diagnostics
}

/// Checks and renders in one pass: the deny subtraction, the capability check, the
/// objects (emitted once, validated and converted to JSON once) and, when no diagnostic
/// is an error, the manifests sorted by namespace and name.
pub fn compile(program: &Program, options: &Options) -> Compiled {
    let _ = options;
    let mut out = Vec::new();
    out.extend(netpolc_ir::nodes::undeclared(
        program,
        codes::NODES_UNDECLARED,
        BACKEND_NOTE,
    ));
    let lowered = match allow_only::lower(program) {
        Ok(p) => Some(p),
        Err(diagnostics) => {
            out.extend(diagnostics);
            None
        }
    };
    let target = lowered.as_ref().unwrap_or(program);
    // Each allow on every core, refusals in the order of the rules; one per (code,
    // intent), the first.
    let refusals = netpolc_ir::par::flat_map(
        netpolc_ir::par::threads(),
        target.rules.len(),
        1024,
        |i, found| {
            let rule = &target.rules[i];
            if rule.action == Action::Allow {
                found.extend(capability(target, rule).into_iter().map(|d| (d, i)));
            }
        },
    );
    let mut seen: BTreeSet<(&'static str, String)> = BTreeSet::new();
    for (d, i) in refusals {
        if seen.insert((d.code, target.rules[i].origin.qualified())) {
            out.push(d);
        }
    }
    let rendered = emit::objects(target, netpolc_ir::backend::Form::Text);
    // The lowered program is not needed once rendered: its memory goes to the values,
    // freed beside the rest of the compile (one core took 20 ms at 2,000 namespaces).
    netpolc_ir::par::drop_later(lowered);
    out.extend(rendered_problems(&rendered));
    let objects = if out.iter().any(Diagnostic::is_error) {
        Vec::new()
    } else {
        // Written: the pipeline reads each text back when it takes it (`emit::Packed`).
        // Boxed, and the rest of each rendered object freed, on every core (one core
        // spent about 25 ms on it at 2,000 namespaces).
        netpolc_ir::par::flat_map_into(netpolc_ir::par::threads(), rendered, 256, |r, out| {
            out.push(Box::new(r.object) as Box<dyn netpolc_ir::backend::Manifest>);
        })
    };
    Compiled {
        diagnostics: out,
        objects,
        // `rendered_problems` validated the typed objects these values serialise.
        validated: true,
    }
}

/// A diagnostic about an intent: primary label on its span (or its file when the span
/// is unknown), the back end named in a note.
fn about(
    severity: Severity,
    code: &'static str,
    origin: &Origin,
    message: String,
    label: &str,
    why: &str,
) -> Diagnostic {
    let d = Diagnostic::new(severity, code, message)
        .with_note(BACKEND_NOTE)
        .with_note(why);
    match origin.span {
        Some(span) => d.with_label(span, label),
        None => d.with_file(origin.file.clone()),
    }
}

/// The capability check ([`netpolc_ir::backend::Capabilities::unsupported`] with this back end's
/// capabilities), each refusal worded by [`refusal`]; and the warning about the API
/// server reached through `ipBlock`s.
fn capability(program: &Program, rule: &Rule) -> Vec<Diagnostic> {
    let mut out: Vec<Diagnostic> = Kubernetes
        .capabilities()
        .unsupported(program, rule)
        .into_iter()
        .map(|u| refusal(u, &rule.origin))
        .collect();
    if rule.peer == Peer::Entity(Entity::KubeApiserver)
        && !program.profile.api_server_cidrs.is_empty()
    {
        let q = rule.origin.qualified();
        // A peer finding: first, as the peer's refusals are.
        out.insert(
            0,
            about(
                Severity::Warning,
                codes::API_SERVER_AS_IP_BLOCK,
                &rule.origin,
                format!("intent `{q}` reaches `kube-apiserver` through `ipBlock`s of the profile's API server addresses"),
                "the kube-apiserver entity",
                "whether `ipBlock` sees the API server's endpoint address (after Service DNAT) is \
                 left to the CNI; Cilium does not match node addresses with `ipBlock` when the API \
                 server runs on the cluster's nodes",
            ),
        );
    }
    out
}

/// This back end's table from what it cannot express to its diagnostic.
fn refusal(u: Unsupported<'_>, o: &Origin) -> Diagnostic {
    let q = o.qualified();
    match u {
        Unsupported::Host => about(
            Severity::Error,
            codes::HOST_ENTITY,
            o,
            format!("intent `{q}` names the `host` entity, which NetworkPolicy cannot express"),
            "the pod's own node",
            "NetworkPolicy has no node peer, and an `ipBlock` of node addresses is \
             implementation-defined (Cilium does not match nodes with it)",
        )
        .with_help("render this intent for cilium, or remove the `host` peer"),
        Unsupported::Fqdn(name) => about(
            Severity::Error,
            codes::FQDN_PEER,
            o,
            format!("intent `{q}` allows the DNS name `{name}`, which NetworkPolicy cannot express"),
            "a DNS-name peer",
            "NetworkPolicy matches addresses only; it has no DNS-name peers",
        )
        .with_help("use the addresses behind the name as CIDRs, or render for cilium"),
        Unsupported::ApiServerWithoutCidrs => about(
            Severity::Error,
            codes::NO_API_SERVER_CIDRS,
            o,
            format!("intent `{q}` names `kube-apiserver`, but the cluster profile lists no API server addresses"),
            "the kube-apiserver entity",
            "NetworkPolicy can only name the API server by its endpoint addresses (`ipBlock`)",
        )
        .with_help("set `apiServer.cidrs` in the cluster profile to the API server endpoint addresses"),
        Unsupported::Http => about(
            Severity::Error,
            codes::L7_HTTP,
            o,
            format!("intent `{q}` has HTTP rules, which NetworkPolicy cannot express"),
            "L7 HTTP constraints",
            "NetworkPolicy is L3/L4 only; dropping the HTTP constraints would allow more than intended",
        )
        .with_help("remove the `http` constraints, or render this intent for cilium"),
        Unsupported::Icmp => about(
            Severity::Error,
            codes::ICMP,
            o,
            format!("intent `{q}` names ICMP, which NetworkPolicy cannot express"),
            "an ICMP port",
            "NetworkPolicy ports are TCP, UDP or SCTP; what happens to ICMP is left to the CNI",
        )
        .with_help("remove the ICMP ports, or render this intent for calico or cilium"),
    }
}

/// Name collisions and API-server validation of the rendered objects, which
/// [`emit::objects`] sorts by (namespace, name), ties in render order: objects of one
/// name are next to each other, and each later one collides with the first of its run
/// (a walk, not a map of 50,000 name pairs: that cost one core 25 ms at 2,000
/// namespaces).
fn rendered_problems(objects: &[emit::Rendered]) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    fn key(r: &emit::Rendered) -> (&str, &str) {
        (&r.namespace, &r.name)
    }
    debug_assert!(objects.is_sorted_by_key(key), "objects come sorted by name");
    let mut reported: BTreeSet<(String, String, String)> = BTreeSet::new();
    let mut first: Option<&emit::Rendered> = None;
    for r in objects {
        match first {
            Some(first) if key(first) == key(r) => {
                let (a, b) = (first.origin.qualified(), r.origin.qualified());
                if reported.insert((a.clone(), b.clone(), r.name.clone())) {
                    let mut d = about(
                        Severity::Error,
                        codes::NAME_COLLISION,
                        &r.origin,
                        format!(
                            "intents `{a}` and `{b}` both render to NetworkPolicy `{}/{}`",
                            r.namespace, r.name
                        ),
                        "renders to a name already taken",
                        "object names are `<set>-<intent>-<direction>` cut to a DNS label of 63 characters",
                    )
                    .with_help("rename one of the intents or intent sets");
                    if let Some(span) = first.origin.span {
                        d = d.with_secondary(span, "the other intent");
                    }
                    out.push(d);
                }
            }
            _ => first = Some(r),
        }
    }
    let mut validated: BTreeSet<(String, String)> = BTreeSet::new();
    // Validated when rendered (`emit::Rendered::new`); reported in order.
    for r in objects {
        if r.problems.is_empty() {
            continue;
        }
        let q = r.origin.qualified();
        let fresh: Vec<String> = r
            .problems
            .iter()
            .filter(|p| validated.insert((q.clone(), (*p).clone())))
            .cloned()
            .collect();
        if fresh.is_empty() {
            continue;
        }
        let mut d = about(
            Severity::Error,
            codes::REJECTED_BY_API_SERVER,
            &r.origin,
            format!(
                "the API server would reject NetworkPolicy `{}/{}` rendered for intent `{q}`",
                r.namespace, r.name
            ),
            "rendered into an invalid object",
            "the object breaks the API server's NetworkPolicy validation:",
        );
        for p in fresh {
            d = d.with_note(p);
        }
        out.push(d);
    }
    out
}
