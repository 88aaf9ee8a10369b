//! The pipeline's per-object stage ([`stream`]): each object a back end compiled is
//! turned into JSON, checked (the `${` guard and, unless the back end validated it while
//! compiling, its validation), emitted once, compared with what its text reads back as,
//! read into the back end's evaluator ([`netpolc_ir::backend::Reader`]) and freed. No
//! back end holds all its objects' JSON trees at once (a tree costs several times its
//! typed object and its text): only the typed objects not yet taken, the texts and the
//! evaluator's pieces.
//!
//! What the proof evaluates is what the text reads back as, collapsed by identity the
//! way `kubectl apply` applies a stream ([`verify::as_applied`]): an object is read from
//! its own tree only when its text reads back as exactly that tree; when any does not,
//! every text is read back and the evaluator is built from what they read as.
//!
//! A text a back end wrote is read back as a [`Doc`] (strings borrowed from the text; no
//! JSON tree, which cost more than the reading), from which the checks, the reader and
//! the [`Emitted`] take what they need ([`from_doc`]); only a text outside the fast
//! reader's subset, or an object with something to report, is made a JSON tree. An
//! object its back end did not validate while compiling is validated here: its document
//! when the back end validates documents (`Backend::validate_doc`, Cilium), else its
//! tree.

use crate::emit::Emitted;
use crate::verify::{self, Twin};
use crate::{ObjectProblems, Target};
use netpolc_ir::backend::{Compiled, Doc, Manifest, Piece, Reader, Taken, Tree};
use netpolc_ir::model::Evaluator;
use netpolc_ir::Program;
use netpolc_source::Diagnostic;
use serde_json::Value;

/// The objects of one back end as written, and the evaluator of what they read back as.
pub(crate) type Proved = (Vec<Emitted>, Box<dyn Evaluator>);

/// One back end's objects after [`stream`].
pub(crate) struct Streamed {
    /// What the checks found wrong (`NP6002`, `NP6012`): the build is refused.
    pub(crate) problems: Vec<Diagnostic>,
    /// Objects that share an identity with an earlier one (`NP6011`): the build is
    /// refused. Looked for only when there are no problems.
    pub(crate) twins: Vec<Twin>,
    /// The objects as written and their evaluator; `None` when the build is refused
    /// (problems or twins); an error when a text cannot be read back or evaluated (an
    /// internal error).
    pub(crate) emitted: Option<Result<Proved, String>>,
}

/// One object after the stage.
struct One {
    emitted: Emitted,
    problems: Option<ObjectProblems>,
    /// What the back end's reader made of the object, when its text reads back as
    /// exactly the object.
    piece: Option<Piece>,
}

/// Runs the per-object stage on `compiled`'s objects (see the module), on every core, in
/// order.
pub(crate) fn stream(program: &Program, target: Target, compiled: Compiled) -> Streamed {
    let validated = compiled.validated;
    let reader = target.backend().reader();
    let numbered: Vec<(usize, Box<dyn Manifest>)> =
        compiled.objects.into_iter().enumerate().collect();
    let ones = netpolc_ir::par::flat_map_into(
        netpolc_ir::par::threads(),
        numbered,
        256,
        |(i, manifest), out| {
            // The object and whether its text reads back as it: a tree is written, then
            // compared with what its text reads back as; a text the back end wrote is
            // read back, and what it reads as is the object.
            let (value, emitted, reads_back) = match manifest.take() {
                Taken::Tree(value) => {
                    let emitted = Emitted::new(target, &value);
                    let reads_back = verify::reads_back_as(&emitted.yaml, &value);
                    (value, emitted, reads_back)
                }
                Taken::Text(text) => {
                    // In the fast reader's subset (every text the back ends write): read
                    // from the document, no tree.
                    let read = netpolc_intent::yaml::quick::read_doc(&text)
                        .map(|doc| from_doc(target, &*reader, validated, i, &doc, &text));
                    if let Some(read) = read {
                        out.push(read.one(text));
                        return;
                    }
                    match verify::read_text(&text) {
                        Some(value) => {
                            let emitted = Emitted::written(target, text, &value);
                            (value, emitted, true)
                        }
                        // Not an object (`NP6012`): a netpolc bug if it ever happens.
                        None => (
                            Value::Null,
                            Emitted::written(target, text, &Value::Null),
                            false,
                        ),
                    }
                }
            };
            let problems = ObjectProblems::of_emitted(target, &value, &emitted.yaml, validated);
            let piece = (problems.is_none() && reads_back).then(|| reader.read_value(i, &value));
            out.push(One {
                emitted,
                problems,
                piece,
            });
        },
    );
    let mut found = Vec::new();
    let mut emitted = Vec::with_capacity(ones.len());
    let mut pieces = Some(Vec::with_capacity(ones.len()));
    for one in ones {
        found.extend(one.problems);
        emitted.push(one.emitted);
        // One text that does not read back as its object: every text is read back.
        pieces = pieces.and_then(|mut p| {
            p.push(one.piece?);
            Some(p)
        });
    }
    let problems = ObjectProblems::diagnostics(program, target, found);
    if !problems.is_empty() {
        return Streamed {
            problems,
            twins: Vec::new(),
            emitted: None,
        };
    }
    // Twins are looked for beside the evaluator's assembly (both are passes over every
    // object on one core); the evaluator is dropped when there are twins.
    let assemble = || match pieces {
        Some(pieces) => reader.assemble(pieces),
        None => verify::read_back(&emitted).and_then(|parsed| verify::evaluator(target, &parsed)),
    };
    let (twins, evaluator) = if netpolc_ir::par::threads() > 1 {
        std::thread::scope(|scope| {
            let twins = scope.spawn(|| twins(&emitted));
            let evaluator = assemble();
            let twins = twins
                .join()
                .unwrap_or_else(|e| std::panic::resume_unwind(e));
            (twins, evaluator)
        })
    } else {
        (twins(&emitted), assemble())
    };
    let twins = match twins {
        Ok(twins) => twins,
        Err(e) => {
            return Streamed {
                problems,
                twins: Vec::new(),
                emitted: Some(Err(e)),
            }
        }
    };
    if !twins.is_empty() {
        return Streamed {
            problems,
            twins,
            emitted: None,
        };
    }
    Streamed {
        problems,
        twins,
        emitted: Some(
            evaluator
                .map(|e| (emitted, e))
                .map_err(|e| format!("{target}: {e}")),
        ),
    }
}

/// What [`from_doc`] reads of one object's document: all of [`One`] but the text, which
/// the document borrows until it is dropped.
struct FromDoc {
    problems: Option<ObjectProblems>,
    piece: Option<Piece>,
    file: String,
    kind: String,
    namespace: String,
    name: String,
    source: Option<String>,
}

impl FromDoc {
    /// The object written as `yaml`, which reads back as the document read.
    fn one(self, yaml: String) -> One {
        One {
            emitted: Emitted {
                yaml,
                file: self.file,
                kind: self.kind,
                namespace: self.namespace,
                name: self.name,
                source: self.source,
            },
            problems: self.problems,
            piece: self.piece,
        }
    }
}

/// Object `i`, its text `yaml` read back as `doc`: what [`ObjectProblems::of_emitted`],
/// the reader and [`Emitted::written`] make of the tree `doc.to_value()`, read from the
/// document. The tree is made only for what the document does not tell: the problems of
/// an object whose text holds a `$`, or that its back end neither validated while
/// compiling nor finds clean by `Backend::validate_doc` (then there may be problems to
/// report), and the file of an object its reader does not place.
fn from_doc(
    target: Target,
    reader: &dyn Reader,
    validated: bool,
    i: usize,
    doc: &Doc<'_>,
    yaml: &str,
) -> FromDoc {
    let made = std::cell::OnceCell::new();
    let tree = || made.get_or_init(|| doc.to_value());
    // `of_emitted` finds nothing in an object (else it is refused as none) without a `$`
    // (no substitution) that its back end validated, or that the back end's validation
    // of its document finds nothing in (the same validation as of its tree).
    let clean = doc.is_object()
        && !yaml.as_bytes().contains(&b'$')
        && (validated
            || target
                .backend()
                .validate_doc(doc)
                .is_some_and(|rejected| rejected.is_empty()));
    let problems = if clean {
        None
    } else {
        ObjectProblems::of_emitted(target, tree(), yaml, validated)
    };
    let piece = problems.is_none().then(|| reader.read(i, doc));
    let metadata = doc.field("metadata");
    let field = |key: &str| metadata.and_then(|m| m.field(key));
    let namespace = field("namespace").and_then(Tree::as_str);
    let file = match reader.placement(doc) {
        Some((prerequisite, home)) => {
            crate::golden::file_of(prerequisite, namespace.map(str::to_string).or(home))
        }
        None => crate::golden::home(target, tree()),
    };
    FromDoc {
        problems,
        piece,
        file,
        kind: doc
            .field("kind")
            .and_then(Tree::as_str)
            .unwrap_or("")
            .to_string(),
        namespace: namespace.unwrap_or("").to_string(),
        name: field("name")
            .and_then(Tree::as_str)
            .unwrap_or("")
            .to_string(),
        source: field("annotations")
            .and_then(|a| a.field("netpolc.dev/source"))
            .and_then(Tree::as_str)
            .map(str::to_string),
    }
}

/// [`verify::twins`] of the objects written as `emitted`. Looked for by kind, namespace
/// and name first (no tree read); only when two objects share those are the texts read
/// back, so that `verify::twins` compares whole identities (the `apiVersion` group too)
/// and names the intents of each object.
///
/// # Errors
/// When a text cannot be read back (an internal error).
fn twins(emitted: &[Emitted]) -> Result<Vec<Twin>, String> {
    // Hashed by words with a seed per set (the names come from the policies, not from
    // whoever could choose collisions); only asked, never iterated.
    let mut seen = std::collections::HashSet::with_capacity_and_hasher(
        emitted.len(),
        netpolc_ir::derive::SeededWords::new(),
    );
    let shared = emitted
        .iter()
        .any(|e| !seen.insert((e.kind.as_str(), e.namespace.as_str(), e.name.as_str())));
    if !shared {
        return Ok(Vec::new());
    }
    let mut objects = Vec::with_capacity(emitted.len());
    for e in emitted {
        objects.extend(verify::read_emitted(&e.yaml)?);
    }
    Ok(verify::twins(&objects))
}

#[cfg(test)]
mod tests {
    use super::*;
    use netpolc_ir::model::{ClusterModel, Endpoint, Flow, Pod};
    use netpolc_ir::{Direction, Protocol};
    use serde_json::{json, Value};
    use std::collections::BTreeMap;

    fn np(name: &str, port: u16, intent: &str) -> Value {
        json!({
            "apiVersion": "networking.k8s.io/v1",
            "kind": "NetworkPolicy",
            "metadata": {
                "name": name,
                "namespace": "shop",
                "annotations": {"netpolc.dev/intent": intent}
            },
            "spec": {
                "podSelector": {"matchLabels": {"app": "web"}},
                "policyTypes": ["Ingress"],
                "ingress": [{"ports": [{"port": port, "protocol": "TCP"}]}]
            }
        })
    }

    fn compiled(objects: Vec<Value>) -> Compiled {
        Compiled {
            diagnostics: Vec::new(),
            objects: netpolc_ir::backend::manifests(objects),
            validated: false,
        }
    }

    /// `shop/web` (app=web) and `shop/db` (app=db).
    fn model() -> ClusterModel {
        let pod = |name: &str, ip: [u8; 4]| Pod {
            namespace: "shop".into(),
            name: name.into(),
            labels: BTreeMap::from([("app".to_string(), name.to_string())]),
            ip: std::net::IpAddr::from(ip),
            named_ports: BTreeMap::new(),
        };
        let mut m = ClusterModel::default();
        m.namespaces.insert(
            "shop".into(),
            BTreeMap::from([(
                netpolc_ir::NAMESPACE_NAME_LABEL.to_string(),
                "shop".to_string(),
            )]),
        );
        m.pods = vec![pod("web", [10, 0, 0, 1]), pod("db", [10, 0, 0, 2])];
        m
    }

    fn to_web(port: u16) -> Flow {
        Flow {
            src: Endpoint::Pod(1),
            dst: Endpoint::Pod(0),
            protocol: Protocol::Tcp,
            port,
        }
    }

    #[test]
    fn each_object_is_emitted_once_and_read_into_the_evaluator() {
        let objects = vec![np("a", 80, "shop/a"), np("b", 443, "shop/b")];
        let s = stream(
            &Program::default(),
            Target::Kubernetes,
            compiled(objects.clone()),
        );
        assert!(s.problems.is_empty() && s.twins.is_empty());
        let (emitted, evaluator) = s.emitted.expect("not refused").expect("read back");
        assert_eq!(emitted, Emitted::all(Target::Kubernetes, &objects));
        let validating = verify::evaluator(Target::Kubernetes, &objects).unwrap();
        let m = model();
        for port in [22, 80, 443] {
            let side = |e: &dyn Evaluator| e.side(&m, &to_web(port), Direction::Ingress).allows();
            assert_eq!(side(evaluator.as_ref()), port != 22, "port {port}");
            assert_eq!(side(evaluator.as_ref()), side(validating.as_ref()));
        }
    }

    #[test]
    fn objects_sharing_an_identity_are_twins_named_with_both_intents() {
        let objects = vec![np("a", 80, "shop/x"), np("a", 443, "shop/y")];
        let s = stream(&Program::default(), Target::Kubernetes, compiled(objects));
        assert!(s.problems.is_empty());
        assert!(s.emitted.is_none(), "no evaluator for twins");
        let d =
            verify::collision_diagnostics(&Program::default(), vec![(Target::Kubernetes, s.twins)]);
        assert_eq!(d.len(), 1, "{d:?}");
        assert_eq!(d[0].code, "NP6011");
        let notes = d[0].notes.join("\n");
        assert!(
            notes.contains("shop/x") && notes.contains("shop/y"),
            "{notes}"
        );
    }

    #[test]
    fn an_object_the_checks_refuse_is_a_problem_and_nothing_is_evaluated() {
        let mut bad = np("a", 80, "shop/a");
        bad["metadata"]["name"] = json!("Not_A_Name");
        bad["metadata"]["labels"] = json!({"x": "${VAR}"});
        let s = stream(
            &Program::default(),
            Target::Kubernetes,
            compiled(vec![np("b", 80, "shop/b"), bad]),
        );
        let codes: Vec<&str> = s.problems.iter().map(|d| d.code).collect();
        assert_eq!(codes, ["NP6002", "NP6012"]);
        assert!(s.emitted.is_none());
    }

    /// A back end's object already written as `text`.
    #[derive(Debug)]
    struct Written(String);

    impl Manifest for Written {
        fn take(self: Box<Self>) -> Taken {
            Taken::Text(self.0)
        }
    }

    fn written(texts: &[&str]) -> Compiled {
        Compiled {
            diagnostics: Vec::new(),
            objects: texts
                .iter()
                .map(|t| Box::new(Written(t.to_string())) as Box<dyn Manifest>)
                .collect(),
            validated: true,
        }
    }

    #[test]
    fn a_written_text_is_read_back_and_what_it_reads_as_is_evaluated() {
        let objects = vec![np("a", 80, "shop/a"), np("b", 443, "shop/b")];
        let texts: Vec<String> = objects.iter().map(crate::emit::to_yaml).collect();
        let texts: Vec<&str> = texts.iter().map(String::as_str).collect();
        let s = stream(&Program::default(), Target::Kubernetes, written(&texts));
        assert!(s.problems.is_empty() && s.twins.is_empty());
        let (emitted, evaluator) = s.emitted.expect("not refused").expect("read back");
        assert_eq!(emitted, Emitted::all(Target::Kubernetes, &objects));
        let m = model();
        for port in [22, 80, 443] {
            let allows = evaluator
                .side(&m, &to_web(port), Direction::Ingress)
                .allows();
            assert_eq!(allows, port != 22, "port {port}");
        }
    }

    #[test]
    fn a_written_text_that_is_not_one_object_is_refused_and_nothing_is_evaluated() {
        let good = crate::emit::to_yaml(&np("a", 80, "shop/a"));
        for bad in ["a: [\n", "- 1\n- 2\n", &format!("{good}---\n{good}")] {
            let s = stream(
                &Program::default(),
                Target::Kubernetes,
                written(&[&good, bad]),
            );
            let codes: Vec<&str> = s.problems.iter().map(|d| d.code).collect();
            assert_eq!(codes, ["NP6012"], "{bad:?}");
            let said = format!(
                "{} {}",
                s.problems[0].message,
                s.problems[0].notes.join(" ")
            );
            assert!(said.contains("does not read back"), "{said}");
            assert!(s.emitted.is_none(), "{bad:?}");
        }
    }

    /// What [`from_doc`] reads of each object's document is what the tree of the
    /// document gives: its [`Emitted`] (the file [`crate::golden::home`] names included,
    /// so each back end's reader places objects as its back end does) and its problems.
    #[test]
    fn an_object_read_from_its_document_is_as_read_from_its_tree() {
        let calico = |kind: &str, namespace: Option<&str>, selector: &str| {
            let mut o = json!({
                "apiVersion": "projectcalico.org/v3",
                "kind": kind,
                "metadata": {"name": "p", "annotations": {"netpolc.dev/source": "policies/a.yaml"}},
                "spec": {"selector": selector, "order": 10}
            });
            if let Some(ns) = namespace {
                o["metadata"]["namespace"] = json!(ns);
            }
            o
        };
        let cilium = |kind: &str, namespace: Option<&str>| {
            let mut o = json!({
                "apiVersion": "cilium.io/v2",
                "kind": kind,
                "metadata": {"name": "p"},
                "spec": {"endpointSelector": {}}
            });
            if let Some(ns) = namespace {
                o["metadata"]["namespace"] = json!(ns);
            }
            o
        };
        let mut substituted = np("a", 80, "shop/a");
        substituted["metadata"]["labels"] = json!({"x": "${VAR}"});
        let mut named = np("kustomization", 80, "kustomization/a");
        named["metadata"]["namespace"] = json!("kustomization");
        let mut unnamed = np("a", 80, "shop/a");
        unnamed["metadata"]
            .as_object_mut()
            .unwrap()
            .remove("namespace");
        let cases = [
            (Target::Kubernetes, np("a", 80, "shop/a")),
            (Target::Kubernetes, substituted.clone()),
            (Target::Kubernetes, named),
            (Target::Kubernetes, unnamed),
            (Target::Kubernetes, json!("not an object")),
            (Target::Calico, calico("Tier", None, "")),
            (
                Target::Calico,
                calico(
                    "GlobalNetworkPolicy",
                    None,
                    "projectcalico.org/namespace == 'shop' && app == 'web'",
                ),
            ),
            (
                Target::Calico,
                calico(
                    "GlobalNetworkPolicy",
                    None,
                    "projectcalico.org/namespace == 'shop'",
                ),
            ),
            (
                Target::Calico,
                calico(
                    "GlobalNetworkPolicy",
                    None,
                    "projectcalico.org/namespace == 'Not_A_Name'",
                ),
            ),
            (
                Target::Calico,
                calico("GlobalNetworkPolicy", None, "app == 'web'"),
            ),
            (
                Target::Calico,
                calico(
                    "NetworkPolicy",
                    Some("shop"),
                    "projectcalico.org/namespace == 'other'",
                ),
            ),
            (Target::Calico, np("a", 80, "shop/a")),
            (Target::Calico, substituted),
            (Target::Cilium, cilium("CiliumNetworkPolicy", Some("shop"))),
            (
                Target::Cilium,
                cilium("CiliumClusterwideNetworkPolicy", None),
            ),
            (Target::Cilium, np("a", 80, "shop/a")),
        ];
        for (target, object) in cases {
            let text = crate::emit::to_yaml(&object);
            let doc = netpolc_intent::yaml::quick::read_doc(&text).expect("in the subset");
            assert_eq!(doc.to_value(), object);
            for validated in [true, false] {
                let reader = target.backend().reader();
                let read = from_doc(target, &*reader, validated, 0, &doc, &text);
                let problems = ObjectProblems::of_emitted(target, &object, &text, validated);
                assert_eq!(
                    read.problems
                        .as_ref()
                        .map(|p| (&p.id, &p.intent, p.substituted, &p.rejected)),
                    problems
                        .as_ref()
                        .map(|p| (&p.id, &p.intent, p.substituted, &p.rejected)),
                    "{target} {object}"
                );
                assert_eq!(
                    read.piece.is_some(),
                    problems.is_none(),
                    "{target} {object}"
                );
                let one = read.one(text.clone());
                assert_eq!(
                    one.emitted,
                    Emitted::written(target, text.clone(), &object),
                    "{target} {object}"
                );
            }
        }
    }

    #[test]
    fn a_text_reads_back_as_its_object_or_not() {
        let o = np("a", 80, "shop/a");
        let text = crate::emit::to_yaml(&o);
        assert!(verify::reads_back_as(&text, &o));
        assert!(!verify::reads_back_as(&text, &np("a", 81, "shop/a")));
        assert!(!verify::reads_back_as(&format!("{text}---\n{text}"), &o));
    }

    #[test]
    fn objects_alike_but_for_their_group_are_not_twins() {
        let mut other = np("a", 443, "shop/y");
        other["apiVersion"] = json!("example.com/v1");
        let objects = vec![np("a", 80, "shop/x"), other];
        let emitted = Emitted::all(Target::Kubernetes, &objects);
        assert_eq!(emitted[0].kind, emitted[1].kind);
        assert!(twins(&emitted).unwrap().is_empty());
        let emitted = Emitted::all(Target::Kubernetes, &[np("a", 80, "x"), np("a", 81, "y")]);
        assert_eq!(twins(&emitted).unwrap().len(), 1);
    }
}
