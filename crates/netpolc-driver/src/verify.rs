//! Translation validation: the emitted manifests of every target, parsed back from the
//! YAML text netpolc writes and collapsed by identity as `kubectl apply` would, are
//! evaluated with that back end's own semantics on a model derived from the program, and
//! every flow's verdict is proved equal to the intended one ([`netpolc_ir::proof`]).
//!
//! Also the shared machinery of `netpolc test`, `explain` and `eval`: evaluators for any
//! target from manifests, and models with the test endpoints added.

use crate::emit::{self, Emitted};
use crate::Target;
use netpolc_ir::model::{ClusterModel, Endpoint, Evaluator, Flow, Pod, Verdict};
use netpolc_ir::proof::{Prepared, ProofStats};
use netpolc_ir::{ConnectivityTest, Expect, PortSpec, Program, TestCase, TestEndpoint};
use netpolc_source::{Diagnostic, FileId, SourceMap, Span};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};

/// Parses a multi-document YAML text into JSON values, with the same loader (and limits)
/// as the intents.
///
/// # Errors
/// The loader's message, with file:line:column.
pub fn parse_yaml(name: &str, text: &str) -> Result<Vec<Value>, String> {
    // The source map (a copy of the text and its line starts) only to render an error.
    let mut sources = SourceMap::default();
    let id = FileId(0);
    match netpolc_intent::yaml::load(
        id,
        text.as_bytes(),
        &netpolc_intent::yaml::Limits::default(),
    ) {
        Ok(nodes) => Ok(nodes.iter().map(|n| n.to_json()).collect()),
        Err(d) => {
            let added = sources.add(name, text.to_string());
            debug_assert_eq!(added, id);
            Err(netpolc_source::render_human(&sources, &[d]))
        }
    }
}

/// One emitted object's text, read: by the fast reader of the emitter's own subset
/// (exactly as the loader reads it, or not at all), else by the loader.
pub(crate) fn read_emitted(text: &str) -> Result<Vec<Value>, String> {
    match netpolc_intent::yaml::quick::read(text) {
        Some(doc) => Ok(vec![doc]),
        None => parse_yaml("<emitted>", text),
    }
}

/// What one emitted text reads back as, when it is exactly one document.
pub(crate) fn read_text(text: &str) -> Option<Value> {
    let mut docs = read_emitted(text).ok()?;
    (docs.len() == 1).then(|| docs.pop()).flatten()
}

/// The objects as netpolc writes them, read back: emitted YAML → loader → JSON, then
/// collapsed by identity the way `kubectl apply` applies a stream (a later object with
/// the same apiVersion group, kind, namespace and name replaces the earlier one).
///
/// # Errors
/// When the emitter wrote something the loader cannot read (an internal error).
pub fn round_trip(objects: &[Value]) -> Result<Vec<Value>, String> {
    // One document at a time: each is a small text, whatever the size of the repository;
    // read on every core, in the objects' order ([`read_emitted`]).
    read_each(objects.len(), |i| emit::to_yaml(&objects[i]))
}

/// Emitted objects read back from their text and collapsed by identity, as
/// [`round_trip`] does: the objects as they are applied.
///
/// # Errors
/// When a text cannot be read (an internal error).
pub fn read_back(emitted: &[Emitted]) -> Result<Vec<Value>, String> {
    read_each(emitted.len(), |i| emitted[i].yaml.as_str())
}

/// The texts `text(0..n)` read on every core ([`read_emitted`]), in order, and collapsed
/// by identity (a later document replaces an earlier one in its place).
fn read_each<S: AsRef<str>>(
    n: usize,
    text: impl Fn(usize) -> S + Sync,
) -> Result<Vec<Value>, String> {
    let read = netpolc_ir::par::map(netpolc_ir::par::threads(), n, 256, |i| {
        read_emitted(text(i).as_ref())
    });
    let mut out: Vec<Value> = Vec::with_capacity(read.len());
    let mut seen: BTreeMap<Identity, usize> = BTreeMap::new();
    for docs in read {
        for doc in docs? {
            match seen.entry(identity(&doc)) {
                std::collections::btree_map::Entry::Occupied(e) => out[*e.get()] = doc,
                std::collections::btree_map::Entry::Vacant(e) => {
                    e.insert(out.len());
                    out.push(doc);
                }
            }
        }
    }
    Ok(out)
}

/// The objects as they are applied, read back from `texts` (the text of each object, as
/// [`emit::to_yaml`] writes it) and collapsed by identity as [`read_back`] does, without
/// keeping a second copy when reading back changes nothing: `Cow::Borrowed(objects)`
/// when every text reads back as exactly its object (one document each) and the objects
/// are `distinct` (no two share an identity: [`twins`] found none), the read-back
/// objects otherwise. The proof evaluates what this returns.
///
/// # Errors
/// As [`read_back`].
pub fn as_applied<'a>(
    objects: &'a [Value],
    texts: &[&str],
    distinct: bool,
) -> Result<std::borrow::Cow<'a, [Value]>, String> {
    // Each text is compared with its object on its thread ([`reads_back_as`]). Otherwise
    // every text is read back below (which reports a text that cannot be read).
    let unchanged = distinct
        && netpolc_ir::par::map(netpolc_ir::par::threads(), objects.len(), 256, |i| {
            reads_back_as(texts[i], &objects[i])
        })
        .into_iter()
        .all(|same| same);
    if unchanged {
        Ok(std::borrow::Cow::Borrowed(objects))
    } else {
        read_each(texts.len(), |i| texts[i]).map(std::borrow::Cow::Owned)
    }
}

/// Whether `text` reads back as exactly `object` (one document): in step with the object,
/// no tree built, when it is in the fast reader's subset (`quick::matches` is exactly
/// `quick::read(text) == Some(object)`); otherwise read ([`read_emitted`]) and compared.
/// A text that cannot be read does not.
pub(crate) fn reads_back_as(text: &str, object: &Value) -> bool {
    netpolc_intent::yaml::quick::matches(text, object)
        || read_emitted(text).is_ok_and(|docs| docs.len() == 1 && docs[0] == *object)
}

/// What `kubectl apply` identifies an object by: apiVersion group, kind, namespace, name.
pub type Identity = (String, String, String, String);

/// An [`Identity`] borrowed from its object.
pub(crate) type IdentityRef<'a> = (&'a str, &'a str, &'a str, &'a str);

/// The identity of a manifest (see [`Identity`]).
pub fn identity(o: &Value) -> Identity {
    let (group, kind, namespace, name) = identity_ref(o);
    (
        group.to_string(),
        kind.to_string(),
        namespace.to_string(),
        name.to_string(),
    )
}

/// The identity of a manifest, borrowed from it.
pub(crate) fn identity_ref(o: &Value) -> IdentityRef<'_> {
    let api = o["apiVersion"].as_str().unwrap_or("");
    let group = api.rsplit_once('/').map(|(g, _)| g).unwrap_or("");
    let field = |p: &str| o.pointer(p).and_then(Value::as_str).unwrap_or("");
    (
        group,
        field("/kind"),
        field("/metadata/namespace"),
        field("/metadata/name"),
    )
}

/// Objects of one target that share an identity: applied, the later silently replaces
/// the earlier. One diagnostic (`NP6011`) per identity, naming every target it happens
/// on and the intents of both objects (their spans where the program knows them).
pub fn identity_collisions(
    program: &Program,
    rendered: &[(Target, Vec<Value>)],
) -> Vec<Diagnostic> {
    // Each target's twins, on every core.
    let twins = netpolc_ir::par::map(netpolc_ir::par::threads(), rendered.len(), 1, |t| {
        (rendered[t].0, twins(&rendered[t].1))
    });
    collision_diagnostics(program, twins)
}

/// Objects that share an identity with an earlier object of the same target.
#[derive(Clone, Debug)]
pub struct Twin {
    /// (kind, namespace, name).
    object: (String, String, String),
    /// The intents of both objects (`set/intent`).
    intents: BTreeSet<String>,
}

/// The objects of one target that share an identity with an earlier one
/// ([`identity_collisions`]).
pub fn twins(objects: &[Value]) -> Vec<Twin> {
    // Hashed: names share long prefixes, so ordered comparisons cost more; the twins are
    // listed in the objects' order whatever the map.
    let mut seen: std::collections::HashMap<IdentityRef<'_>, &Value> =
        std::collections::HashMap::with_capacity(objects.len());
    let mut twins = Vec::new();
    for o in objects {
        let id = identity_ref(o);
        let Some(first) = seen.insert(id, o) else {
            continue;
        };
        let (_, kind, namespace, name) = id;
        let mut intents = BTreeSet::new();
        for x in [first, o] {
            if let Some(i) = x.pointer(&format!("/metadata/annotations/{}", INTENT_POINTER)) {
                // A merged object lists its intents (`netpolc_ir::provenance`).
                let list = i.as_str().unwrap_or("");
                for intent in list.split(netpolc_ir::provenance::INTENT_SEPARATOR) {
                    intents.insert(intent.to_string());
                }
            }
        }
        twins.push(Twin {
            object: (kind.to_string(), namespace.to_string(), name.to_string()),
            intents,
        });
    }
    twins
}

/// One `NP6011` per identity shared on any target ([`identity_collisions`]).
pub(crate) fn collision_diagnostics(
    program: &Program,
    twins: Vec<(Target, Vec<Twin>)>,
) -> Vec<Diagnostic> {
    // (kind, namespace, name) → (targets, intents of the colliding objects).
    type Colliding = (Vec<Target>, BTreeSet<String>);
    let mut found: BTreeMap<(String, String, String), Colliding> = BTreeMap::new();
    for (target, twins) in twins {
        for twin in twins {
            let entry = found.entry(twin.object).or_default();
            if !entry.0.contains(&target) {
                entry.0.push(target);
            }
            entry.1.extend(twin.intents);
        }
    }
    if found.is_empty() {
        return Vec::new();
    }
    let spans = IntentSpans::new(program);
    found
        .into_iter()
        .map(|((kind, namespace, name), (targets, intents))| {
            let targets: Vec<&str> = targets.iter().map(|t| t.name()).collect();
            let object = if namespace.is_empty() {
                format!("{kind} {name}")
            } else {
                format!("{kind} {namespace}/{name}")
            };
            let mut d = Diagnostic::error(
                "NP6011",
                format!(
                    "two objects are named `{object}` on {}: applied, the later would silently replace the earlier",
                    targets.join(", ")
                ),
            );
            for i in &intents {
                d = d.with_opt_label(spans.get(i), format!("intent `{i}` renders `{object}`"));
            }
            d.with_note(format!("intents: {}", intents.into_iter().collect::<Vec<_>>().join(", ")))
                .with_help("rename one of the intents or intent sets")
        })
        .collect()
}

/// The `netpolc.dev/intent` annotation, escaped for a JSON pointer.
const INTENT_POINTER: &str = "netpolc.dev~1intent";
const _: () = assert!(netpolc_ir::metadata::INTENT_ANNOTATION.len() + 1 == INTENT_POINTER.len());

/// Where each intent (by qualified name, `set/intent`) and isolation is written.
pub struct IntentSpans {
    spans: BTreeMap<String, Span>,
}

impl IntentSpans {
    /// Indexes the origins of a program's rules and isolations.
    pub fn new(program: &Program) -> IntentSpans {
        let mut spans = BTreeMap::new();
        let origins = program
            .rules
            .iter()
            .map(|r| &*r.origin)
            .chain(program.isolations.iter().map(|i| &i.origin));
        for o in origins {
            if let Some(span) = o.span {
                spans.entry(o.qualified()).or_insert(span);
            }
        }
        IntentSpans { spans }
    }

    /// The span of an intent, by qualified name.
    pub fn get(&self, qualified: &str) -> Option<Span> {
        self.spans.get(qualified).copied()
    }
}

/// An evaluator of one target's manifests.
///
/// # Errors
/// When the manifests contain something the evaluator does not understand.
pub fn evaluator(target: Target, objects: &[Value]) -> Result<Box<dyn Evaluator>, String> {
    target.backend().evaluator(objects)
}

/// One flow on which a target's manifests and the intents disagree.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Disagreement {
    /// The target.
    pub target: Target,
    /// `ns/pod -> ns/pod 80/tcp`.
    pub flow: String,
    /// What the intents mean.
    pub intended: String,
    /// What the manifests do.
    pub emitted: String,
    /// The intent (or isolation) that decides the flow on the intents' side, or failing
    /// that on the manifests' side (`set/intent`).
    pub intent: Option<String>,
}

fn describe(v: &Verdict) -> String {
    format!(
        "{} (egress: {}; ingress: {})",
        if v.allowed() { "allow" } else { "deny" },
        v.egress,
        v.ingress
    )
}

/// The intent a verdict rests on: a deciding rule's intent, else an isolation.
fn deciding_intent(v: &Verdict) -> Option<String> {
    use netpolc_ir::model::Side;
    let sides = [&v.egress, &v.ingress];
    let decided = sides.iter().find_map(|s| match s {
        Side::Denied(d) if !v.allowed() => d.intent.clone(),
        Side::Allowed(d) if v.allowed() => d.intent.clone(),
        _ => None,
    });
    decided.or_else(|| {
        sides.iter().find_map(|s| match s {
            Side::DefaultDeny(objs) => objs.first().cloned(),
            Side::Allowed(d) | Side::Denied(d) => d.intent.clone(),
            _ => None,
        })
    })
}

/// The outcome of translation validation.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Report {
    /// Disagreements, at most `limit` per target.
    pub disagreements: Vec<Disagreement>,
    /// The work the proof did.
    pub stats: ProofStats,
    /// Wall time of the proof.
    pub proved: std::time::Duration,
}

/// Proves that each target's manifests, read back from the YAML netpolc writes, decide
/// every flow of `model` as the intents do ([`netpolc_ir::proof`]: exact, no sampling).
/// Returns at most `limit` disagreements per target.
///
/// # Errors
/// When a target's manifests cannot be read back or evaluated.
pub fn validate(
    program: &Program,
    model: &ClusterModel,
    rendered: &[(Target, Vec<Value>)],
    limit: usize,
) -> Result<Vec<Disagreement>, String> {
    prove(program, model, rendered, limit).map(|r| r.disagreements)
}

/// Like [`validate`], with the proof's statistics.
///
/// # Errors
/// When a target's manifests cannot be read back or evaluated.
pub fn prove(
    program: &Program,
    model: &ClusterModel,
    rendered: &[(Target, Vec<Value>)],
    limit: usize,
) -> Result<Report, String> {
    // Each target's objects read back and its evaluator built, side by side, one thread
    // per target.
    let built = netpolc_ir::par::map(rendered.len(), rendered.len(), 1, |i| {
        let (target, objects) = &rendered[i];
        applied_evaluator(*target, objects).map(|e| (*target, e))
    });
    let evals: Vec<(Target, Box<dyn Evaluator>)> = built.into_iter().collect::<Result<_, _>>()?;
    let intended = netpolc_ir::eval::intended(program);
    Ok(prove_against(
        prepare(program, model.clone()),
        &intended,
        evals,
        limit,
    ))
}

/// The evaluator of a target's objects as they are applied: read back from the YAML
/// netpolc writes and collapsed by identity ([`as_applied`]).
///
/// # Errors
/// When the objects cannot be read back or evaluated.
pub fn applied_evaluator(target: Target, objects: &[Value]) -> Result<Box<dyn Evaluator>, String> {
    emitted_evaluator(target, objects).map(|(_, e)| e)
}

/// Each object of `target` emitted once ([`Emitted`]), and the evaluator of what that
/// text reads back as, collapsed by identity ([`as_applied`]): the proof evaluates the
/// bytes that are written.
///
/// # Errors
/// When the objects cannot be read back or evaluated.
pub fn emitted_evaluator(
    target: Target,
    objects: &[Value],
) -> Result<(Vec<Emitted>, Box<dyn Evaluator>), String> {
    let distinct = twins(objects).is_empty();
    let emitted = Emitted::all(target, objects);
    let texts: Vec<&str> = emitted.iter().map(|e| e.yaml.as_str()).collect();
    let parsed = as_applied(objects, &texts, distinct)?;
    let evaluator = evaluator(target, &parsed).map_err(|e| format!("{target}: {e}"))?;
    Ok((emitted, evaluator))
}

/// The proof's copy of `model`, made ready for [`prove_against`] with the program's
/// cluster networks (the pipeline makes it beside the model, while the back ends
/// compile).
pub fn prepare(program: &Program, model: ClusterModel) -> Prepared {
    Prepared::new(model, &program.profile.cluster_cidrs())
}

/// The proof ([`prove`]) on evaluators already built by [`applied_evaluator`], on a
/// model made ready by [`prepare`], against the intended meaning's evaluator `intended`
/// (the pipeline builds it beside the model, while the back ends compile).
pub fn prove_against(
    model: Prepared,
    intended: &dyn Evaluator,
    evals: Vec<(Target, Box<dyn Evaluator>)>,
    limit: usize,
) -> Report {
    let started = std::time::Instant::now();
    let refs: Vec<&dyn Evaluator> = evals.iter().map(|(_, e)| e.as_ref()).collect();
    let proof = netpolc_ir::proof::prove_prepared(model, intended, &refs, limit);
    let proved = started.elapsed();
    let disagreements = proof
        .findings
        .iter()
        .map(|f| Disagreement {
            target: evals[f.target].0,
            flow: f.flow_name.clone(),
            intended: describe(&f.intended),
            emitted: describe(&f.actual),
            intent: deciding_intent(&f.intended).or_else(|| deciding_intent(&f.actual)),
        })
        .collect();
    // Freeing the evaluators takes a while at scale (millions of small allocations): a
    // thread of its own does it while the caller writes the output, or the exit does.
    netpolc_ir::par::drop_last(evals);
    Report {
        disagreements,
        stats: proof.stats,
        proved,
    }
}

/// Turns disagreements into diagnostics (`NP6010`), each naming the target, the flow
/// (a concrete witness), both verdicts and, where known, the intent's position.
pub fn disagreement_diagnostics(
    program: &Program,
    disagreements: &[Disagreement],
) -> Vec<Diagnostic> {
    let spans = IntentSpans::new(program);
    disagreements
        .iter()
        .map(|d| {
            let intended_word = d.intended.split(' ').next().unwrap_or("");
            let emitted_word = d.emitted.split(' ').next().unwrap_or("");
            let mut diag = Diagnostic::error(
                "NP6010",
                format!(
                    "{}: {} -> intended {intended_word}, {} {emitted_word}",
                    d.target, d.flow, d.target
                ),
            );
            if let Some(i) = &d.intent {
                diag = diag.with_opt_label(spans.get(i), format!("`{i}` decides this flow"));
            }
            diag.with_target(d.target.name())
                .with_note(format!("intents: {}", d.intended))
                .with_note(format!("{}: {}", d.target, d.emitted))
                .with_help("this is a bug in netpolc's back end or a construct it cannot express exactly; please report it with this message")
        })
        .collect()
}

/// Adds (or finds) the pods of the tests' endpoints to a model; returns the endpoint of
/// each side of each case, in order.
pub fn place_tests(
    model: &mut ClusterModel,
    tests: &[ConnectivityTest],
) -> Vec<Vec<(Endpoint, Endpoint)>> {
    let mut out = Vec::new();
    for t in tests {
        let mut cases = Vec::new();
        for c in &t.cases {
            cases.push((place(model, &c.from), place(model, &c.to)));
        }
        out.push(cases);
    }
    out
}

fn place(model: &mut ClusterModel, e: &TestEndpoint) -> Endpoint {
    match e {
        TestEndpoint::Address(ip) => {
            if !model.externals.contains(ip) {
                model.externals.push(*ip);
                model.externals.sort();
            }
            Endpoint::External(*ip)
        }
        TestEndpoint::Pod { namespace, labels } => {
            if let Some(i) = model
                .pods
                .iter()
                .position(|p| &p.namespace == namespace && &p.labels == labels)
            {
                return Endpoint::Pod(i);
            }
            model
                .namespaces
                .entry(namespace.clone())
                .or_insert_with(|| {
                    [(
                        netpolc_ir::NAMESPACE_NAME_LABEL.to_string(),
                        namespace.clone(),
                    )]
                    .into_iter()
                    .collect()
                });
            let named = model
                .pods
                .first()
                .map(|p| p.named_ports.clone())
                .unwrap_or_default();
            let n = model.pods.len() as u32 + 1000;
            model.pods.push(Pod {
                namespace: namespace.clone(),
                name: format!("test-{n}"),
                labels: labels.clone(),
                ip: std::net::IpAddr::V4(std::net::Ipv4Addr::new(
                    10,
                    244,
                    250,
                    (n % 250) as u8 + 1,
                )),
                named_ports: named,
            });
            Endpoint::Pod(model.pods.len() - 1)
        }
    }
}

/// The flow of a test case between placed endpoints.
pub fn test_flow(case: &TestCase, from: Endpoint, to: Endpoint) -> Flow {
    let port = match case.port.port {
        PortSpec::Range { start, .. } => start,
        _ => 0,
    };
    Flow {
        src: from,
        dst: to,
        protocol: case.port.protocol,
        port,
    }
}

/// Whether a verdict meets an expectation.
pub fn meets(v: &Verdict, e: Expect) -> bool {
    v.allowed() == (e == Expect::Allow)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn np(name: &str, port: u16) -> Value {
        json!({
            "apiVersion": "networking.k8s.io/v1",
            "kind": "NetworkPolicy",
            "metadata": {"name": name, "namespace": "shop"},
            "spec": {
                "podSelector": {"matchLabels": {"app": "web"}},
                "policyTypes": ["Ingress"],
                "ingress": [{"ports": [{"port": port, "protocol": "TCP"}]}]
            }
        })
    }

    #[test]
    fn objects_that_read_back_as_themselves_are_not_copied() {
        let objects = vec![np("a", 80), np("b", 443)];
        let texts: Vec<String> = objects.iter().map(emit::to_yaml).collect();
        let texts: Vec<&str> = texts.iter().map(String::as_str).collect();
        let applied = as_applied(&objects, &texts, twins(&objects).is_empty()).unwrap();
        assert!(matches!(applied, std::borrow::Cow::Borrowed(_)));
        assert_eq!(applied.as_ref(), objects.as_slice());
    }

    #[test]
    fn objects_with_one_identity_are_applied_as_kubectl_would() {
        // The later object replaces the earlier one, as `kubectl apply` does.
        let objects = vec![np("a", 80), np("a", 443)];
        let texts: Vec<String> = objects.iter().map(emit::to_yaml).collect();
        let texts: Vec<&str> = texts.iter().map(String::as_str).collect();
        let applied = as_applied(&objects, &texts, twins(&objects).is_empty()).unwrap();
        assert!(matches!(applied, std::borrow::Cow::Owned(_)));
        assert_eq!(applied.as_ref(), &[np("a", 443)]);
        assert_eq!(applied.as_ref(), round_trip(&objects).unwrap().as_slice());
    }
}
