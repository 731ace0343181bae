//! Activation fusion as every runtime does it: a ReLU or ReLU6 (`Clip`) that is the only reader
//! of a convolution's or matmul's output runs inside that kernel, so it costs no dispatch and no
//! extra trip through memory. (TFLite's fused activations are exactly these; Core ML, NNAPI,
//! QNN and XNNPACK fuse at least as much.)

use crate::workload::{Layer, Operand, Workload};

const FUSABLE: &[&str] = &["Relu", "Clip"];

/// The workload with fusable activations merged into their producers.
pub fn fuse_activations(w: Workload) -> Workload {
    let n = w.layers.len();
    let mut readers = vec![0usize; n];
    for l in &w.layers {
        for op in &l.inputs {
            if let Operand::Layer(p) = *op
                && p < n {
                    readers[p] += 1;
                }
        }
    }
    // merged_into[i] = Some(p) when activation i is folded into layer p.
    let mut merged_into: Vec<Option<usize>> = vec![None; n];
    for (i, l) in w.layers.iter().enumerate() {
        if !FUSABLE.contains(&l.op.as_str()) || l.inputs.len() != 1 {
            continue;
        }
        if let Operand::Layer(p) = l.inputs[0] {
            let producer_ok = p < n && w.layers[p].class.is_linear() && readers[p] == 1 && merged_into[p].is_none();
            if producer_ok {
                merged_into[i] = Some(p);
            }
        }
    }
    // New index of each old layer; a merged activation maps to its producer's new index.
    let mut new_index = vec![0usize; n];
    let mut layers: Vec<Layer> = Vec::with_capacity(n);
    for (i, l) in w.layers.iter().enumerate() {
        match merged_into[i] {
            Some(p) => {
                let target = new_index[p];
                new_index[i] = target;
                if let Some(t) = layers.get_mut(target) {
                    t.flops += l.flops;
                }
            }
            None => {
                let mut l = l.clone();
                for op in &mut l.inputs {
                    if let Operand::Layer(p) = op {
                        *p = new_index.get(*p).copied().unwrap_or(*p);
                    }
                }
                new_index[i] = layers.len();
                layers.push(l);
            }
        }
    }
    Workload { layers, ..w }
}
