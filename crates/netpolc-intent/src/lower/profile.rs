//! The ClusterProfile: networks, API server, DNS, declared namespaces and targets, and
//! the isolated directions of each namespace.

use super::*;

impl Cx {
    pub(super) fn profile(&mut self) -> ClusterProfile {
        let mut p = ClusterProfile::default();
        let profiles = std::mem::take(&mut self.profiles);
        if profiles.len() > 1 {
            for (_, span, _) in &profiles[1..] {
                self.diags.push(
                    err(
                        codes::DUPLICATE,
                        *span,
                        "more than one ClusterProfile",
                        "another profile",
                    )
                    .with_secondary(profiles[0].1, "the first one")
                    .with_help("keep one ClusterProfile per repository"),
                );
            }
        }
        let Some((_, _, spec)) = profiles.into_iter().next() else {
            return p;
        };
        let nets = |list: &Option<Vec<Spanned<String>>>,
                    target: &mut Vec<IpNet>,
                    diags: &mut Vec<Diagnostic>| {
            if let Some(list) = list {
                target.clear();
                for c in list {
                    if let Some(n) = parse_cidr(c, diags) {
                        target.push(n);
                    }
                }
                target.sort();
                target.dedup();
            }
        };
        nets(&spec.pod_cidrs, &mut p.pod_cidrs, &mut self.diags);
        nets(&spec.service_cidrs, &mut p.service_cidrs, &mut self.diags);
        nets(&spec.node_cidrs, &mut p.node_cidrs, &mut self.diags);
        p.nodes_declared = spec.node_cidrs.is_some();
        if let Some(api) = &spec.api_server {
            let list = Some(api.cidrs.clone());
            nets(&list, &mut p.api_server_cidrs, &mut self.diags);
            if let Some(port) = &api.port {
                if port.value == 0 {
                    self.diags.push(err(
                        codes::BAD_PORT,
                        port.span,
                        "API server port must be 1–65535",
                        "port 0",
                    ));
                } else {
                    p.api_server_port = port.value;
                }
            }
        }
        if let Some(dns) = &spec.dns {
            if let Some(ns) = &dns.namespace {
                if self.check_name("namespace name", ns) {
                    p.dns_namespace = ns.value.clone();
                }
            }
            if let Some(sel) = &dns.selector {
                if let Some(s) = self.selector(&sel.value) {
                    p.dns_pods = s;
                }
            }
        }
        if let Some(list) = &spec.targets {
            let mut names = BTreeSet::new();
            for t in &list.value {
                if !["kubernetes", "calico", "cilium"].contains(&t.value.as_str()) {
                    self.diags.push(
                        err(
                            codes::BAD_TARGETS,
                            t.span,
                            format!("unknown back end `{}`", t.value),
                            "not a back end",
                        )
                        .with_help("write `kubernetes`, `calico` or `cilium`"),
                    );
                } else if !names.insert(t.value.clone()) {
                    self.diags.push(err(
                        codes::BAD_TARGETS,
                        t.span,
                        format!("back end `{}` listed twice", t.value),
                        "repeated",
                    ));
                }
            }
            if list.value.is_empty() {
                self.diags.push(
                    err(
                        codes::BAD_TARGETS,
                        list.span,
                        "`targets` is empty",
                        "no back end",
                    )
                    .with_help("list at least one back end, or leave `targets` out for all three"),
                );
            }
            p.targets = Some(names.into_iter().collect());
        }
        for (ns, labels) in &spec.namespaces {
            if !self.check_name("namespace name", ns) {
                continue;
            }
            let mut map = BTreeMap::new();
            for (k, v) in labels {
                if k.value == NAMESPACE_NAME_LABEL && v.value != ns.value {
                    self.diags.push(
                        err(
                            codes::BAD_LABEL,
                            v.span,
                            format!(
                                "`{NAMESPACE_NAME_LABEL}` of namespace `{}` cannot be `{}`",
                                ns.value, v.value
                            ),
                            format!("Kubernetes always sets it to `{}`", ns.value),
                        )
                        .with_help(format!("remove the label, or write `{}`", ns.value)),
                    );
                    continue;
                }
                if self.check_label(k, v) {
                    map.insert(k.value.clone(), v.value.clone());
                }
            }
            map.insert(NAMESPACE_NAME_LABEL.to_string(), ns.value.clone());
            self.profile_namespaces.insert(ns.value.clone(), ns.span);
            p.unmanaged_namespaces.insert(ns.value.clone(), map);
        }
        p
    }

    pub(super) fn isolation_directions(
        &mut self,
        isolate: &[Spanned<String>],
        presets: &[Spanned<String>],
    ) -> BTreeSet<Direction> {
        let mut out = BTreeSet::new();
        for d in isolate {
            match d.value.as_str() {
                "ingress" => {
                    out.insert(Direction::Ingress);
                }
                "egress" => {
                    out.insert(Direction::Egress);
                }
                other => self.diags.push(
                    err(
                        codes::BAD_VALUE,
                        d.span,
                        format!("unknown direction `{other}`"),
                        "not a direction",
                    )
                    .with_help("expected `ingress` or `egress`"),
                ),
            }
        }
        if presets.iter().any(|p| p.value == "default-deny") {
            out.extend(Direction::BOTH);
        }
        out
    }
}
