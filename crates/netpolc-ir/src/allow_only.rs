//! Compiling deny rules away by subtraction, for allow-only back ends (Kubernetes).
//!
//! [`lower`] returns a program with the same meaning (see the crate docs) and no
//! [`Action::Deny`] rule, or diagnostics naming each deny intent that cannot be
//! subtracted exactly. Nothing is ever approximated: a piece that cannot be expressed
//! is an error, never a wider (or silently narrower) allow.
//!
//! A rule is a box `subject × peer × ports`. Removing a deny box `X` from an allow box
//! `R` leaves the disjoint union of
//! 1. `(R.subject ∖ X.subject) × R.peer × R.ports`,
//! 2. `(R.subject ∩ X.subject) × (R.peer ∖ X.peer) × R.ports`,
//! 3. `(R.subject ∩ X.subject) × (R.peer ∩ X.peer) × (R.ports ∖ X.ports)`,
//!
//! and each difference is exact for label selectors (negated requirements, see
//! [`LabelSelector::minus`](crate::LabelSelector::minus)), CIDRs (`except` holes) and numeric port ranges (splitting).
//!
//! A deny on a side that is not isolated cannot be subtracted from anything (there is no
//! allow to narrow). It is still honoured when the same intent also denies on the other,
//! isolated side (the flow is denied there); otherwise it is an error.

use crate::Protocol;
use crate::{
    Action, CidrBlock, Direction, Origin, Peer, PortMatch, PortSpec, Ports, Program, Rule, Scope,
    Subject,
};
use ipnet::IpNet;
use netpolc_source::Diagnostic;
use std::collections::{BTreeMap, BTreeSet};

/// Stable codes reported by this pass.
pub mod codes {
    /// A deny sits on a side that is not isolated and no isolated side enforces it.
    pub const DENY_ON_OPEN_SIDE: &str = "NP3010";
    /// The ports of a deny cannot be subtracted exactly from an allow's ports.
    pub const PORTS_NOT_SUBTRACTABLE: &str = "NP3011";
    /// The peer of a deny cannot be subtracted exactly from an allow's peer.
    pub const PEER_NOT_SUBTRACTABLE: &str = "NP3012";
}

/// Subtracts every deny rule from the allow rules it overlaps.
///
/// # Errors
/// One diagnostic per deny intent (and allow intent) that cannot be expressed exactly.
pub fn lower(program: &Program) -> Result<Program, Vec<Diagnostic>> {
    let mut errors: BTreeMap<(String, &'static str), Diagnostic> = BTreeMap::new();
    let mut denies: Vec<Rule> = Vec::new();
    for x in program.rules.iter().filter(|r| r.action == Action::Deny) {
        let (isolated, open): (BTreeSet<&str>, BTreeSet<&str>) = x
            .subject
            .scope
            .namespaces()
            .into_iter()
            .partition(|ns| program.is_isolated(ns, x.direction));
        if let Some(scope) = restrict_scope(&x.subject.scope, &isolated) {
            let mut d = x.clone();
            d.subject.scope = scope;
            denies.push(d);
        }
        for ns in open {
            if !mirrored(program, x, ns) {
                let key = (x.origin.qualified(), codes::DENY_ON_OPEN_SIDE);
                errors.entry(key).or_insert_with(|| {
                    let dir = dir_word(x.direction);
                    Diagnostic::error(
                        codes::DENY_ON_OPEN_SIDE,
                        format!(
                            "deny intent `{}` cannot be expressed for kubernetes: the {dir} side in namespace `{ns}` is not isolated",
                            x.origin.qualified()
                        ),
                    )
                    .with_opt_label(x.origin.span, "this deny")
                    .with_note("kubernetes NetworkPolicy has no deny rule: netpolc subtracts denies from allows, which needs the side to be isolated")
                    .with_help(format!(
                        "add `{dir}` to `isolate` of namespace `{ns}`, or render this intent for calico or cilium only"
                    ))
                });
            }
        }
    }

    // Index the denies by (direction, namespace), so that each allow meets only the denies
    // that can overlap it: the pass stays linear in the size of the repository. Hashed
    // (from a random seed: the names are the policies'), never iterated: every allow
    // looks its namespaces up among thousands.
    let mut index: std::collections::HashMap<
        (Direction, &str),
        Vec<usize>,
        crate::derive::SeededWords,
    > = std::collections::HashMap::default();
    for (i, d) in denies.iter().enumerate() {
        for ns in d.subject.scope.namespaces() {
            index.entry((d.direction, ns)).or_default().push(i);
        }
    }
    // Each allow on every core; pieces and errors in the order of the allows. A piece
    // that no deny overlaps is the allow itself, borrowed: most allows meet only denies
    // they do not overlap, and are copied once, at the end, only when no error is found.
    let allow_rules: Vec<&Rule> = program
        .rules
        .iter()
        .filter(|r| r.action == Action::Allow)
        .collect();
    type Found = ((String, &'static str), Diagnostic);
    let lowered = crate::par::map(crate::par::threads(), allow_rules.len(), 256, |k| {
        let r = allow_rules[k];
        let mut found: Vec<Found> = Vec::new();
        // The denies of the allow's namespaces, in index order, each once (each list of
        // the index is in index order already).
        let candidates: std::borrow::Cow<'_, [usize]> = match &r.subject.scope {
            Scope::Namespace(ns) => index
                .get(&(r.direction, ns.as_str()))
                .map_or(std::borrow::Cow::Borrowed(&[][..]), |v| {
                    std::borrow::Cow::Borrowed(v.as_slice())
                }),
            Scope::Cluster(set) => {
                let mut all: Vec<usize> = set
                    .iter()
                    .filter_map(|ns| index.get(&(r.direction, ns.as_str())))
                    .flatten()
                    .copied()
                    .collect();
                all.sort_unstable();
                all.dedup();
                std::borrow::Cow::Owned(all)
            }
        };
        let mut pieces: Vec<Piece<'_>> = vec![Piece::Borrowed(r)];
        // The pieces left by each deny go to `next`, which then holds the pieces for the
        // next deny and gives its room back: two buffers for all the denies of the allow.
        let mut next: Vec<Piece<'_>> = Vec::new();
        for x in candidates.iter().map(|&i| &denies[i]) {
            for p in pieces.drain(..) {
                match subtract_overlap(&p, x, &program.profile) {
                    Ok(None) => next.push(p),
                    Ok(Some(rest)) => {
                        next.extend(rest.into_iter().map(|p| Piece::Owned(Box::new(p))));
                    }
                    Err((code, why)) => {
                        let key = (
                            format!("{}|{}", r.origin.qualified(), x.origin.qualified()),
                            code,
                        );
                        let d = Diagnostic::error(
                            code,
                            format!(
                                "deny intent `{}` cannot be subtracted exactly from allow intent `{}` for kubernetes",
                                x.origin.qualified(),
                                r.origin.qualified()
                            ),
                        )
                        .with_opt_label(x.origin.span, "this deny")
                        .with_opt_label_secondary(r.origin.span, "overlaps this allow")
                        .with_note(why)
                        .with_help("narrow the allow intent so it does not overlap the deny, or render for calico or cilium only");
                        found.push((key, d));
                        next.push(p);
                    }
                }
            }
            std::mem::swap(&mut pieces, &mut next);
        }
        (pieces, found)
    });
    let mut allows: Vec<Canonical<'_>> =
        Vec::with_capacity(lowered.iter().map(|(pieces, _)| pieces.len()).sum());
    for (pieces, found) in lowered {
        allows.extend(pieces.into_iter().map(Canonical));
        for (key, d) in found {
            errors.entry(key).or_insert(d);
        }
    }
    if !errors.is_empty() {
        return Err(errors.into_values().collect());
    }
    // Sorted and deduplicated as `Program::canonicalise` does, by the same order
    // (`Canonical`), then copied once.
    let threads = crate::par::threads();
    crate::par::sort(threads, &mut allows);
    // Duplicates are neighbours once sorted: the first of each run is kept (as `dedup`
    // keeps it), told and copied on every core.
    let kept: Vec<&Rule> = crate::par::map(threads, allows.len(), 4096, |i| {
        (i == 0 || allows[i] != allows[i - 1]).then_some(&*allows[i].0)
    })
    .into_iter()
    .flatten()
    .collect();
    let rules = crate::par::map(threads, kept.len(), 1024, |i| kept[i].clone());
    let mut isolations = program.isolations.clone();
    isolations.sort();
    isolations.dedup();
    let mut tests = program.tests.clone();
    tests.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(Program {
        profile: program.profile.clone(),
        namespaces: program.namespaces.clone(),
        isolations,
        rules,
        tests,
    })
}

/// A rule ordered as [`Rule`]'s own `Ord` orders it (field by field, in declaration
/// order), with the parts rules share (one `Arc` of a selector, of ports, of an origin)
/// equal at once instead of compared element by element: sorting the lowered rules
/// compared whole selectors and origins of neighbours that share them.
struct Canonical<'p>(Piece<'p>);

/// A piece of an allow left by the denies: the allow itself, borrowed (most allows), or
/// a part of it. Two words either way: the pieces of every allow are gathered, sorted
/// and deduplicated, moved many times on the way (a rule in place is many words).
enum Piece<'p> {
    Borrowed(&'p Rule),
    Owned(Box<Rule>),
}

impl std::ops::Deref for Piece<'_> {
    type Target = Rule;

    fn deref(&self) -> &Rule {
        match self {
            Piece::Borrowed(r) => r,
            Piece::Owned(r) => r,
        }
    }
}

impl PartialEq for Canonical<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == std::cmp::Ordering::Equal
    }
}

impl Eq for Canonical<'_> {}

impl PartialOrd for Canonical<'_> {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Canonical<'_> {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        let (a, b) = (&*self.0, &*other.0);
        a.subject
            .scope
            .cmp(&b.subject.scope)
            .then_with(|| cmp_selectors(&a.subject.pods, &b.subject.pods))
            .then_with(|| a.direction.cmp(&b.direction))
            .then_with(|| a.action.cmp(&b.action))
            .then_with(|| match (&a.peer, &b.peer) {
                (
                    Peer::Pods {
                        namespaces: an,
                        pods: ap,
                    },
                    Peer::Pods {
                        namespaces: bn,
                        pods: bp,
                    },
                ) => cmp_selectors(an, bn).then_with(|| cmp_selectors(ap, bp)),
                (pa, pb) => pa.cmp(pb),
            })
            .then_with(|| match (&a.ports, &b.ports) {
                (Ports::Only(x), Ports::Only(y)) if std::sync::Arc::ptr_eq(x, y) => {
                    std::cmp::Ordering::Equal
                }
                (pa, pb) => pa.cmp(pb),
            })
            .then_with(|| a.http.cmp(&b.http))
            .then_with(|| {
                if std::sync::Arc::ptr_eq(&a.origin, &b.origin) {
                    std::cmp::Ordering::Equal
                } else {
                    a.origin.cmp(&b.origin)
                }
            })
    }
}

/// `a.cmp(b)`, equal at once for one shared selector.
fn cmp_selectors(a: &crate::LabelSelector, b: &crate::LabelSelector) -> std::cmp::Ordering {
    if a.is_same(b) {
        std::cmp::Ordering::Equal
    } else {
        a.cmp(b)
    }
}

/// Secondary labels for optional spans.
trait OptSecondary {
    fn with_opt_label_secondary(self, span: Option<netpolc_source::Span>, msg: &str) -> Self;
}

impl OptSecondary for Diagnostic {
    fn with_opt_label_secondary(self, span: Option<netpolc_source::Span>, msg: &str) -> Self {
        match span {
            Some(s) if self.labels.is_empty() => self.with_label(s, msg),
            Some(s) => self.with_secondary(s, msg),
            None => self,
        }
    }
}

fn dir_word(d: Direction) -> &'static str {
    match d {
        Direction::Ingress => "ingress",
        Direction::Egress => "egress",
    }
}

fn restrict_scope(scope: &Scope, keep: &BTreeSet<&str>) -> Option<Scope> {
    match scope {
        Scope::Namespace(n) => keep.contains(n.as_str()).then(|| scope.clone()),
        Scope::Cluster(set) => {
            let sub: BTreeSet<String> = set
                .iter()
                .filter(|n| keep.contains(n.as_str()))
                .cloned()
                .collect();
            (!sub.is_empty()).then_some(Scope::Cluster(sub))
        }
    }
}

/// Whether every flow a deny rule on the open side of namespace `ns` covers is also
/// denied on the isolated opposite side by a rule of the same intent.
///
/// The deny's peer must name its namespaces (`kubernetes.io/metadata.name in (...)`, so
/// that no unmanaged namespace hides behind a label), every one of them isolated in the
/// opposite direction, and in each a deny of the same intent must select the peer pods
/// and cover this side's pods (by selector, or as `anywhere`) and ports.
fn mirrored(program: &Program, x: &Rule, ns: &str) -> bool {
    let Peer::Pods { namespaces, pods } = &x.peer else {
        return false;
    };
    let Some(others) = named_namespaces(namespaces) else {
        return false;
    };
    let opposite = match x.direction {
        Direction::Ingress => Direction::Egress,
        Direction::Egress => Direction::Ingress,
    };
    let Some(my_ns_labels) = program.namespaces.get(ns).map(|n| &n.labels) else {
        return false;
    };
    let covers_me = |peer: &Peer| match peer {
        Peer::Any => true,
        Peer::Pods {
            namespaces: n2,
            pods: p2,
        } => n2.matches(my_ns_labels) && x.subject.pods.subset_of(p2),
        _ => false,
    };
    others.into_iter().all(|other_ns| {
        program.is_isolated(other_ns, opposite)
            && program.rules.iter().any(|m| {
                m.action == Action::Deny
                    && m.direction == opposite
                    && same_intent(&m.origin, &x.origin)
                    && m.subject.scope.contains(other_ns)
                    && pods.subset_of(&m.subject.pods)
                    && covers_me(&m.peer)
                    && covers_ports(&m.ports, &x.ports)
            })
    })
}

/// The namespaces a selector names, when it is exactly `kubernetes.io/metadata.name in
/// (...)` (or `=`); `None` for any other selector.
fn named_namespaces(namespaces: &crate::LabelSelector) -> Option<Vec<&str>> {
    let mut reqs = namespaces.requirements();
    let first = reqs.next()?;
    if reqs.next().is_some()
        || first.key != crate::NAMESPACE_NAME_LABEL
        || first.op != crate::Op::In
        || first.values.is_empty()
    {
        return None;
    }
    Some(first.values.iter().map(String::as_str).collect())
}

fn same_intent(a: &Origin, b: &Origin) -> bool {
    a.file == b.file && a.set == b.set && a.intent == b.intent && a.preset == b.preset
}

fn covers_ports(outer: &Ports, inner: &Ports) -> bool {
    match (outer, inner) {
        (Ports::Any, _) => true,
        (Ports::Only(_), Ports::Any) => false,
        (Ports::Only(o), Ports::Only(i)) => i.is_subset(o),
    }
}

#[cfg(test)]
type SubResult = Result<Vec<Rule>, (&'static str, String)>;

/// `r ∖ x` as disjoint allow rules.
#[cfg(test)]
fn subtract(r: &Rule, x: &Rule, profile: &crate::ClusterProfile) -> SubResult {
    Ok(subtract_overlap(r, x, profile)?.unwrap_or_else(|| vec![r.clone()]))
}

/// `r ∖ x` as disjoint allow rules, or `Ok(None)` when `x` does not intersect `r` (then
/// `r` stays whole).
fn subtract_overlap(
    r: &Rule,
    x: &Rule,
    profile: &crate::ClusterProfile,
) -> Result<Option<Vec<Rule>>, (&'static str, String)> {
    // Split only where the deny really intersects the allow: subjects, peers and ports
    // must all overlap, otherwise the boxes are disjoint and the allow stays whole (one
    // object, not one per side of the deny's subject). The cheapest tests first, none of
    // them building anything: most denies a rule meets are in no namespace of it, on
    // other ports or of another kind of peer.
    let shares_a_namespace = match &r.subject.scope {
        Scope::Namespace(ns) => x.subject.scope.contains(ns),
        Scope::Cluster(set) => set.iter().any(|ns| x.subject.scope.contains(ns)),
    };
    if !shares_a_namespace || ports_disjoint(&r.ports, &x.ports) || peers_disjoint(&r.peer, &x.peer)
    {
        return Ok(None);
    }
    // Subjects.
    let common: BTreeSet<&str> = r
        .subject
        .scope
        .namespaces()
        .into_iter()
        .filter(|ns| x.subject.scope.contains(ns))
        .collect();
    // Subjects of one key's different values (most allows and denies a rule meets) are
    // told apart before anything is built.
    if surely_disjoint(&r.subject.pods, &x.subject.pods) {
        return Ok(None);
    }
    let Some(inside_scope) = restrict_scope(&r.subject.scope, &common) else {
        return Ok(None);
    };
    let Some(inside_pods) = r.subject.pods.and(&x.subject.pods) else {
        return Ok(None);
    };
    let Some((peer_rest, peer_common)) = peer_minus(&r.peer, &x.peer, profile)? else {
        return Ok(None);
    };
    let mut out = Vec::new();
    // 1. Subjects outside the deny keep the whole rule.
    let outside_ns: BTreeSet<&str> = r
        .subject
        .scope
        .namespaces()
        .into_iter()
        .filter(|ns| !common.contains(ns))
        .collect();
    if let Some(scope) = restrict_scope(&r.subject.scope, &outside_ns) {
        let mut piece = r.clone();
        piece.subject.scope = scope;
        out.push(piece);
    }
    for pods in r.subject.pods.minus(&x.subject.pods) {
        let mut piece = r.clone();
        piece.subject = Subject {
            scope: inside_scope.clone(),
            pods,
        };
        out.push(piece);
    }
    let inside = Subject {
        scope: inside_scope,
        pods: inside_pods,
    };
    // 2. and 3. Peers and ports within the overlapping subjects.
    for peer in peer_rest {
        let mut piece = r.clone();
        piece.subject = inside.clone();
        piece.peer = peer;
        out.push(piece);
    }
    if let Some(ports) = ports_minus(&r.ports, &x.ports)? {
        let mut piece = r.clone();
        piece.subject = inside;
        piece.peer = peer_common;
        piece.ports = ports;
        out.push(piece);
    }
    Ok(Some(out))
}

/// Whether some label key has an `In` test in both selectors with no value in common:
/// then no label set satisfies both (`a.and(b)` is `None`), told without building their
/// conjunction. `false` says nothing.
fn surely_disjoint(a: &crate::LabelSelector, b: &crate::LabelSelector) -> bool {
    let disjoint = a.requirements().any(|ra| {
        ra.op == crate::Op::In
            && b.requirements().any(|rb| {
                rb.op == crate::Op::In && rb.key == ra.key && ra.values.is_disjoint(&rb.values)
            })
    });
    debug_assert!(!disjoint || a.and(b).is_none(), "{a:?} and {b:?}");
    disjoint
}

/// Whether [`peer_minus`] finds `a` and `b` disjoint by their kinds alone (pods never
/// share an address with a block or an entity, nor two different entities), without
/// building anything.
fn peers_disjoint(a: &Peer, b: &Peer) -> bool {
    use Peer::*;
    match (a, b) {
        (Pods { .. }, Cidr(_) | Entity(_)) | (Cidr(_) | Entity(_), Pods { .. }) => true,
        (Entity(x), Entity(y)) => x != y,
        _ => false,
    }
}

/// `Ok(None)` when the peers are disjoint; otherwise `(a ∖ b as disjoint peers, a ∩ b)`.
/// `profile` gives the API server's addresses (which `kube-apiserver` means on
/// Kubernetes, rendered as `ipBlock`s of exactly those) and the pod networks.
#[allow(clippy::type_complexity)] // A one-off pair; a named struct would not read better.
fn peer_minus(
    a: &Peer,
    b: &Peer,
    profile: &crate::ClusterProfile,
) -> Result<Option<(Vec<Peer>, Peer)>, (&'static str, String)> {
    use Peer::*;
    let api = &profile.api_server_cidrs;
    match (a, b) {
        (_, Any) => Ok(Some((Vec::new(), a.clone()))),
        // Everything minus an address block: every pod (the block never overlaps the
        // cluster's networks), every address of the block's family outside it (and in
        // its holes), and every address of the other family.
        //
        // Address pieces leave the pod networks out: pods are the `Pods` piece, and a later
        // deny of pods must find every address piece disjoint from them (an `ipBlock`
        // matches pod addresses on some CNIs).
        (Any, Cidr(c)) => {
            let pod_networks = known_pod_networks(profile)?;
            let (whole, other) = whole_families(&c.net, pod_networks);
            // The front end keeps blocks off the cluster's networks; should one lie in
            // the pod networks anyway, refuse rather than call it disjoint.
            let Some((mut rest, common)) = whole.and_then(|w| cidr_minus(&w, c)) else {
                return Err((
                    codes::PEER_NOT_SUBTRACTABLE,
                    format!("`{}` lies in the pod networks", peer_word(b)),
                ));
            };
            rest.push(Pods {
                namespaces: crate::LabelSelector::all(),
                pods: crate::LabelSelector::all(),
            });
            rest.extend(other.map(Cidr));
            Ok(Some((rest, common)))
        }
        // Everything minus some pods: the other namespaces' pods, the other pods of the
        // matching namespaces, and every address outside the pod networks (so that an
        // `ipBlock` never matches a pod, on the CNIs that match pod addresses with it).
        (Any, Pods { namespaces, pods }) => {
            let all = crate::LabelSelector::all();
            let mut rest: Vec<Peer> = all
                .minus(namespaces)
                .into_iter()
                .map(|n| Pods {
                    namespaces: n,
                    pods: all.clone(),
                })
                .collect();
            rest.extend(all.minus(pods).into_iter().map(|p| Pods {
                namespaces: namespaces.clone(),
                pods: p,
            }));
            let pod_networks = known_pod_networks(profile)?;
            let v4: IpNet = "0.0.0.0/0".parse().expect("valid");
            let v6: IpNet = "::/0".parse().expect("valid");
            for net in [v4, v6] {
                if let Some(bl) = block(net, pod_networks.iter().copied()) {
                    rest.push(Cidr(bl));
                }
            }
            Ok(Some((rest, b.clone())))
        }
        (Any, _) => Err((
            codes::PEER_NOT_SUBTRACTABLE,
            format!(
                "\"anything\" minus `{}` has no exact NetworkPolicy form: {}, so no `ipBlock` can leave them out",
                peer_word(b),
                unknown_addresses(a, b)
            ),
        )),
        (
            Pods {
                namespaces: an,
                pods: ap,
            },
            Pods {
                namespaces: bn,
                pods: bp,
            },
        ) => {
            if surely_disjoint(an, bn) || surely_disjoint(ap, bp) {
                return Ok(None);
            }
            let (Some(cn), Some(cp)) = (an.and(bn), ap.and(bp)) else {
                return Ok(None);
            };
            let mut rest: Vec<Peer> = an
                .minus(bn)
                .into_iter()
                .map(|namespaces| Pods {
                    namespaces,
                    pods: ap.clone(),
                })
                .collect();
            rest.extend(ap.minus(bp).into_iter().map(|pods| Pods {
                namespaces: cn.clone(),
                pods,
            }));
            Ok(Some((
                rest,
                Pods {
                    namespaces: cn,
                    pods: cp,
                },
            )))
        }
        (Pods { .. }, Cidr(_)) | (Cidr(_), Pods { .. }) => Ok(None),
        (Pods { .. }, Entity(_)) | (Entity(_), Pods { .. }) => Ok(None),
        (Cidr(x), Cidr(y)) => Ok(cidr_minus(x, y)),
        (Entity(x), Entity(y)) if x == y => Ok(Some((Vec::new(), a.clone()))),
        // `kube-apiserver` is the profile's addresses: when none of them is in the block,
        // the two peers share no address and the allow stays whole.
        (Entity(crate::Entity::KubeApiserver), Cidr(c))
        | (Cidr(c), Entity(crate::Entity::KubeApiserver))
            if !api.is_empty() && api.iter().all(|net| outside_block(net, c)) =>
        {
            Ok(None)
        }
        (Entity(_), Entity(_)) => Ok(None),
        (Entity(crate::Entity::KubeApiserver), Cidr(_))
        | (Cidr(_), Entity(crate::Entity::KubeApiserver))
            if !api.is_empty() =>
        {
            Err((
                codes::PEER_NOT_SUBTRACTABLE,
                format!(
                    "the API server's addresses ({}) overlap `{}`: removing them from `kube-apiserver` has no exact NetworkPolicy form",
                    api.iter().map(ToString::to_string).collect::<Vec<_>>().join(", "),
                    if matches!(a, Cidr(_)) { peer_word(a) } else { peer_word(b) }
                ),
            ))
        }
        (Fqdn(_), _) | (_, Fqdn(_)) | (Entity(_), Cidr(_)) | (Cidr(_), Entity(_)) => Err((
            codes::PEER_NOT_SUBTRACTABLE,
            format!(
                "cannot decide exactly which addresses `{}` and `{}` share: {}",
                peer_word(a),
                peer_word(b),
                unknown_addresses(a, b)
            ),
        )),
    }
}

/// Why the addresses of `a` or `b` are not known when compiling.
fn unknown_addresses(a: &Peer, b: &Peer) -> String {
    let why = |p: &Peer| match p {
        Peer::Fqdn(f) => Some(format!(
            "the addresses `{f}` resolves to are only known at run time"
        )),
        Peer::Entity(crate::Entity::Host) => {
            Some("the node's addresses are not known when compiling".to_string())
        }
        Peer::Entity(crate::Entity::KubeApiserver) => {
            Some("the profile names no API server addresses (`apiServer.cidrs`)".to_string())
        }
        _ => None,
    };
    why(a)
        .or_else(|| why(b))
        .unwrap_or_else(|| "their addresses are not known when compiling".to_string())
}

/// The pod networks of the profile; an error when it names none (then no `ipBlock` can
/// be kept off the pods).
fn known_pod_networks(profile: &crate::ClusterProfile) -> Result<&[IpNet], (&'static str, String)> {
    if profile.pod_cidrs.is_empty() {
        return Err((
            codes::PEER_NOT_SUBTRACTABLE,
            "\"anything\" minus some peers needs the pod networks to keep `ipBlock`s off the pods, and the profile names none".to_string(),
        ));
    }
    Ok(&profile.pod_cidrs)
}

/// The address space of `net`'s family without the pod networks, and that of the other
/// family (each `None` when the pod networks cover it all).
fn whole_families(net: &IpNet, pod_networks: &[IpNet]) -> (Option<CidrBlock>, Option<CidrBlock>) {
    let v4: IpNet = "0.0.0.0/0".parse().expect("valid");
    let v6: IpNet = "::/0".parse().expect("valid");
    let (mine, other) = match net {
        IpNet::V4(_) => (v4, v6),
        IpNet::V6(_) => (v6, v4),
    };
    (
        block(mine, pod_networks.iter().copied()),
        block(other, pod_networks.iter().copied()),
    )
}

/// Whether no address of `net` is in `block` (outside its net, or inside one of its
/// holes).
fn outside_block(net: &IpNet, block: &CidrBlock) -> bool {
    let overlaps = block.net.contains(net) || net.contains(&block.net);
    !overlaps || block.except.iter().any(|hole| hole.contains(net))
}

fn peer_word(p: &Peer) -> String {
    match p {
        Peer::Pods { .. } => "pods".to_string(),
        Peer::Cidr(c) => c.to_string(),
        Peer::Entity(e) => e.as_str().to_string(),
        Peer::Fqdn(f) => f.clone(),
        Peer::Any => "anything".to_string(),
    }
}

fn intersect_net(a: &IpNet, b: &IpNet) -> Option<IpNet> {
    if a.contains(b) {
        Some(*b)
    } else if b.contains(a) {
        Some(*a)
    } else {
        None
    }
}

/// A block from a net and candidate holes: keeps the holes inside the net, drops holes
/// inside other holes; `None` if a hole covers the whole net.
fn block(net: IpNet, holes: impl IntoIterator<Item = IpNet>) -> Option<CidrBlock> {
    let mut inside: Vec<IpNet> = Vec::new();
    for h in holes {
        if h.contains(&net) {
            return None;
        }
        if net.contains(&h) {
            inside.push(h);
        }
    }
    inside.sort();
    inside.dedup();
    let kept: Vec<IpNet> = inside
        .iter()
        .filter(|h| !inside.iter().any(|o| o != *h && o.contains(*h)))
        .copied()
        .collect();
    Some(CidrBlock { net, except: kept })
}

/// `a ∖ b` and `a ∩ b` for address blocks; `None` when disjoint.
fn cidr_minus(a: &CidrBlock, b: &CidrBlock) -> Option<(Vec<Peer>, Peer)> {
    let common_net = intersect_net(&a.net, &b.net)?;
    let common = block(common_net, a.except.iter().chain(&b.except).copied())?;
    let mut rest = Vec::new();
    if a.net.contains(&b.net) {
        // a with b's net carved out, plus b's holes that lie in a.
        if a.net != b.net {
            if let Some(bl) = block(a.net, a.except.iter().copied().chain([b.net])) {
                rest.push(Peer::Cidr(bl));
            }
        }
        for hole in &b.except {
            if let Some(bl) = block(*hole, a.except.iter().copied()) {
                rest.push(Peer::Cidr(bl));
            }
        }
    } else {
        // a lies inside b: only b's holes inside a survive.
        for hole in &b.except {
            if let Some(net) = intersect_net(hole, &a.net) {
                if let Some(bl) = block(net, a.except.iter().copied()) {
                    rest.push(Peer::Cidr(bl));
                }
            }
        }
    }
    Some((rest, Peer::Cidr(common)))
}

/// Whether no port matches both `a` and `b`, as far as can be known without the pods
/// (named ports may be any number, so they are never disjoint from a number or another
/// name of the same protocol).
fn ports_disjoint(a: &Ports, b: &Ports) -> bool {
    let (Ports::Only(a), Ports::Only(b)) = (a, b) else {
        return false;
    };
    a.iter().all(|pa| {
        b.iter()
            .filter(|pb| pb.protocol == pa.protocol)
            .all(|pb| match (&pa.port, &pb.port) {
                (
                    PortSpec::Range { start: s1, end: e1 },
                    PortSpec::Range { start: s2, end: e2 },
                ) => e1 < s2 || e2 < s1,
                _ => false,
            })
    })
}

/// `a ∖ b`; `Ok(None)` when nothing is left.
fn ports_minus(a: &Ports, b: &Ports) -> Result<Option<Ports>, (&'static str, String)> {
    let (a, b) = match (a, b) {
        (_, Ports::Any) => return Ok(None),
        (Ports::Any, Ports::Only(_)) => {
            return Err((
                codes::PORTS_NOT_SUBTRACTABLE,
                "\"any port\" minus some ports would also drop protocols NetworkPolicy cannot name (e.g. ICMP)".to_string(),
            ))
        }
        (Ports::Only(a), Ports::Only(b)) => (a, b),
    };
    let mut out: BTreeSet<PortMatch> = BTreeSet::new();
    for pa in a.iter() {
        let mut left = vec![pa.port.clone()];
        for pb in b.iter().filter(|pb| pb.protocol == pa.protocol) {
            let mut next = Vec::new();
            for spec in left {
                next.extend(spec_minus(&spec, &pb.port, pa.protocol)?);
            }
            left = next;
        }
        out.extend(left.into_iter().map(|port| PortMatch {
            protocol: pa.protocol,
            port,
        }));
    }
    Ok((!out.is_empty()).then_some(Ports::Only(out.into())))
}

fn spec_minus(
    a: &PortSpec,
    b: &PortSpec,
    protocol: Protocol,
) -> Result<Vec<PortSpec>, (&'static str, String)> {
    use PortSpec::*;
    let range = |s: u16, e: u16| (s <= e).then_some(Range { start: s, end: e });
    Ok(match (a, b) {
        (_, All) => Vec::new(),
        (All, Range { start, end }) if protocol.has_ports() => [
            start.checked_sub(1).and_then(|e| range(1, e)),
            end.checked_add(1).and_then(|s| range(s, 65535)),
        ]
        .into_iter()
        .flatten()
        .collect(),
        (Range { start: s1, end: e1 }, Range { start: s2, end: e2 }) => {
            if e2 < s1 || s2 > e1 {
                vec![a.clone()]
            } else {
                [
                    s2.checked_sub(1).and_then(|e| range(*s1, e.min(*e1))),
                    e2.checked_add(1).and_then(|s| range(s.max(*s1), *e1)),
                ]
                .into_iter()
                .flatten()
                .collect()
            }
        }
        (Named(x), Named(y)) if x == y => Vec::new(),
        (Icmp { .. }, Icmp { .. }) if a == b => Vec::new(),
        _ => {
            let why = if matches!(a, Icmp { .. }) || matches!(b, Icmp { .. }) {
                "ICMP types and codes cannot be split into an exact remainder"
            } else {
                "a named port's number is only known on the pod"
            };
            return Err((
                codes::PORTS_NOT_SUBTRACTABLE,
                format!(
                    "ports `{}` minus `{}` has no exact form ({why})",
                    PortMatch {
                        protocol,
                        port: a.clone()
                    },
                    PortMatch {
                        protocol,
                        port: b.clone()
                    }
                ),
            ));
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Entity, LabelSelector};

    fn rule(action: Action, peer: Peer, ports: Ports, intent: &str) -> Rule {
        Rule {
            subject: Subject {
                scope: Scope::Namespace("ops".into()),
                pods: LabelSelector::all(),
            },
            direction: Direction::Egress,
            action,
            peer,
            ports,
            http: Vec::new(),
            origin: std::sync::Arc::new(Origin {
                file: "policies/ops.yaml".into(),
                set: "ops".into(),
                intent: intent.into(),
                preset: None,
                span: None,
            }),
        }
    }

    fn cidr(s: &str) -> Peer {
        Peer::Cidr(CidrBlock {
            net: s.parse().unwrap(),
            except: Vec::new(),
        })
    }

    #[test]
    fn the_api_server_minus_a_block_is_whole_when_disjoint_and_refused_with_why_otherwise() {
        let mut profile = crate::ClusterProfile::default();
        let allow = rule(
            Action::Allow,
            Peer::Entity(Entity::KubeApiserver),
            Ports::Any,
            "a",
        );
        let deny = rule(Action::Deny, cidr("169.254.169.254/32"), Ports::Any, "b");
        // Unknown addresses: refused, and the note says what is missing.
        let (code, why) = subtract(&allow, &deny, &profile).unwrap_err();
        assert_eq!(code, codes::PEER_NOT_SUBTRACTABLE);
        assert!(why.contains("apiServer.cidrs"), "{why}");
        // Known and disjoint: the allow is untouched.
        profile.api_server_cidrs = vec!["172.20.0.10/32".parse().unwrap()];
        assert_eq!(
            subtract(&allow, &deny, &profile).unwrap(),
            vec![allow.clone()]
        );
        // Known and inside the block: refused, naming the addresses.
        let wide = rule(Action::Deny, cidr("172.20.0.0/16"), Ports::Any, "b");
        let (_, why) = subtract(&allow, &wide, &profile).unwrap_err();
        assert!(
            why.contains("172.20.0.10/32") && why.contains("overlap"),
            "{why}"
        );
    }

    #[test]
    fn anything_minus_a_block_keeps_every_pod_and_every_other_address() {
        let profile = crate::ClusterProfile::default();
        let allow = rule(Action::Allow, Peer::Any, Ports::Any, "a");
        let deny = rule(Action::Deny, cidr("198.51.100.0/24"), Ports::Any, "b");
        let pieces = subtract(&allow, &deny, &profile).unwrap();
        let peers: Vec<String> = pieces.iter().map(|r| peer_word(&r.peer)).collect();
        assert_eq!(
            peers,
            [
                "0.0.0.0/0 except 10.244.0.0/16, 198.51.100.0/24",
                "pods",
                "::/0"
            ]
        );
        // DNS names stay refused, with the reason.
        let fqdn = rule(
            Action::Deny,
            Peer::Fqdn("a.example.com".into()),
            Ports::Any,
            "b",
        );
        let (_, why) = subtract(&allow, &fqdn, &profile).unwrap_err();
        assert!(why.contains("only known at run time"), "{why}");
    }
}
