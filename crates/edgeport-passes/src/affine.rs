//! Folding of per-channel scale and shift into the preceding convolution. BatchNormalization
//! arrives from the importer as Mul + Add with per-channel constants, so this is BN folding.

use edgeport_ir::ops::BinaryOp;
use edgeport_ir::{Graph, Op, Tensor};

use crate::util::{per_channel, use_counts, is_graph_output};
use crate::PassResult;

enum Affine {
    Scale(Vec<f32>),
    Shift(Vec<f32>),
}

/// Fold `conv -> Mul/Div/Add/Sub(per-channel const)` chains into the conv's weight and bias.
pub fn fold_affine_into_conv(g: &mut Graph) -> PassResult<()> {
    while fold_one(g)? {}
    Ok(())
}

fn fold_one(g: &mut Graph) -> PassResult<bool> {
    let uses = use_counts(g);
    let prods = g.producers();
    for (ni, node) in g.nodes.iter().enumerate() {
        let Op::Binary(bop) = node.op else { continue };
        let [a, b] = node.inputs[..] else { continue };
        // The conv output may sit on either side of commutative ops.
        let (y, k) = match (prods[a.0 as usize], prods[b.0 as usize]) {
            (Some(p), _) if is_conv(&g.nodes[p].op) && g.is_const(b) => (a, b),
            (_, Some(p)) if is_conv(&g.nodes[p].op) && g.is_const(a) && matches!(bop, BinaryOp::Mul | BinaryOp::Add) => (b, a),
            _ => continue,
        };
        if uses[y.0 as usize] != 1 || is_graph_output(g, y) || g.ty(node.outputs[0]) != g.ty(y) {
            continue;
        }
        let Some(ci) = prods[y.0 as usize] else { continue };
        let conv = &g.nodes[ci];
        let channels = match g.ty(y).shape.get(1) {
            Some(&c) if g.ty(y).rank() == 4 => c,
            _ => continue,
        };
        let Some(kv) = g.constant(k).and_then(|t| per_channel(t, channels)) else { continue };
        let affine = match bop {
            BinaryOp::Mul => Affine::Scale(kv),
            BinaryOp::Div if kv.iter().all(|&x| x != 0.0) => Affine::Scale(kv.iter().map(|x| 1.0 / x).collect()),
            BinaryOp::Add => Affine::Shift(kv),
            BinaryOp::Sub => Affine::Shift(kv.iter().map(|x| -x).collect()),
            _ => continue,
        };
        let Some((w, bias)) = folded_params(g, conv, channels, &affine) else { continue };
        let conv_name = conv.name.clone();
        let out = node.outputs[0];
        let wid = g.add_const(&format!("{conv_name}.weight"), w);
        let bid = g.add_const(&format!("{conv_name}.bias"), bias);
        let conv = &mut g.nodes[ci];
        conv.inputs.truncate(1);
        conv.inputs.push(wid);
        conv.inputs.push(bid);
        conv.outputs[0] = out;
        g.nodes.remove(ni);
        return Ok(true);
    }
    Ok(false)
}

fn is_conv(op: &Op) -> bool {
    matches!(op, Op::Conv(c) if c.layout == edgeport_ir::Layout::Nchw)
        || matches!(op, Op::ConvTranspose(c) if c.group == 1 && c.layout == edgeport_ir::Layout::Nchw)
}

/// New (weight, bias) for `conv` with `affine` applied to its output channels.
fn folded_params(g: &Graph, conv: &edgeport_ir::Node, channels: usize, affine: &Affine) -> Option<(Tensor, Tensor)> {
    let w = g.constant(*conv.inputs.get(1)?)?;
    let mut wv = w.as_f32()?.to_vec();
    let mut bv = match conv.inputs.get(2) {
        Some(&b) => g.constant(b)?.as_f32()?.to_vec(),
        None => vec![0.0; channels],
    };
    if bv.len() != channels {
        return None;
    }
    match affine {
        Affine::Scale(s) => {
            let shape = w.shape();
            match conv.op {
                // Conv weight [O, I/g, kh, kw]: output channel is axis 0.
                Op::Conv(_) => {
                    let per = wv.len() / channels;
                    for (i, x) in wv.iter_mut().enumerate() {
                        *x *= s[i / per];
                    }
                }
                // ConvTranspose weight [I, O, kh, kw] (group 1): output channel is axis 1.
                _ => {
                    let inner = shape[2] * shape[3];
                    for (i, x) in wv.iter_mut().enumerate() {
                        *x *= s[(i / inner) % channels];
                    }
                }
            }
            bv.iter_mut().zip(s).for_each(|(b, s)| *b *= s);
        }
        Affine::Shift(t) => bv.iter_mut().zip(t).for_each(|(b, t)| *b += t),
    }
    Some((Tensor::from_f32(w.shape().to_vec(), wv).ok()?, Tensor::from_f32(vec![channels], bv).ok()?))
}
