//! Running models: the CPU runtime behind `edgeport run`, `edgeport bench` and the
//! playground's "Measure in this browser" panel, and the measurement harness whose report
//! (one schema for every backend) goes into benchmark reports.

use std::collections::BTreeMap;

use edgeport_ir::{DType, Graph, Tensor, TensorData};
use serde::{Deserialize, Serialize};

use crate::{sha256_hex, EngineError, ErrorCode};

/// Version of the [`BenchReport`] schema.
pub const BENCH_SCHEMA: &str = "edgeport.bench/1";

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Backend {
    #[default]
    Cpu,
    Gpu,
}

impl std::str::FromStr for Backend {
    type Err = EngineError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "cpu" => Ok(Backend::Cpu),
            "gpu" => Ok(Backend::Gpu),
            other => Err(EngineError::options(format!("unknown backend '{other}' (supported: cpu, gpu)"))),
        }
    }
}

/// Which form of the model runs: the original float32 graph, or the variant an exporter
/// produces (fp16: weights stored in float16 and computed in float32, as TFLite's float16
/// quantization and Core ML's fp16 weights do).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Variant {
    #[default]
    Fp32,
    Fp16,
}

impl Variant {
    pub const ALL: [Variant; 2] = [Variant::Fp32, Variant::Fp16];
    pub fn name(self) -> &'static str {
        match self {
            Variant::Fp32 => "fp32",
            Variant::Fp16 => "fp16",
        }
    }
}

impl std::str::FromStr for Variant {
    type Err = EngineError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "fp32" | "original" => Ok(Variant::Fp32),
            "fp16" => Ok(Variant::Fp16),
            other => Err(EngineError::options(format!("unknown variant '{other}' (supported: fp32, fp16)"))),
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RunOptions {
    pub backend: Backend,
    pub variant: Variant,
    /// Static shapes for inputs whose dims are dynamic in the model.
    pub input_shapes: BTreeMap<String, Vec<usize>>,
    /// Threads for matrix products natively (0 or 1: one thread; wasm: always one).
    pub threads: usize,
}

/// A model ready to run.
pub struct Runner {
    session: edgeport_cpu::Session,
    pub model_name: String,
    pub model_sha256: String,
}

/// Outputs of one run, and anything about them a user should know.
#[derive(Debug, Clone)]
pub struct RunOutput {
    pub outputs: BTreeMap<String, Tensor>,
    /// E.g. "input 'x' has 3 NaN values"; NaN inputs are allowed but reported.
    pub warnings: Vec<String>,
}

/// Imports, optimizes and plans `model` for running.
pub fn load(model: &[u8], options: &RunOptions) -> Result<Runner, EngineError> {
    if options.backend == Backend::Gpu {
        return Err(EngineError::new(
            ErrorCode::Unsupported,
            "the gpu backend is not available in this build; use --backend cpu",
        ));
    }
    let import_opts = edgeport_onnx::ImportOptions { input_shapes: options.input_shapes.clone() };
    let imported = edgeport_onnx::import(model, &import_opts)?;
    let mut graph = imported.graph;
    edgeport_passes::optimize(&mut graph)?;
    if options.variant == Variant::Fp16 {
        round_weights_to_fp16(&mut graph);
    }
    let session_opts = edgeport_cpu::SessionOptions { threads: options.threads.max(1) };
    let session = edgeport_cpu::Session::new(&graph, &session_opts)?;
    let model_name = if graph.name.is_empty() { "model".to_string() } else { graph.name.clone() };
    Ok(Runner { session, model_name, model_sha256: sha256_hex(model) })
}

/// Float weights as float16 would store them (converted back to float32 for compute).
fn round_weights_to_fp16(graph: &mut Graph) {
    let ids: Vec<_> = graph.value_ids().filter(|&v| graph.constant(v).is_some_and(|t| t.dtype() == DType::F32 && t.len() > 1)).collect();
    for v in ids {
        if let Some(t) = graph.constant(v) {
            let rounded = t.cast(DType::F16).cast(DType::F32);
            graph.set_const(v, rounded);
        }
    }
}

impl Runner {
    pub fn memory_plan(&self) -> &edgeport_cpu::MemoryPlan {
        self.session.memory_plan()
    }

    /// Runs on inputs keyed by the model's input names (every input, no extra keys).
    pub fn run(&mut self, inputs: &BTreeMap<String, Tensor>) -> Result<RunOutput, EngineError> {
        let ordered = self.order_inputs(inputs)?;
        let warnings = nan_warnings("input", self.session.inputs().iter().map(|p| p.name.as_str()).zip(&ordered));
        let outputs = self.session.run(&ordered)?;
        Ok(self.finish(outputs, warnings))
    }

    /// Runs once timing every step with `clock` (ms): (node, op, ms) in execution order.
    /// Activations folded into their producer are timed with it.
    pub fn profile(
        &mut self,
        inputs: &BTreeMap<String, Tensor>,
        clock: &dyn Fn() -> f64,
    ) -> Result<Vec<LayerTime>, EngineError> {
        let ordered = self.order_inputs(inputs)?;
        self.session.run_timed(&ordered, Some(clock))?;
        Ok(self
            .session
            .step_times()
            .map(|(node, op, ms)| LayerTime { node: node.to_string(), op: op.to_string(), ms })
            .collect())
    }

    fn finish(&self, outputs: Vec<Tensor>, mut warnings: Vec<String>) -> RunOutput {
        warnings.extend(nan_warnings("output", self.session.outputs().iter().map(|p| p.name.as_str()).zip(&outputs)));
        let outputs = self.session.outputs().iter().map(|p| p.name.clone()).zip(outputs).collect();
        RunOutput { outputs, warnings }
    }

    fn order_inputs(&self, inputs: &BTreeMap<String, Tensor>) -> Result<Vec<Tensor>, EngineError> {
        let ports = self.session.inputs();
        if let Some(extra) = inputs.keys().find(|k| !ports.iter().any(|p| &p.name == *k)) {
            let names: Vec<&str> = ports.iter().map(|p| p.name.as_str()).collect();
            return Err(EngineError::options(format!("'{extra}' is not an input of the model (inputs: {})", names.join(", "))));
        }
        ports
            .iter()
            .map(|p| {
                let t = inputs
                    .get(&p.name)
                    .ok_or_else(|| EngineError::options(format!("input '{}' is missing", p.name)))?;
                // float arrays of another float width are accepted and converted
                Ok(match (t.dtype(), p.ty.dtype) {
                    (a, b) if a == b => t.clone(),
                    (DType::F16 | DType::F32, DType::F32 | DType::F16) => t.cast(p.ty.dtype),
                    (a, b) => {
                        return Err(EngineError::options(format!("input '{}': expected {b}, got {a}", p.name)));
                    }
                })
            })
            .collect()
    }

    /// Deterministic sample inputs: uniform in [0, 1) for floats (a fixed-seed generator),
    /// zeros for integers.
    pub fn sample_inputs(&self) -> BTreeMap<String, Tensor> {
        let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
        self.session
            .inputs()
            .iter()
            .map(|p| {
                let n = p.ty.elements();
                let t = if p.ty.dtype.is_float() {
                    let v = (0..n)
                        .map(|_| {
                            state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                            (state >> 40) as f32 / (1u64 << 24) as f32
                        })
                        .collect();
                    Tensor::new(p.ty.shape.clone(), TensorData::F32(v)).map(|t| t.cast(p.ty.dtype))
                } else {
                    Ok(Tensor::zeros(p.ty.dtype, p.ty.shape.clone()))
                };
                (p.name.clone(), t.unwrap_or_else(|_| Tensor::zeros(p.ty.dtype, p.ty.shape.clone())))
            })
            .collect()
    }
}

fn nan_warnings<'a>(what: &str, tensors: impl Iterator<Item = (&'a str, &'a Tensor)>) -> Vec<String> {
    tensors
        .filter_map(|(name, t)| {
            let nan = t.as_f32().map_or(0, |v| v.iter().filter(|x| x.is_nan()).count());
            (nan > 0).then(|| format!("{what} '{name}' has {nan} NaN value{}", if nan == 1 { "" } else { "s" }))
        })
        .collect()
}

/// Measured time of one step of a run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LayerTime {
    pub node: String,
    pub op: String,
    pub ms: f64,
}

/// How closely one set of outputs follows a reference (per output).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Agreement {
    pub output: String,
    pub max_abs_error: f64,
    pub mean_abs_error: f64,
    pub cosine_similarity: f64,
    /// max|reference|, the scale the errors are relative to.
    pub reference_max_abs: f64,
}

/// Agreement of `got` with `reference` for every output both have.
pub fn agreement(reference: &BTreeMap<String, Tensor>, got: &BTreeMap<String, Tensor>) -> Vec<Agreement> {
    reference
        .iter()
        .filter_map(|(name, r)| {
            let g = got.get(name)?;
            let (r, g) = (r.to_f32_vec(), g.to_f32_vec());
            if r.len() != g.len() || r.is_empty() {
                return None;
            }
            let (mut max, mut sum, mut dot, mut nr, mut ng, mut rmax) = (0f64, 0f64, 0f64, 0f64, 0f64, 0f64);
            for (&a, &b) in r.iter().zip(&g) {
                let (a, b) = (a as f64, b as f64);
                let d = (a - b).abs();
                max = max.max(d);
                sum += d;
                dot += a * b;
                nr += a * a;
                ng += b * b;
                rmax = rmax.max(a.abs());
            }
            let cosine = if nr == 0.0 || ng == 0.0 { if nr == ng { 1.0 } else { 0.0 } } else { dot / (nr.sqrt() * ng.sqrt()) };
            Some(Agreement {
                output: name.clone(),
                max_abs_error: max,
                mean_abs_error: sum / r.len() as f64,
                cosine_similarity: cosine,
                reference_max_abs: rmax,
            })
        })
        .collect()
}

/// Where a measurement ran.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Environment {
    /// "native" or "wasm".
    pub runtime: String,
    pub os: String,
    pub arch: String,
    pub threads: usize,
    /// The browser's user agent (wasm in a browser).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_agent: Option<String>,
    /// GPU adapter (vendor, architecture, fallback flag, limits) for the gpu backend.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub adapter: Option<serde_json::Value>,
    pub edgeport_version: String,
}

impl Environment {
    /// The environment this code runs in (the caller adds user agent and adapter).
    pub fn current(threads: usize) -> Environment {
        Environment {
            runtime: if cfg!(target_arch = "wasm32") { "wasm" } else { "native" }.into(),
            os: std::env::consts::OS.into(),
            arch: std::env::consts::ARCH.into(),
            threads: threads.max(1),
            user_agent: None,
            adapter: None,
            edgeport_version: env!("CARGO_PKG_VERSION").into(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct BenchOptions {
    pub warmup: usize,
    pub runs: usize,
}

impl Default for BenchOptions {
    fn default() -> Self {
        BenchOptions { warmup: 3, runs: 20 }
    }
}

/// One measurement of one model variant on one backend. The same schema for CPU-native,
/// CPU-wasm and WebGPU; cold (load, first run) and warm figures are kept apart.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BenchReport {
    pub schema: String,
    pub model_name: String,
    pub model_sha256: String,
    pub backend: Backend,
    pub variant: Variant,
    /// Import, optimization and planning (ms).
    pub load_ms: f64,
    /// The first inference after load (ms).
    pub first_run_ms: f64,
    pub warmup_runs: usize,
    pub runs: usize,
    pub mean_ms: f64,
    pub p50_ms: f64,
    pub p95_ms: f64,
    pub p99_ms: f64,
    pub std_ms: f64,
    pub min_ms: f64,
    pub max_ms: f64,
    /// Planned runtime memory: activation arena plus weights (bytes).
    pub peak_memory_bytes: u64,
    pub memory: edgeport_cpu::MemoryPlan,
    /// Where the time went: timing source ("wall" or "gpu-timestamp").
    pub timing: String,
    pub environment: Environment,
    /// Every timed run (ms), in order.
    pub samples_ms: Vec<f64>,
}

/// Percentile `q` (0..=100) of sorted samples, linearly interpolated (numpy's default).
pub fn percentile(sorted: &[f64], q: f64) -> f64 {
    match sorted.len() {
        0 => 0.0,
        1 => sorted[0],
        n => {
            let pos = q / 100.0 * (n - 1) as f64;
            let (lo, hi) = (pos.floor() as usize, pos.ceil() as usize);
            sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo as f64)
        }
    }
}

/// Loads `model`, runs it once cold, `warmup` times unmeasured and `runs` times measured on
/// deterministic sample inputs, timing with `clock` (milliseconds, monotonic). Returns the
/// report and the loaded model, for further runs without loading it again.
pub fn bench(
    model: &[u8],
    options: &RunOptions,
    bench: &BenchOptions,
    clock: &dyn Fn() -> f64,
    environment: Environment,
    progress: &mut dyn FnMut(&str, usize, usize),
) -> Result<(BenchReport, Runner), EngineError> {
    if bench.runs == 0 || bench.runs > 100_000 {
        return Err(EngineError::options(format!("runs must be within 1..=100000, got {}", bench.runs)));
    }
    progress("load", 0, 1);
    let t0 = clock();
    let mut runner = load(model, options)?;
    let load_ms = clock() - t0;
    // ordered once, so the timed runs are the session's runs and nothing else
    let inputs = runner.order_inputs(&runner.sample_inputs())?;
    progress("first run", 0, 1);
    let t0 = clock();
    runner.session.run(&inputs)?;
    let first_run_ms = clock() - t0;
    for i in 0..bench.warmup {
        progress("warm-up", i, bench.warmup);
        runner.session.run(&inputs)?;
    }
    let mut samples = Vec::with_capacity(bench.runs);
    for i in 0..bench.runs {
        progress("timed runs", i, bench.runs);
        let t0 = clock();
        runner.session.run(&inputs)?;
        samples.push(clock() - t0);
    }
    progress("timed runs", bench.runs, bench.runs);
    let mut sorted = samples.clone();
    sorted.sort_by(f64::total_cmp);
    let mean = samples.iter().sum::<f64>() / samples.len() as f64;
    let var = samples.iter().map(|s| (s - mean) * (s - mean)).sum::<f64>() / samples.len() as f64;
    let memory = runner.memory_plan().clone();
    let report = BenchReport {
        schema: BENCH_SCHEMA.into(),
        model_name: runner.model_name.clone(),
        model_sha256: runner.model_sha256.clone(),
        backend: options.backend,
        variant: options.variant,
        load_ms,
        first_run_ms,
        warmup_runs: bench.warmup,
        runs: bench.runs,
        mean_ms: mean,
        p50_ms: percentile(&sorted, 50.0),
        p95_ms: percentile(&sorted, 95.0),
        p99_ms: percentile(&sorted, 99.0),
        std_ms: var.sqrt(),
        min_ms: sorted[0],
        max_ms: sorted[sorted.len() - 1],
        peak_memory_bytes: memory.arena_bytes + memory.weights_bytes,
        memory,
        timing: "wall".into(),
        environment,
        samples_ms: samples,
    };
    Ok((report, runner))
}
