//! The exec KRM function behind `netpolc fn`, for kpt (`kpt fn eval --exec "netpolc fn"`)
//! and any other orchestrator that speaks the KRM function wire format.
//!
//! [`run`] is a pure function from the bytes of a `config.kubernetes.io/v1` `ResourceList`
//! to the bytes of another one, human-readable diagnostics and an exit code. It reads no
//! file, no clock and no environment variable, and its output depends only on its input.
//!
//! - **Options** come from `functionConfig`: a `ConfigMap` (`data:` with the keys
//!   `target`, `policies`, `namespace`, `golden`, `calico-namespaced`, `cilium-sctp` and
//!   `allow-empty`, as `kpt fn eval ... -- target=cilium` writes it) or a
//!   `netpolc.dev/v1alpha1` `NetpolcConfig` (the same options under `spec:`, in camelCase).
//!   Unknown keys are errors.
//! - **Intents** are the items with `apiVersion: netpolc.dev/v1alpha1` (except a
//!   `NetpolcConfig`) whose file, from the `internal.config.kubernetes.io/path` or
//!   `config.kubernetes.io/path` annotation, matches `policies` (every file by default).
//!   Documents are grouped by file and ordered by their `config.kubernetes.io/index`, and
//!   compiled as `netpolc build` compiles the files, orchestration annotations removed.
//! - **Output** items: every input item except the objects netpolc generated earlier for
//!   the same target (under `<golden>/<target>/`, labelled
//!   `app.kubernetes.io/managed-by: netpolc` or starting with the generated-file header),
//!   passed through as the text it arrived as (comments included); then the files
//!   [`golden::files`] maps the rendered objects to, at `<golden>/<target>/...` with the
//!   same header comment, so that kpt writes exactly what `netpolc build` would write.
//!   An item's verbatim text is used only when it reads back alone as the same item;
//!   otherwise that item is re-serialised (its comments are then lost, its content never
//!   is). The whole output is read back once more and compared, item by item, with a
//!   digest of every expected item; should that ever fail, the run fails (NP7006)
//!   instead of writing something else.
//! - **Memory** stays a small multiple of the input: the `ResourceList` is read as a
//!   stream ([`yaml::load_streamed`]), one item at a time, and only intent documents are
//!   kept whole; every other item is kept as its text (a range of the input when it is
//!   already at column 0) and a digest. `benches/fn-memory.sh` measures it.
//! - **The rest of the package**: an item with the identity of a generated object is
//!   refused (`NP7007`: applied together, one would replace the other), and a network
//!   policy netpolc did not generate, where the intents manage the pods, is warned about
//!   (`NP7008`: the proof does not cover it).
//! - **Diagnostics** become `results` (`severity`, `message` starting with the code,
//!   `resourceRef`, `file: {path, index}`, `field: {path}` where the diagnostic points
//!   into a document, `tags: {code}`), and are also returned for stderr.
//! - **Exit code**: 0 success, 1 the rendered objects fail translation validation, 2 bad
//!   input (an unreadable `ResourceList`, a bad option, intents with errors, nothing to
//!   render, a generated path held by an item netpolc did not generate, an item with the
//!   identity of a generated object). On failure the items are passed through unchanged,
//!   without generated objects.
//!
//! Codes of this module: [`codes`].

use crate::{emit, golden, load, verify, Options, Target};
use netpolc_intent::yaml::{self, Limits, Node};
use netpolc_source::{Diagnostic, FileId, Severity, Span};
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;
use std::fmt::Write as _;

mod config;
mod list;
mod meta;
mod results;
mod unit;

use config::*;
use list::*;
use meta::*;
use results::*;
use unit::*;

/// Largest `ResourceList` accepted, in bytes.
pub const MAX_INPUT_BYTES: usize = 32 << 20;

/// Exit code for success.
pub const SUCCESS: u8 = 0;
/// Exit code when the rendered objects do not mean what the intents say.
pub const FINDINGS: u8 = 1;
/// Exit code for bad input.
pub const BAD_INPUT: u8 = 2;

/// The diagnostic codes of the KRM function.
pub mod codes {
    /// The summary of a successful run (severity `info`).
    pub const SUMMARY: &str = "NP7000";
    /// The input is not a readable `ResourceList`.
    pub const BAD_RESOURCE_LIST: &str = "NP7001";
    /// The `functionConfig` is not a ConfigMap or NetpolcConfig, or holds a bad option.
    pub const BAD_FUNCTION_CONFIG: &str = "NP7002";
    /// A generated file's path holds an item that netpolc did not generate.
    pub const FOREIGN_ITEM: &str = "NP7003";
    /// The intents render no object (and `allow-empty` is not set).
    pub const NOTHING_RENDERED: &str = "NP7004";
    /// Translation validation found a flow on which the output and the intents disagree.
    pub const DISAGREEMENT: &str = "NP7005";
    /// Translation validation could not run (an internal error).
    pub const VALIDATION_FAILED: &str = "NP7006";
    /// An item netpolc did not generate has the identity of an object it generates:
    /// applied together, one would silently replace the other.
    pub const IDENTITY_TAKEN: &str = "NP7007";
    /// Warning: the package holds a network policy netpolc did not generate, of a kind
    /// the target enforces, in a namespace the intents manage (or cluster-wide): applied
    /// with the generated objects, it changes what is allowed, and the proof does not
    /// cover it.
    pub const FOREIGN_POLICY: &str = "NP7008";
}

/// The apiVersion of intent documents.
pub const INTENT_API_VERSION: &str = "netpolc.dev/v1alpha1";
/// The kind of the typed function configuration.
pub const CONFIG_KIND: &str = "NetpolcConfig";
/// The annotation naming an item's file (kpt also reads the internal one).
pub const PATH_ANNOTATION: &str = "config.kubernetes.io/path";
/// The annotation naming an item's file, as kpt v1 writes it.
pub const INTERNAL_PATH_ANNOTATION: &str = "internal.config.kubernetes.io/path";
/// The annotation giving an item's document index in its file.
pub const INDEX_ANNOTATION: &str = "config.kubernetes.io/index";
/// The annotation giving an item's document index in its file, as kpt v1 writes it.
pub const INTERNAL_INDEX_ANNOTATION: &str = "internal.config.kubernetes.io/index";
/// The label every object netpolc generates carries, with the value `netpolc`.
pub const MANAGED_BY_LABEL: &str = "app.kubernetes.io/managed-by";

/// Annotation prefixes owned by the orchestrator; removed before compiling an intent.
const ORCHESTRATION_PREFIXES: [&str; 3] = [
    "config.kubernetes.io/",
    "internal.config.kubernetes.io/",
    "config.k8s.io/",
];

/// What `netpolc fn` prints and returns.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FnOutput {
    /// The output `ResourceList` (there is one also on failure, carrying the results).
    pub stdout: String,
    /// Human-readable diagnostics, for stderr.
    pub stderr: String,
    /// [`SUCCESS`], [`FINDINGS`] or [`BAD_INPUT`].
    pub exit_code: u8,
}

/// Runs the function on the bytes of a `ResourceList`.
pub fn run(input: &[u8]) -> FnOutput {
    if input.len() > MAX_INPUT_BYTES {
        return unreadable(format!(
            "the ResourceList is larger than {} MiB",
            MAX_INPUT_BYTES >> 20
        ));
    }
    let text = match std::str::from_utf8(input) {
        Ok(t) => t,
        Err(e) => return unreadable(format!("the ResourceList is not UTF-8: {e}")),
    };
    let list = match ResourceList::parse(text) {
        Ok(l) => l,
        Err(message) => return unreadable(message),
    };
    let config = match Config::parse(list.function_config.as_ref()) {
        Ok(c) => c,
        Err(findings) => return list.fail(findings, BAD_INPUT),
    };
    list.generate(&config)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs() {
        let glob_match = |pattern: &str, path: &str| {
            PathPattern::new(pattern)
                .unwrap()
                .is_some_and(|p| p.matches(path))
        };
        assert!(glob_match("policies/*.yaml", "policies/a.yaml"));
        assert!(!glob_match("policies/*.yaml", "policies/x/a.yaml"));
        assert!(glob_match("policies/**/*.yaml", "policies/a.yaml"));
        assert!(glob_match("policies/**/*.yaml", "policies/x/y/a.yaml"));
        assert!(glob_match("**", "a/b/c"));
        assert!(glob_match("**/*.yaml", "a.yaml") && glob_match("**/*.yaml", "a/b/c.yaml"));
        assert!(glob_match("policies/**", "policies/x/a.yaml"));
        assert!(!glob_match("policies/**", "other/a.yaml"));
        assert!(glob_match("p?l*/a*b.y*ml", "pol/aXXb.yml"));
        assert!(!glob_match("p?l*/a*b.y*ml", "pl/ab.yml"));
        assert!(
            !glob_match("p?l/a.yaml", "p/l/a.yaml"),
            "`?` stays in its segment"
        );
        // Classes, negated classes, ranges and alternatives.
        assert!(glob_match("team-[abc]/*.yaml", "team-b/x.yaml"));
        assert!(!glob_match("team-[abc]/*.yaml", "team-d/x.yaml"));
        assert!(glob_match("team-[!a-c]/*.yaml", "team-d/x.yaml"));
        assert!(!glob_match("team-[!a-c]/*.yaml", "team-a/x.yaml"));
        assert!(glob_match("{shop,mail}/*.{yaml,yml}", "mail/x.yml"));
        assert!(!glob_match("{shop,mail}/*.{yaml,yml}", "web/x.yaml"));
        assert!(glob_match(
            "intents/{prod/**,staging}/*.yaml",
            "intents/prod/eu/a.yaml"
        ));
        // A pattern that does not parse is an error, not "matches nothing".
        assert_eq!(
            PathPattern::new("team-[abc/*.yaml").unwrap_err(),
            "`team-[abc/*.yaml` is not a valid glob: unclosed character class; missing ']'"
        );
        // A ConfigMap's comma list keeps `{a,b}` whole.
        assert_eq!(
            split_patterns("a/*.yaml,{b,c}/*.yaml, d"),
            ["a/*.yaml", "{b,c}/*.yaml", " d"]
        );
        let fc = json!({"apiVersion": "v1", "kind": "ConfigMap", "data": {"policies": "{shop,mail}/*.yaml,extra"}});
        let c = Config::parse(Some(&fc)).unwrap();
        assert!(c.selects(Some("shop/a.yaml")) && c.selects(Some("mail/b.yaml")));
        assert!(c.selects(Some("extra/c.yaml")) && !c.selects(Some("web/a.yaml")));
        let c = Config {
            policies: vec![PathPattern::new("policies").unwrap().unwrap()],
            ..Config::default()
        };
        assert!(c.selects(Some("policies/a.yaml")) && c.selects(Some("./policies/x/b.yaml")));
        assert!(!c.selects(Some("policies-old/a.yaml")) && !c.selects(None));
        // `[` and `{` make a glob too.
        assert!(has_glob("a[1]") && has_glob("{a,b}") && !has_glob("a/b.yaml"));
    }

    #[test]
    fn options_are_checked() {
        let fc = json!({"apiVersion": "v1", "kind": "ConfigMap", "data": {"target": "cilum", "polices": "x"}});
        let errors = Config::parse(Some(&fc)).unwrap_err();
        let text = human(&errors);
        assert!(text.contains("did you mean `cilium`?"), "{text}");
        assert!(text.contains("did you mean `policies`?"), "{text}");
        let fc = json!({"apiVersion": INTENT_API_VERSION, "kind": CONFIG_KIND, "spec": {"target": "calico", "calicoNamespaced": true, "policies": ["./intents/", "more/**/*.yaml"], "golden": "out/"}});
        let c = Config::parse(Some(&fc)).unwrap();
        assert_eq!(c.target, Target::Calico);
        assert!(c.calico_namespaced);
        let texts: Vec<&str> = c.policies.iter().map(|p| p.text.as_str()).collect();
        assert_eq!(texts, ["intents", "more/**/*.yaml"]);
        assert_eq!(c.golden, "out");
        let fc = json!({"apiVersion": "v1", "kind": "ConfigMap", "data": {"golden": "../x"}});
        assert!(Config::parse(Some(&fc)).is_err());
    }

    #[test]
    fn items_are_cut_verbatim() {
        let text = "apiVersion: config.kubernetes.io/v1\nkind: ResourceList\nitems:\n- # lead\n  apiVersion: v1\n  kind: ConfigMap\n  metadata: {name: a}  # trailing\n  data:\n    k: |\n      line\n\n- apiVersion: v1\n  kind: ConfigMap\n  metadata:\n    name: b\nfunctionConfig: {apiVersion: v1, kind: ConfigMap, data: {target: cilium}}\n";
        let list = ResourceList::parse(text).unwrap();
        assert_eq!(
            Some(list.items[0].text(text)),
            Some("- # lead\n  apiVersion: v1\n  kind: ConfigMap\n  metadata: {name: a}  # trailing\n  data:\n    k: |\n      line\n\n")
        );
        assert_eq!(
            Some(list.items[1].text(text)),
            Some("- apiVersion: v1\n  kind: ConfigMap\n  metadata:\n    name: b\n")
        );
        // An indented sequence: the same entries.
        let indented = "apiVersion: config.kubernetes.io/v1\nkind: ResourceList\nitems:\n  - apiVersion: v1\n    kind: ConfigMap\n    metadata:\n      name: b\n    # trailing comment\n  -\n    # own line\n    apiVersion: v1\n    kind: ConfigMap\n    metadata: {name: c}\n";
        let l2 = ResourceList::parse(indented).unwrap();
        assert_eq!(
            Some(l2.items[0].text(indented)),
            Some("- apiVersion: v1\n  kind: ConfigMap\n  metadata:\n    name: b\n  # trailing comment\n")
        );
        assert_eq!(
            Some(l2.items[1].text(indented)),
            Some("-\n  # own line\n  apiVersion: v1\n  kind: ConfigMap\n  metadata: {name: c}\n")
        );
        // A flow sequence (JSON) is re-serialised.
        let flow = "{\"apiVersion\": \"config.kubernetes.io/v1\", \"kind\": \"ResourceList\", \"items\": [{\"apiVersion\": \"v1\", \"kind\": \"ConfigMap\", \"metadata\": {\"name\": \"a\"}}]}";
        let l3 = ResourceList::parse(flow).unwrap();
        assert_eq!(
            l3.items[0].text(flow),
            "- apiVersion: v1\n  kind: ConfigMap\n  metadata:\n    name: a\n"
        );
        // Anchors and aliases across items.
        let alias = "apiVersion: config.kubernetes.io/v1\nkind: ResourceList\nitems:\n- &a {kind: A, data: {x: y}}\n- *a\n- {kind: C, data: *a}\n";
        let l5 = ResourceList::parse(alias).unwrap();
        let values: Vec<Value> = l5.items.iter().map(|i| i.value_in(alias)).collect();
        let a = json!({"kind": "A", "data": {"x": "y"}});
        assert_eq!(
            values,
            [a.clone(), a.clone(), json!({"kind": "C", "data": a})]
        );
    }

    /// Two objects with one identity are refused under `fn` too (NP6011), with the
    /// intents' paths, and nothing is generated.
    #[test]
    fn identity_collisions_are_refused() {
        // Names cannot collide by construction below 63 characters; two long set names
        // whose cut names share a hash (found by search) still do.
        let cluster = |name: &str, key: &str| {
            format!(
                "- apiVersion: netpolc.dev/v1alpha1\n  kind: ClusterIntentSet\n  metadata:\n    name: {name}\n    annotations: {{config.kubernetes.io/path: policies/{name}.yaml}}\n  spec:\n    groups:\n      gw: {{selector: {{{key}: x}}}}\n      mail: {{cidrs: [203.0.113.0/24]}}\n    intents:\n    - {{name: smtp, from: gw, to: mail, ports: [25/tcp], action: deny}}\n"
            )
        };
        let list = |first: &str, second: &str| {
            format!(
                "apiVersion: config.kubernetes.io/v1\nkind: ResourceList\nfunctionConfig:\n  apiVersion: v1\n  kind: ConfigMap\n  metadata: {{name: netpolc}}\n  data: {{target: cilium}}\nitems:\n- apiVersion: netpolc.dev/v1alpha1\n  kind: IntentSet\n  metadata:\n    name: shop\n    annotations: {{config.kubernetes.io/path: policies/shop.yaml}}\n  spec:\n    namespace: shop\n    isolate: [egress]\n    groups:\n      gw: {{selector: {{app: gw}}}}\n    intents:\n    - {{name: out, from: gw, to: world, ports: [25/tcp]}}\n{}{}",
                first,
                second
            )
        };
        let ok = run(list(&cluster("a", "app.gw"), &cluster("a-app", "gw")).as_bytes());
        assert_eq!(ok.exit_code, SUCCESS, "{}", ok.stderr);
        let (n1, n2) = (
            "relay-for-the-mail-gateway-of-the-other-datacenter-abaaxi5q",
            "relay-for-the-mail-gateway-of-the-other-datacenter-abaa4gca",
        );
        let out = run(list(&cluster(n1, "gw"), &cluster(n2, "gw")).as_bytes());
        assert_eq!(out.exit_code, BAD_INPUT, "{}", out.stderr);
        assert!(out.stdout.contains("NP6011"), "{}", out.stdout);
        assert!(
            out.stderr.contains(&format!("policies/{n2}.yaml")),
            "{}",
            out.stderr
        );
    }

    /// An item of the package with the identity of a generated object is refused
    /// (NP7007); one of another kind, or another name, is passed through.
    #[test]
    fn items_with_a_generated_identity_are_refused() {
        let list = |extra: &str| {
            format!(
                "apiVersion: config.kubernetes.io/v1\nkind: ResourceList\nfunctionConfig:\n  apiVersion: v1\n  kind: ConfigMap\n  metadata: {{name: netpolc}}\n  data: {{target: kubernetes}}\nitems:\n- apiVersion: netpolc.dev/v1alpha1\n  kind: IntentSet\n  metadata:\n    name: shop\n    annotations: {{config.kubernetes.io/path: policies/shop.yaml}}\n  spec:\n    namespace: shop\n    isolate: [ingress]\n    groups:\n      web: {{selector: {{app: web}}}}\n    intents:\n    - {{name: in, from: all, to: web, ports: [80/tcp]}}\n{extra}"
            )
        };
        let plain = run(list("").as_bytes());
        assert_eq!(plain.exit_code, SUCCESS, "{}", plain.stderr);
        // The name of a generated NetworkPolicy, as written.
        let out = crate::verify::parse_yaml("out", &plain.stdout).expect("reads");
        let name = out[0]["items"]
            .as_array()
            .expect("items")
            .iter()
            .find(|i| i["kind"] == "NetworkPolicy")
            .and_then(|i| i["metadata"]["name"].as_str())
            .expect("a NetworkPolicy is generated")
            .to_string();
        let item = |kind: &str, api: &str, name: &str| {
            format!("- apiVersion: {api}\n  kind: {kind}\n  metadata:\n    name: {name}\n    namespace: shop\n    annotations: {{config.kubernetes.io/path: extra/np.yaml}}\n  spec:\n    podSelector: {{}}\n    ingress:\n    - {{}}\n")
        };
        let taken = run(list(&item("NetworkPolicy", "networking.k8s.io/v1", &name)).as_bytes());
        assert_eq!(taken.exit_code, BAD_INPUT, "{}", taken.stderr);
        assert!(taken.stdout.contains("NP7007"), "{}", taken.stdout);
        assert!(
            taken
                .stderr
                .contains(&format!("`extra/np.yaml`: NetworkPolicy `shop/{name}`")),
            "{}",
            taken.stderr
        );
        let policies = |stdout: &str| {
            let out = crate::verify::parse_yaml("out", stdout).expect("reads");
            out[0]["items"]
                .as_array()
                .expect("items")
                .iter()
                .filter(|i| i["kind"] == "NetworkPolicy")
                .count()
        };
        assert_eq!(
            policies(&taken.stdout),
            1,
            "only the item: nothing generated"
        );
        assert!(!taken.stdout.contains("NP7008"), "one finding per item");
        for (kind, api, n) in [
            ("NetworkPolicy", "networking.k8s.io/v1", "other"),
            ("ConfigMap", "v1", name.as_str()),
            ("NetworkPolicy", "example.com/v1", name.as_str()),
        ] {
            let out = run(list(&item(kind, api, n)).as_bytes());
            assert_eq!(out.exit_code, SUCCESS, "{kind} {api} {n}: {}", out.stderr);
        }
        // A hand-written policy the target enforces, where the intents manage the pods, or
        // cluster-wide: a warning; elsewhere, or of a kind the target does not read: none.
        let warned = |extra: &str, target: &str| {
            let out = run(list(extra).replace("target: kubernetes", target).as_bytes());
            assert_eq!(out.exit_code, SUCCESS, "{}", out.stderr);
            out.stdout.contains("NP7008")
        };
        let np = item("NetworkPolicy", "networking.k8s.io/v1", "allow-all");
        assert!(warned(&np, "target: kubernetes"));
        assert!(
            warned(&np, "target: cilium"),
            "Cilium enforces NetworkPolicies too"
        );
        assert!(!warned(
            &np.replace("namespace: shop", "namespace: other"),
            "target: kubernetes"
        ));
        let ccnp = "- apiVersion: cilium.io/v2\n  kind: CiliumClusterwideNetworkPolicy\n  metadata: {name: all}\n  spec: {endpointSelector: {}, ingress: [{}]}\n";
        assert!(warned(ccnp, "target: cilium"));
        assert!(
            !warned(ccnp, "target: kubernetes"),
            "not read by Kubernetes"
        );
        let cm = item("ConfigMap", "v1", "allow-all");
        assert!(!warned(&cm, "target: kubernetes"));
    }

    #[test]
    fn unreadable_input_is_an_error_with_a_result() {
        for input in [&b"kind: ConfigMap\n"[..], b"\xff", b"a: [", b""] {
            let out = run(input);
            assert_eq!(out.exit_code, BAD_INPUT);
            assert!(out.stdout.contains("NP7001"), "{}", out.stdout);
            assert!(verify::parse_yaml("out", &out.stdout).is_ok());
        }
    }
}
