//! NCHW -> NHWC legalization for channels-last formats (TFLite).
//!
//! Method: every layout-sensitive op (Conv, ConvTranspose, Pool, Resize) is switched to NHWC
//! and wrapped in a pair of transposes, which is correct by construction. Then transposes are
//! sunk towards the outputs through layout-agnostic ops (elementwise, concat, reductions,
//! softmax, slice, split, pad) and cancelled against their inverses. What remains are the
//! transposes at the model interface and those the model's own semantics need (e.g. before a
//! Reshape that mixes channels with space).

use edgeport_ir::ops::{Reduce, Slice};
use edgeport_ir::{eval, Graph, Layout, Node, Op, TensorType, ValueId};

use crate::cleanup::{merge_duplicate_nodes, simplify_reshapes_and_transposes};
use crate::util::{invert, is_identity};
use crate::PassResult;

const TO_NHWC: [usize; 4] = [0, 2, 3, 1];
const TO_NCHW: [usize; 4] = [0, 3, 1, 2];

#[derive(Debug, Clone, Copy, Default)]
pub struct LayoutOptions {
    /// Rank-4 float inputs and outputs become NHWC too (the model interface changes).
    pub nhwc_io: bool,
}

/// Rewrite `g` so every conv, pool and resize works in NHWC, with as few transposes as the
/// model's semantics allow.
pub fn to_nhwc(g: &mut Graph, opts: LayoutOptions) -> PassResult<()> {
    wrap_layout_sensitive_ops(g)?;
    if opts.nhwc_io {
        nhwc_interface(g)?;
    }
    loop {
        merge_duplicate_nodes(g);
        if !sink_one_transpose(g)? {
            break;
        }
        g.remove_dead();
        g.toposort()?;
    }
    simplify_reshapes_and_transposes(g)?;
    g.remove_dead();
    g.toposort()?;
    Ok(())
}

fn permuted(ty: &TensorType, perm: &[usize]) -> TensorType {
    TensorType::new(ty.dtype, perm.iter().map(|&p| ty.shape[p]).collect())
}

/// Add `Transpose(input, perm)` writing into the existing value `output`. A transpose moves
/// int8 values unchanged: it runs in int8 when its input is int8, and both ends share the
/// parameters.
fn push_transpose(g: &mut Graph, name: &str, input: ValueId, perm: &[usize], output: ValueId) {
    let name = g.unique_name(name);
    let quant = g.value(input).quant.or(g.value(output).quant);
    g.set_quant(input, quant);
    g.set_quant(output, quant);
    g.push_node(Node {
        name,
        source_op: "Transpose".into(),
        op: Op::Transpose { perm: perm.to_vec() },
        inputs: vec![input],
        outputs: vec![output],
        int8: quant.is_some(),
    });
}

fn wrap_layout_sensitive_ops(g: &mut Graph) -> PassResult<()> {
    for i in 0..g.nodes.len() {
        let node = &mut g.nodes[i];
        let layout = match &mut node.op {
            Op::Conv(c) => &mut c.layout,
            Op::ConvTranspose(c) => &mut c.layout,
            Op::Pool(p) => &mut p.layout,
            Op::Resize(r) => &mut r.layout,
            _ => continue,
        };
        if *layout == Layout::Nhwc {
            continue;
        }
        *layout = Layout::Nhwc;
        let (name, x, y) = (node.name.clone(), node.inputs[0], node.outputs[0]);
        let x_nhwc = g.add_value(&format!("{name}.in_nhwc"), permuted(g.ty(x), &TO_NHWC))?;
        let y_nhwc = g.add_value(&format!("{name}.out_nhwc"), permuted(g.ty(y), &TO_NHWC))?;
        push_transpose(g, &format!("{name}.to_nhwc"), x, &TO_NHWC, x_nhwc);
        push_transpose(g, &format!("{name}.to_nchw"), y_nhwc, &TO_NCHW, y);
        let node = &mut g.nodes[i];
        node.inputs[0] = x_nhwc;
        node.outputs[0] = y_nhwc;
    }
    g.toposort()?;
    Ok(())
}

/// Make rank-4 float inputs and outputs NHWC, keeping their names.
fn nhwc_interface(g: &mut Graph) -> PassResult<()> {
    for k in 0..g.inputs.len() {
        let x = g.inputs[k];
        let ty = g.ty(x).clone();
        if ty.rank() != 4 || !ty.dtype.is_float() {
            continue;
        }
        let name = g.value(x).name.clone();
        g.rename_value(x, &format!("{name}.nchw"));
        let x_nhwc = g.add_value(&name, permuted(&ty, &TO_NHWC))?;
        push_transpose(g, &format!("{name}.to_nchw"), x_nhwc, &TO_NCHW, x);
        g.inputs[k] = x_nhwc;
    }
    for k in 0..g.outputs.len() {
        let y = g.outputs[k];
        let ty = g.ty(y).clone();
        if ty.rank() != 4 || !ty.dtype.is_float() {
            continue;
        }
        let name = g.value(y).name.clone();
        g.rename_value(y, &format!("{name}.nchw"));
        let y_nhwc = g.add_value(&name, permuted(&ty, &TO_NHWC))?;
        push_transpose(g, &format!("{name}.to_nhwc"), y, &TO_NHWC, y_nhwc);
        g.outputs[k] = y_nhwc;
    }
    g.toposort()?;
    Ok(())
}

/// How a consumer of `T_p(v)` is rewritten to consume `v` directly.
enum Absorb {
    /// Consumer is a transpose: compose permutations.
    Compose,
    /// Consumer becomes `op` on untransposed inputs; each output gets `T_out(perm)` after it
    /// (None: the output needs no transpose).
    Rewrite { op: Op, inputs: Vec<ValueId>, out_perm: Option<Vec<usize>> },
}

/// Sinks one transpose whose every consumer can absorb it. Returns whether anything changed.
fn sink_one_transpose(g: &mut Graph) -> PassResult<bool> {
    let prods = g.producers();
    let cons = g.consumers();
    for ti in 0..g.nodes.len() {
        let Op::Transpose { perm } = &g.nodes[ti].op else { continue };
        let (perm, v, w) = (perm.clone(), g.nodes[ti].inputs[0], g.nodes[ti].outputs[0]);
        if g.outputs.contains(&w) {
            continue;
        }
        let mut users = cons[w.0 as usize].clone();
        users.dedup();
        if users.is_empty() {
            continue;
        }
        // Check every consumer first, then commit (committing adds transposed constants).
        if !users.iter().all(|&c| absorb(g, &prods, c, &perm, false).is_some()) {
            continue;
        }
        let plans: Option<Vec<(usize, Absorb)>> =
            users.iter().map(|&c| absorb(g, &prods, c, &perm, true).map(|a| (c, a))).collect();
        let Some(plans) = plans else { continue };
        for (c, plan) in plans {
            apply(g, c, v, &perm, plan)?;
        }
        return Ok(true);
    }
    Ok(false)
}

/// Input `i` of a consumer expressed before the transpose `perm`, if possible: the transposed
/// value itself, another transpose by the same perm, or a constant (transposed inversely).
fn untransposed_input(
    g: &mut Graph,
    prods: &[Option<usize>],
    i: ValueId,
    perm: &[usize],
    rank: usize,
    commit: bool,
) -> Option<ValueId> {
    if let Some(p) = prods[i.0 as usize] {
        let n = &g.nodes[p];
        if matches!(&n.op, Op::Transpose { perm: q } if q == perm) {
            return Some(n.inputs[0]);
        }
        return None;
    }
    let t = g.constant(i)?;
    if t.shape().len() > rank {
        return None;
    }
    if !commit {
        return Some(i);
    }
    let mut shape = vec![1; rank - t.shape().len()];
    shape.extend_from_slice(t.shape());
    let expanded = t.clone().reshaped(shape).ok()?;
    let moved = eval::transpose(&expanded, &invert(perm)).ok()?;
    let name = format!("{}.nhwc", g.value(i).name);
    let quant = g.value(i).quant;
    let moved = g.add_const(&name, moved);
    g.set_quant(moved, quant);
    Some(moved)
}

/// Plan for consumer node `c` of a transpose by `perm`, or None if it cannot absorb it.
fn absorb(g: &mut Graph, prods: &[Option<usize>], c: usize, perm: &[usize], commit: bool) -> Option<Absorb> {
    let node = g.nodes[c].clone();
    let rank = perm.len();
    let p = |a: usize| perm[a];
    let all_inputs = |g: &mut Graph| -> Option<Vec<ValueId>> {
        node.inputs.iter().map(|&i| untransposed_input(g, prods, i, perm, rank, commit)).collect()
    };
    let same = Some(perm.to_vec());
    let op = match &node.op {
        Op::Transpose { .. } => return Some(Absorb::Compose),
        op if op.is_elementwise() || matches!(op, Op::Cast { .. }) => op.clone(),
        Op::Concat { axis } => Op::Concat { axis: p(*axis) },
        Op::Softmax { axis } => Op::Softmax { axis: p(*axis) },
        Op::Split { axis, sizes } => Op::Split { axis: p(*axis), sizes: sizes.clone() },
        Op::Slice(s) => Op::Slice(Slice { axes: s.axes.iter().map(|&a| p(a)).collect(), ..s.clone() }),
        Op::Pad(pad) => {
            let mut pads = vec![[0, 0]; rank];
            for (a, pr) in pad.pads.iter().enumerate() {
                pads[p(a)] = *pr;
            }
            Op::Pad(edgeport_ir::ops::Pad { pads, mode: pad.mode })
        }
        Op::Reduce(r) => {
            let mut axes: Vec<usize> = r.axes.iter().map(|&a| p(a)).collect();
            axes.sort_unstable();
            let out_perm = if r.keep_dims { same } else { reduced_perm(perm, &r.axes) };
            let inputs = all_inputs(g)?;
            return Some(Absorb::Rewrite { op: Op::Reduce(Reduce { axes, ..r.clone() }), inputs, out_perm });
        }
        _ => return None,
    };
    // Elementwise ops broadcast: every input must be of full rank after untransposing.
    if op.is_elementwise() && node.inputs.iter().any(|&i| g.ty(i).rank() > rank) {
        return None;
    }
    let inputs = all_inputs(g)?;
    Some(Absorb::Rewrite { op, inputs, out_perm: same })
}

/// Permutation that maps `reduce(v, perm[axes])` (keep_dims=false) onto `reduce(T_perm(v), axes)`.
fn reduced_perm(perm: &[usize], axes: &[usize]) -> Option<Vec<usize>> {
    let kept_v: Vec<usize> = (0..perm.len()).filter(|d| !axes.iter().any(|&a| perm[a] == *d)).collect();
    let q: Vec<usize> = (0..perm.len())
        .filter(|i| !axes.contains(i))
        .map(|i| kept_v.iter().position(|&d| d == perm[i]))
        .collect::<Option<_>>()?;
    if is_identity(&q) { None } else { Some(q) }
}

fn apply(g: &mut Graph, c: usize, v: ValueId, perm: &[usize], plan: Absorb) -> PassResult<()> {
    match plan {
        Absorb::Compose => {
            let Op::Transpose { perm: q } = &g.nodes[c].op else { return Ok(()) };
            let composed: Vec<usize> = q.iter().map(|&j| perm[j]).collect();
            // An identity transpose stays as a no-op reshape; clean-up removes it while
            // keeping output names.
            let op = if is_identity(&composed) {
                Op::Reshape { shape: g.ty(v).shape.clone() }
            } else {
                Op::Transpose { perm: composed }
            };
            let node = &mut g.nodes[c];
            node.inputs[0] = v;
            node.op = op;
        }
        Absorb::Rewrite { op, inputs, out_perm } => {
            let name = g.nodes[c].name.clone();
            let outs = g.nodes[c].outputs.clone();
            let tys = g.infer(&name, &op, &inputs)?;
            let mut new_outs = Vec::with_capacity(outs.len());
            for (k, (&o, ty)) in outs.iter().zip(tys).enumerate() {
                match &out_perm {
                    Some(q) => {
                        let inner = g.add_value(&format!("{}.pre", g.value(o).name), ty)?;
                        push_transpose(g, &format!("{name}.t{k}"), inner, q, o);
                        new_outs.push(inner);
                    }
                    None => new_outs.push(o),
                }
            }
            let node = &mut g.nodes[c];
            node.op = op;
            node.inputs = inputs;
            node.outputs = new_outs;
        }
    }
    Ok(())
}
