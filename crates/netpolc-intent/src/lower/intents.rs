//! Intents into IR rules: ports, L7 HTTP, and the sides (egress of the source,
//! ingress of the destination) each intent needs.

use super::order::{Lowered, PeerKey, RuleKey};
use super::*;
use std::sync::Arc;

impl Cx {
    pub(super) fn lower_intents(
        &mut self,
        cx: &SetContext<'_>,
        presets: &[Spanned<String>],
        intents: &[Spanned<IntentDoc>],
        program: &Program,
        out: &mut Lowered,
    ) {
        let mut seen: BTreeMap<String, Span> = BTreeMap::new();
        // Presets first: they are ordinary intents named after the preset.
        for p in presets {
            if !PRESETS.contains(&p.value.as_str()) {
                let mut d = err(
                    codes::UNKNOWN_PRESET,
                    p.span,
                    format!("unknown preset `{}`", p.value),
                    "not a preset",
                )
                .with_help(format!(
                    "presets are {}",
                    PRESETS.map(|p| format!("`{p}`")).join(", ")
                ));
                if let Some(s) = yaml::suggest(&p.value, &PRESETS) {
                    d = d.with_help(format!("did you mean `{s}`?"));
                }
                self.diags.push(d);
                continue;
            }
            if let Some(prev) = seen.insert(p.value.clone(), p.span) {
                self.diags.push(
                    err(
                        codes::DUPLICATE,
                        p.span,
                        format!("preset `{}` is listed twice", p.value),
                        "again",
                    )
                    .with_secondary(prev, "first"),
                );
                continue;
            }
            let profile = program.profile.clone();
            let all = Group::Pods {
                namespaces: cx.own.clone(),
                pods: LabelSelector::all(),
            };
            let spec = match p.value.as_str() {
                "allow-dns" => Some((
                    Action::Allow,
                    all.clone(),
                    kube_dns(&profile),
                    ports_of(&[
                        PortMatch::single(Protocol::Udp, 53),
                        PortMatch::single(Protocol::Tcp, 53),
                    ]),
                )),
                "allow-kube-apiserver" => Some((
                    Action::Allow,
                    all.clone(),
                    Group::Peers(vec![Peer::Entity(Entity::KubeApiserver)]),
                    ports_of(&[PortMatch::single(Protocol::Tcp, profile.api_server_port)]),
                )),
                "allow-same-namespace" => {
                    if cx.cluster_scope.is_some() {
                        self.diags.push(
                            err(codes::BAD_VALUE, p.span, "`allow-same-namespace` is not available in a ClusterIntentSet", "here")
                                .with_note("cluster-wide objects cannot say \"the subject's own namespace\" on Calico and Cilium")
                                .with_help("list the preset in each namespace's IntentSet"),
                        );
                        None
                    } else {
                        Some((Action::Allow, all.clone(), all.clone(), Ports::Any))
                    }
                }
                "block-cloud-metadata" => {
                    let peers = METADATA_CIDRS
                        .iter()
                        .map(|c| {
                            Peer::Cidr(CidrBlock {
                                net: c.parse().expect("constant"),
                                except: vec![],
                            })
                        })
                        .collect();
                    Some((Action::Deny, all.clone(), Group::Peers(peers), Ports::Any))
                }
                _ => None, // default-deny: isolation only, handled with `isolate`.
            };
            if let Some((action, from, to, ports)) = spec {
                let origin = Arc::new(Origin {
                    file: cx.file.to_string(),
                    set: cx.set.to_string(),
                    intent: p.value.clone(),
                    preset: Some(p.value.clone()),
                    span: Some(p.span),
                });
                self.sides(cx, &origin, action, &from, &to, &ports, &[], program, out);
            }
        }
        for i in intents {
            let doc = &i.value;
            if !self.check_name("intent name", &doc.name) {
                continue;
            }
            if let Some(prev) = seen.insert(doc.name.value.clone(), doc.name.span) {
                self.diags.push(
                    err(
                        codes::DUPLICATE,
                        doc.name.span,
                        format!(
                            "intent `{}` is defined twice in `{}`",
                            doc.name.value, cx.set
                        ),
                        "second definition",
                    )
                    .with_secondary(prev, "first definition (intent or preset)"),
                );
                continue;
            }
            let from = self.resolve_ref(cx, &doc.from, &program.profile);
            let to = self.resolve_ref(cx, &doc.to, &program.profile);
            let action = match doc.action.as_ref().map(|a| a.value.as_str()) {
                None | Some("allow") => Some(Action::Allow),
                Some("deny") => Some(Action::Deny),
                Some(other) => {
                    let a = doc.action.as_ref().map(|a| a.span).unwrap_or(i.span);
                    self.diags.push(
                        err(
                            codes::BAD_VALUE,
                            a,
                            format!("unknown action `{other}`"),
                            "not an action",
                        )
                        .with_help("expected `allow` or `deny`"),
                    );
                    None
                }
            };
            let ports = self.ports(doc);
            let http = self.http(doc, action, &ports);
            let (Some(from), Some(to), Some(action), Some(ports), Some(http)) =
                (from, to, action, ports, http)
            else {
                continue;
            };
            if matches!(from, Group::Peers(ref p) if p.iter().any(|p| matches!(p, Peer::Fqdn(_)))) {
                self.diags.push(err(
                    codes::BAD_DIRECTION,
                    doc.from.span,
                    "a DNS-name group can only be a destination",
                    "used as a source",
                ));
                continue;
            }
            if matches!(from, Group::Peers(_)) && matches!(to, Group::Peers(_)) {
                self.diags.push(
                    err(codes::NO_POD_SIDE, i.span, format!("intent `{}` connects two non-pod groups", doc.name.value), "neither end is a pod")
                        .with_note("netpolc governs pods; traffic between external addresses never passes a pod's policy"),
                );
                continue;
            }
            let origin = Arc::new(Origin {
                file: cx.file.to_string(),
                set: cx.set.to_string(),
                intent: doc.name.value.clone(),
                preset: None,
                span: Some(i.span),
            });
            let made = self.sides(cx, &origin, action, &from, &to, &ports, &http, program, out);
            if made == 0 && action == Action::Allow {
                // Nothing to emit: both sides open or unmanaged. Say why.
                self.diags.push(
                    Diagnostic::note(codes::NO_EFFECT, format!("intent `{}` needs no rule", origin.qualified()))
                        .with_label(i.span, "already allowed")
                        .with_note("neither end is an isolated, managed namespace, so the flow is already allowed"),
                );
            }
        }
    }

    pub(super) fn ports(&mut self, doc: &IntentDoc) -> Option<Ports> {
        let Some(list) = &doc.ports else {
            return Some(Ports::Any);
        };
        if list.value.is_empty() {
            self.diags.push(
                err(codes::BAD_PORT, list.span, "empty port list", "`ports: []`")
                    .with_help("omit `ports` to mean every port, or list at least one"),
            );
            return None;
        }
        let mut set = BTreeSet::new();
        let mut ok = true;
        for p in &list.value {
            match parse_port(&p.value) {
                Ok(m) => {
                    set.insert(m);
                }
                Err(msg) => {
                    self.diags.push(err(
                        codes::BAD_PORT,
                        p.span,
                        format!("invalid port `{}`", p.value),
                        msg,
                    ));
                    ok = false;
                }
            }
        }
        ok.then_some(Ports::Only(set.into()))
    }

    pub(super) fn http(
        &mut self,
        doc: &IntentDoc,
        action: Option<Action>,
        ports: &Option<Ports>,
    ) -> Option<Vec<HttpRule>> {
        if doc.http.is_empty() {
            return Some(Vec::new());
        }
        let span = doc.http[0].span;
        if action == Some(Action::Deny) {
            self.diags.push(err(
                codes::BAD_L7,
                span,
                "HTTP rules are only for allow intents",
                "on a deny intent",
            ));
            return None;
        }
        let tcp_only = matches!(ports, Some(Ports::Only(s)) if s.iter().all(|p| p.protocol == Protocol::Tcp && p.port != netpolc_ir::PortSpec::All));
        if !tcp_only {
            self.diags.push(
                err(
                    codes::BAD_L7,
                    span,
                    "HTTP rules need specific TCP ports",
                    "here",
                )
                .with_help(
                    "list the TCP ports the HTTP service listens on, e.g. `ports: [8080/tcp]`",
                ),
            );
            return None;
        }
        Some(
            doc.http
                .iter()
                .map(|h| HttpRule {
                    method: h.value.method.as_ref().map(|m| m.value.clone()),
                    path: h.value.path.as_ref().map(|p| p.value.clone()),
                })
                .collect(),
        )
    }

    /// Emits the egress and ingress sides of one intent, each rule with its key and
    /// `origin` (one copy of the provenance, shared by every rule the intent makes);
    /// returns how many rules it made.
    #[allow(clippy::too_many_arguments)] // One call site per kind of intent; a struct would only rename them.
    pub(super) fn sides(
        &mut self,
        cx: &SetContext<'_>,
        origin: &Arc<Origin>,
        action: Action,
        from: &Group,
        to: &Group,
        ports: &Ports,
        http: &[HttpRule],
        program: &Program,
        out: &mut Lowered,
    ) -> usize {
        let mut made = 0;
        for (direction, me, other) in [
            (Direction::Egress, from, to),
            (Direction::Ingress, to, from),
        ] {
            if direction == Direction::Ingress
                && matches!(other, Group::Peers(p) if p.iter().any(|p| matches!(p, Peer::Fqdn(_))))
            {
                continue;
            }
            let (ns_sel, pods) = match me {
                Group::Pods { namespaces, pods } => (namespaces, pods),
                Group::Any => (&LabelSelector::all(), &LabelSelector::all()),
                Group::Peers(_) => continue,
            };
            let (ns_id, ns_sel) = self.selectors.share(ns_sel);
            let (pods_id, pods) = self.selectors.share(pods);
            // What the namespace selector reaches depends on it (and on the direction and
            // action) only: found once per thread for the intents of every set that share
            // it (most sides are in the set's own namespace).
            if self.reach.len() <= ns_id as usize {
                self.reach.resize_with(ns_id as usize + 1, || None);
            }
            let reach =
                self.reach[ns_id as usize].get_or_insert_with(|| Reach::new(&ns_sel, program));
            // Namespaces named explicitly but not managed: that side is left alone.
            for name in &reach.unmanaged {
                let side = match direction {
                    Direction::Egress => "egress",
                    Direction::Ingress => "ingress",
                };
                let mut d = Diagnostic::note(
                    codes::UNMANAGED_SIDE,
                    format!(
                        "the {side} side of `{}` in namespace `{name}` is left alone",
                        origin.qualified()
                    ),
                )
                .with_note(format!(
                    "namespace `{name}` has no IntentSet, so netpolc emits no rule there"
                ));
                if let Some(span) = origin.span {
                    d = d.with_label(span, "this intent");
                }
                self.diags.push(d);
            }
            // A selector testing a label for some values meets only the namespaces that
            // carry one of them (the index; a selector naming one namespace meets that
            // one, whose name label is its name): no scan of every namespace per intent.
            let scanned;
            let index = match cx.index {
                Some(index) => index,
                None => {
                    scanned = NamespaceIndex::new(&program.namespaces);
                    &scanned
                }
            };
            let positions = reach.sides[Reach::slot(direction, action)].get_or_insert_with(|| {
                let mut found: Vec<u32> = index
                    .candidates(&ns_sel)
                    .into_iter()
                    .filter(|&p| {
                        let n = index.namespace(p);
                        ns_sel.matches(&n.labels)
                            && (action == Action::Deny || n.isolated.contains(&direction))
                    })
                    .collect();
                found.sort_unstable();
                found
            });
            if positions.is_empty() {
                continue;
            }
            let peers: Vec<(Peer, PeerKey)> = match other {
                Group::Pods { namespaces, pods } => vec![self.selectors.peer(&Peer::Pods {
                    namespaces: namespaces.clone(),
                    pods: pods.clone(),
                })],
                Group::Any => vec![self.selectors.peer(&Peer::Any)],
                Group::Peers(p) => p.iter().map(|p| self.selectors.peer(p)).collect(),
            };
            // (namespace position, scope) of each rule.
            let scopes: Vec<(u32, Scope)> = if cx.cluster_scope.is_some() {
                let names = positions
                    .iter()
                    .map(|&p| index.namespace(p).name.clone())
                    .collect();
                vec![(u32::MAX, Scope::Cluster(names))]
            } else {
                positions
                    .iter()
                    .map(|&p| (p, Scope::Namespace(index.namespace(p).name.clone())))
                    .collect()
            };
            for (position, scope) in scopes {
                for (peer, peer_key) in &peers {
                    let key = RuleKey {
                        namespace: position,
                        pods: pods_id,
                        direction,
                        action,
                        peer: *peer_key,
                    };
                    out.push(
                        key,
                        Rule {
                            subject: Subject {
                                scope: scope.clone(),
                                pods: pods.clone(),
                            },
                            direction,
                            action,
                            peer: peer.clone(),
                            ports: ports.clone(),
                            http: http.to_vec(),
                            origin: origin.clone(),
                        },
                    );
                    made += 1;
                }
            }
        }
        made
    }
}

/// What a side's namespace selector reaches.
pub(super) struct Reach {
    /// The namespaces it names (`kubernetes.io/metadata.name In`) that are not managed.
    unmanaged: Vec<String>,
    /// The namespaces (positions in name order) where a side is made, by direction and
    /// action ([`Reach::slot`]), once asked for.
    sides: [Option<Vec<u32>>; 4],
}

impl Reach {
    fn new(selector: &LabelSelector, program: &Program) -> Reach {
        let unmanaged = selector
            .requirements()
            .filter(|r| r.key == NAMESPACE_NAME_LABEL && r.op == Op::In)
            .flat_map(|r| &r.values)
            .filter(|n| !program.namespaces.contains_key(*n))
            .cloned()
            .collect();
        Reach {
            unmanaged,
            sides: Default::default(),
        }
    }

    fn slot(direction: Direction, action: Action) -> usize {
        usize::from(direction == Direction::Egress) * 2 + usize::from(action == Action::Deny)
    }
}

/// The managed namespaces by label, so that the sides of an intent whose namespace
/// selector tests a label for some values (a team's namespaces, say) meet only the
/// namespaces carrying one of those values instead of every namespace, per intent.
/// Namespaces are given by their position in name order (which a rule's key holds).
pub(super) struct NamespaceIndex<'p> {
    /// Every managed namespace, in name order.
    all: Vec<&'p ManagedNamespace>,
    /// The positions of the namespaces carrying each (key, value), ascending.
    by_pair: HashMap<(&'p str, &'p str), Vec<u32>>,
}

impl<'p> NamespaceIndex<'p> {
    pub(super) fn new(all: &'p BTreeMap<String, ManagedNamespace>) -> NamespaceIndex<'p> {
        let all: Vec<&ManagedNamespace> = all.values().collect();
        let mut by_pair: HashMap<(&str, &str), Vec<u32>> = HashMap::new();
        for (position, n) in all.iter().enumerate() {
            for (k, v) in &n.labels {
                by_pair
                    .entry((k, v))
                    .or_default()
                    .push(u32::try_from(position).expect("fewer than 2^32 namespaces"));
            }
        }
        NamespaceIndex { all, by_pair }
    }

    /// The namespace at `position` in name order.
    pub(super) fn namespace(&self, position: u32) -> &'p ManagedNamespace {
        self.all[position as usize]
    }

    /// Namespaces (positions) among which are all those `selector` matches, each once:
    /// those of the `In` test that admits the fewest, or every namespace when there is
    /// none (the caller still tests each against the whole selector).
    pub(super) fn candidates(&self, selector: &LabelSelector) -> Vec<u32> {
        let admitted = |r: &Requirement| -> Vec<u32> {
            r.values
                .iter()
                .filter_map(|v| self.by_pair.get(&(r.key.as_str(), v.as_str())))
                .flatten()
                .copied()
                .collect()
        };
        // A namespace has one value per key: no namespace comes twice.
        selector
            .requirements()
            .filter(|r| r.op == Op::In)
            .map(admitted)
            .min_by_key(Vec::len)
            .unwrap_or_else(|| (0..self.all.len() as u32).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn namespaces() -> BTreeMap<String, ManagedNamespace> {
        (0..6)
            .map(|i| {
                let name = format!("ns-{i}");
                let mut labels = BTreeMap::from([(NAMESPACE_NAME_LABEL.to_string(), name.clone())]);
                if i < 5 {
                    labels.insert("team".to_string(), format!("t{}", i % 3));
                }
                let origin = Origin {
                    file: "policies/x.yaml".to_string(),
                    set: name.clone(),
                    intent: "isolate".to_string(),
                    preset: None,
                    span: None,
                };
                let n = ManagedNamespace {
                    name: name.clone(),
                    labels,
                    isolated: BTreeSet::new(),
                    origin,
                };
                (name, n)
            })
            .collect()
    }

    fn names<'p>(index: &NamespaceIndex<'p>, found: Vec<u32>) -> Vec<&'p str> {
        let mut out: Vec<&str> = found
            .iter()
            .map(|&p| index.namespace(p).name.as_str())
            .collect();
        out.sort_unstable();
        out
    }

    #[test]
    fn the_index_offers_the_namespaces_of_the_narrowest_in_test_and_every_namespace_without_one() {
        let all = namespaces();
        let index = NamespaceIndex::new(&all);
        let sel = |reqs: Vec<Requirement>| LabelSelector::from_requirements(reqs).unwrap();
        // team In [t0, t1]: ns-0, ns-1, ns-3, ns-4; the name test admits one only.
        let team = Requirement::is_in("team", ["t0", "t1"]);
        assert_eq!(
            names(&index, index.candidates(&sel(vec![team.clone()]))),
            ["ns-0", "ns-1", "ns-3", "ns-4"]
        );
        let named = Requirement::is_in(NAMESPACE_NAME_LABEL, ["ns-3", "ns-5"]);
        assert_eq!(
            names(&index, index.candidates(&sel(vec![team, named]))),
            ["ns-3", "ns-5"]
        );
        // A selector naming one namespace: that one (its name label is its name).
        let one = Requirement::is_in(NAMESPACE_NAME_LABEL, ["ns-2"]);
        assert_eq!(names(&index, index.candidates(&sel(vec![one]))), ["ns-2"]);
        // No In test: every namespace, also those without the label.
        let not_in = Requirement::not_in("team", ["t0"]);
        assert_eq!(index.candidates(&sel(vec![not_in])).len(), 6);
        // Every namespace a selector matches is offered.
        for s in [
            sel(vec![Requirement::is_in("team", ["t2", "t9"])]),
            sel(vec![Requirement::not_in("team", ["t1"])]),
        ] {
            let offered = names(&index, index.candidates(&s));
            for n in all.values().filter(|n| s.matches(&n.labels)) {
                assert!(offered.contains(&n.name.as_str()), "{} left out", n.name);
            }
        }
    }
}
