//! Findings: the `results` of the output `ResourceList` and the lines on stderr.

use super::*;

/// One entry of `results`, and the matching lines on stderr.
#[derive(Clone, Debug)]
pub(super) struct Finding {
    pub(super) severity: Severity,
    pub(super) code: &'static str,
    pub(super) message: String,
    pub(super) notes: Vec<String>,
    pub(super) help: Option<String>,
    pub(super) resource: Option<Value>,
    pub(super) file: Option<(String, Option<u64>)>,
    pub(super) field: Option<String>,
}

impl Finding {
    pub(super) fn error(code: &'static str, message: impl Into<String>) -> Self {
        Finding {
            severity: Severity::Error,
            code,
            message: message.into(),
            notes: Vec::new(),
            help: None,
            resource: None,
            file: None,
            field: None,
        }
    }

    pub(super) fn warning(code: &'static str, message: impl Into<String>) -> Self {
        Finding {
            severity: Severity::Warning,
            ..Finding::error(code, message)
        }
    }

    pub(super) fn info(code: &'static str, message: impl Into<String>) -> Self {
        Finding {
            severity: Severity::Note,
            ..Finding::error(code, message)
        }
    }

    pub(super) fn help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    pub(super) fn note(mut self, note: impl Into<String>) -> Self {
        self.notes.push(note.into());
        self
    }

    /// Points at an item: its resourceRef and file.
    pub(super) fn at(mut self, item: &Value) -> Self {
        self.resource = resource_ref(item);
        self.file = item_path(item).map(|p| (p, item_index(item)));
        self
    }

    pub(super) fn field(mut self, field: impl Into<String>) -> Self {
        self.field = Some(field.into());
        self
    }

    pub(super) fn severity_word(&self) -> &'static str {
        match self.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
            Severity::Note => "info",
        }
    }

    pub(super) fn to_json(&self) -> Value {
        let mut message = format!("[{}] {}", self.code, self.message);
        for n in &self.notes {
            let _ = write!(message, "; note: {n}");
        }
        if let Some(h) = &self.help {
            let _ = write!(message, " (help: {h})");
        }
        let mut m = Map::new();
        m.insert("message".into(), message.into());
        m.insert("severity".into(), self.severity_word().into());
        if let Some(r) = &self.resource {
            m.insert("resourceRef".into(), r.clone());
        }
        if let Some(f) = &self.field {
            m.insert("field".into(), json!({ "path": f }));
        }
        if let Some((path, index)) = &self.file {
            let mut f = Map::new();
            f.insert("path".into(), path.clone().into());
            if let Some(i) = index {
                f.insert("index".into(), (*i).into());
            }
            m.insert("file".into(), Value::Object(f));
        }
        m.insert("tags".into(), json!({ "code": self.code }));
        Value::Object(m)
    }

    pub(super) fn to_human(&self, out: &mut String) {
        let word = match self.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
            Severity::Note => "note",
        };
        let _ = writeln!(out, "{word}[{}]: {}", self.code, self.message);
        let mut place = Vec::new();
        if let Some((path, index)) = &self.file {
            place.push(path.clone());
            if let Some(i) = index {
                place.push(format!("document {i}"));
            }
        }
        if let Some(f) = &self.field {
            place.push(format!("field {f}"));
        }
        if !place.is_empty() {
            let _ = writeln!(out, "  --> {}", place.join(", "));
        }
        for n in &self.notes {
            let _ = writeln!(out, "   = note: {n}");
        }
        if let Some(h) = &self.help {
            let _ = writeln!(out, "   = help: {h}");
        }
    }
}

pub(super) fn human(findings: &[Finding]) -> String {
    let mut out = String::new();
    for f in findings.iter().filter(|f| f.code != codes::SUMMARY) {
        f.to_human(&mut out);
    }
    let errors = findings
        .iter()
        .filter(|f| f.severity == Severity::Error)
        .count();
    if errors > 0 {
        let _ = writeln!(
            out,
            "error: {errors} error{} found; the package is left unchanged",
            if errors == 1 { "" } else { "s" }
        );
    }
    out
}

/// The output for input that could not be read as a `ResourceList`: no items.
pub(super) fn unreadable(message: String) -> FnOutput {
    let findings = vec![Finding::error(codes::BAD_RESOURCE_LIST, message)
        .help("pipe a config.kubernetes.io/v1 ResourceList, as `kpt fn eval --exec` does")];
    FnOutput {
        stdout: assemble("config.kubernetes.io/v1", &[], None, &findings),
        stderr: human(&findings),
        exit_code: BAD_INPUT,
    }
}
