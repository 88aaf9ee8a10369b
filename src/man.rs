//! `netpolc man`: manual pages generated from the command-line definition (clap_mangen),
//! so they never drift from `--help`. `docs/man/` holds the generated pages; a test
//! regenerates them and compares.

use crate::cli::Cli;
use clap::CommandFactory;
use std::io::Write as _;
use std::path::Path;
use std::process::ExitCode;

/// The pages: `netpolc.1`, then `netpolc-<command>.1` for every subcommand, as
/// (file name, roff text).
pub(crate) fn pages() -> Vec<(String, Vec<u8>)> {
    let cmd = Cli::command();
    let mut out = Vec::new();
    let mut top = Vec::new();
    if clap_mangen::Man::new(cmd.clone()).render(&mut top).is_ok() {
        out.push(("netpolc.1".to_string(), top));
    }
    let source = format!("netpolc {}", cmd.get_version().unwrap_or_default());
    for sub in cmd.get_subcommands() {
        let name = format!("netpolc-{}", sub.get_name());
        let sub = sub
            .clone()
            .display_name(name.clone())
            .bin_name(format!("netpolc {}", sub.get_name()));
        let mut page = Vec::new();
        if clap_mangen::Man::new(sub)
            .source(source.clone())
            .render(&mut page)
            .is_ok()
        {
            out.push((format!("{name}.1"), page));
        }
    }
    out
}

/// Prints `netpolc.1` on stdout, or writes every page into `out_dir`.
pub(crate) fn run(out_dir: Option<&Path>) -> ExitCode {
    let pages = pages();
    match out_dir {
        None => {
            let mut stdout = std::io::stdout().lock();
            let top = pages.first().map(|(_, t)| t.as_slice()).unwrap_or_default();
            if stdout.write_all(top).and_then(|_| stdout.flush()).is_err() {
                return ExitCode::from(crate::BAD_INPUT);
            }
        }
        Some(dir) => {
            if let Err(e) = std::fs::create_dir_all(dir) {
                eprintln!("error: cannot create {}: {e}", dir.display());
                return ExitCode::from(crate::BAD_INPUT);
            }
            for (name, text) in &pages {
                if let Err(e) = std::fs::write(dir.join(name), text) {
                    eprintln!("error: cannot write {}: {e}", dir.join(name).display());
                    return ExitCode::from(crate::BAD_INPUT);
                }
            }
        }
    }
    ExitCode::SUCCESS
}
