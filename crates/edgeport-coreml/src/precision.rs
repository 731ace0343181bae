//! Mixed precision: which IR nodes compute in float32 when the program is fp16.
//!
//! fp16 keeps 11 significant bits, so every op that stores its result in fp16 adds a relative
//! error of up to 2^-11. That is harmless where later layers do not magnify it, and not where
//! they do. The automatic rule keys on the one static sign of magnification a graph carries:
//! large weights. A conv or matmul whose constant weights reach [`LARGE_WEIGHT`] in magnitude
//! (typically a folded normalization with a small variance) stores each of them with an
//! absolute error up to 2^-11 * |w| and multiplies the errors already in its inputs by up to
//! the L1 norm of its kernel. Such an op computes in fp32, and so does everything upstream of
//! it, because errors made there reach it and are magnified too. Ops after the last such layer
//! stay fp16: errors made there are not magnified by large weights any more.
//!
//! Measured on PP-OCRv4 (tests/oracles/test_coreml.py): pure fp16 gives 0.080 (det) and 0.055
//! (rec) relative error, the rule 0.014 and 0.003; the project's fixtures, whose weights are
//! all small, stay pure fp16. This is the selection coremltools leaves to the user
//! (`FP16ComputePrecision(op_selector=...)`); here it is the default, and `Fp32Ops` overrides it.

use std::collections::BTreeSet;

use edgeport_ir::{Graph, Node, Op};

use crate::CoremlError;

/// Weights at least this large (in magnitude) mark an amplifying layer. At 16 the fp16 spacing
/// is 2^-6, so each such weight is off by up to 1/128, and the layer scales input errors by at
/// least 16.
pub const LARGE_WEIGHT: f32 = 16.0;

/// Which nodes stay float32 in an fp16 program.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fp32Ops {
    /// Apply the automatic rule (large-weight layers and everything upstream of them).
    pub auto: bool,
    /// Nodes named by the user (ONNX node names; a node lowered into several IR nodes is
    /// matched by its `<name>/...` parts too).
    pub nodes: BTreeSet<String>,
}

impl Default for Fp32Ops {
    fn default() -> Self {
        Fp32Ops {
            auto: true,
            nodes: BTreeSet::new(),
        }
    }
}

impl Fp32Ops {
    /// Pure fp16, as coremltools' default `FP16ComputePrecision`.
    pub fn none() -> Self {
        Fp32Ops {
            auto: false,
            nodes: BTreeSet::new(),
        }
    }
}

/// For each node of `g`: true when it computes in float32. Unknown names are an error.
pub fn fp32_nodes(g: &Graph, sel: &Fp32Ops) -> Result<Vec<bool>, CoremlError> {
    let mut fp32 = vec![false; g.nodes.len()];
    let mut unknown: Vec<&str> = Vec::new();
    for name in &sel.nodes {
        let mut found = false;
        for (i, node) in g.nodes.iter().enumerate() {
            if names_node(name, &node.name) {
                fp32[i] = true;
                found = true;
            }
        }
        if !found {
            unknown.push(name);
        }
    }
    if !unknown.is_empty() {
        return Err(CoremlError::BadOption(format!(
            "fp32 ops: no node named {} in the model",
            unknown
                .iter()
                .map(|n| format!("'{n}'"))
                .collect::<Vec<_>>()
                .join(", ")
        )));
    }
    if sel.auto {
        let producers = g.producers();
        let mut stack: Vec<usize> = (0..g.nodes.len())
            .filter(|&i| has_large_weights(g, &g.nodes[i]))
            .collect();
        let mut upstream = vec![false; g.nodes.len()];
        while let Some(i) = stack.pop() {
            if std::mem::replace(&mut upstream[i], true) {
                continue;
            }
            stack.extend(
                g.nodes[i]
                    .inputs
                    .iter()
                    .filter_map(|v| producers.get(v.0 as usize).copied().flatten()),
            );
        }
        for (f, u) in fp32.iter_mut().zip(upstream) {
            *f |= u;
        }
    }
    Ok(fp32)
}

fn names_node(user: &str, ir: &str) -> bool {
    ir == user
        || ir
            .strip_prefix(user)
            .is_some_and(|rest| rest.starts_with('/'))
}

/// A conv, transposed conv or matmul whose constant weights reach `LARGE_WEIGHT`.
fn has_large_weights(g: &Graph, node: &Node) -> bool {
    let weights: &[_] = match node.op {
        Op::Conv(_) | Op::ConvTranspose(_) => node.inputs.get(1..2).unwrap_or(&[]),
        Op::MatMul => node.inputs.get(..2).unwrap_or(&[]),
        _ => &[],
    };
    weights
        .iter()
        .filter_map(|&w| g.constant(w))
        .any(|t| t.dtype().is_float() && t.to_f32_vec().iter().any(|v| v.abs() >= LARGE_WEIGHT))
}

#[cfg(test)]
mod tests {
    use super::names_node;

    #[test]
    fn user_names_match_the_node_and_its_parts() {
        assert!(names_node("conv1", "conv1"));
        assert!(names_node("conv1", "conv1/bias"));
        assert!(!names_node("conv1", "conv10"));
        assert!(!names_node("conv1", "conv"));
    }
}
