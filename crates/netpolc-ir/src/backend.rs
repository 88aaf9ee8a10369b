//! What a back end is: the [`Backend`] trait every back-end crate implements, and the
//! [`Options`] bag that carries each back end's own typed options through code that does
//! not know them.
//!
//! A back end compiles a [`Program`] into manifests (diagnostics and objects in one
//! pass), evaluates manifests of its kinds with its CNI's semantics (for translation
//! validation, `test`, `explain` and `eval`), validates single objects the way its API
//! server or agent would, and declares what it can express. The driver holds the one
//! registry of back ends (`netpolc_driver::Target`) and runs what every back end needs
//! once for all of them: object identity collisions, validation turned into diagnostics,
//! the `${` guard, the round trip through YAML and the exact proof.
//!
//! ```
//! use netpolc_ir::backend::Options;
//! #[derive(Clone, Debug, Default, PartialEq)]
//! struct Mine { fast: bool }
//! let mut options = Options::default();
//! assert_eq!(options.get::<Mine>(), Mine::default());
//! options.set(Mine { fast: true });
//! assert!(options.get::<Mine>().fast);
//! ```

use crate::model::Evaluator;
use crate::{Entity, Peer, PortSpec, Ports, Program, Rule};
pub use netpolc_doc::{Doc, Tree};
use netpolc_source::Diagnostic;
use serde_json::Value;
use std::any::{Any, TypeId};
use std::borrow::Borrow;
use std::collections::BTreeMap;
use std::fmt;
use std::hash::Hash;
use std::sync::{Arc, Mutex, PoisonError};

/// One back end. Implementations are unit structs (or hold only constants): everything
/// that varies per run comes in through [`Options`].
pub trait Backend: Sync {
    /// The name on the command line, in diagnostics and as the folder under `golden/`
    /// (`kubernetes`, `calico`, `cilium`): a DNS-1123 label.
    fn name(&self) -> &'static str;

    /// One line for `--help`: what the back end writes.
    fn description(&self) -> &'static str;

    /// Compiles `program`: every capability diagnostic and, when none is an error, the
    /// complete manifests sorted as they are written. One pass: nothing is rendered
    /// twice. Only internal errors may panic; everything a user can cause is a
    /// diagnostic pointing at the intent.
    fn compile(&self, program: &Program, options: &Options) -> Compiled;

    /// An evaluator of manifests with this back end's semantics. It reads the back end's
    /// own kinds and plain `networking.k8s.io/v1` NetworkPolicies (as this CNI enforces
    /// them) and ignores other objects.
    ///
    /// # Errors
    /// When an object of a kind it reads is malformed (a message naming the object).
    fn evaluator(&self, objects: &[Value]) -> Result<Box<dyn Evaluator>, String>;

    /// [`Self::evaluator`] of objects that [`Self::validate`] accepts, each with no
    /// problem at all (the pipeline's objects: any problem refuses the build), read one
    /// object at a time ([`Reader`]): each may be freed once read, so the objects and the
    /// evaluator are never both held in full. A back end whose evaluator validates every
    /// object again (to leave unenforced what the API server or agent rejects) may skip
    /// that here; the evaluator must be the same.
    ///
    /// The default keeps the objects and builds [`Self::evaluator`] of them at the end.
    fn reader(&self) -> Box<dyn Reader + '_> {
        Box::new(Keeping(self))
    }

    /// [`Self::reader`]'s evaluator of `objects`, read on every core; each object is freed
    /// once read.
    ///
    /// # Errors
    /// As [`Self::evaluator`].
    fn evaluator_of_valid(&self, objects: Vec<Value>) -> Result<Box<dyn Evaluator>, String> {
        let reader = self.reader();
        let numbered: Vec<(usize, Value)> = objects.into_iter().enumerate().collect();
        let pieces =
            crate::par::flat_map_into(crate::par::threads(), numbered, 256, |(i, o), out| {
                out.push(reader.read_value(i, &o))
            });
        reader.assemble(pieces)
    }

    /// The problems the API server (or agent) would report for `object`, as messages;
    /// empty when it is accepted. Objects of other kinds are accepted.
    fn validate(&self, object: &Value) -> Vec<String>;

    /// [`Self::validate`] of the [`Doc`] an emitted text reads back as, without a JSON
    /// tree, when the back end validates documents (one validation generic over
    /// [`Tree`]); `None` (the default) when it does not, and the caller validates
    /// `object.to_value()`.
    fn validate_doc(&self, object: &Doc<'_>) -> Option<Vec<String>> {
        let _ = object;
        None
    }

    /// Whether this back end's evaluator reads `object` (its own kinds and plain
    /// NetworkPolicies).
    fn enforces(&self, object: &Value) -> bool {
        is_network_policy(object)
    }

    /// The namespace whose file under `golden/<name>/` holds a cluster-scoped object, when
    /// it belongs to one namespace; `None` files it with the cluster-wide objects.
    fn home_namespace(&self, object: &Value) -> Option<String> {
        let _ = object;
        None
    }

    /// Whether `object` is one the others need to exist first (Calico's tiers): such
    /// objects are filed under `golden/<name>/_tiers/` and listed first.
    fn is_prerequisite(&self, object: &Value) -> bool {
        let _ = object;
        false
    }

    /// What the back end can express exactly.
    fn capabilities(&self) -> Capabilities;
}

/// Builds an evaluator one object at a time ([`Backend::reader`]): the pipeline reads
/// each object as soon as it is emitted and compared with its text, then frees it.
///
/// It reads each object as the [`Doc`] its text reads back as (no JSON tree: strings
/// borrowed from the text), the way [`Backend::evaluator`] reads its tree: the back
/// ends' readers are generic over [`Tree`], so that both read with one code.
pub trait Reader: Sync {
    /// Reads object `index` of the stream into a piece of the evaluator (its problems
    /// are reported by [`Self::assemble`], in the objects' order).
    fn read(&self, index: usize, object: &Doc<'_>) -> Piece;

    /// [`Self::read`] of a JSON tree (where the pipeline has one: an object its back end
    /// did not validate, which it validates with its tree). The default reads the tree's
    /// [`Doc`]; the back ends' readers read the tree itself (one generic reading).
    fn read_value(&self, index: usize, object: &Value) -> Piece {
        self.read(index, &Doc::of_value(object))
    }

    /// [`Backend::is_prerequisite`] and [`Backend::home_namespace`] of `object`'s tree,
    /// as this reader's back end answers them, read from the document: where `golden/`
    /// files it, without a tree. `None` (the default) when the reader cannot say; then
    /// the caller asks the back end with `object.to_value()`. The pipeline's tests
    /// (`netpolc-driver`, `stream.rs`) hold each back end's reader's answers to the back
    /// end's.
    fn placement(&self, object: &Doc<'_>) -> Option<(bool, Option<String>)> {
        let _ = object;
        None
    }

    /// The evaluator of every object read, from their pieces in the objects' order.
    ///
    /// # Errors
    /// As [`Backend::evaluator`]: the first problem in the objects' order.
    fn assemble(&self, pieces: Vec<Piece>) -> Result<Box<dyn Evaluator>, String>;
}

/// What [`Reader::read`] made of one object: only the reader that made it knows its type.
pub struct Piece(Box<dyn Any + Send>);

impl Piece {
    /// Wraps what a reader read.
    pub fn new<T: Any + Send>(read: T) -> Piece {
        Piece(Box::new(read))
    }

    /// What the reader read, when it is a `T` (a reader's own pieces always are).
    ///
    /// # Errors
    /// When the piece was made by another reader (an internal error).
    pub fn take<T: Any>(self) -> Result<T, String> {
        self.0
            .downcast::<T>()
            .map(|b| *b)
            .map_err(|_| "internal error: a piece of another back end's reader".to_string())
    }

    /// [`Piece::take`] of every piece, in order.
    ///
    /// # Errors
    /// As [`Piece::take`].
    pub fn take_each<T: Any>(pieces: Vec<Piece>) -> Result<Vec<T>, String> {
        pieces.into_iter().map(Piece::take).collect()
    }
}

impl fmt::Debug for Piece {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Piece")
    }
}

/// The items of `parts` in order, in one vector sized once: what readers hand to
/// [`Reader::assemble`] per object, tens of thousands of them, would otherwise be copied
/// at each doubling of a vector grown one object at a time.
///
/// ```
/// assert_eq!(netpolc_ir::backend::concat(vec![vec![1, 2], vec![], vec![3]]), [1, 2, 3]);
/// ```
pub fn concat<T>(parts: Vec<Vec<T>>) -> Vec<T> {
    let mut all = Vec::with_capacity(parts.iter().map(Vec::len).sum());
    for part in parts {
        all.extend(part);
    }
    all
}

/// The default [`Reader`]: keeps every object and builds [`Backend::evaluator`] of them.
struct Keeping<'a, B: ?Sized>(&'a B);

impl<B: Backend + ?Sized> Reader for Keeping<'_, B> {
    fn read(&self, _: usize, object: &Doc<'_>) -> Piece {
        Piece::new(object.to_value())
    }

    fn read_value(&self, _: usize, object: &Value) -> Piece {
        Piece::new(object.clone())
    }

    fn assemble(&self, pieces: Vec<Piece>) -> Result<Box<dyn Evaluator>, String> {
        self.0.evaluator(&Piece::take_each::<Value>(pieces)?)
    }
}

/// A field's path in an object (`parent.field`), written out only for an error: back
/// ends read and check the fields of every rule, and want the paths of few. `P` is the
/// parent's path (a `&str`, or another `At` or [`Item`]).
#[derive(Clone, Copy)]
pub struct At<'a, P>(pub P, pub &'a str);

impl<P: std::fmt::Display> std::fmt::Display for At<'_, P> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}", self.0, self.1)
    }
}

/// An item's path in a list or a map (`parent[i]`, `parent[key]`), written out only for
/// an error ([`At`]).
#[derive(Clone, Copy)]
pub struct Item<P, I>(pub P, pub I);

impl<P: std::fmt::Display, I: std::fmt::Display> std::fmt::Display for Item<P, I> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}[{}]", self.0, self.1)
    }
}

/// A manifest as its back end keeps it (typed, or [`Packed`]), taken by the pipeline one
/// at a time: then emitted, read into the evaluator and freed, so that no back end holds
/// all its objects' JSON trees at once (a tree costs several times its text).
pub trait Manifest: Send + fmt::Debug {
    /// The manifest as it is written: its JSON tree, or its text when the back end
    /// already wrote it.
    fn take(self: Box<Self>) -> Taken;
}

/// A manifest as the pipeline takes it ([`Manifest::take`]).
#[derive(Debug)]
pub enum Taken {
    /// Its JSON tree: the pipeline writes it, and checks that the text reads back as it.
    Tree(Value),
    /// Its YAML text ([`crate::yaml`]): the pipeline reads it back, and what it reads is
    /// the object.
    Text(String),
}

impl Manifest for Value {
    fn take(self: Box<Self>) -> Taken {
        Taken::Tree(*self)
    }
}

/// A manifest kept as its text until the pipeline takes it: a typed object, with a whole
/// map node for each small map of its metadata and selectors, costs several times its
/// text, and a large repository compiles tens of thousands of them before the first is
/// taken. Made as soon as the typed object is built (and validated): written straight
/// to YAML ([`crate::yaml::write`], no tree), or, for what that cannot write, to compact
/// JSON.
#[derive(Clone, Debug)]
pub struct Packed(Text);

/// How a back end keeps its objects until they are taken ([`Packed::new`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Form {
    /// As their YAML text where the emitter writes it without a tree (the pipeline: the
    /// text is what is written and read back).
    Text,
    /// As compact JSON, taken as a tree (a back end's `render`, which returns trees).
    Tree,
}

#[derive(Clone, Debug)]
enum Text {
    Yaml(Box<str>),
    Json(Box<str>),
}

impl Packed {
    /// `object` in `form`: as [`Form::Text`], its YAML text, or its compact JSON text
    /// when the YAML emitter cannot write it without a tree; as [`Form::Tree`], its
    /// compact JSON text.
    pub fn new<T: serde::Serialize + ?Sized>(object: &T, form: Form) -> Packed {
        if form == Form::Tree {
            return Packed::json(object);
        }
        match crate::yaml::to_string(object) {
            Ok(yaml) => {
                // Written as its JSON tree would be: every debug run checks every object.
                debug_assert_eq!(
                    yaml,
                    crate::yaml::to_string(&serde_json::to_value(object).unwrap_or_default())
                        .unwrap_or_default()
                );
                Packed(Text::Yaml(yaml.into_boxed_str()))
            }
            Err(_) => Packed::json(object),
        }
    }

    /// The JSON tree of an object kept as JSON (see [`Packed::new`]); `None` for a text.
    pub fn to_value(&self) -> Option<Value> {
        match &self.0 {
            Text::Json(json) => Some(serde_json::from_str(json).unwrap_or(Value::Null)),
            Text::Yaml(_) => None,
        }
    }

    fn json<T: serde::Serialize + ?Sized>(object: &T) -> Packed {
        // Manifests are plain structs with string keys: serialising cannot fail (were it
        // to, the object would read back as `null`, which the pipeline refuses).
        let json = serde_json::to_string(object).unwrap_or_else(|_| "null".to_string());
        Packed(Text::Json(json.into_boxed_str()))
    }
}

impl Manifest for Packed {
    fn take(self: Box<Self>) -> Taken {
        match self.0 {
            Text::Yaml(yaml) => Taken::Text(yaml.into_string()),
            Text::Json(_) => Taken::Tree(self.to_value().unwrap_or(Value::Null)),
        }
    }
}

/// A key of a small JSON map found by comparing the keys in order, not by hashing it:
/// a manifest's maps hold a few keys each, and comparing their lengths (then bytes)
/// costs less than `serde_json`'s SipHash of the key. Larger maps are looked up by hash.
pub trait Fields {
    /// The value of `key`, if present.
    fn field(&self, key: &str) -> Option<&Value>;

    /// Whether `key` is present.
    fn has(&self, key: &str) -> bool {
        self.field(key).is_some()
    }
}

impl Fields for serde_json::Map<String, Value> {
    fn field(&self, key: &str) -> Option<&Value> {
        if self.len() > 16 {
            return self.get(key);
        }
        self.iter().find_map(|(k, v)| (k == key).then_some(v))
    }
}

/// `value[key]` through [`Fields::field`]: the value of `key` when `value` is a map
/// holding it, else `null` (as `serde_json`'s indexing).
pub fn field<'v>(value: &'v Value, key: &str) -> &'v Value {
    static NULL: Value = Value::Null;
    value
        .as_object()
        .and_then(|m| m.field(key))
        .unwrap_or(&NULL)
}

/// One shared copy of each distinct value a [`Reader`] reads (a selector recurs in many
/// policies and rules, and each copy would keep its own allocations), safe to use from
/// every thread reading.
///
/// Kept by hash: a lookup hashes the value once ([`crate::derive::SeededWords`], outside
/// any lock), where a tree's compares its strings with those of every node on the way
/// down; the hash picks one of a few locked shards, so that threads reading at once
/// seldom wait for each other, and the values of one hash are compared for equality.
/// Which copy is kept (the first) does not depend on any order.
#[derive(Debug)]
pub struct Interner<T: ?Sized> {
    hasher: crate::derive::SeededWords,
    shards: [Mutex<InternShard<T>>; INTERN_SHARDS],
}

/// How many locked parts an [`Interner`] is cut into.
const INTERN_SHARDS: usize = 8;

/// The values of one shard of an [`Interner`], by their hash.
type InternShard<T> = crate::derive::Words<u64, Vec<Arc<T>>>;

impl<T: ?Sized> Default for Interner<T> {
    fn default() -> Self {
        Interner {
            hasher: crate::derive::SeededWords::new(),
            shards: std::array::from_fn(|_| Mutex::new(InternShard::default())),
        }
    }
}

impl<T: Eq + Hash + ?Sized> Interner<T> {
    /// The shared copy of `value`: the one kept already when an equal value was
    /// interned, else `value`, now kept.
    pub fn intern<V: Borrow<T> + Into<Arc<T>>>(&self, value: V) -> Arc<T> {
        let hash = std::hash::BuildHasher::hash_one(&self.hasher, value.borrow());
        let shard = usize::try_from(hash % INTERN_SHARDS as u64).unwrap_or(0);
        let mut seen = self.shards[shard]
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let same = seen.entry(hash).or_default();
        if let Some(shared) = same.iter().find(|kept| ***kept == *value.borrow()) {
            return Arc::clone(shared);
        }
        let shared: Arc<T> = value.into();
        same.push(Arc::clone(&shared));
        shared
    }
}

/// Objects as [`Compiled::objects`], in order.
pub fn manifests<M: Manifest + 'static>(
    objects: impl IntoIterator<Item = M>,
) -> Vec<Box<dyn Manifest>> {
    objects
        .into_iter()
        .map(|o| Box::new(o) as Box<dyn Manifest>)
        .collect()
}

/// Diagnostics and objects of one back end.
#[derive(Debug, Default)]
pub struct Compiled {
    /// Errors, warnings and notes of the capability check.
    pub diagnostics: Vec<Diagnostic>,
    /// Complete manifests, in output order, not yet taken ([`Manifest::take`],
    /// [`Compiled::into_values`]); empty when a diagnostic is an error.
    pub objects: Vec<Box<dyn Manifest>>,
    /// Every object of [`Self::objects`] was checked with [`Backend::validate`] while
    /// compiling (its problems are among the diagnostics), so the pipeline's own net
    /// need not validate them a second time.
    pub validated: bool,
}

impl Compiled {
    /// The objects' JSON, in order, converted on every core; each typed object is freed
    /// once converted. An object taken as its text is what `read` reads it back as (the
    /// YAML reader is the caller's: this crate writes YAML but does not read it).
    pub fn into_values(self, read: impl Fn(&str) -> Value + Sync) -> Vec<Value> {
        crate::par::flat_map_into(crate::par::threads(), self.objects, 256, |o, out| {
            out.push(match o.take() {
                Taken::Tree(value) => value,
                Taken::Text(text) => read(&text),
            })
        })
    }
}

/// What a back end can express exactly (everything else is refused with a diagnostic).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Capabilities {
    /// Deny rules that beat allows wherever they are written (otherwise they are
    /// subtracted from the allows where that is exact).
    pub deny: bool,
    /// Egress to DNS names (`fqdn` peers).
    pub fqdn: bool,
    /// L7 HTTP rules.
    pub http: bool,
    /// The `host` entity (the node's own addresses).
    pub host: bool,
    /// The `kube-apiserver` entity without `apiServer.cidrs` in the profile.
    pub api_server_entity: bool,
    /// ICMP types and codes.
    pub icmp: bool,
    /// Objects that select pods of several namespaces (one object per cluster-scoped
    /// intent rather than one per namespace).
    pub cluster_scoped_objects: bool,
}

impl Capabilities {
    /// A capability set (the struct is `non_exhaustive`: build it with this and the
    /// field setters below).
    pub fn none() -> Capabilities {
        Capabilities::default()
    }

    /// The one capability check: what `rule` needs that these capabilities lack, the
    /// peer first, then HTTP, then ICMP. Each back end words the refusal of each with its
    /// own code (its table from [`Unsupported`] to a diagnostic).
    pub fn unsupported<'a>(&self, program: &Program, rule: &'a Rule) -> Vec<Unsupported<'a>> {
        let mut out = Vec::new();
        match &rule.peer {
            Peer::Entity(Entity::Host) if !self.host => out.push(Unsupported::Host),
            Peer::Fqdn(name) if !self.fqdn => out.push(Unsupported::Fqdn(name)),
            Peer::Entity(Entity::KubeApiserver)
                if !self.api_server_entity && program.profile.api_server_cidrs.is_empty() =>
            {
                out.push(Unsupported::ApiServerWithoutCidrs);
            }
            _ => {}
        }
        if !self.http && !rule.http.is_empty() {
            out.push(Unsupported::Http);
        }
        if !self.icmp {
            if let Ports::Only(set) = &rule.ports {
                if set
                    .iter()
                    .any(|m| !m.protocol.has_ports() || matches!(m.port, PortSpec::Icmp { .. }))
                {
                    out.push(Unsupported::Icmp);
                }
            }
        }
        out
    }
}

/// A construct of one rule that a back end may be unable to express
/// ([`Capabilities::unsupported`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Unsupported<'a> {
    /// The `host` entity, without [`Capabilities::host`].
    Host,
    /// A DNS-name peer, without [`Capabilities::fqdn`].
    Fqdn(&'a str),
    /// The `kube-apiserver` entity while the profile lists no API server addresses,
    /// without [`Capabilities::api_server_entity`].
    ApiServerWithoutCidrs,
    /// L7 HTTP rules, without [`Capabilities::http`].
    Http,
    /// ICMP ports, without [`Capabilities::icmp`].
    Icmp,
}

/// Whether `object` is a `networking.k8s.io/v1` NetworkPolicy.
pub fn is_network_policy(object: &Value) -> bool {
    object["apiVersion"].as_str() == Some("networking.k8s.io/v1")
        && object["kind"].as_str() == Some("NetworkPolicy")
}

/// Each back end's own options, by type: a back end reads its options with
/// [`Options::get`] (its `Default` when none was set), the caller sets them with
/// [`Options::set`]. Code between the two never needs to know the back ends.
#[derive(Clone, Default)]
pub struct Options {
    by_type: BTreeMap<TypeId, Arc<dyn Any + Send + Sync>>,
}

impl Options {
    /// Sets the options of type `T` (replacing earlier ones).
    pub fn set<T: Any + Send + Sync>(&mut self, value: T) {
        self.by_type.insert(TypeId::of::<T>(), Arc::new(value));
    }

    /// The options of type `T`, or `T::default()` when none were set.
    pub fn get<T: Any + Send + Sync + Clone + Default>(&self) -> T {
        self.by_type
            .get(&TypeId::of::<T>())
            .and_then(|v| v.downcast_ref::<T>())
            .cloned()
            .unwrap_or_default()
    }
}

impl fmt::Debug for Options {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Options({} set)", self.by_type.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{ClusterModel, Flow, Side};
    use crate::Direction;

    /// Denies everything when it has read an object named `deny`: what its evaluator
    /// saw is observable.
    struct Counting(usize);

    impl Evaluator for Counting {
        fn name(&self) -> &'static str {
            "counting"
        }
        fn side(&self, _: &ClusterModel, _: &Flow, _: Direction) -> Side {
            if self.0 > 0 {
                Side::DefaultDeny(Vec::new())
            } else {
                Side::Open
            }
        }
    }

    struct Plain;

    impl Backend for Plain {
        fn name(&self) -> &'static str {
            "plain"
        }
        fn description(&self) -> &'static str {
            "a back end with the default reader"
        }
        fn compile(&self, _: &Program, _: &Options) -> Compiled {
            Compiled::default()
        }
        fn evaluator(&self, objects: &[Value]) -> Result<Box<dyn Evaluator>, String> {
            if objects.iter().any(|o| o == "bad") {
                return Err("bad object".into());
            }
            Ok(Box::new(Counting(
                objects.iter().filter(|o| *o == "deny").count(),
            )))
        }
        fn validate(&self, _: &Value) -> Vec<String> {
            Vec::new()
        }
        fn capabilities(&self) -> Capabilities {
            Capabilities::none()
        }
    }

    #[test]
    fn the_default_reader_builds_the_evaluator_of_every_object_read() {
        let model = ClusterModel::default();
        let flow = Flow {
            src: crate::model::Endpoint::Pod(0),
            dst: crate::model::Endpoint::Pod(0),
            protocol: crate::Protocol::Tcp,
            port: 80,
        };
        let decide = |objects: Vec<Value>| {
            Plain
                .evaluator_of_valid(objects)
                .map(|e| e.side(&model, &flow, Direction::Ingress).allows())
        };
        assert_eq!(decide(vec![Value::from("allow")]), Ok(true));
        assert_eq!(
            decide(vec![Value::from("allow"), Value::from("deny")]),
            Ok(false)
        );
        assert_eq!(decide(vec![Value::from("bad")]), Err("bad object".into()));
    }

    #[test]
    fn a_piece_is_taken_only_as_what_its_reader_made() {
        assert_eq!(Piece::new(7_u32).take::<u32>(), Ok(7));
        assert!(Piece::new(7_u32).take::<String>().is_err());
    }

    #[test]
    fn a_packed_object_is_written_as_its_tree_would_be() {
        let object = serde_json::json!({
            "kind": "Tier",
            "metadata": {"name": "netpolc", "labels": {"b": "1", "a": "2"}},
            "spec": {"order": 100000.0, "ports": [80, 443], "none": null}
        });
        // Written straight to YAML, keys in their order, as the tree is written.
        let Taken::Text(text) = Box::new(Packed::new(&object, Form::Text)).take() else {
            panic!("a JSON tree is written as YAML");
        };
        assert_eq!(
            text,
            "kind: Tier\nmetadata:\n  name: netpolc\n  labels:\n    b: \"1\"\n    a: \"2\"\nspec:\n  order: 100000.0\n  ports:\n  - 80\n  - 443\n  \"none\": null\n"
        );
        // Packed as JSON, the tree comes back as it was, keys in their order.
        let Taken::Tree(value) = Box::new(Packed::new(&object, Form::Tree)).take() else {
            panic!("JSON is taken as a tree");
        };
        assert_eq!(value, object);
        let keys: Vec<&String> = value["metadata"]["labels"]
            .as_object()
            .map(|m| m.keys().collect())
            .unwrap_or_default();
        assert_eq!(keys, ["b", "a"]);
    }

    #[test]
    fn an_interner_keeps_one_copy_of_each_distinct_value() {
        let strings: Interner<str> = Interner::default();
        let a = strings.intern("web".to_string());
        let b = strings.intern("web");
        let c = strings.intern("api");
        assert!(Arc::ptr_eq(&a, &b));
        assert!(!Arc::ptr_eq(&a, &c));
        let slices: Interner<[u8]> = Interner::default();
        let x = slices.intern(vec![1, 2]);
        assert!(Arc::ptr_eq(&x, &slices.intern(vec![1, 2])));
        assert_eq!(&*x, [1, 2]);
    }

    #[test]
    fn compiled_objects_become_their_json_in_order() {
        let compiled = Compiled {
            objects: manifests((0..600).map(Value::from)),
            ..Compiled::default()
        };
        let values = compiled.into_values(|_| Value::Null);
        assert_eq!(values, (0..600).map(Value::from).collect::<Vec<_>>());
        // A text is what the caller's reader reads it as; a tree is taken as it is.
        let mut objects = manifests([Value::from(1)]);
        objects.push(Box::new(Packed::new(&Value::from("x"), Form::Text)));
        let compiled = Compiled {
            objects,
            ..Compiled::default()
        };
        let values = compiled.into_values(|text| Value::from(format!("read {text:?}")));
        assert_eq!(values, [Value::from(1), Value::from("read \"x\\n\"")]);
    }
}
