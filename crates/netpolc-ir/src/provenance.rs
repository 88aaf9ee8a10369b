//! Merged objects and per-rule provenance, shared by every back end.
//!
//! Back ends merge the rules of one (intent set, scope, subject selector, direction,
//! action) into one object, so that objects grow with namespaces × subjects × directions
//! rather than with intents. Which intent each rule of such an object comes from is kept
//! in two annotations (see `docs/backend-conventions.md`):
//!
//! - `netpolc.dev/intent`: the intents of the object's rules, distinct, in rule order,
//!   separated by `, ` (one name when the object implements one intent);
//! - `netpolc.dev/rules`: only when there are several, one line per rule in rule order,
//!   `<field path>: <intent>`, e.g. `spec.egress[2]: shop/backend-to-db`.
//!
//! Evaluators read them back with [`RuleIntents`] to name the intent of the deciding rule.
//!
//! ```
//! use netpolc_ir::provenance::{Provenance, RuleIntents};
//! let mut p = Provenance::default();
//! p.push("spec.egress[0]", "shop/allow-dns");
//! p.push("spec.egress[1]", "shop/backend-to-db");
//! assert_eq!(p.intent_annotation(), "shop/allow-dns, shop/backend-to-db");
//! let rules = p.rules_annotation().unwrap();
//! assert_eq!(rules, "spec.egress[0]: shop/allow-dns\nspec.egress[1]: shop/backend-to-db");
//! let read = RuleIntents::new(Some(&p.intent_annotation()), Some(&rules));
//! assert_eq!(read.intent("spec.egress[1]").as_deref(), Some("shop/backend-to-db"));
//! ```

use crate::naming::dns_label;
use crate::{Direction, LabelSelector, Op, Scope};
use std::collections::BTreeMap;

/// The annotation listing the intents of the object's rules (see the module docs).
pub const INTENT_ANNOTATION: &str = "netpolc.dev/intent";
/// The annotation naming the intent of each rule of a merged object.
pub const RULES_ANNOTATION: &str = "netpolc.dev/rules";
/// What separates intents in [`INTENT_ANNOTATION`].
pub const INTENT_SEPARATOR: &str = ", ";

/// The intents of an object's rules, in rule order, as the renderer sees them.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Provenance {
    rules: Vec<(String, String)>,
}

impl Provenance {
    /// Records that the rule at field path `path` comes from intent `intent` (qualified).
    pub fn push(&mut self, path: impl Into<String>, intent: impl Into<String>) {
        self.rules.push((path.into(), intent.into()));
    }

    /// [`Provenance::push`] of the rule `spec.<field>[<index>]`, its path built at its
    /// length (every back end records one per rule it writes).
    pub fn push_rule(&mut self, field: &str, index: usize, intent: impl Into<String>) {
        let mut path = String::with_capacity("spec.[]".len() + field.len() + 20);
        path.push_str("spec.");
        path.push_str(field);
        path.push('[');
        crate::yaml::push_decimal(&mut path, index as u64);
        path.push(']');
        self.push(path, intent);
    }

    /// Whether no rule was recorded.
    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// The distinct intents in rule order.
    pub fn intents(&self) -> Vec<&str> {
        let mut out: Vec<&str> = Vec::new();
        for (_, i) in &self.rules {
            if !out.contains(&i.as_str()) {
                out.push(i);
            }
        }
        out
    }

    /// The value of [`INTENT_ANNOTATION`].
    pub fn intent_annotation(&self) -> String {
        self.intents().join(INTENT_SEPARATOR)
    }

    /// The value of [`RULES_ANNOTATION`]: `None` when every rule comes from one intent
    /// (then [`INTENT_ANNOTATION`] says it all).
    pub fn rules_annotation(&self) -> Option<String> {
        let first = self.rules.first().map(|(_, i)| i)?;
        if self.rules.iter().all(|(_, i)| i == first) {
            return None;
        }
        // Written into one string of its final length (no string per line).
        let len = self
            .rules
            .iter()
            .map(|(path, intent)| path.len() + 2 + intent.len() + 1)
            .sum::<usize>();
        let mut out = String::with_capacity(len);
        for (path, intent) in &self.rules {
            if !out.is_empty() {
                out.push('\n');
            }
            out.push_str(path);
            out.push_str(": ");
            out.push_str(intent);
        }
        Some(out)
    }
}

/// The provenance annotations of a manifest, read back: the intent of each rule.
///
/// Kept as written and read only when asked ([`RuleIntents::intent`]): every object a
/// render reads back has them, and only the objects a report names are asked.
#[derive(Clone, Debug, Default)]
pub struct RuleIntents {
    object: Option<String>,
    rules: Option<String>,
}

impl RuleIntents {
    /// From the values of [`INTENT_ANNOTATION`] and [`RULES_ANNOTATION`], if present.
    /// Lines of the rules annotation that do not read as `<path>: <intent>` are ignored.
    pub fn new(intent: Option<&str>, rules: Option<&str>) -> RuleIntents {
        RuleIntents {
            object: intent.map(str::to_string),
            rules: rules.map(str::to_string),
        }
    }

    /// From an annotation map.
    pub fn from_annotations(annotations: &BTreeMap<String, String>) -> RuleIntents {
        RuleIntents::new(
            annotations.get(INTENT_ANNOTATION).map(String::as_str),
            annotations.get(RULES_ANNOTATION).map(String::as_str),
        )
    }

    /// The `(path, intent)` lines of the rules annotation, in order, trimmed.
    fn lines(&self) -> impl Iterator<Item = (&str, &str)> {
        self.rules
            .iter()
            .flat_map(|r| r.lines())
            .filter_map(|l| l.split_once(": "))
            .map(|(p, i)| (p.trim(), i.trim()))
    }

    /// The intent of the rule at `path`: its line of the rules annotation (the last, if
    /// several name it), else the object's intent annotation.
    pub fn intent(&self, path: &str) -> Option<String> {
        self.lines()
            .filter(|(p, _)| *p == path)
            .last()
            .map(|(_, i)| i)
            .or(self.object.as_deref())
            .map(str::to_string)
    }

    /// The object's intent annotation as written.
    pub fn object(&self) -> Option<&str> {
        self.object.as_deref()
    }

    /// The intent of each rule path, as [`RuleIntents::intent`] reads them.
    fn by_path(&self) -> BTreeMap<&str, &str> {
        self.lines().collect()
    }
}

/// Equal when they give every rule the same intent (however the annotation is laid out).
impl PartialEq for RuleIntents {
    fn eq(&self, other: &Self) -> bool {
        self.object == other.object && self.by_path() == other.by_path()
    }
}

impl Eq for RuleIntents {}

/// A readable DNS-label form of a subject selector: `all-pods` for every pod; otherwise
/// its requirements in order, `app-web` (`app In (web)`), `app-in-a-b`, `app-not-web`
/// (`NotIn`), `has-app`, `no-app`.
///
/// ```
/// use netpolc_ir::{provenance::subject_word, LabelSelector, Requirement};
/// assert_eq!(subject_word(&LabelSelector::all()), "all-pods");
/// assert_eq!(subject_word(&LabelSelector::from_labels([("app", "web")])), "app-web");
/// let not_web = LabelSelector::from_requirements([Requirement::not_in("app", ["web"])]).unwrap();
/// assert_eq!(subject_word(&not_web), "app-not-web");
/// ```
pub fn subject_word(selector: &LabelSelector) -> String {
    if selector.is_all() {
        return "all-pods".to_string();
    }
    // The requirements' parts joined by `-`, written into one string (a word is made for
    // every subject of every object).
    let mut joined = String::new();
    for (i, r) in selector.requirements().enumerate() {
        if i > 0 {
            joined.push('-');
        }
        let (before, after) = match r.op {
            Op::In if r.values.len() == 1 => ("", "-"),
            Op::In => ("", "-in-"),
            Op::NotIn => ("", "-not-"),
            Op::Exists => ("has-", ""),
            Op::DoesNotExist => ("no-", ""),
        };
        joined.push_str(before);
        joined.push_str(&r.key);
        joined.push_str(after);
        if matches!(r.op, Op::In | Op::NotIn) {
            for (k, v) in r.values.iter().enumerate() {
                if k > 0 {
                    joined.push('-');
                }
                joined.push_str(v);
            }
        }
    }
    dns_label(&[&joined], 253)
}

/// The name of a merged object: `<set>-<subject>-<direction>`, with `-deny` for deny
/// objects, at most 63 characters, the set's hyphens doubled ([`crate::naming::object_name`]).
pub fn object_name(set: &str, subject: &str, direction: Direction, deny: bool) -> String {
    let dir = match direction {
        Direction::Ingress => "ingress",
        Direction::Egress => "egress",
    };
    // `naming::object_name` doubles the set's hyphens, so that the set's end is known
    // and two (set, subject) pairs never spell one name.
    if deny {
        crate::naming::object_name(set, &[subject, dir, "deny"], 63)
    } else {
        crate::naming::object_name(set, &[subject, dir], 63)
    }
}

/// Most rules netpolc merges into one object. Rules of one (object set, subject,
/// direction, action) beyond it start a continuation ([`numbered_object_name`]) at an
/// intent boundary ([`split_at_intents`]). With intent sets, intents and presets of at
/// most 63 characters, a line of [`RULES_ANNOTATION`] is at most about 210 bytes, so
/// each provenance annotation of an object of 256 rules stays under the 64 KiB the
/// loader reads back as one scalar, and both together under the API server's 256 KiB
/// for all annotations. (Many namespaces' sets writing rules into one namespace, such as
/// an intent `from: {namespaces: ...}` written in every namespace, give one object
/// thousands of rules.)
pub const MAX_OBJECT_RULES: usize = 256;

/// Splits the intents of one merged object, given by how many rules each has, into
/// consecutive runs of at most `max` rules, cutting only between intents (an intent of
/// more rules is a run of its own): the number of intents of each run, in order. No
/// intents, no runs.
///
/// ```
/// use netpolc_ir::provenance::split_at_intents;
/// assert_eq!(split_at_intents([2, 2, 1], 4), [2, 1]);
/// assert_eq!(split_at_intents([5, 1], 4), [1, 1]);
/// assert_eq!(split_at_intents([1, 5, 1], 4), [1, 1, 1]);
/// assert!(split_at_intents([], 4).is_empty());
/// ```
pub fn split_at_intents(
    rules_per_intent: impl IntoIterator<Item = usize>,
    max: usize,
) -> Vec<usize> {
    let mut runs: Vec<usize> = Vec::new();
    let mut in_run = 0;
    for rules in rules_per_intent {
        match runs.last_mut() {
            Some(intents) if in_run + rules <= max => *intents += 1,
            _ => {
                runs.push(1);
                in_run = 0;
            }
        }
        in_run += rules;
    }
    runs
}

/// The name of the `n`-th object (`n` ≥ 1) of one merged subject: [`object_name`] for
/// the first, followed by `-<n>` for the continuations that a back end's rule limit or
/// [`MAX_OBJECT_RULES`] starts, as injective.
///
/// ```
/// use netpolc_ir::{provenance::numbered_object_name, Direction};
/// assert_eq!(numbered_object_name("shop", "all-pods", Direction::Ingress, false, 1), "shop-all-pods-ingress");
/// assert_eq!(numbered_object_name("shop", "all-pods", Direction::Ingress, false, 2), "shop-all-pods-ingress-2");
/// assert_eq!(numbered_object_name("shop", "app-db", Direction::Egress, true, 3), "shop-app-db-egress-deny-3");
/// ```
pub fn numbered_object_name(
    set: &str,
    subject: &str,
    direction: Direction,
    deny: bool,
    n: usize,
) -> String {
    if n <= 1 {
        return object_name(set, subject, direction, deny);
    }
    let dir = match direction {
        Direction::Ingress => "ingress",
        Direction::Egress => "egress",
    };
    let n = n.to_string();
    if deny {
        crate::naming::object_name(set, &[subject, dir, "deny", &n], 63)
    } else {
        crate::naming::object_name(set, &[subject, dir, &n], 63)
    }
}

/// Names for the distinct subject selectors of one (set, scope, direction, action),
/// given in sorted order: [`subject_word`]s, made unique (two selectors whose words
/// collide get `-2`, `-3`, … in selector order, after the first).
pub fn subject_words<'a>(selectors: impl IntoIterator<Item = &'a LabelSelector>) -> Vec<String> {
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    selectors
        .into_iter()
        .map(|s| {
            let word = subject_word(s);
            let n = seen.entry(word.clone()).or_insert(0);
            *n += 1;
            if *n == 1 {
                word
            } else {
                format!("{word}-{n}")
            }
        })
        .collect()
}

/// Names for the subjects of one (set, direction, action) whose objects may share a name
/// space: `subjects` are (scope, selector) pairs in sorted order; objects of a scope for
/// which `cluster_wide` is true share one name space (cluster-wide kinds), the others one
/// per namespace. Each name is the [`subject_word`]; when one word stands for subjects of
/// several scopes in one name space, each gets its scope appended (the namespace, or
/// `cluster-` and a hash of the namespace list); what still collides gets `-2`, `-3`, ….
pub fn scoped_subject_words(
    subjects: &[(&Scope, &LabelSelector)],
    cluster_wide: &dyn Fn(&Scope) -> bool,
) -> Vec<String> {
    // Each scope's name space, borrowed: its namespace, or "" for the cluster-wide one.
    let spaces: Vec<&str> = subjects
        .iter()
        .map(|(scope, _)| match scope {
            Scope::Namespace(n) if !cluster_wide(scope) => n.as_str(),
            _ => "",
        })
        .collect();
    let base: Vec<String> = subjects.iter().map(|(_, s)| subject_word(s)).collect();
    // (name space, word) → the scopes using it.
    let mut scopes: BTreeMap<(&str, &str), Vec<&Scope>> = BTreeMap::new();
    for (((scope, _), word), space) in subjects.iter().zip(&base).zip(&spaces) {
        let users = scopes.entry((space, word.as_str())).or_default();
        if !users.contains(scope) {
            users.push(scope);
        }
    }
    let words: Vec<String> = subjects
        .iter()
        .zip(&base)
        .zip(&spaces)
        .map(|(((scope, _), word), space)| {
            let shared = scopes
                .get(&(*space, word.as_str()))
                .is_some_and(|u| u.len() > 1);
            if !shared {
                return word.clone();
            }
            let tag = match scope {
                Scope::Namespace(n) => n.clone(),
                Scope::Cluster(list) => {
                    let joined: Vec<&str> = list.iter().map(String::as_str).collect();
                    format!(
                        "cluster-{:08x}",
                        crate::naming::fnv1a(joined.join(",").as_bytes()) as u32
                    )
                }
            };
            dns_label(&[word, &tag], 253)
        })
        .collect();
    // The how-manieth use of its word in its name space each subject is.
    let mut seen: BTreeMap<(&str, &str), usize> = BTreeMap::new();
    let nth: Vec<usize> = words
        .iter()
        .zip(&spaces)
        .map(|(word, space)| {
            let n = seen.entry((space, word.as_str())).or_insert(0);
            *n += 1;
            *n
        })
        .collect();
    drop(seen);
    words
        .into_iter()
        .zip(nth)
        .map(|(word, n)| if n == 1 { word } else { format!("{word}-{n}") })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Requirement;

    #[test]
    fn a_rules_path_is_written_as_formatted() {
        let mut p = Provenance::default();
        let indices = [0, 7, 10, 12, 255, 1024, usize::MAX];
        for i in indices {
            p.push_rule("egress", i, "shop/web");
        }
        let want: Vec<(String, String)> = indices
            .iter()
            .map(|i| (format!("spec.egress[{i}]"), "shop/web".to_string()))
            .collect();
        assert_eq!(p.rules, want);
    }

    /// Each operator's form, and several requirements joined in order.
    #[test]
    fn a_subject_word_spells_each_requirement() {
        let word = |reqs: Vec<Requirement>| {
            subject_word(&LabelSelector::from_requirements(reqs).expect("satisfiable"))
        };
        assert_eq!(
            word(vec![Requirement::is_in("app", ["a", "b"])]),
            "app-in-a-b"
        );
        assert_eq!(
            word(vec![Requirement::not_in("app", ["a", "b"])]),
            "app-not-a-b"
        );
        assert_eq!(word(vec![Requirement::exists("app")]), "has-app");
        assert_eq!(word(vec![Requirement::does_not_exist("app")]), "no-app");
        assert_eq!(
            word(vec![
                Requirement::is_in("app", ["web"]),
                Requirement::not_in("Tier.io/x", ["DB"]),
            ]),
            // In the selector's order (by key: upper case first), lower-cased.
            "tier-io-x-not-db-app-web"
        );
    }

    #[test]
    fn words_are_unique_and_stable() {
        let a = LabelSelector::from_labels([("app.x", "web")]);
        let b = LabelSelector::from_labels([("app-x", "web")]);
        let words = subject_words([&a, &b]);
        assert_eq!(
            words,
            vec!["app-x-web".to_string(), "app-x-web-2".to_string()]
        );
        let many = LabelSelector::from_requirements([
            Requirement::is_in("tier", ["a", "b"]),
            Requirement::exists("team"),
            Requirement::does_not_exist("canary"),
        ])
        .unwrap();
        assert_eq!(subject_word(&many), "no-canary-has-team-tier-in-a-b");
        let name = object_name("shop", &"x".repeat(80), Direction::Egress, false);
        assert_eq!(name.len(), 63);
        assert_eq!(
            object_name("shop", "app-web", Direction::Ingress, true),
            "shop-app-web-ingress-deny"
        );
    }

    #[test]
    fn scoped_words_tell_scopes_apart_in_one_name_space() {
        let all = LabelSelector::all();
        let web = LabelSelector::from_labels([("app", "web")]);
        let (a, b) = (Scope::Namespace("a".into()), Scope::Namespace("b".into()));
        let c = Scope::Cluster(["a".to_string(), "b".to_string()].into());
        let subjects = [(&a, &all), (&a, &web), (&b, &all), (&c, &all)];
        // Namespaced kinds: `a` and `b` are separate name spaces.
        let namespaced = scoped_subject_words(&subjects, &|s| matches!(s, Scope::Cluster(_)));
        assert_eq!(namespaced, ["all-pods", "app-web", "all-pods", "all-pods"]);
        // Cluster-wide kinds: one name space, the scope tells the subjects apart.
        let global = scoped_subject_words(&subjects, &|_| true);
        assert_eq!(global[..3], ["all-pods-a", "app-web", "all-pods-b"]);
        assert!(global[3].starts_with("all-pods-cluster-"));
    }

    #[test]
    fn provenance_round_trip() {
        let mut p = Provenance::default();
        p.push("spec.ingress[0]", "a/x");
        p.push("spec.ingress[1]", "a/x");
        assert_eq!(p.rules_annotation(), None);
        assert_eq!(p.intent_annotation(), "a/x");
        p.push("spec.ingress[2]", "a/p:y");
        let read = RuleIntents::new(
            Some(&p.intent_annotation()),
            p.rules_annotation().as_deref(),
        );
        assert_eq!(read.intent("spec.ingress[2]").as_deref(), Some("a/p:y"));
        assert_eq!(read.intent("spec.ingress[0]").as_deref(), Some("a/x"));
        assert_eq!(
            read.intent("spec.ingress[9]").as_deref(),
            Some("a/x, a/p:y")
        );
    }
}
