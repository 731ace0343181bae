//! Which constants are weights: the kernels of convolutions and the constant right-hand
//! operands of matrix products, with at least [`MIN_ELEMENTS`] values (smaller ones save
//! nothing worth their scales, as coremltools' default `weight_threshold` decides).

use std::collections::BTreeMap;

use edgeport_ir::{Graph, Op, ValueId};

/// Smallest constant quantized as a weight (coremltools' default `weight_threshold`).
pub const MIN_ELEMENTS: usize = 2048;

/// Each weight constant with its output-channel axis, in value order (deterministic).
pub fn candidates(g: &Graph) -> Vec<(ValueId, usize)> {
    let mut found: BTreeMap<ValueId, usize> = BTreeMap::new();
    for node in &g.nodes {
        let Some(&v) = node.inputs.get(1) else { continue };
        let Some(t) = g.constant(v) else { continue };
        let rank = t.shape().len();
        let axis = match &node.op {
            // [O, I/groups, kh, kw]
            Op::Conv(_) => 0,
            // [I, O/groups, kh, kw]
            Op::ConvTranspose(_) => 1,
            // [.., K, N]: one scale per output column
            Op::MatMul => rank.saturating_sub(1),
            _ => continue,
        };
        if !t.dtype().is_float() || t.len() < MIN_ELEMENTS || rank < 2 {
            continue;
        }
        found.entry(v).or_insert(axis);
    }
    found.into_iter().collect()
}
