//! Groups: a set's definitions resolved into peers (pods, namespaces, CIDR blocks,
//! entities, built-in groups) and references to them.

use super::*;

impl Cx {
    pub(super) fn resolve_groups(
        &mut self,
        cx: &mut SetContext<'_>,
        groups: &BTreeMap<Spanned<String>, Spanned<GroupDoc>>,
        profile: &ClusterProfile,
    ) {
        for (name, g) in groups {
            if BUILTIN_GROUPS.contains(&name.value.as_str()) {
                self.diags.push(
                    err(codes::BAD_NAME, name.span, format!("`{}` is a built-in group", name.value), "reserved name")
                        .with_help("choose another name; built-in groups are `all`, `anywhere`, `host`, `kube-apiserver`, `kube-dns`, `world`"),
                );
                continue;
            }
            if !self.check_name("group name", name) {
                cx.broken.insert(name.value.clone());
                continue;
            }
            if let Some(group) = self.group(cx, g, profile) {
                cx.groups.insert(name.value.clone(), (name.span, group));
            } else {
                cx.broken.insert(name.value.clone());
            }
        }
    }

    pub(super) fn group(
        &mut self,
        cx: &SetContext<'_>,
        g: &Spanned<GroupDoc>,
        profile: &ClusterProfile,
    ) -> Option<Group> {
        let d = &g.value;
        let pod_like = d.selector.is_some() || d.namespaces.is_some();
        let kinds = [
            pod_like,
            d.cidrs.is_some(),
            d.entity.is_some(),
            d.fqdns.is_some(),
        ]
        .iter()
        .filter(|b| **b)
        .count();
        if kinds != 1 {
            self.diags.push(
                err(codes::BAD_GROUP, g.span, if kinds == 0 { "empty group" } else { "a group mixes kinds of peers" }, "this group")
                    .with_help("a group has `selector` and/or `namespaces`, or `cidrs`, or `entity`, or `fqdns`"),
            );
            return None;
        }
        if pod_like {
            let pods = match &d.selector {
                Some(s) => self.selector(&s.value)?,
                None => LabelSelector::all(),
            };
            let namespaces = match &d.namespaces {
                Some(n) => self.namespaces_selector(n)?,
                None => cx.own.clone(),
            };
            return Some(Group::Pods { namespaces, pods });
        }
        if let Some(cidrs) = &d.cidrs {
            let mut peers = Vec::new();
            if cidrs.is_empty() {
                self.diags.push(err(
                    codes::BAD_VALUE,
                    g.span,
                    "empty `cidrs` list",
                    "this group",
                ));
                return None;
            }
            for c in cidrs {
                peers.extend(self.cidr_block(c, profile)?.into_iter().map(Peer::Cidr));
            }
            return Some(Group::Peers(peers));
        }
        if let Some(e) = &d.entity {
            return self.entity(e, profile);
        }
        if let Some(fqdns) = &d.fqdns {
            let mut peers = Vec::new();
            for f in fqdns {
                let ok = !f.value.is_empty()
                    && f.value.len() <= 255
                    && f.value
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_' | '*'));
                if !ok {
                    self.diags.push(err(
                        codes::BAD_VALUE,
                        f.span,
                        format!("invalid DNS name `{}`", f.value),
                        "letters, digits, `-`, `_`, `.` and `*` only",
                    ));
                    return None;
                }
                peers.push(Peer::Fqdn(f.value.to_ascii_lowercase()));
            }
            if peers.is_empty() {
                self.diags.push(err(
                    codes::BAD_VALUE,
                    g.span,
                    "empty `fqdns` list",
                    "this group",
                ));
                return None;
            }
            return Some(Group::Peers(peers));
        }
        None
    }

    pub(super) fn entity(
        &mut self,
        e: &Spanned<String>,
        profile: &ClusterProfile,
    ) -> Option<Group> {
        match e.value.as_str() {
            "world" => Some(Group::Peers(world(profile))),
            "kube-apiserver" => Some(Group::Peers(vec![Peer::Entity(Entity::KubeApiserver)])),
            "host" => Some(Group::Peers(vec![Peer::Entity(Entity::Host)])),
            "kube-dns" => Some(kube_dns(profile)),
            other => {
                const ENTITIES: [&str; 4] = ["host", "kube-apiserver", "kube-dns", "world"];
                let mut d = err(
                    codes::BAD_VALUE,
                    e.span,
                    format!("unknown entity `{other}`"),
                    "not an entity",
                )
                .with_help("expected `world`, `kube-apiserver`, `kube-dns` or `host`");
                if let Some(s) = yaml::suggest(other, &ENTITIES) {
                    d = d.with_help(format!("did you mean `{s}`?"));
                }
                self.diags.push(d);
                None
            }
        }
    }

    /// A CIDR group item, with the cluster's own networks carved out.
    pub(super) fn cidr_block(
        &mut self,
        c: &Spanned<CidrDoc>,
        profile: &ClusterProfile,
    ) -> Option<Vec<CidrBlock>> {
        let text = Spanned {
            span: c.span,
            value: c.value.cidr.clone(),
        };
        let net = parse_cidr(&text, &mut self.diags)?;
        let mut except = Vec::new();
        for e in &c.value.except {
            let hole = parse_cidr(e, &mut self.diags)?;
            if !(net.contains(&hole) && hole.prefix_len() > net.prefix_len()) {
                self.diags.push(err(
                    codes::BAD_CIDR,
                    e.span,
                    format!("`{}` is not strictly inside `{net}`", e.value),
                    "except must be a smaller block inside the cidr",
                ));
                return None;
            }
            except.push(hole);
        }
        for cluster in profile.cluster_cidrs() {
            if cluster.contains(&net) {
                self.diags.push(
                    err(codes::CIDR_IN_CLUSTER, c.span, format!("`{net}` lies inside the cluster network `{cluster}`"), "no external address here")
                        .with_note("CIDR peers mean addresses outside the cluster on every backend (Cilium never matches pods by CIDR)")
                        .with_help("select pods with `selector`/`namespaces`, or fix `podCIDRs`/`serviceCIDRs`/`nodeCIDRs` in the ClusterProfile"),
                );
                return None;
            }
            if net.contains(&cluster) {
                except.push(cluster);
            }
        }
        except.sort();
        except.dedup();
        let kept: Vec<IpNet> = except
            .iter()
            .filter(|h| !except.iter().any(|o| o != *h && o.contains(*h)))
            .copied()
            .collect();
        Some(vec![CidrBlock { net, except: kept }])
    }

    pub(super) fn resolve_ref(
        &mut self,
        cx: &SetContext<'_>,
        r: &Spanned<String>,
        profile: &ClusterProfile,
    ) -> Option<Group> {
        if let Some((_, g)) = cx.groups.get(&r.value) {
            return Some(g.clone());
        }
        if cx.broken.contains(&r.value) {
            return None;
        }
        match r.value.as_str() {
            "all" => Some(Group::Pods {
                namespaces: cx.own.clone(),
                pods: LabelSelector::all(),
            }),
            "anywhere" => Some(Group::Any),
            "world" => Some(Group::Peers(world(profile))),
            "kube-dns" => Some(kube_dns(profile)),
            "kube-apiserver" => Some(Group::Peers(vec![Peer::Entity(Entity::KubeApiserver)])),
            "host" => Some(Group::Peers(vec![Peer::Entity(Entity::Host)])),
            other => {
                let mut names: Vec<&str> = cx.groups.keys().map(String::as_str).collect();
                names.extend(BUILTIN_GROUPS);
                let mut d = err(
                    codes::UNKNOWN_GROUP,
                    r.span,
                    format!("unknown group `{other}`"),
                    "no group of this name",
                )
                .with_note(format!(
                    "intent set `{}` defines {}",
                    cx.set,
                    if cx.groups.is_empty() {
                        "no groups".to_string()
                    } else {
                        cx.groups
                            .keys()
                            .map(|k| format!("`{k}`"))
                            .collect::<Vec<_>>()
                            .join(", ")
                    }
                ));
                d = match yaml::suggest(other, &names) {
                    Some(s) => d.with_help(format!("did you mean `{s}`?")),
                    None => d.with_help("define it under `groups`, or use a built-in group: `all`, `anywhere`, `world`, `kube-dns`, `kube-apiserver`, `host`"),
                };
                self.diags.push(d);
                None
            }
        }
    }
}
