//! `edgeport run` (inputs from .npz, outputs to .npz) and `edgeport bench` (the measurement
//! harness: load, cold first run, warm-up, timed runs).

use std::collections::BTreeMap;
use std::io::Write;
use std::path::PathBuf;
use std::time::Instant;

use edgeport_engine::runtime::{self, Backend, BenchOptions, BenchReport, Environment, RunOptions, Variant};

use crate::{Failure, print_json, read_model, write_atomically};

#[derive(clap::Args)]
pub struct RuntimeArgs {
    /// The ONNX model.
    model: PathBuf,
    /// Where the model runs.
    #[arg(long, default_value = "cpu", value_parser = ["cpu", "gpu"])]
    backend: String,
    /// The model variant: fp32 (the original), fp16 (weights stored as float16) or coreml-fp16
    /// (weights and intermediates in float16 as an fp16 Core ML program stores them).
    #[arg(long, default_value = "fp32", value_parser = ["fp32", "original", "fp16", "coreml-fp16"])]
    variant: String,
    /// Quantization to run with: int8-weights (per-channel int8 decoding of the conv and
    /// matmul weights, as `convert --quantize int8-weights` stores them) or int8 (the
    /// full-integer TFLite model `convert --quantize int8` writes, simulated: int8 weights and
    /// every int8 tensor rounded as the model stores it).
    #[arg(long, value_parser = ["int8-weights", "int8", "w8a8"])]
    quantize: Option<String>,
    /// With `--quantize int8-weights`: run as the TFLite model computes, its convolutions and
    /// fully connected layers hybrid kernels that quantize their inputs to int8 as they run.
    #[arg(long, requires = "quantize")]
    hybrid: bool,
    /// With --quantize int8: the calibration samples given to `convert` (.npz).
    #[arg(long, value_name = "FILE.npz")]
    calibration: Option<PathBuf>,
    #[command(flatten)]
    images: crate::ImageArgs,
    /// With --quantize int8: the calibration method given to `convert`.
    #[arg(long = "calibration-method", value_parser = ["minmax", "percentile", "mse"])]
    calibration_method: Option<String>,
    /// With --quantize int8: the nodes `convert` kept in float.
    #[arg(long = "keep-float", value_name = "NODE,...", value_delimiter = ',')]
    keep_float: Vec<String>,
    /// Palettized weights to run with, as `convert --palettize` stores them.
    #[arg(long, value_name = "BITS[:kmeans|uniform]")]
    palettize: Option<String>,
    /// Pruned weights to run with, as `convert --prune` stores them.
    #[arg(long, value_name = "SPARSITY|threshold:T")]
    prune: Option<String>,
    /// Threads for matrix products (native CPU backend).
    #[arg(long, default_value_t = 1)]
    threads: usize,
    /// Static shape for an input with dynamic dims, e.g. `x=1,3,224,224` (repeatable).
    #[arg(long = "input-shape", value_name = "NAME=DIMS", value_parser = crate::parse_input_shape)]
    input_shapes: Vec<(String, Vec<usize>)>,
}

impl RuntimeArgs {
    fn options(&self, model: &[u8]) -> Result<RunOptions, Failure> {
        let input_shapes: BTreeMap<String, Vec<usize>> = self.input_shapes.iter().cloned().collect();
        let calibration = match &self.calibration {
            Some(path) => Some(crate::read_calibration(path, model, &input_shapes, &self.images)?),
            None => None,
        };
        Ok(RunOptions {
            calibration,
            calibration_method: self.calibration_method.as_deref().map(str::parse).transpose()?,
            keep_float: crate::node_names(&self.keep_float),
            backend: self.backend.parse::<Backend>()?,
            variant: self.variant.parse::<Variant>()?,
            input_shapes: self.input_shapes.iter().cloned().collect(),
            threads: self.threads,
            fp32_ops: None,
            quantize: self.quantize.as_deref().map(str::parse).transpose()?,
            palettize: self.palettize.as_deref().map(str::parse).transpose()?,
            hybrid: self.hybrid,
            prune: self.prune.as_deref().map(str::parse).transpose()?,
        })
    }
}

#[derive(clap::Args)]
pub struct RunArgs {
    #[command(flatten)]
    runtime: RuntimeArgs,
    /// Inputs as .npz, keyed by the model's input names (default: deterministic samples).
    #[arg(long)]
    input: Option<PathBuf>,
    /// Where to write the outputs (.npz keyed by the model's output names).
    #[arg(long)]
    output: PathBuf,
    /// Print a JSON summary (outputs' shapes, warnings) instead of text.
    #[arg(long)]
    json: bool,
}

pub fn run(args: RunArgs) -> Result<(), Failure> {
    let bytes = read_model(&args.runtime.model)?;
    let mut runner = runtime::load(&bytes, &args.runtime.options(&bytes)?)?;
    let inputs = match &args.input {
        Some(path) => {
            let data = std::fs::read(path).map_err(|e| Failure::Io(format!("cannot read '{}': {e}", path.display())))?;
            edgeport_engine::npz::read_npz(&data)
                .map_err(|e| Failure::Engine(edgeport_engine::EngineError::options(format!("{}: {}", path.display(), e.message))))?
        }
        None => runner.sample_inputs(),
    };
    let result = runner.run(&inputs)?;
    write_atomically(&args.output, &edgeport_engine::npz::write_npz(&result.outputs)?)?;
    for w in &result.warnings {
        eprintln!("warning: {w}");
    }
    if args.json {
        let outputs: BTreeMap<&str, serde_json::Value> = result
            .outputs
            .iter()
            .map(|(k, t)| (k.as_str(), serde_json::json!({ "dtype": t.dtype().to_string(), "shape": t.shape() })))
            .collect();
        print_json(&serde_json::json!({ "outputs": outputs, "warnings": result.warnings }));
    } else {
        for (name, t) in &result.outputs {
            out!("{name}: {} {:?}", t.dtype(), t.shape());
        }
        out!("wrote {}", args.output.display());
    }
    Ok(())
}

#[derive(clap::Args)]
pub struct BenchArgs {
    #[command(flatten)]
    runtime: RuntimeArgs,
    /// Timed runs.
    #[arg(long, default_value_t = 20)]
    runs: usize,
    /// Unmeasured runs after the first (cold) one.
    #[arg(long, default_value_t = 3)]
    warmup: usize,
    /// Also time every layer (median over the timed runs) and list the slowest.
    #[arg(long)]
    layers: bool,
    /// Print the report JSON (schema edgeport.bench/1).
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    report: crate::report::ReportArgs,
}

pub fn bench(args: BenchArgs) -> Result<(), Failure> {
    let bytes = read_model(&args.runtime.model)?;
    let options = args.runtime.options(&bytes)?;
    let start = Instant::now();
    let clock = move || start.elapsed().as_secs_f64() * 1e3;
    let bar = indicatif::ProgressBar::new(args.runs as u64);
    bar.set_style(
        indicatif::ProgressStyle::with_template("{msg:>12} [{bar:30}] {pos}/{len}")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    let mut progress = |stage: &str, done: usize, total: usize| {
        bar.set_message(stage.to_string());
        bar.set_length(total as u64);
        bar.set_position(done as u64);
    };
    let measured = runtime::bench(
        &bytes,
        &options,
        &BenchOptions { warmup: args.warmup, runs: args.runs },
        &clock,
        Environment::current(options.threads),
        &mut progress,
    );
    bar.finish_and_clear();
    let (report, mut runner) = measured?;
    let layers = if args.layers { Some(layer_times(&mut runner, args.runs.max(1), &clock)?) } else { None };
    if args.json {
        let mut value = serde_json::to_value(&report).unwrap_or_default();
        if let (Some(layers), Some(obj)) = (&layers, value.as_object_mut()) {
            obj.insert("layers".into(), serde_json::to_value(layers).unwrap_or_default());
        }
        print_json(&value);
    } else {
        print_bench(&report);
        if let Some(layers) = layers {
            print_layers(&layers);
        }
    }
    if args.report.wanted() {
        let mut r = crate::report::ReportArgs::start(&args.runtime.model, &bytes);
        edgeport_engine::report::add_measured(&mut r, options.backend.name(), std::slice::from_ref(&report));
        if options.variant != Variant::Fp32 {
            r.fidelity.push(runtime::fidelity(&bytes, &options, None)?);
        }
        args.report.finish(&r)?;
    }
    Ok(())
}

/// Median time per layer over `runs` profiled runs of the (already warm) model.
fn layer_times(runner: &mut runtime::Runner, runs: usize, clock: &dyn Fn() -> f64) -> Result<Vec<runtime::LayerTime>, Failure> {
    let inputs = runner.sample_inputs();
    let mut all: Vec<Vec<runtime::LayerTime>> = Vec::with_capacity(runs);
    for _ in 0..runs {
        all.push(runner.profile(&inputs, clock)?);
    }
    let mut out = all.first().cloned().unwrap_or_default();
    for (i, layer) in out.iter_mut().enumerate() {
        let mut ms: Vec<f64> = all.iter().map(|r| r[i].ms).collect();
        ms.sort_by(f64::total_cmp);
        layer.ms = runtime::percentile(&ms, 50.0);
    }
    Ok(out)
}

fn print_layers(layers: &[runtime::LayerTime]) {
    let total: f64 = layers.iter().map(|l| l.ms).sum();
    let mut by_op: BTreeMap<&str, (usize, f64)> = BTreeMap::new();
    for l in layers {
        let e = by_op.entry(l.op.as_str()).or_default();
        e.0 += 1;
        e.1 += l.ms;
    }
    let mut ops: Vec<_> = by_op.into_iter().collect();
    ops.sort_by(|a, b| b.1.1.total_cmp(&a.1.1));
    out!("\nper op (median of each layer, {total:.3} ms in all)");
    for (op, (n, ms)) in ops {
        out!("  {op:<16} x{n:<4} {ms:>9.3} ms  {:>5.1}%", 100.0 * ms / total.max(1e-12));
    }
    let mut slow: Vec<&runtime::LayerTime> = layers.iter().collect();
    slow.sort_by(|a, b| b.ms.total_cmp(&a.ms));
    out!("slowest layers");
    for l in slow.iter().take(10) {
        out!("  {:<40} {:<14} {:>9.3} ms", l.node, l.op, l.ms);
    }
}

fn print_bench(r: &BenchReport) {
    let env = &r.environment;
    out!("{} ({}) on {} {}, {} {} thread(s)", r.model_name, r.variant.name(), format!("{:?}", r.backend).to_lowercase(), env.runtime, env.arch, env.threads);
    if let Some(a) = &env.adapter {
        let text = |k: &str| a.get(k).and_then(|v| v.as_str()).unwrap_or("").to_string();
        let fallback = a.get("fallback").and_then(|v| v.as_bool()).unwrap_or(false);
        out!("adapter     {} ({}{})", text("name"), text("backend"), if fallback { ", software fallback" } else { "" });
    }
    out!("load        {:>10.2} ms  (executor {:.2} ms)", r.load_ms, r.executor_ms);
    out!("first run   {:>10.2} ms  (cold)", r.first_run_ms);
    out!("warm runs   {:>10}     (after {} warm-up; {} time)", r.runs, r.warmup_runs, r.timing);
    out!("  mean      {:>10.3} ms  (std {:.3})", r.mean_ms, r.std_ms);
    out!("  p50       {:>10.3} ms", r.p50_ms);
    out!("  p95       {:>10.3} ms", r.p95_ms);
    out!("  p99       {:>10.3} ms", r.p99_ms);
    out!("  min/max   {:>10.3} / {:.3} ms", r.min_ms, r.max_ms);
    out!(
        "memory      {:>10.2} MB  (activations {:.2} MB, shared from {:.2} MB; weights {:.2} MB)",
        r.peak_memory_bytes as f64 / 1e6,
        r.memory.arena_bytes as f64 / 1e6,
        r.memory.unshared_bytes as f64 / 1e6,
        r.memory.weights_bytes as f64 / 1e6
    );
}
