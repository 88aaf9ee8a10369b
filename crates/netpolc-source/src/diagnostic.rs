//! The diagnostic type every stage reports problems with.
//!
//! How to write a good diagnostic (the wording rules are in `docs/diagnostics.md`):
//! - the code is stable and documented; never reuse a retired code;
//! - the message is short, lower-case, without a trailing period, values in backticks;
//! - the primary label points at the offending text and says what is wrong with it;
//! - `help` says what to write instead; `notes` carry context (which backend, why).

use crate::Span;

/// How serious a diagnostic is. Errors make the command fail with exit code 2.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Severity {
    /// The input is rejected.
    Error,
    /// The input is accepted, but something deserves attention.
    Warning,
    /// Information, for example where the other side of a flow is left alone.
    Note,
}

impl Severity {
    /// The lower-case word used when rendering.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
            Severity::Note => "note",
        }
    }
}

/// A span with a message; the primary label is where the problem is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Label {
    /// Where.
    pub span: Span,
    /// What about it (may be empty).
    pub message: String,
    /// Whether this is the main location of the diagnostic.
    pub primary: bool,
}

/// A problem found in user input, or a fidelity report from a backend.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnostic {
    /// Stable code, e.g. `NP2003`; listed in `docs/diagnostics.md`.
    pub code: &'static str,
    /// Severity.
    pub severity: Severity,
    /// One-line summary.
    pub message: String,
    /// Locations, the primary one first.
    pub labels: Vec<Label>,
    /// Context lines.
    pub notes: Vec<String>,
    /// What to do about it.
    pub help: Option<String>,
    /// A file name to show when there is no span (e.g. an unreadable file).
    pub file: Option<String>,
    /// A 1-based line in [`Diagnostic::file`] when there is no span (e.g. a stale line of
    /// a golden file).
    pub line: Option<usize>,
    /// The back end the diagnostic is about (`kubernetes`, `calico`, `cilium`), if any.
    pub target: Option<String>,
}

impl Diagnostic {
    /// A new diagnostic of the given severity.
    pub fn new(severity: Severity, code: &'static str, message: impl Into<String>) -> Self {
        Diagnostic {
            code,
            severity,
            message: message.into(),
            labels: Vec::new(),
            notes: Vec::new(),
            help: None,
            file: None,
            line: None,
            target: None,
        }
    }

    /// A new error.
    pub fn error(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(Severity::Error, code, message)
    }

    /// A new warning.
    pub fn warning(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(Severity::Warning, code, message)
    }

    /// A new note.
    pub fn note(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(Severity::Note, code, message)
    }

    /// Adds a label; the first label added is the primary one.
    pub fn with_label(mut self, span: Span, message: impl Into<String>) -> Self {
        let primary = self.labels.is_empty();
        self.labels.push(Label {
            span,
            message: message.into(),
            primary,
        });
        self
    }

    /// Adds a secondary label.
    pub fn with_secondary(mut self, span: Span, message: impl Into<String>) -> Self {
        self.labels.push(Label {
            span,
            message: message.into(),
            primary: false,
        });
        self
    }

    /// Adds a label when a span is known.
    pub fn with_opt_label(self, span: Option<Span>, message: impl Into<String>) -> Self {
        match span {
            Some(s) => self.with_label(s, message),
            None => self,
        }
    }

    /// Adds a note.
    pub fn with_note(mut self, note: impl Into<String>) -> Self {
        self.notes.push(note.into());
        self
    }

    /// Sets the help text.
    pub fn with_help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    /// Names a file for a diagnostic without a span.
    pub fn with_file(mut self, file: impl Into<String>) -> Self {
        self.file = Some(file.into());
        self
    }

    /// Names a line of [`Diagnostic::file`] for a diagnostic without a span.
    pub fn with_line(mut self, line: usize) -> Self {
        self.line = Some(line);
        self
    }

    /// Names the back end the diagnostic is about.
    pub fn with_target(mut self, target: impl Into<String>) -> Self {
        self.target = Some(target.into());
        self
    }

    /// The primary span, if any.
    pub fn primary_span(&self) -> Option<Span> {
        self.labels.iter().find(|l| l.primary).map(|l| l.span)
    }

    /// Whether this is an error.
    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}
