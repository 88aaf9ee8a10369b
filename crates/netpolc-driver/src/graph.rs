//! Connectivity graphs: rows of a connectivity map (or of a diff) as Mermaid flowcharts
//! and Graphviz digraphs, grouped by namespace (`netpolc graph`, and the graph of
//! changed edges in `netpolc diff --output markdown|dot`).
//!
//! A node is one side of a row (the sources, or the destinations: several endpoints read
//! as one node, one per line); a node whose endpoints all live in one namespace sits in
//! that namespace's box and drops the `ns/` prefix. Pattern rows over a namespace group
//! (`{NS1}/app=web`) sit in the group's box. Everything else (`*`, `world`, address
//! ranges) sits outside every box. Node and box ids are generated (`n0`, `ns0`); labels
//! are quoted and escaped, so no name can break the syntax. Output is deterministic: nodes
//! and boxes in sorted order.

use crate::connectivity::Map;
use std::collections::BTreeMap;
use std::net::IpAddr;

/// How an edge is drawn.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Style {
    /// Allowed connectivity.
    Plain,
    /// Connectivity the change adds.
    Added,
    /// Connectivity the change removes.
    Removed,
}

/// One edge: every source may connect to every destination.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Edge {
    /// Sources, named as in the connectivity map.
    pub from: Vec<String>,
    /// Destinations.
    pub to: Vec<String>,
    /// The edge's label (ports).
    pub label: String,
    /// How it is drawn.
    pub style: Style,
}

/// The namespace an endpoint name belongs to (`ns/app=web` → `ns`, `{NS1}/x` → `{NS1}`);
/// `None` for `*`, `world`, address ranges and other cluster-wide names.
pub fn namespace_of(e: &str) -> Option<&str> {
    if e.starts_with('*') || e.starts_with("world") || e.starts_with("any address") {
        return None;
    }
    let (ns, _) = e.split_once('/')?;
    if ns.parse::<IpAddr>().is_ok() || ns.is_empty() {
        return None;
    }
    Some(ns)
}

/// The nodes of one box: node key (the endpoints) → (id, label lines).
type Nodes = BTreeMap<Vec<String>, (String, Vec<String>)>;

/// Nodes, grouped: (namespace or none) → nodes.
struct Layout {
    boxes: BTreeMap<Option<String>, Nodes>,
    ids: BTreeMap<Vec<String>, String>,
}

fn layout(edges: &[Edge]) -> Layout {
    let mut boxes: BTreeMap<Option<String>, Nodes> = BTreeMap::new();
    for e in edges {
        for side in [&e.from, &e.to] {
            let first = side.first().and_then(|x| namespace_of(x));
            let ns = first.filter(|ns| side.iter().all(|x| namespace_of(x) == Some(*ns)));
            let lines: Vec<String> = match ns {
                Some(ns) => side.iter().map(|x| shorten(&x[ns.len() + 1..])).collect(),
                None => side.iter().map(|x| shorten(x)).collect(),
            };
            boxes
                .entry(ns.map(str::to_string))
                .or_default()
                .insert(side.clone(), (String::new(), lines));
        }
    }
    let mut ids = BTreeMap::new();
    let mut next = 0;
    for nodes in boxes.values_mut() {
        for (key, (id, _)) in nodes.iter_mut() {
            *id = format!("n{next}");
            next += 1;
            ids.insert(key.clone(), id.clone());
        }
    }
    Layout { boxes, ids }
}

/// A long `X except [a, b, ...]` cut to its first three exceptions and a count (the
/// graph is for reading; the text and JSON outputs keep every name).
fn shorten(s: &str) -> String {
    const KEEP: usize = 3;
    let Some((head, list)) = s.split_once(" except [") else {
        return s.to_string();
    };
    let Some(list) = list.strip_suffix(']') else {
        return s.to_string();
    };
    let items: Vec<&str> = list.split(", ").collect();
    if s.len() <= 80 || items.len() <= KEEP + 1 {
        return s.to_string();
    }
    format!(
        "{head} except [{}, … {} more]",
        items[..KEEP].join(", "),
        items.len() - KEEP
    )
}

/// Escapes a Mermaid label (inside double quotes) with entity codes.
fn mermaid_text(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for ch in s.chars() {
        match ch {
            '"' => out.push_str("#quot;"),
            '#' => out.push_str("#35;"),
            '<' => out.push_str("#lt;"),
            '>' => out.push_str("#gt;"),
            '|' => out.push_str("#124;"),
            '`' => out.push_str("#96;"),
            '%' => out.push_str("#37;"),
            c if c.is_control() => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

/// A Mermaid flowchart of the edges (one box per namespace).
pub fn mermaid(edges: &[Edge]) -> String {
    let l = layout(edges);
    let mut s = String::from("flowchart LR\n");
    if edges.is_empty() {
        s.push_str("  empty[\"no connectivity\"]\n");
        return s;
    }
    for (b, (ns, nodes)) in l.boxes.iter().enumerate() {
        let indent = if ns.is_some() { "    " } else { "  " };
        if let Some(ns) = ns {
            s.push_str(&format!("  subgraph ns{b}[\"{}\"]\n", mermaid_text(ns)));
        }
        for (id, lines) in nodes.values() {
            let label: Vec<String> = lines.iter().map(|x| mermaid_text(x)).collect();
            s.push_str(&format!("{indent}{id}[\"{}\"]\n", label.join("<br>")));
        }
        if ns.is_some() {
            s.push_str("  end\n");
        }
    }
    let mut styles = Vec::new();
    for (i, e) in edges.iter().enumerate() {
        let arrow = match e.style {
            Style::Removed => "-.->",
            Style::Plain | Style::Added => "-->",
        };
        s.push_str(&format!(
            "  {} {arrow}|\"{}\"| {}\n",
            l.ids[&e.from],
            mermaid_text(&e.label),
            l.ids[&e.to]
        ));
        match e.style {
            Style::Added => {
                styles.push(format!("  linkStyle {i} stroke:#cf222e,stroke-width:2px\n"))
            }
            Style::Removed => styles.push(format!("  linkStyle {i} stroke:#57606a\n")),
            Style::Plain => {}
        }
    }
    for st in styles {
        s.push_str(&st);
    }
    s
}

fn dot_text(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for ch in s.chars() {
        match ch {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            c if c.is_control() => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

/// A Graphviz digraph of the edges (one cluster per namespace).
pub fn dot(edges: &[Edge]) -> String {
    let l = layout(edges);
    let mut s = String::from(
        "digraph netpolc {\n  rankdir=LR;\n  node [shape=box, fontname=\"Helvetica\"];\n  edge [fontname=\"Helvetica\"];\n",
    );
    for (b, (ns, nodes)) in l.boxes.iter().enumerate() {
        let indent = if ns.is_some() { "    " } else { "  " };
        if let Some(ns) = ns {
            s.push_str(&format!(
                "  subgraph cluster_{b} {{\n    label=\"{}\";\n",
                dot_text(ns)
            ));
        }
        for (id, lines) in nodes.values() {
            s.push_str(&format!(
                "{indent}{id} [label=\"{}\"];\n",
                dot_text(&lines.join("\n"))
            ));
        }
        if ns.is_some() {
            s.push_str("  }\n");
        }
    }
    for e in edges {
        let attrs = match e.style {
            Style::Plain => String::new(),
            Style::Added => ", color=\"#cf222e\", penwidth=2".to_string(),
            Style::Removed => ", color=\"#57606a\", style=dashed".to_string(),
        };
        s.push_str(&format!(
            "  {} -> {} [label=\"{}\"{attrs}];\n",
            l.ids[&e.from],
            l.ids[&e.to],
            dot_text(&e.label)
        ));
    }
    s.push_str("}\n");
    s
}

/// The edges of a connectivity map; with `namespace`, only rows that touch it (a
/// pattern row over a group holding it is shown for that namespace).
pub fn map_edges(map: &Map, namespace: Option<&str>) -> Vec<Edge> {
    let rows: Vec<&crate::connectivity::Row> = map.rows.iter().collect();
    row_edges(&rows, &map.groups, map.targets.len(), namespace)
}

/// The edges of rows (see [`map_edges`]); `targets` is how many targets a row holding
/// everywhere names.
pub fn row_edges(
    rows: &[&crate::connectivity::Row],
    groups: &[(String, Vec<String>)],
    targets: usize,
    namespace: Option<&str>,
) -> Vec<Edge> {
    let groups: BTreeMap<&str, &Vec<String>> =
        groups.iter().map(|(g, n)| (g.as_str(), n)).collect();
    let mut out = Vec::new();
    for r in rows {
        let (mut from, mut to) = (r.from.clone(), r.to.clone());
        if let Some(ns) = namespace {
            let in_group = r
                .group
                .as_deref()
                .and_then(|g| groups.get(g))
                .is_some_and(|names| names.iter().any(|n| n == ns));
            if in_group {
                let g = format!("{{{}}}", r.group.as_deref().unwrap_or_default());
                let put = |v: &[String]| -> Vec<String> {
                    v.iter().map(|e| e.replacen(&g, ns, 1)).collect()
                };
                from = put(&from);
                to = put(&to);
            } else if r.group.is_some() {
                continue;
            }
            let touches = from
                .iter()
                .chain(&to)
                .any(|e| namespace_of(e) == Some(ns) || e == "*" || e.starts_with("* except"));
            if !touches {
                continue;
            }
        }
        let on = if r.targets.len() == targets || r.targets.is_empty() {
            String::new()
        } else {
            format!(" [{} only]", r.targets.join(", "))
        };
        out.push(Edge {
            from,
            to,
            label: format!("{}{on}", r.ports.join(", ")),
            style: Style::Plain,
        });
    }
    out
}

/// A legend for graphs with namespace groups: `{NS1}` → its namespaces.
pub fn legend(groups: &[(String, Vec<String>)]) -> Vec<String> {
    groups
        .iter()
        .map(|(g, names)| {
            format!(
                "{{{g}}}: each of {} namespaces on its own: {}",
                names.len(),
                names.join(", ")
            )
        })
        .collect()
}
