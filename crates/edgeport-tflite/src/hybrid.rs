//! Weight-only int8 ("dynamic range") export: which nodes run on TFLite's hybrid kernels.
//!
//! A hybrid CONV_2D, DEPTHWISE_CONV_2D or FULLY_CONNECTED reads int8 per-channel weights and
//! float32 activations: it quantizes its input to int8 as it runs (one grid per batch item, or
//! per row for FULLY_CONNECTED), multiplies in int32 and scales back to float32. The exporter
//! and the CPU runtime's simulation ask [`dynamic_input`] the same question per node, before
//! or after the layout pass, so they agree on which nodes round their input and how.

use edgeport_ir::{DynamicQuant, Graph, Layout, Node, Op};

/// How `node` quantizes its first input when exported with int8 weights; `None` when it is
/// not a hybrid kernel (its weights are not on a per-channel int8 grid, or TFLite has no
/// hybrid form of the op as the exporter lowers it).
pub fn dynamic_input(g: &Graph, node: &Node) -> Option<DynamicQuant> {
    let x = *node.inputs.first()?;
    let w = g.constant(*node.inputs.get(1)?)?;
    let xs = g.ty(x).shape.as_slice();
    let values = || w.to_f32_vec();
    match &node.op {
        Op::Conv(c) => {
            let ws = w.shape();
            if xs.len() != 4 || ws.len() != 4 || node.inputs.get(2).is_some_and(|&b| !g.is_const(b)) {
                return None;
            }
            let cin = if c.layout == Layout::Nchw { xs[1] } else { xs[3] };
            let depthwise = c.group > 1 && c.group == cin && ws[1] == 1;
            if c.group > 1 && !depthwise {
                return None;
            }
            let q = edgeport_quant::int8::recover_along(&values(), ws, 0)?;
            // CONV_2D takes its per-channel path (asymmetric inputs) only when the channel
            // scales differ; with one scale it quantizes inputs symmetrically.
            let uniform = q.scales.windows(2).all(|p| p[0] == p[1]);
            Some(DynamicQuant { row: xs[1..].iter().product(), symmetric: uniform && !depthwise })
        }
        // FULLY_CONNECTED with asymmetric_quantize_inputs: one grid per row of K values.
        Op::MatMul if w.shape().len() == 2 && !xs.is_empty() => {
            edgeport_quant::int8::recover_along(&values(), w.shape(), 1)?;
            Some(DynamicQuant { row: xs[xs.len() - 1], symmetric: false })
        }
        _ => None,
    }
}

/// [`dynamic_input`] of every node, in node order (for `SessionOptions::hybrid_nodes`).
pub fn dynamic_inputs(g: &Graph) -> Vec<Option<DynamicQuant>> {
    g.nodes.iter().map(|n| dynamic_input(g, n)).collect()
}
