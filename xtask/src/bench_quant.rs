//! `cargo xtask bench quant`: edgeport's full-integer int8 (TFLite and ONNX QDQ) against
//! onnxruntime's `quantize_static` on models with labelled data, with the same calibration
//! samples: accuracy, agreement with float, size and quantization time. The measuring is done
//! by `bench_quant_peer.py` in the test venv; the table goes into BENCHMARKS.md.

use std::fs;

use anyhow::{Result, bail};
use clap::Args;

use crate::bench::{machine_facts, publish};
use crate::env::Env;
use crate::util::{run, stdout_of};

const PEER_SCRIPT: &str = include_str!("bench_quant_peer.py");
const BEGIN: &str = "<!-- bench:quant:begin -->";
const END: &str = "<!-- bench:quant:end -->";

#[derive(Args, Debug, Clone)]
pub struct QuantArgs {
    /// Timed quantization runs per tool (median).
    #[arg(long, default_value_t = 3)]
    pub runs: usize,
    /// Also quantize with onnx2tf -oiqt (its own venv, installed if missing; tens of seconds
    /// per model).
    #[arg(long)]
    pub with_onnx2tf: bool,
    /// Print the table without touching BENCHMARKS.md.
    #[arg(long)]
    pub no_write: bool,
}

pub fn bench(env: &Env, args: &QuantArgs) -> Result<()> {
    if args.runs == 0 {
        bail!("--runs must be at least 1");
    }
    run(env.cargo().args(["build", "--release", "-p", "edgeport-cli"]))?;
    crate::env::ensure_test_venv(env)?;
    let work = env.repo.join("target").join("bench-quant");
    fs::create_dir_all(&work)?;
    let script = work.join("bench_quant_peer.py");
    fs::write(&script, PEER_SCRIPT)?;
    let mut cmd = std::process::Command::new(env.venv_python());
    cmd.arg(&script).arg(env.cli_bin()).arg(&env.repo).arg(&work).arg(args.runs.to_string());
    if args.with_onnx2tf {
        cmd.arg(crate::bench::ensure_peers(env)?);
    }
    let table = stdout_of(&mut cmd)?;
    let command = format!("cargo xtask bench quant --runs {}{}", args.runs, if args.with_onnx2tf { " --with-onnx2tf" } else { "" });
    let section = format!(
        "{BEGIN}\n## Full-integer int8 against onnxruntime quantize_static\n\n\
         `{command}`, {}. Same calibration samples for every tool (digits: 100 training images; \
         PP-OCR cls: 64 rendered lines); accuracy on the evaluation sets of the accuracy test \
         (`tests/oracles/test_accuracy.py`). edgeport's time is the whole `convert` process \
         (import, calibration on its CPU runtime, export); onnxruntime's the `quantize_static` call \
         (QDQ, per-channel int8 weights, int8 activations, MinMax); onnx2tf's the whole `onnx2tf -oiqt` \
         process with the samples as `-cind` (it writes every variant; the table runs its \
         `*_integer_quant.tflite`, int8 inside a float32 interface, like edgeport's). Median of {} runs.\n\n{}\n{END}\n",
        machine_facts(env),
        args.runs,
        table.trim_end()
    );
    publish(env, &section, BEGIN, END, args.no_write)
}
