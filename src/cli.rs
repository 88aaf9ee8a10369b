//! Command-line definitions (clap). This layer only parses; `main.rs` resolves the raw
//! arguments (and environment) into settings and runs the pipeline.

use clap::{Args, Parser, Subcommand, ValueEnum};
use std::path::PathBuf;

/// netpolc compiles network intents into Kubernetes, Calico and Cilium policies.
#[derive(Debug, Parser)]
#[command(name = "netpolc", version, about, long_about = None, max_term_width = 100)]
pub(crate) struct Cli {
    #[command(subcommand)]
    pub(crate) command: Command,
}

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Compile policies/ and write golden/<target>/ (verified, atomically)
    Build(BuildArgs),
    /// Exit 1 with a unified diff when golden/ is stale or holds orphans
    Check(BuildArgs),
    /// Print one target's objects as one multi-document YAML (or JSON) stream on stdout
    Render(RenderArgs),
    /// Print shell completions
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
}

#[derive(Debug, Args)]
pub(crate) struct Common {
    /// Project root: policies/ and golden/ are taken relative to it
    #[arg(short = 'C', long, default_value = ".")]
    pub(crate) root: PathBuf,
    /// The intent files or folders (default: policies)
    #[arg(long = "policies", value_name = "PATH")]
    pub(crate) policies: Vec<PathBuf>,
    /// How to print diagnostics on stderr
    #[arg(long, value_enum, default_value_t = DiagnosticFormat::Human)]
    pub(crate) diagnostics: DiagnosticFormat,
    /// Emit namespaced Calico NetworkPolicy instead of GlobalNetworkPolicy where possible
    #[arg(long)]
    pub(crate) calico_namespaced: bool,
    /// Allow SCTP on Cilium (the cluster runs with enable-sctp)
    #[arg(long)]
    pub(crate) cilium_sctp: bool,
}

#[derive(Debug, Args)]
pub(crate) struct BuildArgs {
    #[command(flatten)]
    pub(crate) common: Common,
    /// The golden folder
    #[arg(long, default_value = "golden")]
    pub(crate) golden: PathBuf,
    /// Targets to build (default: all)
    #[arg(long = "target", value_enum, value_delimiter = ',')]
    pub(crate) targets: Vec<TargetArg>,
}

#[derive(Debug, Args)]
pub(crate) struct RenderArgs {
    #[command(flatten)]
    pub(crate) common: Common,
    /// The target (default: $ARGOCD_ENV_NETPOLC_TARGET, $NETPOLC_TARGET, or kubernetes)
    #[arg(long, value_enum)]
    pub(crate) target: Option<TargetArg>,
    /// Output format
    #[arg(long, value_enum, default_value_t = OutputFormat::Yaml)]
    pub(crate) output: OutputFormat,
    /// Succeed even when there is nothing to print
    #[arg(long)]
    pub(crate) allow_empty: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub(crate) enum TargetArg {
    Kubernetes,
    Calico,
    Cilium,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub(crate) enum DiagnosticFormat {
    Human,
    Json,
    Github,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub(crate) enum OutputFormat {
    Yaml,
    Json,
}
