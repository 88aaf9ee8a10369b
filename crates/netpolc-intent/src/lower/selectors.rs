//! Label selectors of groups and namespaces: key and value checks, CNI-set keys, the
//! `matchLabels`/`matchExpressions` forms.

use super::*;

impl Cx {
    pub(super) fn check_label(&mut self, k: &Spanned<String>, v: &Spanned<String>) -> bool {
        let mut ok = true;
        if let Some(p) = label_key_problem(&k.value) {
            self.diags.push(err(
                codes::BAD_LABEL,
                k.span,
                format!("invalid label key `{}`", k.value),
                p,
            ));
            ok = false;
        }
        if let Some(p) = label_value_problem(&v.value) {
            self.diags.push(err(
                codes::BAD_LABEL,
                v.span,
                format!("invalid label value `{}`", v.value),
                p,
            ));
            ok = false;
        }
        ok
    }

    /// Refuses a selector key that a CNI sets itself (NP2040).
    pub(super) fn check_cni_key(&mut self, k: &Spanned<String>) -> bool {
        let Some(why) = cni_label_problem(&k.value) else {
            return true;
        };
        self.diags.push(
            err(
                codes::CNI_LABEL,
                k.span,
                format!("selector on `{}`, a label key a CNI sets itself", k.value),
                "set by a CNI, not by you",
            )
            .with_note(format!(
                "{why}; a selector on it matches on one back end and not on another"
            ))
            .with_help(
                "select namespaces with `namespaces:` (names or labels) and pods by their own labels",
            ),
        );
        false
    }

    pub(super) fn selector(&mut self, doc: &SelectorDoc) -> Option<LabelSelector> {
        let mut reqs = Vec::new();
        let mut ok = true;
        for (k, _) in &doc.match_labels {
            ok &= self.check_cni_key(k);
        }
        for e in &doc.match_expressions {
            ok &= self.check_cni_key(&e.value.key);
        }
        for (k, v) in &doc.match_labels {
            ok &= self.check_label(k, v);
            reqs.push(Requirement::is_in(k.value.clone(), [v.value.clone()]));
        }
        for e in &doc.match_expressions {
            let e = &e.value;
            if let Some(p) = label_key_problem(&e.key.value) {
                self.diags.push(err(
                    codes::BAD_LABEL,
                    e.key.span,
                    format!("invalid label key `{}`", e.key.value),
                    p,
                ));
                ok = false;
            }
            let op = match e.operator.value.as_str() {
                "In" => Op::In,
                "NotIn" => Op::NotIn,
                "Exists" => Op::Exists,
                "DoesNotExist" => Op::DoesNotExist,
                other => {
                    let mut d = err(
                        codes::BAD_SELECTOR,
                        e.operator.span,
                        format!("unknown operator `{other}`"),
                        "not an operator",
                    )
                    .with_help("expected `In`, `NotIn`, `Exists` or `DoesNotExist`");
                    if let Some(s) =
                        yaml::suggest(other, &["In", "NotIn", "Exists", "DoesNotExist"])
                    {
                        d = d.with_help(format!("did you mean `{s}`?"));
                    }
                    self.diags.push(d);
                    ok = false;
                    continue;
                }
            };
            let needs_values = matches!(op, Op::In | Op::NotIn);
            if needs_values == e.values.is_empty() {
                self.diags.push(err(
                    codes::BAD_SELECTOR,
                    e.operator.span,
                    if needs_values {
                        format!("operator `{}` needs at least one value", op.as_str())
                    } else {
                        format!("operator `{}` takes no values", op.as_str())
                    },
                    "here",
                ));
                ok = false;
                continue;
            }
            for v in &e.values {
                if let Some(p) = label_value_problem(&v.value) {
                    self.diags.push(err(
                        codes::BAD_LABEL,
                        v.span,
                        format!("invalid label value `{}`", v.value),
                        p,
                    ));
                    ok = false;
                }
            }
            reqs.push(Requirement {
                key: e.key.value.clone(),
                op,
                values: e.values.iter().map(|v| v.value.clone()).collect(),
            });
        }
        if !ok {
            return None;
        }
        LabelSelector::from_requirements(reqs).or_else(|| {
            let span = doc
                .match_labels
                .first()
                .map(|(k, _)| k.span)
                .or_else(|| doc.match_expressions.first().map(|e| e.span));
            if let Some(span) = span {
                self.diags.push(err(
                    codes::BAD_SELECTOR,
                    span,
                    "this selector can never match",
                    "contradictory requirements",
                ));
            }
            None
        })
    }

    pub(super) fn namespaces_selector(
        &mut self,
        doc: &Spanned<NamespacesDoc>,
    ) -> Option<LabelSelector> {
        match &doc.value {
            NamespacesDoc::Names(names) => {
                let mut ok = true;
                for n in names {
                    ok &= self.check_name("namespace name", n);
                }
                if names.is_empty() {
                    self.diags.push(
                        err(
                            codes::BAD_VALUE,
                            doc.span,
                            "empty namespace list",
                            "selects nothing",
                        )
                        .with_help("remove `namespaces` or name at least one namespace"),
                    );
                    return None;
                }
                ok.then(|| {
                    LabelSelector::from_requirements([Requirement::is_in(
                        NAMESPACE_NAME_LABEL,
                        names.iter().map(|n| n.value.clone()),
                    )])
                    .unwrap_or_default()
                })
            }
            NamespacesDoc::Selector(sel) => self.selector(sel),
        }
    }
}
