//! The Calico selector language: a parser, an evaluator on label maps, and the quoting
//! rules netpolc renders selectors with.
//!
//! The grammar follows Calico's tokenizer and parser (`libcalico-go/lib/selector`):
//!
//! ```text
//! selector   := ε | or
//! or         := and ( "||" and )*
//! and        := operation ( "&&" operation )*
//! operation  := "!"* ( "has(" key ")" | "all()" | "global()" | "(" or ")"
//!               | key ( "==" | "!=" | "contains" | "starts with" | "ends with" ) string
//!               | key ( "in" | "not in" ) "{" [ string ( "," string )* [ "," ] ] "}" )
//! key        := [A-Za-z0-9_./-]+
//! string     := "'" any-but-' "'" | '"' any-but-" '"'      (no escapes)
//! ```
//!
//! Whitespace is spaces and tabs only. `!=` and `not in` also match label sets that lack
//! the key; `==`, `in`, `contains`, `starts with` and `ends with` need the key present.
//! An empty selector means `all()`.
//!
//! `global()` selects non-namespaced objects (host endpoints, global network sets); it is
//! only valid as a whole entity-rule `namespaceSelector`. Calico rewrites it to
//! `!has(projectcalico.org/namespace)`, so in netpolc's pod-only cluster model it matches
//! nothing: [`Selector::matches`] evaluates it to `false`.
//!
//! ```
//! use netpolc_calico::selector::Selector;
//! use std::collections::BTreeMap;
//! let s = Selector::parse("app in {'web', 'api'} && !has(canary)").unwrap();
//! let labels: BTreeMap<String, String> =
//!     [("app".to_string(), "web".to_string())].into_iter().collect();
//! assert!(s.matches(&labels));
//! assert!(Selector::parse("app = 'web'").is_err());
//! ```

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

/// The deepest parenthesis nesting accepted, so that hostile input cannot exhaust the
/// stack (Calico's own 1024-character limit allows at most about 500 levels).
const MAX_DEPTH: usize = 128;

/// A parsed selector expression.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Expr {
    /// `all()`: matches everything.
    All,
    /// `global()`: matches only non-namespaced objects, so never a pod.
    Global,
    /// `has(key)`.
    Has(String),
    /// `key == 'value'`.
    Eq(String, String),
    /// `key != 'value'` (also matches when the key is absent).
    Ne(String, String),
    /// `key in {...}`.
    In(String, BTreeSet<String>),
    /// `key not in {...}` (also matches when the key is absent).
    NotIn(String, BTreeSet<String>),
    /// `key contains 'value'`.
    Contains(String, String),
    /// `key starts with 'value'`.
    StartsWith(String, String),
    /// `key ends with 'value'`.
    EndsWith(String, String),
    /// `!expr`.
    Not(Box<Expr>),
    /// `a && b && ...`.
    And(Vec<Expr>),
    /// `a || b || ...`.
    Or(Vec<Expr>),
}

/// Labels a selector is evaluated on: a label map, or a view that answers as one without
/// being built (a workload endpoint's labels are its pod's, its namespace's prefixed, and
/// Calico's own).
pub trait Labels {
    /// The value of label `key`, if any.
    fn label(&self, key: &str) -> Option<&str>;
}

impl Labels for BTreeMap<String, String> {
    fn label(&self, key: &str) -> Option<&str> {
        label_of(self, key)
    }
}

/// Most entries a map is searched by scanning, not by its tree: [`label_of`].
const SCANNED: usize = 8;

/// The value of `key` in a label map. A small map (a pod's or a namespace's labels, a
/// handful of keys) is scanned comparing the keys' lengths first, so that only a key of
/// the same length has its bytes compared; the tree's search compares the bytes of every
/// key it passes (the evaluator looks labels up by the million). A larger map is
/// searched by its tree.
pub(crate) fn label_of<'m>(map: &'m BTreeMap<String, String>, key: &str) -> Option<&'m str> {
    if map.len() > SCANNED {
        return map.get(key).map(String::as_str);
    }
    map.iter()
        .find_map(|(k, v)| (k.len() == key.len() && k.as_bytes() == key.as_bytes()).then_some(v))
        .map(String::as_str)
}

impl Expr {
    /// Evaluates the expression on labels (see the module docs for `global()`).
    pub fn matches<L: Labels + ?Sized>(&self, labels: &L) -> bool {
        match self {
            Expr::All => true,
            Expr::Global => false,
            Expr::Has(k) => labels.label(k).is_some(),
            Expr::Eq(k, v) => labels.label(k).is_some_and(|x| x == v),
            Expr::Ne(k, v) => labels.label(k).is_none_or(|x| x != v),
            Expr::In(k, set) => labels.label(k).is_some_and(|x| set.contains(x)),
            Expr::NotIn(k, set) => labels.label(k).is_none_or(|x| !set.contains(x)),
            Expr::Contains(k, v) => labels.label(k).is_some_and(|x| x.contains(v.as_str())),
            Expr::StartsWith(k, v) => labels.label(k).is_some_and(|x| x.starts_with(v.as_str())),
            Expr::EndsWith(k, v) => labels.label(k).is_some_and(|x| x.ends_with(v.as_str())),
            Expr::Not(e) => !e.matches(labels),
            Expr::And(es) => es.iter().all(|e| e.matches(labels)),
            Expr::Or(es) => es.iter().any(|e| e.matches(labels)),
        }
    }

    fn collect_keys<'a>(&'a self, out: &mut Vec<&'a str>) {
        match self {
            Expr::All | Expr::Global => {}
            Expr::Has(k)
            | Expr::Eq(k, _)
            | Expr::Ne(k, _)
            | Expr::In(k, _)
            | Expr::NotIn(k, _)
            | Expr::Contains(k, _)
            | Expr::StartsWith(k, _)
            | Expr::EndsWith(k, _) => out.push(k),
            Expr::Not(e) => e.collect_keys(out),
            Expr::And(es) | Expr::Or(es) => es.iter().for_each(|e| e.collect_keys(out)),
        }
    }
}

/// A selector: an expression parsed from Calico's selector language (shared by its
/// copies: an evaluator keeps one per distinct text).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Selector {
    root: std::sync::Arc<Expr>,
}

/// Why a selector does not parse.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SelectorError {
    /// What is wrong, lower-case.
    pub message: String,
}

impl fmt::Display for SelectorError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for SelectorError {}

fn err<T>(message: impl Into<String>) -> Result<T, SelectorError> {
    Err(SelectorError {
        message: message.into(),
    })
}

impl Selector {
    /// Parses a selector; the empty string (or only whitespace) is `all()`.
    ///
    /// # Errors
    /// When the text is not in the selector language, or nests parentheses more than
    /// 128 levels deep.
    pub fn parse(text: &str) -> Result<Selector, SelectorError> {
        let tokens = tokenize(text)?;
        if tokens.len() == 1 {
            return Ok(Selector::from_expr(Expr::All));
        }
        let mut p = Parser {
            tokens: &tokens,
            pos: 0,
            depth: 0,
        };
        let root = p.or()?;
        if p.peek() != &Token::Eof {
            return err(format!(
                "unexpected {} at end of selector",
                p.peek().describe()
            ));
        }
        Ok(Selector::from_expr(root))
    }

    /// The selector `all()`.
    pub fn all() -> Selector {
        Selector::from_expr(Expr::All)
    }

    /// A selector from an expression built in code.
    pub fn from_expr(root: Expr) -> Selector {
        Selector {
            root: std::sync::Arc::new(root),
        }
    }

    /// Whether `other` is this very parse (a copy shares it), not only an equal one.
    #[cfg(test)]
    pub(crate) fn is_shared_with(&self, other: &Selector) -> bool {
        std::sync::Arc::ptr_eq(&self.root, &other.root)
    }

    /// The expression.
    pub fn expr(&self) -> &Expr {
        &self.root
    }

    /// Whether labels satisfy the selector.
    pub fn matches<L: Labels + ?Sized>(&self, labels: &L) -> bool {
        self.root.matches(labels)
    }

    /// Every label key the selector names, in order of appearance.
    pub fn keys(&self) -> Vec<&str> {
        let mut out = Vec::new();
        self.root.collect_keys(&mut out);
        out
    }
}

/// A token of the selector language.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Token {
    Label(String),
    Str(String),
    LBrace,
    RBrace,
    Comma,
    Eq,
    Ne,
    In,
    Not,
    NotIn,
    Contains,
    StartsWith,
    EndsWith,
    All,
    Has(String),
    LParen,
    RParen,
    And,
    Or,
    Global,
    Eof,
}

impl Token {
    fn describe(&self) -> String {
        match self {
            Token::Label(l) => format!("label `{l}`"),
            Token::Str(s) => format!("string `{s}`"),
            Token::LBrace => "`{`".into(),
            Token::RBrace => "`}`".into(),
            Token::Comma => "`,`".into(),
            Token::Eq => "`==`".into(),
            Token::Ne => "`!=`".into(),
            Token::In => "`in`".into(),
            Token::Not => "`!`".into(),
            Token::NotIn => "`not in`".into(),
            Token::Contains => "`contains`".into(),
            Token::StartsWith => "`starts with`".into(),
            Token::EndsWith => "`ends with`".into(),
            Token::All => "`all()`".into(),
            Token::Has(k) => format!("`has({k})`"),
            Token::LParen => "`(`".into(),
            Token::RParen => "`)`".into(),
            Token::And => "`&&`".into(),
            Token::Or => "`||`".into(),
            Token::Global => "`global()`".into(),
            Token::Eof => "end of selector".into(),
        }
    }
}

fn is_key_char(c: u8) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, b'_' | b'.' | b'/' | b'-')
}

/// Whether `key` can be written as a label name in a Calico selector
/// (`[A-Za-z0-9_./-]`, 1–512 characters).
pub fn is_valid_key(key: &str) -> bool {
    !key.is_empty() && key.len() <= 512 && key.bytes().all(is_key_char)
}

/// The longest run of label characters at the start of `input`.
fn identifier(input: &str) -> &str {
    let end = input
        .bytes()
        .position(|c| !is_key_char(c))
        .unwrap_or(input.len());
    &input[..end]
}

fn trim_ws(input: &str) -> &str {
    input.trim_start_matches([' ', '\t'])
}

/// Splits a selector into tokens; the last one is always [`Token::Eof`].
pub(crate) fn tokenize(text: &str) -> Result<Vec<Token>, SelectorError> {
    let mut tokens = Vec::new();
    let mut input = text;
    loop {
        input = trim_ws(input);
        let Some(&first) = input.as_bytes().first() else {
            tokens.push(Token::Eof);
            return Ok(tokens);
        };
        let after_label = matches!(tokens.last(), Some(Token::Label(_)));
        let (token, rest) = match first {
            b'(' => (Token::LParen, &input[1..]),
            b')' => (Token::RParen, &input[1..]),
            b'{' => (Token::LBrace, &input[1..]),
            b'}' => (Token::RBrace, &input[1..]),
            b',' => (Token::Comma, &input[1..]),
            b'"' | b'\'' => {
                let quote = first as char;
                let body = &input[1..];
                match body.find(quote) {
                    Some(end) => (Token::Str(body[..end].to_string()), &body[end + 1..]),
                    None => return err("unterminated string"),
                }
            }
            b'=' if input.starts_with("==") => (Token::Eq, &input[2..]),
            b'=' => return err("expected `==`"),
            b'!' if input.starts_with("!=") => (Token::Ne, &input[2..]),
            b'!' => (Token::Not, &input[1..]),
            b'&' if input.starts_with("&&") => (Token::And, &input[2..]),
            b'&' => return err("expected `&&`"),
            b'|' if input.starts_with("||") => (Token::Or, &input[2..]),
            b'|' => return err("expected `||`"),
            _ if after_label => operator(input)?,
            _ => {
                if let Some(rest) = input.strip_prefix("has(") {
                    let rest = trim_ws(rest);
                    let key = identifier(rest);
                    if key.is_empty() {
                        return err("no label name in `has(`");
                    }
                    match trim_ws(&rest[key.len()..]).strip_prefix(')') {
                        Some(rest) => (Token::Has(key.to_string()), rest),
                        None => return err("no closing `)` after `has(`"),
                    }
                } else if let Some(rest) = input.strip_prefix("all(") {
                    match trim_ws(rest).strip_prefix(')') {
                        Some(rest) => (Token::All, rest),
                        None => return err("no closing `)` after `all(`"),
                    }
                } else if let Some(rest) = input.strip_prefix("global(") {
                    match trim_ws(rest).strip_prefix(')') {
                        Some(rest) => (Token::Global, rest),
                        None => return err("no closing `)` after `global(`"),
                    }
                } else {
                    let key = identifier(input);
                    if key.is_empty() {
                        return err(format!(
                            "unexpected character `{}`",
                            input.chars().next().unwrap_or(' ')
                        ));
                    }
                    (Token::Label(key.to_string()), &input[key.len()..])
                }
            }
        };
        tokens.push(token);
        input = rest;
    }
}

/// An operator word after a label: `contains`, `starts with`, `ends with`, `not in`, `in`.
fn operator(input: &str) -> Result<(Token, &str), SelectorError> {
    let two_words = |first: &str, token: Token| -> Option<(Token, &str)> {
        let rest = trim_ws(input.strip_prefix(first)?);
        rest.strip_prefix(match token {
            Token::NotIn => "in",
            _ => "with",
        })
        .map(|r| (token, r))
    };
    let found = if let Some(rest) = input.strip_prefix("contains") {
        Some((Token::Contains, rest))
    } else if input.starts_with("starts") {
        two_words("starts", Token::StartsWith)
    } else if input.starts_with("ends") {
        two_words("ends", Token::EndsWith)
    } else if input.starts_with("not") {
        two_words("not", Token::NotIn)
    } else {
        input.strip_prefix("in").map(|rest| (Token::In, rest))
    };
    match found {
        Some(t) => Ok(t),
        None => err("expected an operator after a label"),
    }
}

struct Parser<'t> {
    tokens: &'t [Token],
    pos: usize,
    depth: usize,
}

impl Parser<'_> {
    fn peek(&self) -> &Token {
        self.tokens.get(self.pos).unwrap_or(&Token::Eof)
    }

    fn next(&mut self) -> Token {
        let t = self.peek().clone();
        if self.pos < self.tokens.len() {
            self.pos += 1;
        }
        t
    }

    fn or(&mut self) -> Result<Expr, SelectorError> {
        let mut terms = vec![self.and()?];
        while self.peek() == &Token::Or {
            self.pos += 1;
            terms.push(self.and()?);
        }
        Ok(if terms.len() == 1 {
            terms.remove(0)
        } else {
            terms.shrink_to_fit();
            Expr::Or(terms)
        })
    }

    fn and(&mut self) -> Result<Expr, SelectorError> {
        let mut terms = vec![self.operation()?];
        while self.peek() == &Token::And {
            self.pos += 1;
            terms.push(self.operation()?);
        }
        Ok(if terms.len() == 1 {
            terms.remove(0)
        } else {
            // Kept as long as the policy: no room beyond the terms.
            terms.shrink_to_fit();
            Expr::And(terms)
        })
    }

    fn string(&mut self) -> Result<String, SelectorError> {
        match self.next() {
            Token::Str(s) => Ok(s),
            other => err(format!("expected a string, found {}", other.describe())),
        }
    }

    fn operation(&mut self) -> Result<Expr, SelectorError> {
        let mut negated = false;
        while self.peek() == &Token::Not {
            negated = !negated;
            self.pos += 1;
        }
        let expr = match self.next() {
            Token::Has(k) => Expr::Has(k),
            Token::All => Expr::All,
            Token::Global => Expr::Global,
            Token::Label(key) => match self.next() {
                Token::Eq => Expr::Eq(key, self.string()?),
                Token::Ne => Expr::Ne(key, self.string()?),
                Token::Contains => Expr::Contains(key, self.string()?),
                Token::StartsWith => Expr::StartsWith(key, self.string()?),
                Token::EndsWith => Expr::EndsWith(key, self.string()?),
                op @ (Token::In | Token::NotIn) => {
                    if self.next() != Token::LBrace {
                        return err("expected a set literal `{...}`");
                    }
                    let mut values = BTreeSet::new();
                    while let Token::Str(s) = self.peek().clone() {
                        self.pos += 1;
                        values.insert(s);
                        if self.peek() == &Token::Comma {
                            self.pos += 1;
                        } else {
                            break;
                        }
                    }
                    if self.next() != Token::RBrace {
                        return err("expected `}`");
                    }
                    if op == Token::In {
                        Expr::In(key, values)
                    } else {
                        Expr::NotIn(key, values)
                    }
                }
                other => {
                    return err(format!(
                        "expected an operator after label `{key}`, found {}",
                        other.describe()
                    ))
                }
            },
            Token::LParen => {
                self.depth += 1;
                if self.depth > MAX_DEPTH {
                    return err("selector nests parentheses too deeply");
                }
                let inner = self.or()?;
                self.depth -= 1;
                if self.next() != Token::RParen {
                    return err("expected `)`");
                }
                inner
            }
            other => return err(format!("unexpected {}", other.describe())),
        };
        Ok(if negated {
            Expr::Not(Box::new(expr))
        } else {
            expr
        })
    }
}

/// Quotes a value as a selector string literal: single quotes, or double quotes when the
/// value contains a single quote. `None` when it contains both (Calico string literals
/// have no escapes).
pub fn quote(value: &str) -> Option<String> {
    let mut out = String::with_capacity(value.len() + 2);
    quote_into(&mut out, value).then_some(out)
}

/// [`quote`] appended to `out`, without a string of its own (selectors are written by
/// the ten thousand, each with several values); `false`, and nothing appended, when the
/// value cannot be quoted.
pub fn quote_into(out: &mut String, value: &str) -> bool {
    let quote = if !value.contains('\'') {
        '\''
    } else if !value.contains('"') {
        '"'
    } else {
        return false;
    };
    out.push(quote);
    out.push_str(value);
    out.push(quote);
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn m(sel: &str, pairs: &[(&str, &str)]) -> bool {
        Selector::parse(sel)
            .unwrap_or_else(|e| panic!("{sel}: {e}"))
            .matches(&labels(pairs))
    }

    #[test]
    fn operators() {
        assert!(m("", &[]));
        assert!(m("   ", &[]));
        assert!(m("all()", &[]));
        assert!(!m("global()", &[]));
        assert!(m("a == 'x'", &[("a", "x")]));
        assert!(!m("a == 'x'", &[]));
        assert!(m("a != 'x'", &[]));
        assert!(!m("a != 'x'", &[("a", "x")]));
        assert!(m("a in {'x', \"y\"}", &[("a", "y")]));
        assert!(m("a in {'x',}", &[("a", "x")]));
        assert!(!m("a in {}", &[("a", "x")]));
        assert!(m("a not in {'x'}", &[]));
        assert!(!m("a not in {'x'}", &[("a", "x")]));
        assert!(m("has(a)", &[("a", "")]));
        assert!(m("!has(a)", &[]));
        assert!(m("! has( a )", &[]));
        assert!(m("a contains 'bc'", &[("a", "abcd")]));
        assert!(m("a starts  with 'ab'", &[("a", "abcd")]));
        assert!(m("a ends with 'cd'", &[("a", "abcd")]));
        assert!(!m("a ends with 'cd'", &[]));
        assert!(m("!!has(a)", &[("a", "1")]));
    }

    #[test]
    fn precedence_and_parentheses() {
        // `||` binds looser than `&&`.
        assert!(m("a == '1' || b == '1' && c == '1'", &[("a", "1")]));
        assert!(!m("(a == '1' || b == '1') && c == '1'", &[("a", "1")]));
        assert!(m("!(a == '1' && b == '1')", &[("a", "1")]));
        assert!(m("!a == '1'", &[("a", "2")]));
    }

    #[test]
    fn quoting() {
        assert!(m("a == \"it's\"", &[("a", "it's")]));
        assert!(m("a == 'say \"hi\"'", &[("a", "say \"hi\"")]));
        assert_eq!(quote("plain").as_deref(), Some("'plain'"));
        assert_eq!(quote("it's").as_deref(), Some("\"it's\""));
        assert_eq!(quote("'\""), None);
        let mut out = String::from("x == ");
        assert!(!quote_into(&mut out, "'\""));
        assert_eq!(out, "x == ", "nothing appended");
    }

    #[test]
    fn errors() {
        for bad in [
            "a = 'x'",
            "a == x",
            "a == 'x",
            "a",
            "a &",
            "a |",
            "has (a)",
            "has()",
            "(a == 'x'",
            "a == 'x')",
            "a in 'x'",
            "a in {'x' 'y'}",
            "a is 'x'",
            "&& a == 'x'",
            "a == 'x' b == 'y'",
            "$ == 'x'",
            "a == 'x' &&",
            "all(x)",
        ] {
            assert!(Selector::parse(bad).is_err(), "{bad} should not parse");
        }
        let deep = format!("{}all(){}", "(".repeat(1000), ")".repeat(1000));
        assert!(Selector::parse(&deep).is_err());
        let ok = format!("{}all(){}", "(".repeat(100), ")".repeat(100));
        assert!(Selector::parse(&ok).is_ok());
    }

    #[test]
    fn keys_and_validity() {
        let s = Selector::parse("a == 'x' && (has(b/c) || !d.e in {'1'})").unwrap();
        assert_eq!(s.keys(), vec!["a", "b/c", "d.e"]);
        assert!(is_valid_key("kubernetes.io/metadata.name"));
        assert!(!is_valid_key("a b"));
        assert!(!is_valid_key(""));
        assert!(!is_valid_key(&"k".repeat(513)));
    }
}
