//! Small queries shared by the passes.

use edgeport_ir::{Graph, Tensor, ValueId};

/// The single constant value of `id` when it is a constant with every element equal.
pub fn const_scalar(g: &Graph, id: ValueId) -> Option<f32> {
    let t = g.constant(id)?;
    let v = t.to_f32_vec();
    let first = *v.first()?;
    v.iter().all(|&x| x == first).then_some(first)
}

/// True when `a` is within a relative 1e-6 of `b`.
pub fn approx(a: f32, b: f32) -> bool {
    (a - b).abs() <= 1e-6 * b.abs().max(1.0)
}

/// Number of uses of each value by nodes, plus one per appearance as a graph output.
pub fn use_counts(g: &Graph) -> Vec<usize> {
    let mut n = vec![0; g.values().len()];
    for node in &g.nodes {
        for &i in &node.inputs {
            n[i.0 as usize] += 1;
        }
    }
    for &o in &g.outputs {
        n[o.0 as usize] += 1;
    }
    n
}

pub fn is_graph_output(g: &Graph, id: ValueId) -> bool {
    g.outputs.contains(&id)
}

/// Per-channel data of a constant that broadcasts against a rank-4 NCHW tensor with `c`
/// channels only along the channel axis (shapes [], [1], [C,1,1], [1,C,1,1], [1,1,1,1] ...).
pub fn per_channel(t: &Tensor, c: usize) -> Option<Vec<f32>> {
    let s = t.shape();
    if s.len() > 4 {
        return None;
    }
    let mut padded = vec![1usize; 4 - s.len()];
    padded.extend_from_slice(s);
    let v = t.to_f32_vec();
    match (padded[0], padded[1], padded[2], padded[3]) {
        (1, 1, 1, 1) => Some(vec![v[0]; c]),
        (1, ch, 1, 1) if ch == c => Some(v),
        _ => None,
    }
}

/// Inverse of a permutation.
pub fn invert(perm: &[usize]) -> Vec<usize> {
    let mut inv = vec![0; perm.len()];
    for (i, &p) in perm.iter().enumerate() {
        inv[p] = i;
    }
    inv
}

pub fn is_identity(perm: &[usize]) -> bool {
    perm.iter().enumerate().all(|(i, &p)| i == p)
}
