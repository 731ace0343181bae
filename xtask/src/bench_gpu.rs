//! `cargo xtask bench gpu`: warm inference latency of edgeport's WebGPU runtime in headless
//! Chromium (the playground's measure panel) against onnxruntime-web's WebGPU execution
//! provider on the same models in the same browser, and against edgeport's own CPU (wasm) path.
//! The tools take turns round after round; the table gives medians over rounds of each tool's
//! p50 and of the per-round ratios. Written into BENCHMARKS.md.

use std::fmt::Write as _;

use anyhow::{Result, bail};
use clap::Args;

use crate::bench::machine_facts;
use crate::env::Env;
use crate::util::{self, median, run};

const MODELS: [&str; 3] = ["mobilenetv2", "resnet", "transformer"];
const BEGIN: &str = "<!-- bench:gpu:begin -->";
const END: &str = "<!-- bench:gpu:end -->";

#[derive(Args, Debug, Clone)]
pub struct GpuArgs {
    /// Rounds (each tool runs once per round, in turn).
    #[arg(long, default_value_t = 3)]
    pub rounds: usize,
    /// Timed inferences per tool and round (after 3 warm-up runs).
    #[arg(long, default_value_t = 20)]
    pub runs: usize,
    /// Print the table without touching BENCHMARKS.md.
    #[arg(long)]
    pub no_write: bool,
}

pub fn bench(env: &Env, args: &GpuArgs) -> Result<()> {
    if args.rounds == 0 || args.runs == 0 {
        bail!("--rounds and --runs must be at least 1");
    }
    run(env.cargo().args(["build", "--release", "-p", "edgeport-cli"]))?;
    let (lines, ua) = crate::bench_cpu::browser_runs(env, &MODELS, args.rounds, args.runs, "webgpu")?;
    let of = |model: &str, tool: &str| -> Vec<f64> {
        lines.iter().filter(|l| l["model"] == model && l["tool"] == tool).filter_map(|l| l["p50_ms"].as_f64()).collect()
    };
    let text = |tool: &str, key: &str| {
        lines.iter().find(|l| l["tool"] == tool).and_then(|l| l[key].as_str()).unwrap_or("").to_string()
    };
    let ratio = |a: &[f64], b: &[f64]| median(&a.iter().zip(b).map(|(x, y)| x / y).collect::<Vec<_>>());
    let mut rows = String::new();
    for model in MODELS {
        let (gpu, ort, cpu) = (of(model, "edgeport-gpu"), of(model, "ort"), of(model, "edgeport"));
        eprintln!("  {model}: edgeport WebGPU {gpu:?} ms, onnxruntime-web {ort:?} ms, edgeport wasm {cpu:?} ms");
        writeln!(
            rows,
            "| {model} | {:.3} | {:.3} | {:.2}x | {:.3} | {:.2}x |",
            median(&gpu),
            median(&ort),
            ratio(&gpu, &ort),
            median(&cpu),
            ratio(&gpu, &cpu)
        )?;
    }
    let command = format!("cargo xtask bench gpu --rounds {} --runs {}", args.rounds, args.runs);
    let mut section = String::new();
    writeln!(section, "{BEGIN}")?;
    writeln!(section, "## WebGPU inference in the browser")?;
    writeln!(section)?;
    writeln!(section, "Made by `{command}` on {} (UTC).", util::utc_date())?;
    writeln!(section, "Machine: {}.", machine_facts(env))?;
    writeln!(section, "Browser: {ua}, `--enable-unsafe-webgpu`; adapter: {}.", text("edgeport-gpu", "adapter").trim_start_matches("Adapter: "))?;
    writeln!(section, "Peer: {}.", text("ort", "peer"))?;
    writeln!(section)?;
    writeln!(
        section,
        "Warm latency per inference in one headless Chromium: edgeport through the playground's \
         \"Measure in this browser\" panel (fp32, 3 warm-up runs, {} timed runs) on WebGPU and on the CPU \
         (wasm, one thread, SIMD), against onnxruntime-web's WebGPU execution provider (`graphOptimizationLevel: \"all\"`, \
         same warm-up and runs) on `xtask/src/bench_ort/`, taking turns for {} rounds. Every figure is wall time \
         from submission to the outputs read back on the CPU (what `session.run` awaits), the median over rounds \
         of each tool's p50; ratios are medians of the per-round ratios (below 1 = edgeport faster). On this \
         machine the adapter is SwiftShader, WebGPU on the CPU: the figures compare implementations, not GPUs.",
        args.runs, args.rounds
    )?;
    writeln!(section)?;
    writeln!(section, "| model | edgeport WebGPU p50 ms | onnxruntime-web WebGPU p50 ms | edgeport / onnxruntime-web | edgeport wasm (CPU) p50 ms | WebGPU / wasm |")?;
    writeln!(section, "| --- | ---: | ---: | ---: | ---: | ---: |")?;
    section.push_str(&rows);
    writeln!(section, "{END}")?;
    crate::bench::publish(env, &section, BEGIN, END, args.no_write)
}
