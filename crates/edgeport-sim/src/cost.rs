//! The roofline cost of one layer on one unit: the larger of its arithmetic time (FLOPs over the
//! unit's peak for the executed precision, times the op class's efficiency) and its memory time
//! (bytes moved over the unit's bandwidth), both scaled by the calibrated factor, plus the unit's
//! fixed cost per dispatched op.

use crate::calibration::{Scale, group_of};
use crate::profile::{Precision, Unit, UnitKind};
use crate::workload::{Layer, OpClass};

/// Fraction of peak arithmetic throughput real kernels reach, per unit kind and op class.
/// Starting points from vendor guidance and published kernel studies (XNNPACK, TFLite GPU, ANE
/// and Hexagon reach far less on depthwise and normalization ops than on dense convolutions);
/// the per-device calibration factor scales all of them together, so only their ratios matter.
pub fn default_efficiency(kind: UnitKind, class: OpClass) -> f64 {
    use OpClass as C;
    match (kind, class) {
        (_, C::Free) => 1.0,
        (UnitKind::Cpu, C::Conv) => 0.55,
        (UnitKind::Cpu, C::MatMul) => 0.60,
        (UnitKind::Cpu, C::ConvTranspose) => 0.35,
        (UnitKind::Cpu, C::DepthwiseConv) => 0.25,
        (UnitKind::Cpu, C::Elementwise | C::Copy) => 0.50,
        (UnitKind::Cpu, C::Pool | C::Reduce | C::Resize) => 0.30,
        (UnitKind::Cpu, C::Normalize) => 0.20,
        (UnitKind::Gpu, C::Conv) => 0.40,
        (UnitKind::Gpu, C::MatMul) => 0.40,
        (UnitKind::Gpu, C::ConvTranspose) => 0.25,
        (UnitKind::Gpu, C::DepthwiseConv) => 0.12,
        (UnitKind::Gpu, C::Elementwise | C::Copy) => 0.30,
        (UnitKind::Gpu, C::Pool | C::Reduce | C::Resize) => 0.15,
        (UnitKind::Gpu, C::Normalize) => 0.10,
        (UnitKind::Npu | UnitKind::Ane | UnitKind::Tpu, C::Conv) => 0.50,
        (UnitKind::Npu | UnitKind::Ane | UnitKind::Tpu, C::MatMul) => 0.35,
        (UnitKind::Npu | UnitKind::Ane | UnitKind::Tpu, C::ConvTranspose) => 0.30,
        (UnitKind::Npu | UnitKind::Ane | UnitKind::Tpu, C::DepthwiseConv) => 0.10,
        (UnitKind::Npu | UnitKind::Ane | UnitKind::Tpu, C::Elementwise | C::Copy) => 0.10,
        (UnitKind::Npu | UnitKind::Ane | UnitKind::Tpu, C::Pool | C::Reduce | C::Resize) => 0.10,
        (UnitKind::Npu | UnitKind::Ane | UnitKind::Tpu, C::Normalize) => 0.05,
    }
}

/// How a layer's bytes are stored while it runs.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Encoding {
    /// Precision the arithmetic runs at.
    pub compute: Precision,
    /// Bytes per activation element.
    pub act_bytes: f64,
    /// Bytes per weight element as stored (fractional for palettized weights).
    pub weight_bytes: f64,
}

/// Time of one layer on `unit`, seconds, with the calibrated `scale` applied.
pub fn layer_seconds(layer: &Layer, input_elems: u64, unit: &Unit, enc: Encoding, scale: &Scale, weights_cached: bool) -> f64 {
    if layer.class == OpClass::Free {
        return 0.0;
    }
    let peak = unit
        .peak_gflops
        .get(enc.compute)
        .or(unit.peak_gflops.fp32)
        .or(unit.peak_gflops.fp16)
        .unwrap_or(1.0)
        * 1e9;
    let eff = unit.efficiency.get(&layer.class).copied().unwrap_or_else(|| default_efficiency(unit.kind, layer.class))
        * scale.group[group_of(layer.class)];
    let compute = layer.flops as f64 / (peak * eff);
    let weight_bytes = if weights_cached { 0.0 } else { layer.weight_elems as f64 * enc.weight_bytes };
    let act_bytes = (input_elems + layer.output_elems) as f64 * enc.act_bytes;
    // A unit behind a link (the Edge TPU on USB or PCIe) that cannot keep a layer's weights on
    // chip fetches them from host memory over that link at every inference.
    let memory = match (unit.weight_cache_mb, unit.link_gbps) {
        (Some(_), Some(link)) => act_bytes / (unit.bandwidth_gbps * 1e9) + weight_bytes / (link * 1e9),
        _ => (act_bytes + weight_bytes) / (unit.bandwidth_gbps * 1e9),
    };
    compute.max(memory) / scale.throughput.max(1e-6) + unit.dispatch_us * 1e-6 * scale.overhead
}

/// Time to move `bytes` between the CPU and `unit` (a partition boundary), seconds.
pub fn transfer_seconds(bytes: f64, unit: &Unit, cpu: &Unit) -> f64 {
    let gbps = unit.link_gbps.unwrap_or_else(|| unit.bandwidth_gbps.min(cpu.bandwidth_gbps));
    bytes / (gbps * 1e9)
}
