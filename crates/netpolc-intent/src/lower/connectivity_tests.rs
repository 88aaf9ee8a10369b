//! ConnectivityTests: endpoints resolved to representative pods and addresses of the
//! model.

use super::*;

impl Cx {
    pub(super) fn lower_test(
        &mut self,
        t: &TestDoc,
        sets: &[&SetDoc],
        program: &Program,
    ) -> Option<ConnectivityTest> {
        // Which set do bare group names refer to?
        let home: Option<&SetDoc> = match &t.spec.namespace {
            Some(ns) => {
                let found = sets.iter().copied().find(|s| s.namespace.value == ns.value);
                if found.is_none() {
                    if self.incomplete {
                        // The set may be in a document that could not be read.
                        return None;
                    }
                    self.diags.push(err(
                        codes::BAD_TEST,
                        ns.span,
                        format!("no intent set for namespace `{}`", ns.value),
                        "unknown namespace",
                    ));
                    return None;
                }
                found
            }
            None if sets.len() == 1 => Some(sets[0]),
            None => None,
        };
        let mut cases = Vec::new();
        let mut ok = true;
        for e in &t.spec.expect {
            let doc = &e.value;
            let from = self.test_endpoint(&doc.from, home, sets, program);
            let to = self.test_endpoint(&doc.to, home, sets, program);
            let port = match parse_port(&doc.port.value) {
                Ok(
                    p @ PortMatch {
                        port: netpolc_ir::PortSpec::Range { start, end },
                        ..
                    },
                ) if start == end => Some(p),
                Ok(_) => {
                    self.diags.push(
                        err(
                            codes::BAD_TEST,
                            doc.port.span,
                            "a test names one port",
                            "not a single port",
                        )
                        .with_help("write e.g. `5432/tcp`"),
                    );
                    None
                }
                Err(m) => {
                    self.diags.push(err(
                        codes::BAD_PORT,
                        doc.port.span,
                        format!("invalid port `{}`", doc.port.value),
                        m,
                    ));
                    None
                }
            };
            let expect = match doc.verdict.value.as_str() {
                "allow" => Some(Expect::Allow),
                "deny" => Some(Expect::Deny),
                other => {
                    self.diags.push(
                        err(
                            codes::BAD_TEST,
                            doc.verdict.span,
                            format!("unknown verdict `{other}`"),
                            "not a verdict",
                        )
                        .with_help("expected `allow` or `deny`"),
                    );
                    None
                }
            };
            match (from, to, port, expect) {
                (Some(from), Some(to), Some(port), Some(expect)) => {
                    let label = format!(
                        "{} -> {} {}",
                        endpoint_text(&doc.from.value),
                        endpoint_text(&doc.to.value),
                        doc.port.value
                    );
                    cases.push(TestCase {
                        from,
                        to,
                        port,
                        expect,
                        span: Some(e.span),
                        label,
                    });
                }
                _ => ok = false,
            }
        }
        ok.then(|| ConnectivityTest {
            name: t.name.value.clone(),
            file: t.file.clone(),
            cases,
        })
    }

    pub(super) fn test_endpoint(
        &mut self,
        e: &Spanned<EndpointDoc>,
        home: Option<&SetDoc>,
        sets: &[&SetDoc],
        program: &Program,
    ) -> Option<TestEndpoint> {
        match &e.value {
            EndpointDoc::Pod(p) => {
                if let Some(addr) = &p.address {
                    if p.namespace.is_some() || p.selector.is_some() {
                        self.diags.push(err(
                            codes::BAD_TEST,
                            e.span,
                            "an endpoint is a pod or an address, not both",
                            "here",
                        ));
                        return None;
                    }
                    return match addr.value.parse::<IpAddr>() {
                        Ok(ip) => Some(TestEndpoint::Address(ip)),
                        Err(_) => {
                            self.diags.push(err(
                                codes::BAD_TEST,
                                addr.span,
                                format!("`{}` is not an IP address", addr.value),
                                "here",
                            ));
                            None
                        }
                    };
                }
                let namespace = match (&p.namespace, home) {
                    (Some(n), _) => n.value.clone(),
                    (None, Some(h)) => h.namespace.value.clone(),
                    (None, None) => {
                        self.diags.push(
                            err(
                                codes::BAD_TEST,
                                e.span,
                                "test pod without a namespace",
                                "here",
                            )
                            .with_help(
                                "add `namespace:` to the pod or `spec.namespace` to the test",
                            ),
                        );
                        return None;
                    }
                };
                let mut labels = BTreeMap::new();
                for (k, v) in p.selector.iter().flatten() {
                    if self.check_label(k, v) {
                        labels.insert(k.value.clone(), v.value.clone());
                    }
                }
                Some(TestEndpoint::Pod { namespace, labels })
            }
            EndpointDoc::Group(name) => {
                let (set, group) = match name.split_once('/') {
                    Some((s, g)) => (sets.iter().copied().find(|x| x.name.value == s), g),
                    None => (home, name.as_str()),
                };
                let Some(set) = set else {
                    if self.incomplete {
                        return None;
                    }
                    self.diags.push(
                        err(
                            codes::BAD_TEST,
                            e.span,
                            format!("cannot tell which intent set `{name}` belongs to"),
                            "ambiguous group",
                        )
                        .with_help("write `set/group`, or give the test a `spec.namespace`"),
                    );
                    return None;
                };
                let ns = set.namespace.value.clone();
                let own = LabelSelector::from_labels([(NAMESPACE_NAME_LABEL, ns.as_str())]);
                let cx = SetContext {
                    file: &set.file,
                    set: &set.name.value,
                    own,
                    cluster_scope: None,
                    groups: BTreeMap::new(),
                    broken: BTreeSet::new(),
                    index: None,
                };
                let resolved = match set.spec.value.groups.iter().find(|(k, _)| k.value == group) {
                    Some((_, g)) => self.group(&cx, g, &program.profile),
                    None => self.resolve_ref(
                        &cx,
                        &Spanned {
                            span: e.span,
                            value: group.to_string(),
                        },
                        &program.profile,
                    ),
                }?;
                self.representative(&resolved, e.span, program)
            }
        }
    }

    /// A concrete pod or address inside a group, for a test flow.
    pub(super) fn representative(
        &mut self,
        g: &Group,
        span: Span,
        program: &Program,
    ) -> Option<TestEndpoint> {
        match g {
            Group::Pods { namespaces, pods } => {
                let ns = program
                    .namespaces
                    .values()
                    .find(|n| namespaces.matches(&n.labels))
                    .map(|n| n.name.clone())
                    .or_else(|| Peer::single_namespace(namespaces).map(str::to_string));
                let Some(namespace) = ns else {
                    self.diags.push(err(
                        codes::BAD_TEST,
                        span,
                        "no known namespace matches this group",
                        "cannot place a test pod",
                    ));
                    return None;
                };
                let mut labels = BTreeMap::new();
                for r in pods.requirements() {
                    match r.op {
                        Op::In => {
                            labels.insert(
                                r.key.clone(),
                                r.values.iter().next().cloned().unwrap_or_default(),
                            );
                        }
                        Op::Exists => {
                            labels
                                .entry(r.key.clone())
                                .or_insert_with(|| "netpolc-test".to_string());
                        }
                        Op::NotIn | Op::DoesNotExist => {}
                    }
                }
                if !pods.matches(&labels) {
                    self.diags.push(
                        err(
                            codes::BAD_TEST,
                            span,
                            "cannot derive a pod for this group",
                            "write the pod explicitly",
                        )
                        .with_help("use `{namespace: NS, selector: {KEY: VALUE}}`"),
                    );
                    return None;
                }
                Some(TestEndpoint::Pod { namespace, labels })
            }
            Group::Peers(peers) => {
                for p in peers {
                    if let Peer::Cidr(b) = p {
                        if let Some(ip) = b
                            .net
                            .hosts()
                            .take(1024)
                            .find(|ip| b.contains(ip))
                            .or_else(|| b.contains(&b.net.addr()).then(|| b.net.addr()))
                        {
                            return Some(TestEndpoint::Address(ip));
                        }
                    }
                }
                self.diags.push(
                    err(
                        codes::BAD_TEST,
                        span,
                        "this group has no address a test can use",
                        "here",
                    )
                    .with_help("use `{address: IP}`"),
                );
                None
            }
            Group::Any => {
                self.diags.push(err(
                    codes::BAD_TEST,
                    span,
                    "`anywhere` is not a concrete endpoint",
                    "here",
                ));
                None
            }
        }
    }
}
