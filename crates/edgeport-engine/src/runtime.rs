//! Running models: the CPU runtime behind `edgeport run`, `edgeport bench` and the
//! playground's "Measure in this browser" panel, and the measurement harness whose report
//! (one schema for every backend) goes into benchmark reports.

use std::collections::BTreeMap;

use edgeport_ir::{DType, Graph, Tensor, TensorData, TensorType, ValueId};
use serde::{Deserialize, Serialize};

use crate::{sha256_hex, EngineError};

/// Version of the [`BenchReport`] schema.
pub const BENCH_SCHEMA: &str = "edgeport.bench/1";

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Backend {
    #[default]
    Cpu,
    Gpu,
}

impl Backend {
    pub fn name(self) -> &'static str {
        match self {
            Backend::Cpu => "cpu",
            Backend::Gpu => "gpu",
        }
    }
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
/// produces. fp16: weights stored in float16 and computed in float32, as TFLite's float16
/// quantization does. coreml-fp16: an fp16 Core ML program, which also stores every
/// intermediate in float16 except in the nodes its fp32 rule keeps (`RunOptions::fp32_ops`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Variant {
    #[default]
    Fp32,
    Fp16,
    #[serde(rename = "coreml-fp16")]
    CoremlFp16,
}

impl Variant {
    pub fn name(self) -> &'static str {
        match self {
            Variant::Fp32 => "fp32",
            Variant::Fp16 => "fp16",
            Variant::CoremlFp16 => "coreml-fp16",
        }
    }

    /// How edgeport-cpu runs this variant, as the fidelity report states it.
    pub fn method(self) -> &'static str {
        match self {
            Variant::Fp32 => "edgeport-cpu: float32 weights, float32 compute",
            Variant::Fp16 => "edgeport-cpu: weights rounded to float16, float32 compute",
            Variant::CoremlFp16 => {
                "edgeport-cpu: weights and intermediates rounded to float16 where the Core ML program stores them so, float32 arithmetic"
            }
        }
    }
}

impl std::str::FromStr for Variant {
    type Err = EngineError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "fp32" | "original" => Ok(Variant::Fp32),
            "fp16" => Ok(Variant::Fp16),
            "coreml-fp16" => Ok(Variant::CoremlFp16),
            other => Err(EngineError::options(format!("unknown variant '{other}' (supported: fp32, fp16, coreml-fp16)"))),
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
    /// coreml-fp16 only: the nodes that stay float32, as `ConvertOptions::fp32_ops`.
    pub fp32_ops: Option<Vec<String>>,
    /// Weight quantization applied before the variant: `int8-weights` runs the weights as their
    /// int8 per-channel decoding. (`fp16` is the fp16 variant.)
    pub quantize: Option<crate::Quantize>,
    /// Palettized weights, as `convert --palettize` stores them.
    pub palettize: Option<crate::Palettize>,
    /// Pruned weights, as `convert --prune` stores them (applied before any quantization).
    pub prune: Option<crate::Prune>,
    /// `quantize int8`: how activation ranges are calibrated.
    pub calibration_method: Option<crate::CalibrationMethod>,
    /// `quantize int8`: nodes kept in float.
    pub keep_float: Vec<String>,
    /// `int8-weights` as TFLite runs it: convolutions and fully connected layers are hybrid
    /// kernels that quantize their inputs to int8 as they run (Core ML and ONNX decode the
    /// weights and compute in float).
    #[serde(default)]
    pub hybrid: bool,
    /// `quantize int8`: representative inputs (generated samples when absent).
    #[serde(skip)]
    pub calibration: Option<crate::Calibration>,
}

impl RunOptions {
    pub(crate) fn int8_setup(&self) -> crate::quantize::Int8Setup {
        crate::quantize::Int8Setup {
            method: self.calibration_method.unwrap_or_default(),
            keep_float: self.keep_float.clone(),
            calibration: self.calibration.clone(),
            f16_scales: self.quantize == Some(crate::Quantize::W8a8) && self.variant == Variant::CoremlFp16,
        }
    }

    /// Whether these options run something other than the float32 original.
    pub fn is_lossy(&self) -> bool {
        self.variant != Variant::Fp32 || self.quantize.is_some() || self.palettize.is_some() || self.prune.is_some()
    }
}

/// A model ready to run.
pub struct Runner {
    exec: crate::exec::Exec,
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

/// Imports, optimizes and plans `model` for running (natively on either backend; in the
/// browser the gpu backend needs [`load_async`]).
pub fn load(model: &[u8], options: &RunOptions) -> Result<Runner, EngineError> {
    crate::exec::block_on(load_async(model, options))?
}

/// [`load`], for callers with an event loop (the gpu backend in the browser).
pub async fn load_async(model: &[u8], options: &RunOptions) -> Result<Runner, EngineError> {
    Ok(load_timed(model, options, &|| 0.0).await?.0)
}

/// Loads `model`, returning also how long building the executor took by `clock` (ms).
async fn load_timed(model: &[u8], options: &RunOptions, clock: &dyn Fn() -> f64) -> Result<(Runner, f64), EngineError> {
    let prepared = prepare(model, options)?;
    runner_of(model, options, &prepared, clock).await
}

/// A runner of an already prepared graph, and how long building its executor took (ms).
async fn runner_of(
    model: &[u8],
    options: &RunOptions,
    prepared: &Prepared,
    clock: &dyn Fn() -> f64,
) -> Result<(Runner, f64), EngineError> {
    let graph = &prepared.graph;
    let t0 = clock();
    let f16_weights = options.variant != Variant::Fp32;
    let cpu = prepared.session_options(options.threads.max(1), false);
    let exec = crate::exec::Exec::create(graph, options.backend, cpu, f16_weights).await?;
    let executor_ms = clock() - t0;
    let model_name = if graph.name.is_empty() { "model".to_string() } else { graph.name.clone() };
    Ok((Runner { exec, model_name, model_sha256: sha256_hex(model) }, executor_ms))
}

/// A variant's graph, ready for a session.
pub(crate) struct Prepared {
    pub graph: Graph,
    /// Which nodes store float16 intermediates (coreml-fp16).
    pub f16_nodes: Option<Vec<bool>>,
    /// `quantize int8`: what the plan decided.
    pub int8: Option<edgeport_tflite::int8::Int8Plan>,
    /// TFLite `int8-weights`: per node, how its hybrid kernel rounds its input.
    pub hybrid: Option<Vec<Option<edgeport_ir::DynamicQuant>>>,
}

impl Prepared {
    #[cfg_attr(not(feature = "int8"), allow(dead_code))]
    pub(crate) fn new(graph: Graph) -> Prepared {
        Prepared { graph, f16_nodes: None, int8: None, hybrid: None }
    }

    /// Session options that run this graph as its artifact computes.
    pub(crate) fn session_options(&self, threads: usize, observe: bool) -> edgeport_cpu::SessionOptions {
        edgeport_cpu::SessionOptions {
            threads,
            f16_nodes: self.f16_nodes.clone(),
            int8_values: self.int8.is_some(),
            hybrid_nodes: self.hybrid.clone(),
            observe,
        }
    }

    /// [`Prepared::session_options`] with every value observable.
    pub(crate) fn observing(&self) -> edgeport_cpu::SessionOptions {
        self.session_options(1, true)
    }
}

/// The graph a variant runs: imported, optimized, with its weights as stored and, for int8, the
/// calibrated plan.
pub(crate) fn prepare(model: &[u8], options: &RunOptions) -> Result<Prepared, EngineError> {
    let mut int8 = None;
    let mut hybrid = None;
    if options.hybrid && options.quantize != Some(crate::Quantize::Int8Weights) {
        return Err(EngineError::options("hybrid applies to quantize int8-weights only"));
    }
    let import_opts = edgeport_onnx::ImportOptions { input_shapes: options.input_shapes.clone() };
    let imported = edgeport_onnx::import(model, &import_opts)?;
    let mut graph = imported.graph;
    edgeport_passes::optimize(&mut graph)?;
    if let Some(p) = options.prune {
        p.apply(&mut graph);
    }
    match options.quantize {
        Some(crate::Quantize::Int8Weights) => {
            edgeport_quant::int8::quantize_weights(&mut graph);
            if options.hybrid {
                hybrid = Some(edgeport_tflite::hybrid::dynamic_inputs(&graph));
            }
        }
        Some(crate::Quantize::Int8 | crate::Quantize::W8a8) => {
            int8 = Some(crate::quantize::plan_int8(&mut graph, &options.int8_setup())?);
        }
        Some(crate::Quantize::Fp16) => {
            return Err(EngineError::options("quantize fp16 runs as the fp16 variant (variant fp16)"));
        }
        None => {}
    }
    if let Some(p) = options.palettize {
        p.apply(&mut graph, options.prune.is_some());
    }
    if options.fp32_ops.is_some() && options.variant != Variant::CoremlFp16 {
        return Err(EngineError::options("fp32_ops applies to the coreml-fp16 variant only"));
    }
    let f16_nodes: Option<Vec<bool>> = match options.variant {
        Variant::CoremlFp16 => {
            let fp32 = edgeport_coreml::fp32_nodes(&graph, &crate::coreml::fp32_ops(options.fp32_ops.as_deref()))?;
            Some(fp32.into_iter().map(|f| !f).collect())
        }
        Variant::Fp32 | Variant::Fp16 => None,
    };
    match &f16_nodes {
        // The program keeps the weights of its float32 nodes in float32.
        Some(f16) => round_weights_to_fp16(&mut graph, |readers| readers.iter().all(|&n| f16[n])),
        None if options.variant == Variant::Fp16 => round_weights_to_fp16(&mut graph, |_| true),
        None => {}
    }
    Ok(Prepared { graph, f16_nodes, int8, hybrid })
}

/// Signal and noise energy of every value `variant` computes, against `original` (the same
/// graph before quantization: value ids agree), summed over `samples`.
pub(crate) fn value_noise(
    original: &Prepared,
    variant: &Prepared,
    samples: &[BTreeMap<String, Tensor>],
) -> Result<BTreeMap<ValueId, (f64, f64)>, EngineError> {
    let mut fs = edgeport_cpu::Session::new(&original.graph, &original.observing())?;
    let mut vs = edgeport_cpu::Session::new(&variant.graph, &variant.observing())?;
    let names: Vec<String> = vs.inputs().iter().map(|p| p.name.clone()).collect();
    let mut energy: BTreeMap<ValueId, (f64, f64)> = BTreeMap::new();
    for sample in samples {
        let ordered = in_port_order(names.iter().map(String::as_str), sample)?;
        let mut seen: BTreeMap<ValueId, Vec<f32>> = BTreeMap::new();
        vs.run_observed(&ordered, &mut |v, data| {
            seen.insert(v, data.to_vec());
        })?;
        fs.run_observed(&ordered, &mut |v, data| {
            let Some(got) = seen.get(&v).filter(|g| g.len() == data.len()) else { return };
            let e = energy.entry(v).or_insert((0.0, 0.0));
            for (&r, &g) in data.iter().zip(got) {
                let (r, g) = (f64::from(r), f64::from(g));
                if r.is_finite() && g.is_finite() {
                    e.0 += r * r;
                    e.1 += (r - g) * (r - g);
                }
            }
        })?;
    }
    Ok(energy)
}

/// A sample's tensors in the order of a session's input ports `names`.
pub(crate) fn in_port_order<'a>(
    names: impl Iterator<Item = &'a str>,
    sample: &BTreeMap<String, Tensor>,
) -> Result<Vec<Tensor>, EngineError> {
    names.map(|n| sample.get(n).cloned().ok_or_else(|| EngineError::options(format!("sample lacks input '{n}'")))).collect()
}

/// SQNR in dB of (signal, noise) energies; `None` when there is no noise.
pub(crate) fn sqnr_db((signal, noise): (f64, f64)) -> Option<f64> {
    (noise > 0.0).then(|| if signal > 0.0 { 10.0 * (signal / noise).log10() } else { f64::NEG_INFINITY })
}

/// The report's layer table: every node output, worst SQNR first.
fn layer_table(variant: &Prepared, energy: &BTreeMap<ValueId, (f64, f64)>) -> Vec<edgeport_report::LayerFidelity> {
    let g = &variant.graph;
    let mut rows: Vec<edgeport_report::LayerFidelity> = g
        .nodes
        .iter()
        .flat_map(|n| n.outputs.iter().map(move |&o| (n, o)))
        .filter_map(|(n, o)| {
            let e = energy.get(&o)?;
            Some(edgeport_report::LayerFidelity {
                node: n.name.clone(),
                op: n.op.name().to_string(),
                output: g.value(o).name.clone(),
                sqnr_db: sqnr_db(*e),
                int8: n.int8,
            })
        })
        .collect();
    rows.sort_by(|a, b| {
        let key = |x: &Option<f64>| x.unwrap_or(f64::INFINITY);
        key(&a.sqnr_db).total_cmp(&key(&b.sqnr_db))
    });
    rows.truncate(edgeport_report::MAX_LAYERS);
    rows
}

/// Float weights as float16 would store them (converted back to float32 for compute), those
/// whose reading nodes `stored_f16` accepts.
fn round_weights_to_fp16(graph: &mut Graph, stored_f16: impl Fn(&[usize]) -> bool) {
    let readers = graph.consumers();
    let ids: Vec<_> = graph
        .value_ids()
        .filter(|&v| graph.constant(v).is_some_and(|t| t.dtype() == DType::F32 && t.len() > 1))
        .filter(|&v| stored_f16(&readers[v.0 as usize]))
        .collect();
    for v in ids {
        if let Some(t) = graph.constant(v) {
            let rounded = t.cast(DType::F16).cast(DType::F32);
            graph.set_const(v, rounded);
        }
    }
}

impl Runner {
    pub fn memory_plan(&self) -> edgeport_cpu::MemoryPlan {
        self.exec.memory_plan()
    }

    /// Runs on inputs keyed by the model's input names (every input, no extra keys).
    pub fn run(&mut self, inputs: &BTreeMap<String, Tensor>) -> Result<RunOutput, EngineError> {
        crate::exec::block_on(self.run_async(inputs))?
    }

    /// [`Runner::run`], for callers with an event loop (the gpu backend in the browser).
    pub async fn run_async(&mut self, inputs: &BTreeMap<String, Tensor>) -> Result<RunOutput, EngineError> {
        let ordered = self.order_inputs(inputs)?;
        let warnings = nan_warnings("input", self.exec.inputs().into_iter().map(|(name, _)| name).zip(&ordered));
        let outputs = self.exec.run(&ordered).await?.outputs;
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
        // irrefutable without the gpu feature
        #[allow(irrefutable_let_patterns)]
        let crate::exec::Exec::Cpu(session) = &mut self.exec else {
            return Err(EngineError::options("per-layer profiles are measured on the cpu backend"));
        };
        session.run_timed(&ordered, Some(clock))?;
        Ok(session
            .step_times()
            .map(|(node, op, ms)| LayerTime { node: node.to_string(), op: op.to_string(), ms })
            .collect())
    }

    fn finish(&self, outputs: Vec<Tensor>, mut warnings: Vec<String>) -> RunOutput {
        let names = self.exec.output_names();
        warnings.extend(nan_warnings("output", names.iter().copied().zip(&outputs)));
        let outputs = names.into_iter().map(str::to_string).zip(outputs).collect();
        RunOutput { outputs, warnings }
    }

    fn order_inputs(&self, inputs: &BTreeMap<String, Tensor>) -> Result<Vec<Tensor>, EngineError> {
        let ports = self.exec.inputs();
        if let Some(extra) = inputs.keys().find(|k| !ports.iter().any(|(name, _)| name == *k)) {
            let names: Vec<&str> = ports.iter().map(|(name, _)| *name).collect();
            return Err(EngineError::options(format!("'{extra}' is not an input of the model (inputs: {})", names.join(", "))));
        }
        ports
            .iter()
            .map(|&(name, ty)| {
                let t = inputs.get(name).ok_or_else(|| EngineError::options(format!("input '{name}' is missing")))?;
                // float arrays of another float width are accepted and converted
                Ok(match (t.dtype(), ty.dtype) {
                    (a, b) if a == b => t.clone(),
                    (DType::F16 | DType::F32, DType::F32 | DType::F16) => t.cast(ty.dtype),
                    (a, b) => {
                        return Err(EngineError::options(format!("input '{name}': expected {b}, got {a}")));
                    }
                })
            })
            .collect()
    }

    /// Deterministic sample inputs: uniform in [0, 1) for floats (a fixed-seed generator),
    /// zeros for integers.
    pub fn sample_inputs(&self) -> BTreeMap<String, Tensor> {
        self.sample(0)
    }

    /// The `index`-th deterministic sample (index 0 is [`Runner::sample_inputs`]).
    pub fn sample(&self, index: u64) -> BTreeMap<String, Tensor> {
        let ports: Vec<(String, TensorType)> = self.exec.inputs().into_iter().map(|(n, ty)| (n.to_string(), ty.clone())).collect();
        sample_for(&ports, index)
    }
}

/// The `index`-th deterministic sample for inputs `ports` (name, type): uniform in [0, 1) for
/// floats (a fixed-seed generator), zeros for integers.
pub fn sample_for(ports: &[(String, TensorType)], index: u64) -> BTreeMap<String, Tensor> {
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15 ^ index.wrapping_mul(0xD1B5_4A32_D192_ED03);
        ports
            .iter()
            .map(|(name, ty)| {
                let n = ty.elements();
                let t = if ty.dtype.is_float() {
                    let v = (0..n)
                        .map(|_| {
                            state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                            (state >> 40) as f32 / (1u64 << 24) as f32
                        })
                        .collect();
                    Tensor::new(ty.shape.clone(), TensorData::F32(v)).map(|t| t.cast(ty.dtype))
                } else {
                    Ok(Tensor::zeros(ty.dtype, ty.shape.clone()))
                };
                (name.to_string(), t.unwrap_or_else(|_| Tensor::zeros(ty.dtype, ty.shape.clone())))
            })
            .collect()
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

/// How closely one set of outputs follows a reference, per output: the report's fidelity
/// figures (errors, cosine, SQNR, and top-1/top-5 agreement for class scores).
pub use edgeport_report::OutputFidelity as Agreement;
pub use edgeport_report::Environment;

/// Agreement of `got` with `reference` for every output both have.
pub fn agreement(reference: &BTreeMap<String, Tensor>, got: &BTreeMap<String, Tensor>) -> Vec<Agreement> {
    agreement_over(std::slice::from_ref(reference), std::slice::from_ref(got))
}

/// Agreement over several samples: each output's values from every sample taken together.
pub fn agreement_over(reference: &[BTreeMap<String, Tensor>], got: &[BTreeMap<String, Tensor>]) -> Vec<Agreement> {
    let Some(first) = reference.first() else { return Vec::new() };
    first
        .iter()
        .filter_map(|(name, t)| {
            let mut acc = Accumulator::default();
            for (r, g) in reference.iter().zip(got) {
                let (r, g) = (r.get(name)?, g.get(name)?);
                if r.shape() != g.shape() {
                    return None;
                }
                acc.add(&r.to_f32_vec(), &g.to_f32_vec(), class_axis(t.shape()));
            }
            acc.finish(name)
        })
        .collect()
}

/// Samples [`fidelity`] runs when the caller gives no inputs.
pub const FIDELITY_SAMPLES: u64 = 4;

/// How far `variant` of the model is from its float32 original: both run on the same
/// deterministic samples (or `inputs`, when given) and every output is compared.
pub fn fidelity(
    model: &[u8],
    options: &RunOptions,
    inputs: Option<&[BTreeMap<String, Tensor>]>,
) -> Result<edgeport_report::Fidelity, EngineError> {
    // The float32 original: no variant rounding and no weight compression.
    let original = RunOptions { variant: Variant::Fp32, fp32_ops: None, quantize: None, palettize: None, prune: None, hybrid: false, ..options.clone() };
    // Each graph is prepared once (an int8 plan calibrates): its runner gives the outputs, and
    // on the cpu its observed runs give the layer table.
    let float = prepare(model, &original)?;
    let mut runner = crate::exec::block_on(runner_of(model, &original, &float, &|| 0.0))??.0;
    let generated: Vec<_>;
    let samples = match inputs {
        Some(given) => given,
        None => {
            generated = (0..FIDELITY_SAMPLES).map(|i| runner.sample(i)).collect();
            &generated
        }
    };
    let reference = samples.iter().map(|s| runner.run(s).map(|o| o.outputs)).collect::<Result<Vec<_>, _>>()?;
    let planned = if options.is_lossy() { Some(prepare(model, options)?) } else { None };
    if let Some(p) = &planned {
        runner = crate::exec::block_on(runner_of(model, options, p, &|| 0.0))??.0;
    }
    let got = samples.iter().map(|s| runner.run(s).map(|o| o.outputs)).collect::<Result<Vec<_>, _>>()?;
    let compression: Vec<String> =
        options.prune.map(|p| p.label()).into_iter().chain(options.quantize.map(|q| q.name().to_string())).chain(options.palettize.map(|p| p.label())).collect();
    let (variant, method) = if options.quantize == Some(crate::Quantize::W8a8) {
        (
            format!("{}+{}", compression.join("+"), options.variant.name()),
            format!(
                "edgeport-cpu: Core ML W8A8 simulated, {} calibration; int8 weights per channel, every quantize/dequantize pair rounded as the program holds it, {} between",
                options.calibration_method.unwrap_or_default().name(),
                options.variant.method().trim_start_matches("edgeport-cpu: ")
            ),
        )
    } else if options.quantize == Some(crate::Quantize::Int8) {
        (
            compression.join("+"),
            format!(
                "edgeport-cpu: full-integer simulation, {} calibration; int8 weights per channel, int32 biases, every int8 tensor rounded as the model stores it, float32 arithmetic between",
                options.calibration_method.unwrap_or_default().name()
            ),
        )
    } else if options.hybrid {
        (
            format!("{}+{}", compression.join("+"), options.variant.name()),
            "edgeport-cpu: TFLite hybrid kernels simulated: int8 weights per channel; each convolution's and fully connected layer's input quantized to int8 per batch item or row as it runs; float32 elsewhere".to_string(),
        )
    } else if compression.is_empty() {
        (options.variant.name().to_string(), options.variant.method().to_string())
    } else {
        let c = compression.join("+");
        (format!("{c}+{}", options.variant.name()), format!("{}; {c} weights", options.variant.method()))
    };
    let (mut layers, mut kept_float) = (Vec::new(), Vec::new());
    if let Some(planned) = planned.filter(|_| options.backend == Backend::Cpu) {
        layers = layer_table(&planned, &value_noise(&float, &planned, samples)?);
        if let Some(plan) = &planned.int8 {
            kept_float = plan
                .float_nodes
                .iter()
                .map(|f| edgeport_report::KeptFloat { node: f.name.clone(), op: f.op.clone(), reason: f.reason.clone() })
                .collect();
        }
    }
    Ok(edgeport_report::Fidelity {
        variant,
        method,
        inputs: if inputs.is_some() { "given" } else { "generated" }.to_string(),
        samples: samples.len(),
        outputs: agreement_over(&reference, &got),
        layers,
        kept_float,
    })
}

/// The number of classes when an output looks like class scores: `[rows, classes]` or
/// `[batch, rows, classes]` with at least two classes.
fn class_axis(shape: &[usize]) -> Option<usize> {
    match shape {
        [_, c] | [_, _, c] if *c >= 2 => Some(*c),
        _ => None,
    }
}

#[derive(Default)]
struct Accumulator {
    n: usize,
    max: f64,
    sum: f64,
    dot: f64,
    nr: f64,
    ng: f64,
    noise: f64,
    rmax: f64,
    rows: usize,
    top1: usize,
    top5: usize,
}

impl Accumulator {
    fn add(&mut self, r: &[f32], g: &[f32], classes: Option<usize>) {
        for (&a, &b) in r.iter().zip(g) {
            let (a, b) = (f64::from(a), f64::from(b));
            let d = (a - b).abs();
            self.max = self.max.max(d);
            self.sum += d;
            self.dot += a * b;
            self.nr += a * a;
            self.ng += b * b;
            self.noise += d * d;
            self.rmax = self.rmax.max(a.abs());
        }
        self.n += r.len();
        let Some(c) = classes else { return };
        for (rr, gr) in r.chunks_exact(c).zip(g.chunks_exact(c)) {
            let want = argmax(rr);
            self.rows += 1;
            self.top1 += usize::from(argmax(gr) == want);
            // The reference's top class is among the variant's five highest scores.
            let above = gr.iter().filter(|&&x| x > gr[want]).count();
            self.top5 += usize::from(above < 5);
        }
    }

    fn finish(self, name: &str) -> Option<Agreement> {
        if self.n == 0 {
            return None;
        }
        let cosine = if self.nr == 0.0 || self.ng == 0.0 {
            if self.nr == self.ng { 1.0 } else { 0.0 }
        } else {
            self.dot / (self.nr.sqrt() * self.ng.sqrt())
        };
        let share = |k: usize| (self.rows > 0).then(|| k as f64 / self.rows as f64);
        Some(Agreement {
            output: name.to_string(),
            max_abs_error: self.max,
            mean_abs_error: self.sum / self.n as f64,
            cosine_similarity: cosine,
            sqnr_db: (self.noise > 0.0 && self.nr > 0.0).then(|| 10.0 * (self.nr / self.noise).log10()),
            reference_max_abs: self.rmax,
            top1_agreement: share(self.top1),
            top5_agreement: share(self.top5),
        })
    }
}

fn argmax(v: &[f32]) -> usize {
    v.iter().enumerate().fold(0, |best, (i, &x)| if x > v[best] { i } else { best })
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
    /// The part of `load_ms` that builds the executor: the CPU's plan, or the GPU's buffers,
    /// weight upload and compute pipelines (ms).
    #[serde(default)]
    pub executor_ms: f64,
    /// The first inference after load (ms).
    pub first_run_ms: f64,
    pub warmup_runs: usize,
    pub runs: usize,
    pub mean_ms: f64,
    pub p50_ms: f64,
    pub p95_ms: f64,
    pub p99_ms: f64,
    /// The p50 of the wall time from submission to outputs read back, whatever `timing` is
    /// (what a caller waits for; comparable with peers that time `session.run`).
    #[serde(default)]
    pub wall_p50_ms: f64,
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

impl BenchReport {
    /// The figures a run report keeps (no samples, no memory plan).
    pub fn summary(&self) -> edgeport_report::MeasuredVariant {
        edgeport_report::MeasuredVariant {
            variant: self.variant.name().to_string(),
            load_ms: self.load_ms,
            first_run_ms: self.first_run_ms,
            p50_ms: self.p50_ms,
            p95_ms: self.p95_ms,
            p99_ms: self.p99_ms,
            mean_ms: self.mean_ms,
            std_ms: self.std_ms,
            runs: self.runs,
            peak_memory_bytes: self.peak_memory_bytes,
        }
    }
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
/// report and the loaded model, for further runs without loading it again. (In the browser the
/// gpu backend needs [`bench_async`].)
pub fn bench(
    model: &[u8],
    options: &RunOptions,
    bench: &BenchOptions,
    clock: &dyn Fn() -> f64,
    environment: Environment,
    progress: &mut dyn FnMut(&str, usize, usize),
) -> Result<(BenchReport, Runner), EngineError> {
    crate::exec::block_on(bench_async(model, options, bench, clock, environment, progress))?
}

/// [`bench`], for callers with an event loop. On the gpu backend each run's time is the GPU's
/// own (timestamp queries) when the adapter has them, else submit-to-readback wall time.
pub async fn bench_async(
    model: &[u8],
    options: &RunOptions,
    bench: &BenchOptions,
    clock: &dyn Fn() -> f64,
    mut environment: Environment,
    progress: &mut dyn FnMut(&str, usize, usize),
) -> Result<(BenchReport, Runner), EngineError> {
    if bench.runs == 0 || bench.runs > 100_000 {
        return Err(EngineError::options(format!("runs must be within 1..=100000, got {}", bench.runs)));
    }
    progress("load", 0, 1);
    let t0 = clock();
    let (mut runner, executor_ms) = load_timed(model, options, clock).await?;
    let load_ms = clock() - t0;
    runner.exec.describe(&mut environment);
    // ordered once, so the timed runs are the session's runs and nothing else
    let inputs = runner.order_inputs(&runner.sample_inputs())?;
    progress("first run", 0, 1);
    let t0 = clock();
    runner.exec.run(&inputs).await?;
    let first_run_ms = clock() - t0;
    for i in 0..bench.warmup {
        progress("warm-up", i, bench.warmup);
        runner.exec.run(&inputs).await?;
    }
    let mut samples = Vec::with_capacity(bench.runs);
    let mut gpu_samples = Vec::with_capacity(bench.runs);
    for i in 0..bench.runs {
        progress("timed runs", i, bench.runs);
        let t0 = clock();
        let timed = runner.exec.run(&inputs).await?;
        samples.push(clock() - t0);
        gpu_samples.extend(timed.gpu_ms);
    }
    progress("timed runs", bench.runs, bench.runs);
    let mut wall = samples.clone();
    wall.sort_by(f64::total_cmp);
    let wall_p50_ms = percentile(&wall, 50.0);
    let timing = if gpu_samples.len() == samples.len() {
        samples = gpu_samples;
        "gpu-timestamp"
    } else {
        "wall"
    };
    let mut sorted = samples.clone();
    sorted.sort_by(f64::total_cmp);
    let mean = samples.iter().sum::<f64>() / samples.len() as f64;
    let var = samples.iter().map(|s| (s - mean) * (s - mean)).sum::<f64>() / samples.len() as f64;
    let memory = runner.memory_plan();
    let report = BenchReport {
        schema: BENCH_SCHEMA.into(),
        model_name: runner.model_name.clone(),
        model_sha256: runner.model_sha256.clone(),
        backend: options.backend,
        variant: options.variant,
        load_ms,
        executor_ms,
        first_run_ms,
        warmup_runs: bench.warmup,
        runs: bench.runs,
        mean_ms: mean,
        p50_ms: percentile(&sorted, 50.0),
        p95_ms: percentile(&sorted, 95.0),
        p99_ms: percentile(&sorted, 99.0),
        wall_p50_ms,
        std_ms: var.sqrt(),
        min_ms: sorted[0],
        max_ms: sorted[sorted.len() - 1],
        peak_memory_bytes: memory.arena_bytes + memory.weights_bytes,
        memory,
        timing: timing.into(),
        environment,
        samples_ms: samples,
    };
    Ok((report, runner))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn scores(rows: &[[f32; 6]]) -> BTreeMap<String, Tensor> {
        let data: Vec<f32> = rows.iter().flatten().copied().collect();
        let t = Tensor::new(vec![rows.len(), 6], TensorData::F32(data)).unwrap();
        BTreeMap::from([("y".to_string(), t)])
    }

    #[test]
    fn agreement_counts_top1_and_top5_rows() {
        let reference = scores(&[[0.0, 5.0, 1.0, 2.0, 3.0, 4.0], [9.0, 1.0, 2.0, 3.0, 4.0, 5.0]]);
        // Row 0 keeps its top class; row 1 drops it to last place (outside the top five).
        let got = scores(&[[0.0, 5.5, 1.0, 2.0, 3.0, 4.0], [0.5, 1.0, 2.0, 3.0, 4.0, 5.0]]);
        let [a] = agreement(&reference, &got).try_into().unwrap();
        assert_eq!(a.top1_agreement, Some(0.5));
        assert_eq!(a.top5_agreement, Some(0.5));
        assert_eq!(a.max_abs_error, 8.5);
        let same = agreement(&reference, &reference);
        assert_eq!((same[0].sqnr_db, same[0].top1_agreement, same[0].cosine_similarity), (None, Some(1.0), 1.0));
        assert!(a.sqnr_db.is_some_and(f64::is_finite));
    }

    #[test]
    fn sqnr_is_signal_over_noise_in_db() {
        let reference = scores(&[[1.0; 6]]);
        let got = scores(&[[1.1; 6]]);
        let a = &agreement(&reference, &got)[0];
        // 10 log10(1 / 0.01) = 20 dB
        assert!((a.sqnr_db.unwrap() - 20.0).abs() < 1e-4, "{:?}", a.sqnr_db);
    }
}
