//! `netpolc diff`: the connectivity two versions of a repository allow, compared.
//!
//! Both versions are evaluated on **one model** derived from both (the union of their
//! rules tells apart every pod class either version tells apart; namespace labels are
//! taken from the new version, as they describe the cluster). Each *reading* of a
//! version (the intended meaning; a back end's compiled output; plain manifests as one
//! CNI enforces them) is evaluated on the base and on the new version, and the
//! connectivity map's machinery ([`crate::connectivity::compare`]) groups the pairs of
//! pod classes and address ranges whose allowed ports changed into rows: *widened* (ports
//! the new version allows and the base did not) and *narrowed* (the reverse). A row
//! names the readings on which it holds: a row that holds on some readings only is a
//! *divergence* (a back end whose output does not change as the intents do, or two CNIs
//! that read the same manifests differently).
//!
//! Each row carries its causes: for one witness flow of the row, each side (egress of
//! the source, ingress of the destination) whose verdict changed, with the deciding
//! intent (or object and rule) and where it is written, on both versions.
//!
//! Rules the model cannot decide (to DNS names, HTTP constraints) are compared rule by
//! rule (`rule_changes`).
//!
//! **Cost.** For intents, only the sides whose rules or isolation changed are looked at
//! ([`Focus`]): a namespace whose rules are the same in both versions (whatever their
//! names, files or lines) keeps its sides; its pairs with a changed side are still
//! computed. Renaming an intent changes nothing and is answered before any model is
//! built. The work is one model (derived from both versions' rules without copying
//! them), what each side mentions (one pass over the pod classes, as in the proof), and
//! the pairs that touch a changed side: only the sides those pairs meet are prepared
//! ([`Diff::stats`] counts them; a namespace that neither sends to nor receives from a
//! changed side is never prepared).
//!
//! The base version of a Git repository is read with `git ls-tree` and `git cat-file`
//! ([`read_git`]): nothing is checked out.

use crate::connectivity::{self, Focus, Pair, PortSet, Row, Stats};
use crate::load::{File, Loaded, MAX_FILE_BYTES};
use crate::verify::IntentSpans;
use netpolc_ir::model::{ClusterModel, Decision, Evaluator, Flow, Side};
use netpolc_ir::{Direction, Program, Rule};
use netpolc_source::{Diagnostic, SourceMap};
use serde_json::{json, Value};
use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead as _, Read as _, Write as _};
use std::net::IpAddr;
use std::path::{Component, Path, PathBuf};
use std::process::{Command, Stdio};

/// Diagnostic codes of `diff`.
pub mod codes {
    /// `git` cannot be run.
    pub const GIT: &str = "NP8001";
    /// The base revision (or the repository) cannot be read.
    pub const BASE: &str = "NP8002";
    /// An entry of the base revision is not a regular file (a link, a submodule).
    pub const BASE_ENTRY: &str = "NP8003";
}

/// Whether a change opens or closes connectivity.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Kind {
    /// The new version allows what the base did not.
    Widened,
    /// The new version denies what the base allowed.
    Narrowed,
}

impl Kind {
    /// `widened` or `narrowed`.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Widened => "widened",
            Kind::Narrowed => "narrowed",
        }
    }
}

/// One side's verdict in one version, for a cause.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SideInfo {
    /// `allowed`, `denied`, `default deny`, `open` (not isolated) or `n/a`.
    pub verdict: String,
    /// The deciding intent (`set/intent`), or object and rule for manifests.
    pub by: Option<String>,
    /// Where it is written: `file:line`.
    pub location: Option<String>,
}

/// Why a row changed: one side whose verdict changed, on one reading.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Cause {
    /// `egress` (of the source) or `ingress` (of the destination).
    pub direction: &'static str,
    /// The side in the base version.
    pub base: SideInfo,
    /// The side in the new version.
    pub new: SideInfo,
}

/// One changed row.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Change {
    /// Widened or narrowed.
    pub kind: Kind,
    /// Sources, named as in `eval`'s map (`ns/app=web`, `ns/*`, `*`, `world`, a CIDR).
    pub from: Vec<String>,
    /// Destinations.
    pub to: Vec<String>,
    /// Ports (`8080/tcp`, `1-8079/tcp`, `all/udp`).
    pub ports: Vec<String>,
    /// The readings on which the change holds (all of them unless the row diverges).
    pub readings: Vec<String>,
    /// A namespace group (`NS1`) when the row is a pattern holding in each of them.
    pub group: Option<String>,
    /// The sides that changed, with their deciding intents, for one witness flow.
    pub causes: Vec<Cause>,
}

/// The result of a diff.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Diff {
    /// What the base is (`HEAD`, a folder, manifests).
    pub base: String,
    /// What the new version is.
    pub new: String,
    /// The readings compared (`intended`, `kubernetes`, ..., `calico -> cilium`).
    pub readings: Vec<String>,
    /// The changes, widened first.
    pub changes: Vec<Change>,
    /// Namespace groups of pattern rows.
    pub groups: Vec<(String, Vec<String>)>,
    /// Remarks (namespace labels that changed, ...).
    pub notes: Vec<String>,
    /// What the comparison prepared (empty when it was answered without a model).
    pub stats: Stats,
}

/// One reading of both versions.
pub struct Reading<'a> {
    /// Its name.
    pub name: String,
    /// The base version under this reading.
    pub base: &'a dyn Evaluator,
    /// The new version under this reading.
    pub new: &'a dyn Evaluator,
}

/// Where intents are written, for causes: the qualified intent name → `file:line`.
pub type Locate<'a> = dyn Fn(bool, &str) -> Option<String> + 'a;

/// Namespace groups of pattern rows (`NS1` → names).
pub type Groups = Vec<(String, Vec<String>)>;

/// A diff key: kind, readings, causes.
type Key = (Kind, Vec<usize>, Vec<Cause>);

/// Compares every reading's base and new version on `model`.
///
/// The model is taken as it is when owned, copied otherwise (see
/// [`connectivity::compare`]).
pub fn compare(
    model: Cow<'_, ClusterModel>,
    secondary: &[IpAddr],
    readings: &[Reading<'_>],
    focus: Option<&Focus>,
    locate: &Locate<'_>,
) -> (Vec<Change>, Groups, Stats) {
    let evals: Vec<&dyn Evaluator> = readings.iter().flat_map(|r| [r.base, r.new]).collect();
    let names: Vec<String> = readings.iter().map(|r| r.name.clone()).collect();
    // Outside the focus, each reading's base decides every side as its new version does.
    let focus = focus.map(|f| Focus {
        alike: (0..readings.len()).map(|r| (2 * r, 2 * r + 1)).collect(),
        ..f.clone()
    });
    let compared = connectivity::compare(model, secondary, &evals, focus.as_ref(), |pair| {
        classify(pair, readings, locate)
    });
    let mut changes: Vec<Change> = compared
        .rows
        .into_iter()
        .map(|(row, (kind, rs, causes))| change(row, kind, &rs, &names, causes))
        .collect();
    changes.sort();
    (changes, compared.groups, compared.stats)
}

fn change(row: Row, kind: Kind, rs: &[usize], names: &[String], causes: Vec<Cause>) -> Change {
    Change {
        kind,
        from: row.from,
        to: row.to,
        ports: row.ports,
        readings: rs.iter().map(|r| names[*r].clone()).collect(),
        group: row.group,
        causes,
    }
}

/// Splits one pair's ports into (kind, readings) sets and finds each one's causes.
fn classify(pair: &Pair<'_>, readings: &[Reading<'_>], locate: &Locate<'_>) -> Vec<(Key, PortSet)> {
    // Most pairs met are unchanged on every reading.
    if pair.allowed.chunks(2).all(|v| v.first() == v.get(1)) {
        return Vec::new();
    }
    let words = pair.allowed.first().map_or(0, Vec::len);
    let mut out: BTreeMap<(Kind, Vec<usize>), PortSet> = BTreeMap::new();
    for kind in [Kind::Widened, Kind::Narrowed] {
        let per: Vec<PortSet> = (0..readings.len())
            .map(|r| {
                let (base, new) = (&pair.allowed[2 * r], &pair.allowed[2 * r + 1]);
                match kind {
                    Kind::Widened => connectivity::minus(new, base),
                    Kind::Narrowed => connectivity::minus(base, new),
                }
            })
            .collect();
        if per.iter().all(connectivity::none) {
            continue;
        }
        for w in 0..words {
            for bit in 0..64 {
                let rs: Vec<usize> = (0..readings.len())
                    .filter(|r| per[*r][w] & (1 << bit) != 0)
                    .collect();
                if rs.is_empty() {
                    continue;
                }
                let set = out.entry((kind, rs)).or_insert_with(|| vec![0; words]);
                set[w] |= 1 << bit;
            }
        }
    }
    out.into_iter()
        .map(|((kind, rs), set)| {
            let causes = match pair.first_port(&set) {
                Some((protocol, port)) => {
                    let flow = Flow {
                        src: pair.from,
                        dst: pair.to,
                        protocol,
                        port,
                    };
                    causes(pair.model, &flow, &readings[rs[0]], locate)
                }
                None => Vec::new(),
            };
            ((kind, rs, causes), set)
        })
        .collect()
}

/// The sides of `flow` whose verdict changed between the versions of a reading.
fn causes(model: &ClusterModel, flow: &Flow, r: &Reading<'_>, locate: &Locate<'_>) -> Vec<Cause> {
    let intended = r.name == "intended";
    let mut out = Vec::new();
    for d in [Direction::Egress, Direction::Ingress] {
        let base = r.base.side(model, flow, d);
        let new = r.new.side(model, flow, d);
        if base.allows() == new.allows() {
            continue;
        }
        out.push(Cause {
            direction: match d {
                Direction::Egress => "egress",
                Direction::Ingress => "ingress",
            },
            base: side_info(&base, intended, &|q| locate(true, q)),
            new: side_info(&new, intended, &|q| locate(false, q)),
        });
    }
    out
}

fn side_info(s: &Side, intended: bool, locate: &dyn Fn(&str) -> Option<String>) -> SideInfo {
    let decided = |verdict: &str, d: &Decision| {
        let by = match (&d.intent, intended) {
            (Some(i), true) => i.clone(),
            (Some(i), false) => format!("{} {} (intent {i})", d.object, d.rule),
            (None, _) => format!("{} {}", d.object, d.rule),
        };
        SideInfo {
            verdict: verdict.to_string(),
            by: Some(by),
            location: d.intent.as_deref().and_then(locate),
        }
    };
    match s {
        Side::NotApplicable => plain("n/a"),
        Side::Open => plain("open"),
        Side::Allowed(d) => decided("allowed", d),
        Side::Denied(d) => decided("denied", d),
        Side::DefaultDeny(objs) => SideInfo {
            verdict: "default deny".to_string(),
            by: objs.first().cloned(),
            location: objs.first().and_then(|o| locate(o)),
        },
    }
}

fn plain(verdict: &str) -> SideInfo {
    SideInfo {
        verdict: verdict.to_string(),
        by: None,
        location: None,
    }
}

/// What a rule means, without where it is written or what it is called.
type Meaning<'a> = (
    &'a netpolc_ir::Subject,
    Direction,
    netpolc_ir::Action,
    &'a netpolc_ir::Peer,
    &'a netpolc_ir::Ports,
    &'a [netpolc_ir::HttpRule],
);

fn meaning(r: &Rule) -> Meaning<'_> {
    (
        &r.subject,
        r.direction,
        r.action,
        &r.peer,
        &r.ports,
        r.http.as_slice(),
    )
}

/// The rules of each program without a partner of equal meaning in the other: a merge
/// of the two rule lists (sorted, so equal meanings are adjacent). Unsorted input would
/// only leave more rules unmatched, never fewer.
fn unmatched<'a>(base: &'a Program, new: &'a Program) -> (Vec<&'a Rule>, Vec<&'a Rule>) {
    let (a, b) = (&base.rules, &new.rules);
    let (mut gone, mut added) = (Vec::new(), Vec::new());
    let (mut i, mut j) = (0, 0);
    while i < a.len() || j < b.len() {
        let order = match (a.get(i), b.get(j)) {
            (Some(x), Some(y)) => meaning(x).cmp(&meaning(y)),
            (Some(_), None) => std::cmp::Ordering::Less,
            (None, _) => std::cmp::Ordering::Greater,
        };
        match order {
            std::cmp::Ordering::Equal => {
                i += 1;
                j += 1;
            }
            std::cmp::Ordering::Less => {
                gone.push(&a[i]);
                i += 1;
            }
            std::cmp::Ordering::Greater => {
                added.push(&b[j]);
                j += 1;
            }
        }
    }
    (gone, added)
}

/// The sides whose rules or isolation differ between two programs (names, files and
/// lines aside); `None` when something global differs (the cluster profile), so that
/// every side must be looked at.
pub fn focus(base: &Program, new: &Program) -> Option<Focus> {
    let (gone, added) = unmatched(base, new);
    focus_of(base, new, &gone, &added)
}

/// [`focus`], with the rules [`unmatched`] found.
fn focus_of(base: &Program, new: &Program, gone: &[&Rule], added: &[&Rule]) -> Option<Focus> {
    if base.profile != new.profile {
        return None;
    }
    let mut f = Focus::default();
    let mut mark = |scope: &netpolc_ir::Scope, d: Direction| {
        let set = match d {
            Direction::Egress => &mut f.egress,
            Direction::Ingress => &mut f.ingress,
        };
        set.extend(scope.namespaces().into_iter().map(str::to_string));
    };
    for r in gone.iter().chain(added) {
        mark(&r.subject.scope, r.direction);
    }
    let iso = |p: &Program| -> BTreeSet<(String, Direction)> {
        p.namespaces
            .values()
            .flat_map(|n| n.isolated.iter().map(|d| (n.name.clone(), *d)))
            .collect()
    };
    let (a, b) = (iso(base), iso(new));
    for (ns, d) in a.symmetric_difference(&b) {
        mark(&netpolc_ir::Scope::Namespace(ns.clone()), *d);
    }
    Some(f)
}

/// The model of both versions: derived from the new version's namespaces and profile
/// (with the base's namespaces and unmanaged namespaces it lacks) and both versions'
/// rules (the new rules and the base rules without a partner of equal meaning), so that
/// it tells apart what either version tells apart. No rule is copied.
fn union_model(base: &Program, new: &Program, gone: &[&Rule]) -> ClusterModel {
    let mut p = Program {
        profile: new.profile.clone(),
        namespaces: new.namespaces.clone(),
        isolations: Vec::new(),
        rules: Vec::new(),
        tests: Vec::new(),
    };
    for (name, ns) in &base.namespaces {
        p.namespaces
            .entry(name.clone())
            .or_insert_with(|| ns.clone());
    }
    for (name, labels) in &base.profile.unmanaged_namespaces {
        p.profile
            .unmanaged_namespaces
            .entry(name.clone())
            .or_insert_with(|| labels.clone());
    }
    // Derivation reads the rules in any order: no need to sort them again.
    netpolc_ir::derive::derive_with_rules(&p, new.rules.iter().chain(gone.iter().copied()))
}

/// One version of a repository's intents, compiled.
pub struct Version<'a> {
    /// The program.
    pub program: &'a Program,
    /// Evaluators of the version's compiled output per back end, when compared too
    /// (same back ends, same order, in both versions).
    pub backends: Vec<(String, Box<dyn Evaluator + 'a>)>,
}

/// Diffs two versions of the intents. `sources` holds both versions' files (one id space).
pub fn intents(
    base: &Version<'_>,
    new: &Version<'_>,
    sources: &SourceMap,
    labels: (&str, &str),
) -> Diff {
    let mut diff = Diff {
        base: labels.0.to_string(),
        new: labels.1.to_string(),
        readings: std::iter::once("intended".to_string())
            .chain(new.backends.iter().map(|(n, _)| n.clone()))
            .collect(),
        ..Diff::default()
    };
    for (name, ns) in &new.program.namespaces {
        if let Some(old) = base.program.namespaces.get(name) {
            if old.labels != ns.labels {
                diff.notes.push(format!(
                    "namespace `{name}` changed its labels ({} -> {}); both versions are compared with the new labels",
                    label_text(&old.labels),
                    label_text(&ns.labels)
                ));
            }
        }
    }
    let (gone, added) = unmatched(base.program, new.program);
    // Built on first use: only rows need them.
    let spans = (
        std::cell::OnceCell::<IntentSpans>::new(),
        std::cell::OnceCell::<IntentSpans>::new(),
    );
    let locate = |is_base: bool, q: &str| {
        let s = if is_base {
            spans.0.get_or_init(|| IntentSpans::new(base.program))
        } else {
            spans.1.get_or_init(|| IntentSpans::new(new.program))
        };
        s.get(q).map(|span| {
            let (line, _) = sources.line_col(span);
            format!("{}:{line}", sources.get(span.file).name())
        })
    };
    // Rules the model cannot decide (to DNS names, with HTTP constraints): compared rule
    // by rule.
    let mut by_name = rule_changes(&gone, &added, &locate, &diff.readings);
    let focus = focus_of(base.program, new.program, &gone, &added);
    if focus
        .as_ref()
        .is_some_and(|f| f.egress.is_empty() && f.ingress.is_empty())
    {
        diff.changes = by_name;
        return diff;
    }
    let model = union_model(base.program, new.program, &gone);
    drop((gone, added));
    let (bi, ni) = (
        netpolc_ir::eval::intended(base.program),
        netpolc_ir::eval::intended(new.program),
    );
    let mut readings = vec![Reading {
        name: "intended".to_string(),
        base: &bi,
        new: &ni,
    }];
    for ((name, b), (_, n)) in base.backends.iter().zip(&new.backends) {
        readings.push(Reading {
            name: name.clone(),
            base: b.as_ref(),
            new: n.as_ref(),
        });
    }
    let (mut changes, groups, stats) =
        compare(Cow::Owned(model), &[], &readings, focus.as_ref(), &locate);
    // Widened first, as `compare` orders its own.
    changes.append(&mut by_name);
    changes.sort_by_key(|c| c.kind);
    diff.changes = changes;
    diff.groups = groups;
    diff.stats = stats;
    diff
}

/// The rules whose meaning the model cannot decide that one version has and the other
/// has not, as changes: rules to DNS names (`fqdns` groups: the model has no endpoint a
/// DNS name matches) and HTTP constraints (the model decides ports, not requests).
///
/// - A rule to a DNS name: an allow added, or a deny gone, is *widened*; the reverse
///   *narrowed*. A rule that changed is its old form gone and its new one added.
/// - HTTP: the rules of one subject, direction, action, other end and ports are taken
///   together when any of them has HTTP constraints; their requests (`METHOD PATH`,
///   `* *` for a rule without constraints, which allows every request) in the new
///   version and not in the base are *widened* (unless the base allowed every request),
///   the reverse *narrowed* (unless the new version allows every request). Requests are
///   compared as written: a request that another one already covers still counts.
///
/// The two sides an intent makes (egress of the source, ingress of the destination) are
/// one change with a cause each. Every reading holds the change: each compiles the same
/// intents.
fn rule_changes(
    gone: &[&Rule],
    added: &[&Rule],
    locate: &Locate<'_>,
    readings: &[String],
) -> Vec<Change> {
    let side = |r: &Rule, present: bool, is_base: bool| {
        let verdict = match (present, r.action) {
            (false, _) => "no rule",
            (true, netpolc_ir::Action::Allow) => "allowed",
            (true, _) => "denied",
        };
        let q = r.origin.qualified();
        SideInfo {
            verdict: verdict.to_string(),
            location: present.then(|| locate(is_base, &q)).flatten(),
            by: present.then_some(q),
        }
    };
    // An allow the new version has, or a deny it has not, widens.
    let kind = |r: &Rule, is_new: bool| {
        if (r.action == netpolc_ir::Action::Allow) == is_new {
            Kind::Widened
        } else {
            Kind::Narrowed
        }
    };
    let ends = |r: &Rule| {
        let (subject, peer) = (
            connectivity::subject_text(r),
            connectivity::peer_text(&r.peer),
        );
        match r.direction {
            Direction::Egress => (subject, peer, "egress"),
            Direction::Ingress => (peer, subject, "ingress"),
        }
    };
    let cause = |r: &Rule, is_new: bool, direction| Cause {
        direction,
        base: side(r, !is_new, true),
        new: side(r, is_new, false),
    };
    let mut by: BTreeMap<(Kind, String, String, String), Vec<Cause>> = BTreeMap::new();
    // To DNS names, rule by rule.
    for (rules, is_new) in [(gone, false), (added, true)] {
        for r in rules.iter().copied() {
            if !matches!(r.peer, netpolc_ir::Peer::Fqdn(_)) {
                continue;
            }
            let (from, to, direction) = ends(r);
            by.entry((kind(r, is_new), from, to, r.ports.to_string()))
                .or_default()
                .push(cause(r, is_new, direction));
        }
    }
    // HTTP: requests per rule meaning but the requests (subject, direction, action,
    // other end, ports), in both versions.
    type Requests<'r> = [BTreeMap<(String, String), Vec<&'r Rule>>; 2];
    let mut groups: BTreeMap<_, Requests<'_>> = BTreeMap::new();
    for (rules, version) in [(gone, 0), (added, 1)] {
        for r in rules.iter().copied() {
            if matches!(r.peer, netpolc_ir::Peer::Fqdn(_)) {
                continue;
            }
            let (subject, direction, action, peer, ports, _) = meaning(r);
            let key = (subject, direction, action, peer, ports);
            let requests: Vec<(String, String)> = if r.http.is_empty() {
                vec![("*".to_string(), "*".to_string())]
            } else {
                r.http
                    .iter()
                    .map(|h| {
                        (
                            h.method.clone().unwrap_or_else(|| "*".to_string()),
                            h.path.clone().unwrap_or_else(|| "*".to_string()),
                        )
                    })
                    .collect()
            };
            let slot = &mut groups.entry(key).or_default()[version];
            for q in requests {
                slot.entry(q).or_default().push(r);
            }
        }
    }
    let every = ("*".to_string(), "*".to_string());
    for ((_, _, _, _, ports), [old, new]) in &groups {
        let constrained =
            |m: &BTreeMap<(String, String), Vec<&Rule>>| m.keys().any(|q| *q != every);
        if !constrained(old) && !constrained(new) {
            // Ports only: the model decides them.
            continue;
        }
        for (mine, theirs, is_new) in [(new, old, true), (old, new, false)] {
            if theirs.contains_key(&every) {
                continue;
            }
            for (q, rules) in mine {
                if theirs.contains_key(q) {
                    continue;
                }
                for r in rules {
                    let (from, to, direction) = ends(r);
                    let ports = format!("{ports} http {} {}", q.0, q.1);
                    by.entry((kind(r, is_new), from, to, ports))
                        .or_default()
                        .push(cause(r, is_new, direction));
                }
            }
        }
    }
    by.into_iter()
        .map(|((kind, from, to, ports), mut causes)| {
            causes.sort();
            causes.dedup();
            Change {
                kind,
                from: vec![from],
                to: vec![to],
                ports: vec![ports],
                readings: readings.to_vec(),
                group: None,
                causes,
            }
        })
        .collect()
}

fn label_text(labels: &BTreeMap<String, String>) -> String {
    let parts: Vec<String> = labels
        .iter()
        .filter(|(k, _)| k.as_str() != netpolc_ir::NAMESPACE_NAME_LABEL)
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    if parts.is_empty() {
        "none".to_string()
    } else {
        parts.join(",")
    }
}

/// Diffs two sets of manifests on a cluster, one reading per CNI (or one reading across
/// CNIs, `calico -> cilium`).
pub fn manifests(
    model: &ClusterModel,
    secondary: &[IpAddr],
    readings: &[Reading<'_>],
    labels: (&str, &str),
    objects: (&[Value], &[Value]),
) -> Diff {
    let (changes, groups, stats) =
        compare(Cow::Borrowed(model), secondary, readings, None, &|_, _| {
            None
        });
    // The model has no endpoint for a DNS name and decides ports, not requests: what the
    // manifests say of those is not compared, and the diff says so.
    let (old, new) = (uncompared(objects.0), uncompared(objects.1));
    let notes = if old + new > 0 {
        vec![format!(
            "Cilium rules to DNS names (`toFQDNs`) and L7 rules (`toPorts[].rules`) are not compared: {old} in the base manifests, {new} in the new ones; compare them by hand, or diff the intents"
        )]
    } else {
        Vec::new()
    };
    Diff {
        base: labels.0.to_string(),
        new: labels.1.to_string(),
        readings: readings.iter().map(|r| r.name.clone()).collect(),
        changes,
        groups,
        notes,
        stats,
    }
}

/// How many `toFQDNs` lists and `rules` (L7) of `toPorts` entries the Cilium objects
/// of `objects` hold, non-empty ones only.
fn uncompared(objects: &[Value]) -> usize {
    fn count(v: &Value, in_ports: bool) -> usize {
        match v {
            Value::Object(m) => m
                .iter()
                .map(|(k, v)| {
                    let here = match k.as_str() {
                        "toFQDNs" => v.as_array().is_some_and(|a| !a.is_empty()),
                        "rules" => in_ports && v.as_object().is_some_and(|r| !r.is_empty()),
                        _ => false,
                    };
                    usize::from(here) + count(v, k == "toPorts")
                })
                .sum(),
            Value::Array(items) => items.iter().map(|i| count(i, in_ports)).sum(),
            _ => 0,
        }
    }
    objects
        .iter()
        .filter(|o| {
            o.get("apiVersion")
                .and_then(Value::as_str)
                .is_some_and(|a| a.starts_with("cilium.io/"))
        })
        .map(|o| count(o, false))
        .sum()
}

impl Diff {
    /// How many changes of a kind.
    pub fn count(&self, kind: Kind) -> usize {
        self.changes.iter().filter(|c| c.kind == kind).count()
    }

    /// Changes that hold on some readings only.
    pub fn divergent(&self) -> usize {
        self.changes
            .iter()
            .filter(|c| c.readings.len() != self.readings.len())
            .count()
    }

    /// `2 changes: 1 widened, 1 narrowed` or `no connectivity change`.
    pub fn summary(&self) -> String {
        if self.changes.is_empty() {
            return "no connectivity change".to_string();
        }
        let n = self.changes.len();
        let mut s = format!(
            "{n} change{}: {} widened, {} narrowed",
            if n == 1 { "" } else { "s" },
            self.count(Kind::Widened),
            self.count(Kind::Narrowed)
        );
        let d = self.divergent();
        if d > 0 {
            s.push_str(&format!(", {d} on some readings only"));
        }
        s
    }

    /// ` [cilium only]` when a change does not hold on every reading.
    pub fn on(&self, c: &Change) -> String {
        if c.readings.len() == self.readings.len() {
            String::new()
        } else {
            format!(" [{} only]", c.readings.join(", "))
        }
    }

    /// The diff as text.
    pub fn to_text(&self) -> String {
        let mut s = format!(
            "# connectivity diff: {} -> {}: {} (readings: {})\n",
            self.base,
            self.new,
            self.summary(),
            self.readings.join(", ")
        );
        for n in &self.notes {
            s.push_str(&format!("# note: {n}\n"));
        }
        for (g, names) in &self.groups {
            s.push_str(&format!(
                "# {{{g}}}: each of {} namespaces on its own: {}\n",
                names.len(),
                names.join(", ")
            ));
        }
        for c in &self.changes {
            s.push_str(&format!(
                "{:<9} {} -> {} {}{}\n",
                c.kind.as_str(),
                c.from.join(", "),
                c.to.join(", "),
                c.ports.join(", "),
                self.on(c)
            ));
            for k in &c.causes {
                s.push_str(&format!("          {}\n", cause_text(k)));
            }
        }
        s
    }

    /// The diff as one JSON document.
    pub fn to_json(&self) -> Value {
        let side = |s: &SideInfo| json!({"verdict": s.verdict, "by": s.by, "location": s.location});
        json!({
            "base": self.base,
            "new": self.new,
            "readings": self.readings,
            "summary": {
                "widened": self.count(Kind::Widened),
                "narrowed": self.count(Kind::Narrowed),
                "divergent": self.divergent(),
            },
            "notes": self.notes,
            "namespace_groups": self.groups.iter().map(|(g, n)| (g.clone(), json!(n))).collect::<serde_json::Map<String, Value>>(),
            "changes": self.changes.iter().map(|c| json!({
                "change": c.kind.as_str(),
                "from": c.from,
                "to": c.to,
                "ports": c.ports,
                "readings": c.readings,
                "namespace_group": c.group,
                "causes": c.causes.iter().map(|k| json!({
                    "direction": k.direction,
                    "base": side(&k.base),
                    "new": side(&k.new),
                })).collect::<Vec<_>>(),
            })).collect::<Vec<_>>(),
        })
    }

    /// The changed edges, for the graph writers.
    pub fn edges(&self) -> Vec<crate::graph::Edge> {
        self.changes
            .iter()
            .map(|c| crate::graph::Edge {
                from: c.from.clone(),
                to: c.to.clone(),
                label: format!(
                    "{} {}{}",
                    match c.kind {
                        Kind::Widened => "+",
                        Kind::Narrowed => "-",
                    },
                    c.ports.join(", "),
                    self.on(c)
                ),
                style: match c.kind {
                    Kind::Widened => crate::graph::Style::Added,
                    Kind::Narrowed => crate::graph::Style::Removed,
                },
            })
            .collect()
    }

    /// The diff as a pull-request comment: a summary line, a table, a Mermaid graph of
    /// the changed edges and the changes per namespace in collapsed sections.
    pub fn to_markdown(&self) -> String {
        let mut s = String::from("### netpolc: connectivity diff\n\n");
        s.push_str(&format!(
            "**{}** (`{}` → `{}`; readings: {})\n\n",
            self.summary(),
            md_code(&self.base),
            md_code(&self.new),
            self.readings.join(", ")
        ));
        for n in &self.notes {
            s.push_str(&format!("> note: {}\n\n", md_text(n)));
        }
        if self.changes.is_empty() {
            return s;
        }
        for (g, names) in &self.groups {
            s.push_str(&format!(
                "`{{{g}}}` stands for each of {} namespaces on its own: {}\n\n",
                names.len(),
                names
                    .iter()
                    .map(|n| format!("`{}`", md_code(n)))
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        s.push_str("| change | from | to | ports | because |\n|---|---|---|---|---|\n");
        for c in &self.changes {
            s.push_str(&format!(
                "| {}{} | {} | {} | {} | {} |\n",
                match c.kind {
                    Kind::Widened => "**widened**",
                    Kind::Narrowed => "narrowed",
                },
                md_text(&self.on(c)),
                code_list(&c.from),
                code_list(&c.to),
                code_list(&c.ports),
                c.causes
                    .iter()
                    .map(|k| md_text(&cause_text(k).replace(" -> ", " → ")))
                    .collect::<Vec<_>>()
                    .join("<br>")
            ));
        }
        s.push_str("\n```mermaid\n");
        s.push_str(&crate::graph::mermaid(&self.edges()));
        s.push_str("```\n");
        for (ns, changes) in self.by_namespace() {
            s.push_str(&format!(
                "\n<details><summary>{} ({} change{})</summary>\n\n",
                md_text(&ns),
                changes.len(),
                if changes.len() == 1 { "" } else { "s" }
            ));
            for c in changes {
                s.push_str(&format!(
                    "- {} {} → {} {}{}\n",
                    c.kind.as_str(),
                    code_list(&c.from),
                    code_list(&c.to),
                    code_list(&c.ports),
                    md_text(&self.on(c))
                ));
                for k in &c.causes {
                    s.push_str(&format!(
                        "  - {}\n",
                        md_text(&cause_text(k).replace(" -> ", " → "))
                    ));
                }
            }
            s.push_str("\n</details>\n");
        }
        s
    }

    /// The changes per namespace they touch (a pattern row under its group's name).
    fn by_namespace(&self) -> BTreeMap<String, Vec<&Change>> {
        let mut out: BTreeMap<String, Vec<&Change>> = BTreeMap::new();
        for c in &self.changes {
            let mut seen = BTreeSet::new();
            for e in c.from.iter().chain(&c.to) {
                let ns = crate::graph::namespace_of(e).unwrap_or("outside the cluster");
                seen.insert(ns.to_string());
            }
            for ns in seen {
                out.entry(ns).or_default().push(c);
            }
        }
        out
    }

    /// The changed edges as a Graphviz digraph.
    pub fn to_dot(&self) -> String {
        crate::graph::dot(&self.edges())
    }
}

/// `ingress: default deny (production/isolate, HEAD:policies/production.yaml:8) -> allowed by production/web (policies/production.yaml:30)`.
pub fn cause_text(k: &Cause) -> String {
    format!(
        "{}: {} -> {}",
        k.direction,
        side_text(&k.base),
        side_text(&k.new)
    )
}

fn side_text(s: &SideInfo) -> String {
    let mut t = s.verdict.clone();
    if let Some(by) = &s.by {
        t.push_str(match s.verdict.as_str() {
            "default deny" => " (isolated by ",
            _ => " by ",
        });
        t.push_str(by);
        if let Some(l) = &s.location {
            t.push_str(&format!(" at {l}"));
        }
        if s.verdict == "default deny" {
            t.push(')');
        }
    }
    t
}

fn md_code(s: &str) -> String {
    s.replace('`', "'")
}

fn md_text(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for ch in s.chars() {
        match ch {
            '|' => out.push_str("\\|"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '*' | '_' | '`' | '[' | ']' | '\\' => {
                out.push('\\');
                out.push(ch);
            }
            c if c.is_control() => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

fn code_list(v: &[String]) -> String {
    v.iter()
        .map(|x| format!("`{}`", md_code(x).replace('|', "\\|")))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Reads the intent files of `inputs` (paths relative to `root`, as for
/// [`crate::load::policies_from`]) at Git revision `rev`, without checking anything
/// out, adding them to `sources`. Files are named `REV:path` (the path relative to
/// `root`). A folder missing in the revision yields no file (a base without intents).
///
/// # Errors
/// `NP8001` when git cannot run, `NP8002` when `root` is not in a repository or `rev` is
/// not a commit, `NP8003` for links and submodules, `NP1001` for files over 4 MiB.
pub fn read_git(
    root: &Path,
    rev: &str,
    inputs: &[PathBuf],
    sources: &mut SourceMap,
) -> Result<Loaded, Vec<Diagnostic>> {
    let one = |d: Diagnostic| vec![d];
    let boxed = |d: Box<Diagnostic>| vec![*d];
    if rev.starts_with('-') || rev.is_empty() || rev.chars().any(char::is_control) {
        return Err(one(Diagnostic::error(
            codes::BASE,
            format!("`{}` is not a revision", rev.escape_debug()),
        )
        .with_help(
            "pass a commit, branch or tag to `--base`, e.g. `--base origin/main`",
        )));
    }
    let prefix = git(root, &["rev-parse", "--show-prefix"], None)
        .map_err(boxed)?
        .trim_end_matches('\n')
        .to_string();
    let commit = git(
        root,
        &["rev-parse", "--verify", "--quiet", &format!("{rev}^{{commit}}")],
        None,
    )
    .map_err(|_| {
        one(Diagnostic::error(
            codes::BASE,
            format!("`{rev}` is not a commit of the repository at `{}`", root.display()),
        )
        .with_help("pass a commit, branch or tag to `--base` (in CI, fetch it first: `git fetch origin main`)"))
    })?
    .trim()
    .to_string();
    let mut paths = Vec::new();
    for input in inputs {
        let rel = relative(root, input).ok_or_else(|| {
            one(Diagnostic::error(
                codes::BASE,
                format!("`{}` is outside the project root", input.display()),
            )
            .with_help("give the policies as a path inside the repository"))
        })?;
        let full = format!("{prefix}{rel}");
        let full = full.trim_end_matches('/');
        let listing = git(
            root,
            &["ls-tree", "-r", "-z", "--full-tree", &commit, "--", full],
            None,
        )
        .map_err(boxed)?;
        for entry in listing.split('\0').filter(|e| !e.is_empty()) {
            let Some((meta, path)) = entry.split_once('\t') else {
                continue;
            };
            let mut m = meta.split(' ');
            let (mode, kind, oid) = (m.next(), m.next(), m.next());
            let Some(name) = path.strip_prefix(prefix.as_str()) else {
                continue;
            };
            // An explicit file is taken whatever its name; in folders, YAML files only.
            let explicit = path == full;
            let yaml = name.ends_with(".yaml") || name.ends_with(".yml");
            if !explicit && !yaml {
                continue;
            }
            match (mode, kind, oid) {
                (Some("100644" | "100755"), Some("blob"), Some(oid)) => {
                    paths.push((name.to_string(), oid.to_string()));
                }
                _ => {
                    return Err(one(Diagnostic::error(
                        codes::BASE_ENTRY,
                        format!("`{rev}:{name}` is a symbolic link or a submodule, not a file"),
                    )
                    .with_help("compare with a checked-out copy instead: `git worktree add /tmp/base REV` and `--base-dir /tmp/base`")));
                }
            }
        }
    }
    paths.sort();
    paths.dedup();
    let blobs = cat_blobs(root, paths.iter().map(|(_, o)| o.as_str()))?;
    let mut loaded = Loaded::default();
    for ((name, _), blob) in paths.into_iter().zip(blobs) {
        let shown = format!("{rev}:{name}");
        match blob {
            Some(bytes) => {
                let text = String::from_utf8_lossy(&bytes).into_owned();
                let id = sources.add(shown.clone(), text);
                loaded.files.push(File {
                    id,
                    name: shown,
                    bytes,
                });
            }
            None => loaded.diagnostics.push(
                Diagnostic::error(
                    "NP1001",
                    format!(
                        "`{shown}` is larger than {} MiB",
                        MAX_FILE_BYTES / 1024 / 1024
                    ),
                )
                .with_file(shown)
                .with_help("split the intents into several files"),
            ),
        }
    }
    loaded.sources = sources.clone();
    Ok(loaded)
}

/// `input` relative to `root`, `/`-separated, without `..` leaving it.
fn relative(root: &Path, input: &Path) -> Option<String> {
    let rel = if input.is_absolute() {
        let r = std::fs::canonicalize(root).ok()?;
        input.strip_prefix(&r).ok()?.to_path_buf()
    } else {
        input.to_path_buf()
    };
    let mut parts: Vec<String> = Vec::new();
    for c in rel.components() {
        match c {
            Component::Normal(p) => parts.push(p.to_str()?.to_string()),
            Component::CurDir => {}
            Component::ParentDir => {
                parts.pop()?;
            }
            Component::RootDir | Component::Prefix(_) => return None,
        }
    }
    Some(parts.join("/"))
}

/// Runs git in `root`; its stdout, or a diagnostic with its stderr.
fn git(root: &Path, args: &[&str], stdin: Option<&[u8]>) -> Result<String, Box<Diagnostic>> {
    let mut cmd = Command::new("git");
    cmd.arg("-C")
        .arg(root)
        .args(args)
        .env("GIT_OPTIONAL_LOCKS", "0")
        .env_remove("GIT_DIR")
        .env_remove("GIT_WORK_TREE")
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let out = cmd.output().map_err(|e| Box::new(git_missing(e)))?;
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr);
        return Err(Box::new(
            Diagnostic::error(
                codes::BASE,
                format!(
                    "`git {}` failed in `{}`: {}",
                    args.first().unwrap_or(&""),
                    root.display(),
                    err.lines().next().unwrap_or("").trim()
                ),
            )
            .with_help(
                "run `netpolc diff` inside a Git repository, or compare with `--base-dir DIR`",
            ),
        ));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

fn git_missing(e: std::io::Error) -> Diagnostic {
    Diagnostic::error(codes::GIT, format!("cannot run `git`: {e}"))
        .with_help("install git, or compare with a folder: `--base-dir DIR`")
}

/// The contents of blobs (`None`: larger than the limit), with one `git cat-file
/// --batch`.
fn cat_blobs<'a>(
    root: &Path,
    oids: impl Iterator<Item = &'a str>,
) -> Result<Vec<Option<Vec<u8>>>, Vec<Diagnostic>> {
    let oids: Vec<&str> = oids.collect();
    if oids.is_empty() {
        return Ok(Vec::new());
    }
    let mut child = Command::new("git")
        .arg("-C")
        .arg(root)
        .args(["cat-file", "--batch"])
        .env_remove("GIT_DIR")
        .env_remove("GIT_WORK_TREE")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| vec![git_missing(e)])?;
    let input: String = oids.iter().map(|o| format!("{o}\n")).collect();
    let mut stdin = child.stdin.take();
    let writer = std::thread::spawn(move || {
        if let Some(s) = stdin.as_mut() {
            let _ = s.write_all(input.as_bytes());
        }
        drop(stdin);
    });
    let failed = |what: &str| {
        vec![
            Diagnostic::error(codes::BASE, format!("`git cat-file` failed: {what}"))
                .with_help("check the repository with `git fsck`"),
        ]
    };
    let mut out = Vec::with_capacity(oids.len());
    let result = (|| {
        let stdout = child.stdout.take().ok_or_else(|| failed("no output"))?;
        let mut r = std::io::BufReader::new(stdout);
        let mut header = String::new();
        for _ in &oids {
            header.clear();
            r.read_line(&mut header)
                .map_err(|e| failed(&e.to_string()))?;
            let mut parts = header.split_whitespace();
            let (_, kind, size) = (parts.next(), parts.next(), parts.next());
            let size: u64 = match (kind, size.and_then(|s| s.parse().ok())) {
                (Some("blob"), Some(n)) => n,
                _ => return Err(failed(header.trim())),
            };
            if size > MAX_FILE_BYTES {
                std::io::copy(&mut (&mut r).take(size + 1), &mut std::io::sink())
                    .map_err(|e| failed(&e.to_string()))?;
                out.push(None);
                continue;
            }
            let mut buf = vec![0u8; size as usize + 1];
            r.read_exact(&mut buf).map_err(|e| failed(&e.to_string()))?;
            buf.pop();
            out.push(Some(buf));
        }
        Ok(())
    })();
    let _ = writer.join();
    let _ = child.wait();
    result.map(|()| out)
}
