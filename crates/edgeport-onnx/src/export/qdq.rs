//! Quantization in the QDQ format (what onnxruntime's `quantize_static` writes and ORT
//! Mobile fuses into integer kernels).
//!
//! - Weights put on a per-channel symmetric int8 grid by `edgeport_quant::int8` are recovered
//!   exactly (`int8::recover`) and stored as an int8 initializer feeding a `DequantizeLinear`
//!   (per-axis float scales, int8 zero points of 0, `axis`) whose output keeps the weight's
//!   name, so consumers are unchanged. ONNX dequantizes `(q - 0) * scale` in float32: the same
//!   bits as the IR's decoded weight.
//! - Activations with `quant` get `QuantizeLinear -> DequantizeLinear` (per-tensor scale, int8
//!   zero point), and every consumer reads the dequantized tensor. Note: ONNX QuantizeLinear
//!   rounds half to even, while `QuantParams::quantize` (TFLite's QUANTIZE) rounds half away
//!   from zero; they differ only on exact ties (`x / scale` ending in .5).
//! - Biases stay float32. onnxruntime runs a float bias between QDQ pairs (the node then runs
//!   as float rather than being fused into an integer kernel); an int32 bias at
//!   `input_scale * weight_scale` would change the numbers the IR (and the CPU runtime's
//!   prediction) computes with, so the artifact would no longer be what the report describes.

use std::collections::BTreeSet;

use edgeport_ir::{DType, Op, QuantParams, Tensor, TensorData, TensorType, ValueId};
use edgeport_quant::{int8, weights};

use super::{ExportError, Writer, proto};

/// Emit every constant that a node or the graph's outputs read, in value order: int8-grid
/// weights as int8 behind a DequantizeLinear, everything else as a plain initializer under the
/// value's name (a constant graph output's initializer is renamed: an Identity writes the
/// output, see `export`).
pub(super) fn constants(w: &mut Writer) {
    let g = w.graph();
    let mut used: BTreeSet<ValueId> = g
        .nodes
        .iter()
        .flat_map(|n| n.inputs.iter().copied())
        .collect();
    used.extend(g.outputs.iter().copied());
    let mut weight_axes: BTreeSet<ValueId> =
        weights::candidates(g).into_iter().map(|(v, _)| v).collect();
    // Full-integer plans put every int8 layer's weights on a grid, whatever their size.
    for n in g.nodes.iter().filter(|n| n.int8 && matches!(n.op, Op::Conv(_) | Op::MatMul)) {
        if let Some(&w) = n.inputs.get(1).filter(|&&w| g.is_const(w)) {
            weight_axes.insert(w);
        }
    }
    for v in used {
        let Some(t) = g.constant(v) else { continue };
        let name = g.value(v).name.clone();
        if g.outputs.contains(&v) {
            let renamed = w.initializer(&format!("{name}_constant"), t);
            if let Some(r) = w.reads.get_mut(v.0 as usize) {
                *r = renamed;
            }
            continue;
        }
        let recovered = match t.data() {
            TensorData::F32(values) if weight_axes.contains(&v) => int8::recover(values, t.shape()),
            _ => None,
        };
        match recovered {
            Some(q) => int8_weight(w, &name, t, q),
            None => w.named_initializer(&name, t),
        }
    }
}

fn int8_weight(w: &mut Writer, name: &str, t: &Tensor, q: int8::Int8) {
    let shape = t.shape().to_vec();
    let channels = q.scales.len();
    let (Ok(data), Ok(scales)) = (
        Tensor::new(shape.clone(), TensorData::I8(q.q)),
        Tensor::from_f32(vec![channels], q.scales),
    ) else {
        // Not reachable for a recovered form (its sizes come from `shape`); stay float.
        w.named_initializer(name, t);
        return;
    };
    let zero_points = Tensor::zeros(DType::I8, vec![channels]);
    let data = w.initializer(&format!("{name}_quantized"), &data);
    let scale = w.initializer(&format!("{name}_scale"), &scales);
    let zp = w.initializer(&format!("{name}_zero_point"), &zero_points);
    let out = [(name.to_string(), TensorType::new(DType::F32, shape))];
    let attrs = vec![proto::attr_i("axis", q.axis as i64)];
    w.node(
        &format!("{name}/DequantizeLinear"),
        "DequantizeLinear",
        vec![data, scale, zp],
        &out,
        attrs,
    );
}

/// `QuantizeLinear -> DequantizeLinear` after value `v` (read from where its consumers read it
/// now); afterwards they read the dequantized tensor. A graph output's own name goes to the
/// dequantized tensor, so the output keeps its name and stays float. `node` names the
/// producer (or the graph input) in errors.
pub(super) fn activation(
    w: &mut Writer,
    v: ValueId,
    q: QuantParams,
    node: &str,
) -> Result<(), ExportError> {
    let g = w.graph();
    let value = g.value(v);
    let ty = value.ty.clone();
    if ty.dtype != DType::F32 {
        let message = format!(
            "value '{}' is {} and cannot be quantized to int8 (float32 only)",
            value.name, ty.dtype
        );
        return Err(ExportError::node(node, "QuantizeLinear", message));
    }
    if !(q.scale.is_finite() && q.scale > 0.0) {
        let message = format!(
            "value '{}' has quantization scale {}, which must be positive and finite",
            value.name, q.scale
        );
        return Err(ExportError::node(node, "QuantizeLinear", message));
    }
    let base = value.name.clone();
    let is_output = g.outputs.contains(&v);
    let source = w.read(v).to_string();
    let scale = w.initializer(&format!("{base}_scale"), &Tensor::scalar_f32(q.scale));
    let zero_point = Tensor::new(vec![], TensorData::I8(vec![q.zero_point]))
        .unwrap_or_else(|_| Tensor::zeros(DType::I8, vec![]));
    let zp = w.initializer(&format!("{base}_zero_point"), &zero_point);
    let quantized = w.fresh(&format!("{base}_quantized"));
    let q_out = [(
        quantized.clone(),
        TensorType::new(DType::I8, ty.shape.clone()),
    )];
    w.node(
        &format!("{base}/QuantizeLinear"),
        "QuantizeLinear",
        vec![source, scale.clone(), zp.clone()],
        &q_out,
        vec![],
    );
    let dequantized = if is_output {
        base.clone()
    } else {
        w.fresh(&format!("{base}_dequantized"))
    };
    let dq_out = [(dequantized.clone(), ty)];
    w.node(
        &format!("{base}/DequantizeLinear"),
        "DequantizeLinear",
        vec![quantized, scale, zp],
        &dq_out,
        vec![],
    );
    if let Some(r) = w.reads.get_mut(v.0 as usize) {
        *r = dequantized;
    }
    Ok(())
}
