//! `--report FILE.json` and `--link`: the run report (schema `edgeport.report/1`) of a
//! convert, simulate or bench run, and the share link fragment that carries it.

use std::io::Write;
use std::path::{Path, PathBuf};

use edgeport_engine::report::{self, Report};

use crate::{Failure, write_atomically};

#[derive(clap::Args)]
pub struct ReportArgs {
    /// Write the run report (schema edgeport.report/1: model, artifact, fidelity, simulated and
    /// measured latency) to this JSON file.
    #[arg(long = "report", value_name = "FILE.json")]
    pub path: Option<PathBuf>,
    /// Print the share link fragment (`#r=...`): append it to the playground's address to open
    /// this report there.
    #[arg(long)]
    pub link: bool,
}

impl ReportArgs {
    pub fn wanted(&self) -> bool {
        self.path.is_some() || self.link
    }

    /// An empty report about the model at `path`, named by its file name.
    pub fn start(path: &Path, model: &[u8]) -> Report {
        let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| "model.onnx".into());
        report::new(&name, model)
    }

    /// Writes the report and prints the link, as asked. The link leaves per-layer placement out.
    pub fn finish(&self, report: &Report) -> Result<(), Failure> {
        if let Some(path) = &self.path {
            let json = serde_json::to_vec_pretty(report).map_err(|e| Failure::Io(format!("cannot write the report: {e}")))?;
            write_atomically(path, &json)?;
        }
        if self.link {
            let mut shared = report.clone();
            if let Some(s) = &mut shared.simulation {
                s.report.results.iter_mut().for_each(|r| r.placement.clear());
            }
            let payload = report::link::encode(&shared).map_err(Failure::Io)?;
            // The link goes to stderr when stdout carries JSON, so both stay usable.
            let _ = writeln!(std::io::stderr(), "#{}{payload}", report::link::FRAGMENT_KEY);
        }
        Ok(())
    }
}
