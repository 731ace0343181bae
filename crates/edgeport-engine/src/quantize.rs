//! Full-integer quantization: calibration data, calibration runs and the int8 plan.
//!
//! Calibration runs the float graph on the CPU runtime with every value observable, feeds each
//! value to an [`edgeport_quant::calibrate::Calibrator`], and hands the ranges to the target's
//! int8 plan, which marks the graph. The same marked graph is exported and, in the runtime,
//! simulated, so the fidelity report describes the artifact.

use std::collections::BTreeMap;
use std::sync::Arc;

use edgeport_ir::{DType, Graph, Tensor, TensorData, TensorType};
use serde::{Deserialize, Serialize};

use crate::EngineError;

/// Most calibration samples used (more are ignored, in file order).
pub const MAX_CALIBRATION_SAMPLES: usize = 1000;
/// Samples generated when the caller gives none.
pub const GENERATED_SAMPLES: usize = 8;

/// `--calibration-method`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CalibrationMethod {
    /// Smallest and largest value seen (as TFLite and ONNX Runtime do by default).
    #[default]
    Minmax,
    /// 99.99th percentile of each side.
    Percentile,
    /// The range with the least squared int8 error.
    Mse,
}

impl CalibrationMethod {
    pub fn name(self) -> &'static str {
        match self {
            CalibrationMethod::Minmax => "minmax",
            CalibrationMethod::Percentile => "percentile",
            CalibrationMethod::Mse => "mse",
        }
    }

    #[cfg_attr(not(feature = "int8"), allow(dead_code))]
    fn method(self) -> edgeport_quant::calibrate::Method {
        use edgeport_quant::calibrate::Method;
        match self {
            CalibrationMethod::Minmax => Method::MinMax,
            CalibrationMethod::Percentile => Method::Percentile(99.99),
            CalibrationMethod::Mse => Method::Mse,
        }
    }
}

impl std::str::FromStr for CalibrationMethod {
    type Err = EngineError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "minmax" => Ok(CalibrationMethod::Minmax),
            "percentile" => Ok(CalibrationMethod::Percentile),
            "mse" => Ok(CalibrationMethod::Mse),
            other => Err(EngineError::options(format!("unknown calibration method '{other}' (supported: minmax, percentile, mse)"))),
        }
    }
}

/// Representative inputs: one map (input name -> tensor) per sample.
#[derive(Debug, Clone, Default)]
pub struct Calibration {
    pub samples: Arc<Vec<BTreeMap<String, Tensor>>>,
}

impl PartialEq for Calibration {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.samples, &other.samples) || self.samples == other.samples
    }
}

impl Calibration {
    /// Reads an `.npz` of calibration data for a model with `inputs` (name, type): one array per
    /// input, holding the samples along a new leading axis (`[N] + shape`), or along the batch
    /// axis when the input's batch is 1 (`[N] + shape[1..]`). A single-input model also takes
    /// one `.npy` array.
    pub fn from_npz(bytes: &[u8], inputs: &[(String, TensorType)]) -> Result<Calibration, EngineError> {
        let arrays = if bytes.starts_with(b"\x93NUMPY") {
            // One .npy array: the samples of a model's only input.
            let [(name, _)] = inputs else {
                return Err(EngineError::options(format!(
                    "a .npy holds one array, but the model has {} inputs: give an .npz with one array per input",
                    inputs.len()
                )));
            };
            BTreeMap::from([(name.clone(), crate::npz::read_npy(name, bytes)?)])
        } else {
            crate::npz::read_npz(bytes)?
        };
        if let Some(extra) = arrays.keys().find(|k| !inputs.iter().any(|(n, _)| n == *k)) {
            let names: Vec<&str> = inputs.iter().map(|(n, _)| n.as_str()).collect();
            return Err(EngineError::options(format!(
                "calibration array '{extra}' is not an input of the model (inputs: {})",
                names.join(", ")
            )));
        }
        let mut count: Option<(usize, &str)> = None;
        let mut per_input: Vec<(&str, Vec<f32>, &TensorType)> = Vec::new();
        for (name, ty) in inputs {
            let a = arrays.get(name).ok_or_else(|| EngineError::options(format!("calibration data has no array '{name}' for input '{name}'")))?;
            if !ty.dtype.is_float() {
                return Err(EngineError::options(format!("input '{name}' is {}; calibration covers float inputs only", ty.dtype)));
            }
            if !a.dtype().is_float() {
                return Err(EngineError::options(format!("calibration array '{name}' is {}, expected float32", a.dtype())));
            }
            let shape = a.shape();
            // samples stacked on a new axis, or along a batch axis of 1
            let new_axis = shape.len() == ty.shape.len() + 1 && shape[1..] == ty.shape[..];
            let batch_axis = ty.shape.first() == Some(&1) && shape.len() == ty.shape.len() && shape[1..] == ty.shape[1..];
            let n = if new_axis || batch_axis {
                shape[0]
            } else {
                let mut stacked = vec!["N".to_string()];
                stacked.extend(ty.shape.iter().map(|d| d.to_string()));
                return Err(EngineError::options(format!(
                    "calibration array '{name}' has shape {shape:?}; expected [{}] (samples first, then input shape {:?})",
                    stacked.join(", "),
                    ty.shape
                )));
            };
            if n == 0 {
                return Err(EngineError::options(format!("calibration array '{name}' holds no samples")));
            }
            if let Some((m, other)) = count
                && m != n
            {
                return Err(EngineError::options(format!(
                    "calibration arrays disagree on the number of samples: '{other}' has {m}, '{name}' has {n}"
                )));
            }
            count = Some((n, name));
            per_input.push((name, a.to_f32_vec(), ty));
        }
        let n = count.map_or(0, |(n, _)| n).min(MAX_CALIBRATION_SAMPLES);
        let samples = (0..n)
            .map(|i| {
                per_input
                    .iter()
                    .map(|(name, data, ty)| {
                        let len = ty.elements();
                        let slice = data.get(i * len..(i + 1) * len).unwrap_or(&[]).to_vec();
                        let t = Tensor::new(ty.shape.clone(), TensorData::F32(slice))
                            .map_err(|e| EngineError::options(format!("calibration array '{name}': {e}")))?;
                        Ok((name.to_string(), if ty.dtype == DType::F32 { t } else { t.cast(ty.dtype) }))
                    })
                    .collect::<Result<BTreeMap<_, _>, EngineError>>()
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Calibration { samples: Arc::new(samples) })
    }

    /// Reads calibration data for `model` (imported with `input_shapes`) from an `.npz`.
    pub fn for_model(model: &[u8], input_shapes: &BTreeMap<String, Vec<usize>>, npz: &[u8]) -> Result<Calibration, EngineError> {
        let imported = edgeport_onnx::import(model, &edgeport_onnx::ImportOptions { input_shapes: input_shapes.clone() })?;
        let g = &imported.graph;
        let inputs: Vec<(String, TensorType)> = g.inputs.iter().map(|&v| (g.value(v).name.clone(), g.ty(v).clone())).collect();
        Calibration::from_npz(npz, &inputs)
    }

    pub fn len(&self) -> usize {
        self.samples.len()
    }

    pub fn is_empty(&self) -> bool {
        self.samples.is_empty()
    }
}

/// Options of the int8 plan.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Int8Setup {
    pub method: CalibrationMethod,
    pub keep_float: Vec<String>,
    /// `None`: generated samples.
    pub calibration: Option<Calibration>,
    /// Put every activation scale on the float16 grid: a float16 Core ML program (W8A8) holds
    /// its quantize/dequantize scales in float16, and the simulation must use the same ones.
    pub f16_scales: bool,
}

/// `--keep-float auto` keeps an int8 layer in float when its output's SQNR is below this...
pub const AUTO_SQNR_DB: f64 = 20.0;
/// ...and the layer itself lost at least this much against its inputs.
pub const AUTO_LOSS_DB: f64 = 3.0;

/// Calibrates `graph` (optimized, float) and applies the TFLite int8 plan to it. With
/// `auto` among the kept names, the plan is simulated on the calibration samples and made
/// again with the layers that lose the most kept in float.
#[cfg(not(feature = "int8"))]
pub fn plan_int8(_graph: &mut Graph, _setup: &Int8Setup) -> Result<edgeport_tflite::int8::Int8Plan, EngineError> {
    Err(EngineError::new(
        crate::ErrorCode::Unsupported,
        "quantize int8 calibrates on the CPU runtime, which this build of edgeport leaves out (feature int8)",
    ))
}

#[cfg(feature = "int8")]
const F16_MIN_NORMAL: f32 = 6.103_515_6e-5;

#[cfg(feature = "int8")]
pub fn plan_int8(graph: &mut Graph, setup: &Int8Setup) -> Result<edgeport_tflite::int8::Int8Plan, EngineError> {
    let plan = plan_calibrated(graph, setup)?;
    if setup.f16_scales {
        let ids: Vec<edgeport_ir::ValueId> = graph.value_ids().collect();
        for v in ids {
            if let Some(mut q) = graph.value(v).quant {
                // at least float16's smallest normal value: a tinier scale would flush to zero
                let rounded = edgeport_ir::tensor::f16_bits_to_f32(edgeport_ir::tensor::f32_to_f16_bits(q.scale));
                q.scale = rounded.max(F16_MIN_NORMAL);
                graph.set_quant(v, Some(q));
            }
        }
    }
    Ok(plan)
}

#[cfg(feature = "int8")]
fn plan_calibrated(graph: &mut Graph, setup: &Int8Setup) -> Result<edgeport_tflite::int8::Int8Plan, EngineError> {
    let auto = setup.keep_float.iter().any(|n| n == "auto");
    let mut keep: BTreeMap<String, String> = BTreeMap::new();
    for name in setup.keep_float.iter().filter(|n| *n != "auto") {
        if !graph.nodes.iter().any(|n| &n.name == name) {
            return Err(EngineError::options(format!("keep-float: the model has no node '{name}'")));
        }
        keep.insert(name.clone(), "kept in float (--keep-float)".into());
    }
    let options = edgeport_cpu::SessionOptions { observe: true, ..Default::default() };
    let mut session = edgeport_cpu::Session::new(graph, &options)?;
    let ports: Vec<(String, TensorType)> = session.inputs().iter().map(|p| (p.name.clone(), p.ty.clone())).collect();
    let generated: Vec<BTreeMap<String, Tensor>>;
    let samples: &[BTreeMap<String, Tensor>] = match &setup.calibration {
        Some(c) => &c.samples,
        None => {
            generated = (0..GENERATED_SAMPLES as u64).map(|i| crate::runtime::sample_for(&ports, i)).collect();
            &generated
        }
    };
    let mut calibrator = edgeport_quant::calibrate::Calibrator::new(setup.method.method());
    for pass in 0..calibrator.passes() {
        for sample in samples {
            let ordered = crate::runtime::in_port_order(ports.iter().map(|(name, _)| name.as_str()), sample)?;
            session.run_observed(&ordered, &mut |v, data| calibrator.observe(pass, v, data))?;
        }
    }
    let ranges = calibrator.ranges();
    let float_graph = graph.clone();
    let opts = edgeport_tflite::int8::Int8Options { keep_float: keep.clone() };
    let plan = edgeport_tflite::int8::plan(graph, &ranges, &opts);
    if !auto {
        return Ok(plan);
    }
    let lossy = lossy_layers(&float_graph, graph, &plan, samples)?;
    if lossy.is_empty() {
        return Ok(plan);
    }
    keep.extend(lossy);
    *graph = float_graph;
    Ok(edgeport_tflite::int8::plan(graph, &ranges, &edgeport_tflite::int8::Int8Options { keep_float: keep }))
}

#[cfg(feature = "int8")]
/// The int8 layers `--keep-float auto` keeps in float: output SQNR below [`AUTO_SQNR_DB`]
/// with a loss of [`AUTO_LOSS_DB`] or more against the layer's own inputs.
fn lossy_layers(
    float_graph: &Graph,
    planned: &Graph,
    plan: &edgeport_tflite::int8::Int8Plan,
    samples: &[BTreeMap<String, Tensor>],
) -> Result<BTreeMap<String, String>, EngineError> {
    use crate::runtime::{Prepared, sqnr_db, value_noise};
    let original = Prepared::new(float_graph.clone());
    let variant = Prepared { int8: Some(plan.clone()), ..Prepared::new(planned.clone()) };
    let energy = value_noise(&original, &variant, samples)?;
    let sqnr = |v| energy.get(&v).copied().and_then(sqnr_db).unwrap_or(f64::INFINITY);
    let mut out = BTreeMap::new();
    for node in planned.nodes.iter().filter(|n| n.int8) {
        let Some(&o) = node.outputs.first() else { continue };
        let s_out = sqnr(o);
        let s_in = node.inputs.iter().filter(|&&v| !planned.is_const(v)).map(|&v| sqnr(v)).fold(f64::INFINITY, f64::min);
        let loss = if s_in.is_finite() { s_in - s_out } else { f64::INFINITY };
        if s_out < AUTO_SQNR_DB && loss >= AUTO_LOSS_DB {
            let lost = if loss.is_finite() { format!(", {loss:.1} dB below its inputs") } else { String::new() };
            out.insert(node.name.clone(), format!("--keep-float auto: int8 output SQNR {s_out:.1} dB < {AUTO_SQNR_DB} dB{lost}"));
        }
    }
    Ok(out)
}
