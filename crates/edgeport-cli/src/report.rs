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

/// The fidelity of each variant as a table: outputs, the worst layers, what stayed float.
pub fn print_fidelity(report: &Report) {
    let mut out = std::io::stdout().lock();
    for f in &report.fidelity {
        let _ = writeln!(out, "fidelity of {} ({} {} samples; {})", f.variant, f.samples, f.inputs, f.method);
        let _ = writeln!(out, "  {:<32} {:>10} {:>10} {:>9} {:>9} {:>6}", "output", "max abs", "mean abs", "cosine", "SQNR dB", "top-1");
        for o in &f.outputs {
            let sqnr = o.sqnr_db.map_or("exact".to_string(), |s| format!("{s:.1}"));
            let top1 = o.top1_agreement.map_or("-".to_string(), |t| format!("{:.1}%", t * 100.0));
            let _ = writeln!(
                out,
                "  {:<32} {:>10.3e} {:>10.3e} {:>9.6} {:>9} {:>6}",
                o.output, o.max_abs_error, o.mean_abs_error, o.cosine_similarity, sqnr, top1
            );
        }
        if !f.layers.is_empty() {
            let _ = writeln!(out, "  worst layers (SQNR against the float model):");
            for l in f.layers.iter().take(8) {
                let sqnr = l.sqnr_db.map_or("exact".to_string(), |s| format!("{s:.1} dB"));
                let kind = if l.int8 { "int8" } else { "float" };
                let _ = writeln!(out, "    {:>9}  {:<5} {:<12} {}", sqnr, kind, l.op, l.node);
            }
        }
        if !f.kept_float.is_empty() {
            let _ = writeln!(out, "  {} node(s) stay float:", f.kept_float.len());
            for k in f.kept_float.iter().take(12) {
                let _ = writeln!(out, "    {:<12} {}: {}", k.op, k.node, k.reason);
            }
            if f.kept_float.len() > 12 {
                let _ = writeln!(out, "    ... ({} more in the report)", f.kept_float.len() - 12);
            }
        }
    }
}
