//! One simulation: a workload, a variant (format, precision, weight storage), a profile and a
//! compute unit. The unit's runtime path takes every layer it accepts; the rest run on the
//! path's CPU fallback, paying a transfer and a sync at each partition boundary.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::calibration::{Calibration, Scale};
use crate::cost::{self, Encoding};
use crate::profile::{Format, Precision, Profile, RuntimePath, Unit, UnitKind};
use crate::workload::{Layer, OpClass, Operand, Workload};
use crate::SimError;

/// What is simulated besides the model and the device.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Scenario {
    pub format: Format,
    /// Precision of the variant: fp32, fp16, or int8 (weights and activations).
    pub precision: Precision,
    /// Stored bits per weight when they differ from the precision (8 for int8 weight-only,
    /// 4 for 4-bit palettization); the arithmetic still runs at `precision`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weight_bits: Option<u8>,
    pub unit: UnitKind,
    /// A specific runtime path id (`tflite-gpu`, `ncnn`, ...); default: the unit's path for the format.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
}

/// Where one layer ran and what it cost.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Placement {
    pub layer: String,
    pub op: String,
    pub unit: UnitKind,
    pub ms: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SimResult {
    pub profile: String,
    pub device: String,
    pub unit: UnitKind,
    /// The runtime path used (`tflite-gpu`, `coreml-ane`, ...) and its display name.
    pub path: String,
    pub path_name: String,
    pub format: Format,
    pub precision: Precision,
    /// Precision the unit's arithmetic actually runs at (fp32 models run as fp16 on most GPUs).
    pub executed_precision: Precision,
    pub latency_ms: f64,
    /// Parts of `latency_ms`: layer time, boundary transfers, fixed per-inference costs.
    pub compute_ms: f64,
    pub transfer_ms: f64,
    pub overhead_ms: f64,
    pub peak_memory_bytes: u64,
    pub model_size_bytes: u64,
    /// Layers on the chosen unit / on the CPU fallback, and the number of partitions.
    pub layers_on_unit: usize,
    pub layers_on_fallback: usize,
    pub partitions: usize,
    /// Rejected op names with counts, sorted by name.
    pub fallback_ops: BTreeMap<String, usize>,
    /// Latency if the unit took every layer (only when some fell back).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub all_on_unit_ms: Option<f64>,
    pub warnings: Vec<String>,
    pub placement: Vec<Placement>,
}

/// Simulates `workload` on `profile` for `scenario`.
pub fn simulate(workload: &Workload, profile: &Profile, scenario: &Scenario, cal: &Calibration) -> Result<SimResult, SimError> {
    simulate_with(workload, profile, scenario, cal, true)
}

/// Only the total latency, ms: no per-layer placement or warnings (the calibration's inner loop).
pub fn latency_ms(workload: &Workload, profile: &Profile, scenario: &Scenario, cal: &Calibration) -> Result<f64, SimError> {
    simulate_with(workload, profile, scenario, cal, false).map(|r| r.latency_ms)
}

fn simulate_with(
    workload: &Workload,
    profile: &Profile,
    scenario: &Scenario,
    cal: &Calibration,
    detail: bool,
) -> Result<SimResult, SimError> {
    let err = |message: String| SimError::Scenario { profile: profile.id.clone(), message };
    let path = choose_path(profile, scenario).map_err(err)?;
    let unit = profile.unit(path.unit).ok_or_else(|| err(format!("no {} unit", path.unit.name())))?;
    let cpu = profile.unit(UnitKind::Cpu).ok_or_else(|| err("no cpu unit".into()))?;
    let fallback = match &path.fallback {
        Some(id) => Some(profile.path(id).ok_or_else(|| err(format!("fallback path '{id}' is missing")))?),
        None => None,
    };

    let executed = executed_precision(path, scenario.precision)
        .ok_or_else(|| err(format!("{} does not run {} models", path.name, scenario.precision.name())))?;
    let fb_precision = fallback.map(|f| executed_precision(f, scenario.precision).unwrap_or(Precision::Fp32));
    let accepted = accepted_layers(workload, path);
    let rejected: Vec<&Layer> =
        workload.layers.iter().zip(&accepted).filter(|(l, ok)| !**ok && l.class != OpClass::Free).map(|(l, _)| l).collect();
    if !rejected.is_empty() && fallback.is_none() {
        let ops = count_ops(rejected.iter().copied());
        return Err(err(format!("{} cannot run {} and has no fallback", path.name, describe_counts(&ops))));
    }

    let sides = Sides {
        unit,
        cpu,
        unit_enc: encoding(executed, scenario),
        cpu_enc: encoding(fb_precision.unwrap_or(executed), scenario),
        unit_scale: cal.scale(&profile.id, unit.kind, executed, path.speed.unwrap_or(1.0)),
        cpu_scale: cal.scale(
            &profile.id,
            UnitKind::Cpu,
            fb_precision.unwrap_or(executed),
            fallback.and_then(|f| f.speed).unwrap_or(1.0),
        ),
    };
    let mut placed = accepted.clone();
    let declined = if unit.kind != UnitKind::Cpu { decline_unprofitable(workload, &mut placed, &sides) } else { 0 };
    let run = run_placed(workload, &|i| placed[i], &sides, detail);

    let mut result = SimResult {
        profile: profile.id.clone(),
        device: profile.name.clone(),
        unit: unit.kind,
        path: path.id.clone(),
        path_name: path.name.clone(),
        format: scenario.format,
        precision: scenario.precision,
        executed_precision: executed,
        latency_ms: run.compute_ms + run.transfer_ms + run.overhead_ms,
        compute_ms: run.compute_ms,
        transfer_ms: run.transfer_ms,
        overhead_ms: run.overhead_ms,
        peak_memory_bytes: peak_memory(workload, sides.unit_enc),
        model_size_bytes: (workload.weight_elems() as f64 * stored_weight_bytes(scenario)).round() as u64,
        layers_on_unit: placed.iter().enumerate().filter(|&(i, ok)| *ok && workload.layers[i].class != OpClass::Free).count(),
        layers_on_fallback: placed.iter().enumerate().filter(|&(i, ok)| !*ok && workload.layers[i].class != OpClass::Free).count(),
        partitions: run.partitions,
        fallback_ops: count_ops(rejected.iter().copied()),
        all_on_unit_ms: None,
        warnings: Vec::new(),
        placement: run.placement,
    };
    if detail && !rejected.is_empty() && unit.kind != UnitKind::Cpu {
        let all = run_placed(workload, &|_| true, &sides, false);
        let all_ms = all.compute_ms + all.transfer_ms + all.overhead_ms;
        result.all_on_unit_ms = Some(all_ms);
        result.warnings.push(format!(
            "{} op{} fall{} back to CPU: {}; latency {:.1}x the all-{} estimate",
            rejected.len(),
            if rejected.len() == 1 { "" } else { "s" },
            if rejected.len() == 1 { "s" } else { "" },
            describe_counts(&result.fallback_ops),
            result.latency_ms / all_ms.max(1e-9),
            unit.kind.name().to_uppercase(),
        ));
    }
    if detail && declined > 0 {
        result.warnings.push(format!(
            "{declined} partition{} the {} could take stay{} on the CPU: moving the tensors would cost more than it saves",
            if declined == 1 { "" } else { "s" },
            path.name,
            if declined == 1 { "s" } else { "" },
        ));
    }
    if executed != scenario.precision {
        result.warnings.push(format!(
            "{} runs {} models at {} (expect small numeric differences)",
            path.name,
            scenario.precision.name(),
            executed.name()
        ));
    }
    let ram = profile.ram_gb * 1e9;
    if ram > 0.0 && result.peak_memory_bytes as f64 > 0.5 * ram {
        result.warnings.push(format!(
            "peak memory {:.0} MB is over half of the device's {} GB RAM",
            result.peak_memory_bytes as f64 / 1e6,
            profile.ram_gb
        ));
    }
    Ok(result)
}

/// The path for the scenario's unit and format; prefers one that runs the precision natively.
pub fn choose_path<'p>(profile: &'p Profile, s: &Scenario) -> Result<&'p RuntimePath, String> {
    if let Some(id) = s.path.as_deref() {
        return match profile.path(id) {
            Some(p) if p.unit == s.unit && p.formats.contains(&s.format) => Ok(p),
            Some(p) => Err(format!("runtime '{id}' runs {} on the {}, not {} on the {}",
                p.formats.iter().map(|f| f.name()).collect::<Vec<_>>().join("/"), p.unit.name(), s.format.name(), s.unit.name())),
            None => Err(format!("no runtime '{id}' on this device")),
        };
    }
    let candidates: Vec<&RuntimePath> =
        profile.paths.iter().filter(|p| p.unit == s.unit && p.formats.contains(&s.format)).collect();
    if candidates.is_empty() {
        let units: Vec<&str> = profile
            .paths
            .iter()
            .filter(|p| p.formats.contains(&s.format))
            .map(|p| p.unit.name())
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .collect();
        return Err(format!(
            "no {} runtime for {} on this device (units with {}: {})",
            s.unit.name(),
            s.format.name(),
            s.format.name(),
            if units.is_empty() { "none".to_string() } else { units.join(", ") }
        ));
    }
    candidates
        .iter()
        .find(|p| p.precisions.contains(&s.precision))
        .or_else(|| candidates.iter().find(|p| executed_precision(p, s.precision).is_some()))
        .copied()
        .ok_or_else(|| {
            let ids: Vec<&str> = candidates.iter().map(|p| p.id.as_str()).collect();
            format!("{} does not run {} models", ids.join(", "), s.precision.name())
        })
}

/// The precision `path` executes a `requested` model at, if it can run it at all.
pub fn executed_precision(path: &RuntimePath, requested: Precision) -> Option<Precision> {
    match requested {
        Precision::Fp32 | Precision::Fp16 => match path.float_as {
            Some(f) => Some(f),
            None if path.precisions.contains(&requested) => Some(requested),
            None => path.precisions.iter().copied().find(|p| *p != Precision::Int8),
        },
        Precision::Int8 => path.precisions.contains(&Precision::Int8).then_some(Precision::Int8).or(path.int8_as),
    }
}

/// Whether each layer runs on `path` (the rest fall back). Free layers follow their producer.
pub fn accepted_layers(workload: &Workload, path: &RuntimePath) -> Vec<bool> {
    let mut out = Vec::with_capacity(workload.layers.len());
    let mut prefix_broken = false;
    for layer in &workload.layers {
        let ok = if layer.class == OpClass::Free {
            match layer.inputs.first() {
                Some(Operand::Layer(p)) => out.get(*p).copied().unwrap_or(true),
                _ => !prefix_broken,
            }
        } else {
            let supported = !path.unsupported_ops.iter().any(|o| o == &layer.op)
                && !path.unsupported_classes.contains(&layer.class)
                && path.max_rank.is_none_or(|r| layer.rank <= r)
                && path.max_kernel.is_none_or(|k| layer.kernel.is_none_or(|[h, w]| h <= k && w <= k));
            if path.prefix_only && !supported {
                prefix_broken = true;
            }
            supported && !(path.prefix_only && prefix_broken)
        };
        out.push(ok);
    }
    out
}

struct Sides<'a> {
    unit: &'a Unit,
    cpu: &'a Unit,
    unit_enc: Encoding,
    cpu_enc: Encoding,
    unit_scale: Scale,
    cpu_scale: Scale,
}

struct Run {
    compute_ms: f64,
    transfer_ms: f64,
    overhead_ms: f64,
    partitions: usize,
    placement: Vec<Placement>,
}

fn run_placed(w: &Workload, on_unit: &dyn Fn(usize) -> bool, s: &Sides, record: bool) -> Run {
    // On-chip weight memory (Edge TPU) holds the parameters of the leading layers up to its
    // size; the rest are streamed at every inference (the Edge TPU compiler's parameter caching).
    let mut weights_before = 0.0;
    let same = s.unit.kind == UnitKind::Cpu;
    let mut compute = 0.0;
    let mut transfer = 0.0;
    let mut partitions = 0usize;
    let mut prev_on_unit: Option<bool> = None;
    let mut placement = Vec::with_capacity(w.layers.len());
    // Each (producer, destination side) pair is copied once.
    let mut copied: std::collections::BTreeSet<(usize, bool)> = std::collections::BTreeSet::new();
    for (i, layer) in w.layers.iter().enumerate() {
        let here = same || on_unit(i);
        let (unit, enc, scale) = if here { (s.unit, s.unit_enc, &s.unit_scale) } else { (s.cpu, s.cpu_enc, &s.cpu_scale) };
        let input_elems = layer.input_elems(&w.layers);
        weights_before += layer.weight_elems as f64;
        let cached = unit.weight_cache_mb.is_some_and(|mb| weights_before * enc.weight_bytes <= mb * 1e6);
        let t = cost::layer_seconds(layer, input_elems, unit, enc, scale, cached);
        if !same {
            for op in &layer.inputs {
                let bytes = match *op {
                    Operand::Layer(p) if on_unit(p) != here => {
                        if !copied.insert((p, here)) {
                            continue;
                        }
                        w.layers[p].output_elems as f64 * s.unit_enc.act_bytes
                    }
                    Operand::ModelInput(n) if here => {
                        if !copied.insert((usize::MAX, here)) {
                            continue;
                        }
                        n as f64 * s.unit_enc.act_bytes
                    }
                    _ => continue,
                };
                transfer += cost::transfer_seconds(bytes, s.unit, s.cpu);
            }
            if layer.class != OpClass::Free {
                if here && prev_on_unit != Some(true) {
                    partitions += 1;
                }
                prev_on_unit = Some(here);
            }
        }
        compute += t;
        if !record {
            continue;
        }
        placement.push(Placement {
            layer: layer.name.clone(),
            op: layer.op.clone(),
            unit: if here { s.unit.kind } else { UnitKind::Cpu },
            ms: t * 1e3,
        });
    }
    if !same && prev_on_unit == Some(true) {
        // Read the results back to the CPU.
        transfer += cost::transfer_seconds(w.output_elems as f64 * s.unit_enc.act_bytes, s.unit, s.cpu);
    }
    if same {
        partitions = 1;
    }
    let overhead = s.cpu.invoke_us * 1e-6 * s.cpu_scale.overhead
        + if same { 0.0 } else { partitions as f64 * s.unit.invoke_us * 1e-6 * s.unit_scale.overhead };
    Run { compute_ms: compute * 1e3, transfer_ms: transfer * 1e3, overhead_ms: overhead * 1e3, partitions, placement }
}

fn encoding(compute: Precision, s: &Scenario) -> Encoding {
    let weight_bytes = match s.weight_bits {
        Some(bits) => f64::from(bits) / 8.0,
        None => compute.bytes(),
    };
    Encoding { compute, act_bytes: compute.bytes(), weight_bytes }
}

/// Bytes per weight in the artifact file.
fn stored_weight_bytes(s: &Scenario) -> f64 {
    s.weight_bits.map_or(s.precision.bytes(), |b| f64::from(b) / 8.0)
}

/// Runs of delegated layers (partitions) whose delegation makes the whole slower go back to the
/// CPU, as runtimes with a cost model do (Core ML, QNN) and as users of the others do by hand.
/// Returns how many partitions were declined.
fn decline_unprofitable(w: &Workload, placed: &mut [bool], s: &Sides) -> usize {
    let total = |p: &[bool]| {
        let r = run_placed(w, &|i| p[i], s, false);
        r.compute_ms + r.transfer_ms + r.overhead_ms
    };
    let mut partitions: Vec<(usize, usize)> = Vec::new();
    let mut start: Option<usize> = None;
    for (i, l) in w.layers.iter().enumerate() {
        let on = placed[i];
        match (on, start) {
            (true, None) => start = Some(i),
            (false, Some(a)) if l.class != OpClass::Free => {
                partitions.push((a, i));
                start = None;
            }
            _ => {}
        }
    }
    if let Some(a) = start {
        partitions.push((a, w.layers.len()));
    }
    let mut best = total(placed);
    let mut declined = 0;
    for (a, b) in partitions {
        let mut trial = placed.to_vec();
        trial[a..b].iter_mut().for_each(|x| *x = false);
        let t = total(&trial);
        if t < best {
            best = t;
            placed.copy_from_slice(&trial);
            declined += 1;
        }
    }
    declined
}

/// Weights plus the largest set of activations alive at once (each freed after its last reader).
pub fn peak_memory(w: &Workload, enc: Encoding) -> u64 {
    let n = w.layers.len();
    let mut last_use: Vec<usize> = (0..n).collect();
    for (i, l) in w.layers.iter().enumerate() {
        for op in &l.inputs {
            if let Operand::Layer(p) = *op
                && p < n {
                    last_use[p] = last_use[p].max(i);
                }
        }
    }
    let inputs: u64 = w
        .layers
        .iter()
        .flat_map(|l| l.inputs.iter())
        .filter_map(|o| if let Operand::ModelInput(e) = o { Some(*e) } else { None })
        .max()
        .unwrap_or(0);
    let mut live = inputs as f64 * enc.act_bytes;
    let mut peak = live;
    let mut frees: Vec<Vec<usize>> = vec![Vec::new(); n];
    for (p, &u) in last_use.iter().enumerate() {
        // Outputs nobody reads (the model's outputs) stay to the end.
        let end = if u == p { n - 1 } else { u };
        frees[end].push(p);
    }
    for (i, l) in w.layers.iter().enumerate() {
        if l.class != OpClass::Free {
            live += l.output_elems as f64 * enc.act_bytes;
        }
        peak = peak.max(live);
        for &p in &frees[i] {
            if w.layers[p].class != OpClass::Free {
                live -= w.layers[p].output_elems as f64 * enc.act_bytes;
            }
        }
    }
    (peak + w.weight_elems() as f64 * enc.weight_bytes).round() as u64
}

fn count_ops<'a>(layers: impl Iterator<Item = &'a Layer>) -> BTreeMap<String, usize> {
    let mut m = BTreeMap::new();
    for l in layers {
        *m.entry(l.op.clone()).or_insert(0) += 1;
    }
    m
}

/// "HardSwish x2, Resize" (most frequent first).
pub fn describe_counts(ops: &BTreeMap<String, usize>) -> String {
    let mut v: Vec<(&String, &usize)> = ops.iter().collect();
    v.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
    v.iter().map(|(op, n)| if **n > 1 { format!("{op} x{n}") } else { (*op).clone() }).collect::<Vec<_>>().join(", ")
}
