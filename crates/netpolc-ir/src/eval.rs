//! The intended meaning of a [`Program`] (see the crate docs), evaluated on a
//! [`ClusterModel`]. Every back end's evaluator is compared against this one.

use crate::model::{ClusterModel, Decision, Endpoint, Evaluator, Flow, Side, Verdict};
use crate::{Action, Direction, Entity, Peer, Program, Rule};

/// Evaluates the intended meaning of a program.
#[derive(Debug)]
pub struct Intended<'p> {
    program: &'p Program,
}

/// The intended-meaning evaluator of a program.
pub fn intended(program: &Program) -> Intended<'_> {
    Intended { program }
}

impl Intended<'_> {
    fn side(&self, model: &ClusterModel, flow: &Flow, direction: Direction) -> Side {
        let (me, other) = match direction {
            Direction::Egress => (flow.src, flow.dst),
            Direction::Ingress => (flow.dst, flow.src),
        };
        let Endpoint::Pod(i) = me else {
            return Side::NotApplicable;
        };
        let pod = &model.pods[i];
        let matching = |action: Action| {
            self.program.rules.iter().find(|r| {
                r.action == action
                    && r.direction == direction
                    && r.subject.selects(&pod.namespace, &pod.labels)
                    && peer_matches(self.program, model, &r.peer, &other)
                    && ports_match(model, r, flow)
            })
        };
        if let Some(r) = matching(Action::Deny) {
            return Side::Denied(decision(r));
        }
        if !self.program.is_isolated(&pod.namespace, direction) {
            return Side::Open;
        }
        match matching(Action::Allow) {
            Some(r) => Side::Allowed(decision(r)),
            None => Side::DefaultDeny(
                self.program
                    .isolations
                    .iter()
                    .filter(|iso| iso.direction == direction && iso.scope.contains(&pod.namespace))
                    .map(|iso| iso.origin.qualified())
                    .collect(),
            ),
        }
    }
}

impl Evaluator for Intended<'_> {
    fn name(&self) -> &'static str {
        "intended"
    }

    fn verdict(&self, model: &ClusterModel, flow: &Flow) -> Verdict {
        Verdict {
            egress: self.side(model, flow, Direction::Egress),
            ingress: self.side(model, flow, Direction::Ingress),
        }
    }
}

fn decision(r: &Rule) -> Decision {
    Decision {
        object: format!("intent set {}", r.origin.set),
        rule: r.origin.intent.clone(),
        intent: Some(r.origin.qualified()),
    }
}

/// Whether a rule's ports match a flow; named ports resolve on the destination pod.
pub fn ports_match(model: &ClusterModel, rule: &Rule, flow: &Flow) -> bool {
    let named = |name: &str| match flow.dst {
        Endpoint::Pod(i) => model.pods[i].named_ports.get(name).copied(),
        Endpoint::External(_) => None,
    };
    rule.ports.matches(flow.protocol, flow.port, &named)
}

/// Whether a peer matches an endpoint under the IR's meaning.
pub fn peer_matches(program: &Program, model: &ClusterModel, peer: &Peer, e: &Endpoint) -> bool {
    match (peer, e) {
        (Peer::Any, _) => true,
        (Peer::Pods { namespaces, pods }, Endpoint::Pod(i)) => {
            let pod = &model.pods[*i];
            namespaces.matches(&model.namespace_labels(pod)) && pods.matches(&pod.labels)
        }
        (Peer::Pods { .. }, Endpoint::External(_)) => false,
        (Peer::Cidr(block), Endpoint::External(ip)) => block.contains(ip),
        (Peer::Cidr(_), Endpoint::Pod(_)) => false,
        // The API server is what the profile says it is: back ends can render nothing else.
        (Peer::Entity(Entity::KubeApiserver), Endpoint::External(ip)) => program
            .profile
            .api_server_cidrs
            .iter()
            .any(|n| n.contains(ip)),
        (Peer::Entity(_), _) => false,
        // FQDN peers are not part of the address model: they match no modelled endpoint.
        (Peer::Fqdn(_), _) => false,
    }
}

/// The first `limit` flows of `model` (in [`ClusterModel::flows`] order) on which
/// `evaluator` and the intended meaning of `program` disagree about whether the
/// connection is allowed, one line each; empty when they agree on every flow.
///
/// Only the overall verdict is compared (both sides must allow), not which rule decided.
/// Back ends' unit tests use it; the driver's `verify` adds sampling for large models.
pub fn first_disagreements<E>(
    program: &Program,
    model: &ClusterModel,
    evaluator: &E,
    limit: usize,
) -> Vec<String>
where
    E: Evaluator + ?Sized,
{
    let want = intended(program);
    let mut out = Vec::new();
    if limit == 0 {
        return out;
    }
    for flow in model.flows() {
        let expected = want.verdict(model, &flow);
        let actual = evaluator.verdict(model, &flow);
        if expected.allowed() != actual.allowed() {
            out.push(format!(
                "{}: intended {} ({}), {} {} ({})",
                model.flow_name(&flow),
                word(&expected),
                sides(&expected),
                evaluator.name(),
                word(&actual),
                sides(&actual),
            ));
            if out.len() >= limit {
                break;
            }
        }
    }
    out
}

fn word(v: &Verdict) -> &'static str {
    if v.allowed() {
        "allowed"
    } else {
        "denied"
    }
}

fn sides(v: &Verdict) -> String {
    format!("egress: {}; ingress: {}", v.egress, v.ingress)
}
