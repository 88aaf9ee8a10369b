//! Command-line definitions (clap). This layer only parses; `main.rs` resolves the raw
//! arguments (and environment) into settings and runs the pipeline.

use clap::{Args, Parser, Subcommand, ValueEnum};
use netpolc_driver::Target;
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
    /// Run every ConnectivityTest on every target's emitted manifests
    Test(TestArgs),
    /// Explain, per target, the verdict of one flow and which intent and object decide it
    Explain(ExplainArgs),
    /// Evaluate existing manifests (any of the three backends) on a cluster dump
    Eval(EvalArgs),
    /// Import existing NetworkPolicies into intent files, proved equal
    ///
    /// Writes one IntentSet per namespace and a ClusterProfile into --out, then proves that
    /// the intents mean what the manifests mean as the --as CNI enforces them. Exits 1 when
    /// a construct was left out (each reported with its code), 2 on bad input.
    Import(ImportArgs),
    /// Connectivity added and removed between two versions (a Git revision, a folder, or
    /// two sets of manifests on a cluster dump), with the intents that cause it
    Diff(crate::review::DiffArgs),
    /// The intended connectivity as a Mermaid or Graphviz graph, grouped by namespace
    Graph(crate::review::GraphArgs),
    /// Run as a KRM function: a ResourceList on stdin, with the rendered objects on stdout
    ///
    /// For kpt: `kpt fn eval DIR --exec "netpolc fn" -- target=cilium`. Options come from the
    /// functionConfig (target, policies, golden, namespace, calico-namespaced, cilium-sctp,
    /// allow-empty); see docs/gitops.md.
    Fn,
    /// Argo CD plugin discovery: list the intent files of the current folder (none: no output)
    ///
    /// Looks in `policies/` (or --policies, $PARAM_POLICIES, $ARGOCD_ENV_NETPOLC_POLICIES,
    /// $NETPOLC_POLICIES), recursively, for `.yaml` and `.yml` files holding a
    /// `netpolc.dev/` document, and prints their paths. Exits 0 either way; Argo CD uses the
    /// plugin when the output is not empty.
    Discover(DiscoverArgs),
    /// Print the manual page (or write one page per command into a folder)
    Man {
        /// Write netpolc.1 and netpolc-<command>.1 into this folder
        #[arg(long, value_name = "DIR")]
        out_dir: Option<PathBuf>,
    },
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
    /// Namespace of intent sets that name none (default: $ARGOCD_APP_NAMESPACE)
    #[arg(long)]
    pub(crate) namespace: Option<String>,
    /// Also print notes (e.g. sides of intents left alone in unmanaged namespaces)
    #[arg(short, long)]
    pub(crate) verbose: bool,
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
pub(crate) struct DiscoverArgs {
    /// The folder to look in (the Application's source folder)
    #[arg(short = 'C', long, default_value = ".")]
    pub(crate) root: PathBuf,
    /// The intents folder, relative to the root (default: from the environment, or policies)
    #[arg(long = "policies", value_name = "PATH")]
    pub(crate) policies: Option<PathBuf>,
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
    /// No progress line (shown on a terminal for runs over a second)
    #[arg(short, long)]
    pub(crate) quiet: bool,
    /// Succeed even when a target renders no object (its golden folder then holds an
    /// empty kustomization, and a GitOps tool that prunes deletes every policy)
    #[arg(long)]
    pub(crate) allow_empty: bool,
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

#[derive(Debug, Args)]
pub(crate) struct TestArgs {
    #[command(flatten)]
    pub(crate) common: Common,
    /// Targets to test (default: all)
    #[arg(long = "target", value_enum, value_delimiter = ',')]
    pub(crate) targets: Vec<TargetArg>,
    /// Report format on stdout
    #[arg(long, value_enum, default_value_t = ReportFormat::Text)]
    pub(crate) format: ReportFormat,
}

#[derive(Debug, Args)]
pub(crate) struct ExplainArgs {
    #[command(flatten)]
    pub(crate) common: Common,
    /// Source: `NAMESPACE/KEY=VALUE,...` (a pod with these labels) or an IP address
    pub(crate) from: String,
    /// Destination, in the same notation
    pub(crate) to: String,
    /// Port and protocol, e.g. `8080/tcp`
    pub(crate) port: String,
}

#[derive(Debug, Args)]
pub(crate) struct EvalArgs {
    /// Manifest files (YAML, several documents each; Lists are unpacked)
    #[arg(required = true)]
    pub(crate) manifests: Vec<PathBuf>,
    /// The cluster: output of `kubectl get namespaces,pods -A -o yaml`
    #[arg(long)]
    pub(crate) cluster: PathBuf,
    /// Backends to evaluate on (default: all)
    #[arg(long = "target", value_enum, value_delimiter = ',')]
    pub(crate) targets: Vec<TargetArg>,
    /// Extra external addresses to probe
    #[arg(long = "address")]
    pub(crate) addresses: Vec<std::net::IpAddr>,
    /// Output format (`json`: one JSON document)
    #[arg(long, value_enum, default_value_t = EvalFormat::Text)]
    pub(crate) output: EvalFormat,
    /// Print every flow (pod pair × port, pod × address) instead of the connectivity map
    /// grouped by classes
    #[arg(long)]
    pub(crate) flows: bool,
}

#[derive(Debug, Args)]
pub(crate) struct ImportArgs {
    /// Manifest files or folders (`-`: standard input)
    #[arg(required = true)]
    pub(crate) manifests: Vec<PathBuf>,
    /// The cluster: output of `kubectl get namespaces,pods -A -o yaml` (namespace labels,
    /// and a second proof on its pods)
    #[arg(long)]
    pub(crate) cluster: Option<PathBuf>,
    /// The CNI that enforces the manifests (how plain NetworkPolicies are read)
    #[arg(long = "as", value_enum, default_value_t = TargetArg(Target::Kubernetes))]
    pub(crate) source: TargetArg,
    /// The folder to write the intents into (must not exist or be empty)
    #[arg(long)]
    pub(crate) out: PathBuf,
    /// The networks of the nodes' addresses, comma-separated (written as the profile's
    /// `nodeCIDRs`; address rules over them have no intent form on Kubernetes and Calico)
    #[arg(long, value_delimiter = ',')]
    pub(crate) node_cidrs: Option<Vec<ipnet::IpNet>>,
    /// The networks of the pods' addresses, comma-separated (written as the profile's
    /// `podCIDRs`; default: the Nodes' `spec.podCIDRs` of --cluster, else 10.244.0.0/16)
    #[arg(long, value_delimiter = ',')]
    pub(crate) pod_cidrs: Option<Vec<ipnet::IpNet>>,
    /// The networks of the services' cluster IPs, comma-separated (written as the
    /// profile's `serviceCIDRs`; default 10.96.0.0/12)
    #[arg(long, value_delimiter = ',')]
    pub(crate) service_cidrs: Option<Vec<ipnet::IpNet>>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub(crate) enum EvalFormat {
    Text,
    Json,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub(crate) enum ReportFormat {
    Text,
    Json,
    Junit,
}

/// A target on the command line: the names of the back-end registry
/// (`netpolc_driver::BACKENDS`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct TargetArg(pub(crate) Target);

const TARGET_ARGS: [TargetArg; Target::ALL.len()] = {
    let mut all = [TargetArg(Target::Kubernetes); Target::ALL.len()];
    let mut i = 0;
    while i < all.len() {
        all[i] = TargetArg(Target::ALL[i]);
        i += 1;
    }
    all
};

impl ValueEnum for TargetArg {
    fn value_variants<'a>() -> &'a [Self] {
        &TARGET_ARGS
    }

    fn to_possible_value(&self) -> Option<clap::builder::PossibleValue> {
        Some(clap::builder::PossibleValue::new(self.0.name()))
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub(crate) enum DiagnosticFormat {
    /// Text with the offending line and a marker
    Human,
    /// One JSON array per run
    Json,
    /// GitHub Actions workflow annotations
    Github,
    /// One SARIF 2.1.0 log per run (code scanning)
    Sarif,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub(crate) enum OutputFormat {
    Yaml,
    Json,
}
