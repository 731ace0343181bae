//! Recognition of activations that exporters emit as decomposed arithmetic:
//! exact GELU (torch's erf form) and HardSwish (x * relu6(x + 3) / 6).

use edgeport_ir::ops::{BinaryOp, UnaryOp};
use edgeport_ir::{Graph, Op, ValueId};

use crate::util::{approx, const_scalar, use_counts};
use crate::PassResult;

/// Matcher over a snapshot of producers and use counts.
struct View<'g> {
    g: &'g Graph,
    prods: Vec<Option<usize>>,
    uses: Vec<usize>,
}

impl<'g> View<'g> {
    fn new(g: &'g Graph) -> Self {
        View { g, prods: g.producers(), uses: use_counts(g) }
    }

    /// The producing node of `v` when it has exactly one use (so it can be fused away).
    fn sole(&self, v: ValueId) -> Option<&'g edgeport_ir::Node> {
        (self.uses[v.0 as usize] == 1 && !self.g.outputs.contains(&v))
            .then(|| self.prods[v.0 as usize].map(|n| &self.g.nodes[n]))
            .flatten()
    }

    /// For a binary `node` with a constant scalar operand equal to `k`, the other operand.
    fn binary_with_scalar(&self, node: &edgeport_ir::Node, op: BinaryOp, k: f32) -> Option<ValueId> {
        if node.op != Op::Binary(op) {
            return None;
        }
        let [a, b] = node.inputs[..] else { return None };
        let is_k = |v| const_scalar(self.g, v).is_some_and(|x| approx(x, k));
        let commutative = matches!(op, BinaryOp::Add | BinaryOp::Mul);
        if is_k(b) && !self.g.is_const(a) {
            Some(a)
        } else if commutative && is_k(a) && !self.g.is_const(b) {
            Some(b)
        } else {
            None
        }
    }

    /// `x / k` or `x * (1/k)`: returns x.
    fn scaled_down(&self, v: ValueId, k: f32) -> Option<ValueId> {
        let n = self.sole(v)?;
        self.binary_with_scalar(n, BinaryOp::Div, k).or_else(|| self.binary_with_scalar(n, BinaryOp::Mul, 1.0 / k))
    }
}

/// Replace node `at` by a unary op on `x` (intermediate nodes die in DCE).
fn rewrite(g: &mut Graph, at: usize, op: UnaryOp, x: ValueId) {
    let node = &mut g.nodes[at];
    node.op = Op::Unary(op);
    node.inputs = vec![x];
}

/// `0.5 * x * (1 + erf(x / sqrt 2))`, in the operand orders exporters produce.
pub fn fuse_gelu(g: &mut Graph) -> PassResult<()> {
    loop {
        let found = {
            let v = View::new(g);
            g.nodes.iter().enumerate().find_map(|(i, n)| match_gelu(&v, n).map(|x| (i, x)))
        };
        let Some((at, x)) = found else { break };
        rewrite(g, at, UnaryOp::Gelu, x);
        g.remove_dead();
    }
    Ok(())
}

fn match_gelu(v: &View, end: &edgeport_ir::Node) -> Option<ValueId> {
    let erf_plus_one = |a: ValueId| -> Option<ValueId> {
        let add = v.sole(a)?;
        let e = v.binary_with_scalar(add, BinaryOp::Add, 1.0)?;
        let erf = v.sole(e)?;
        if erf.op != Op::Unary(UnaryOp::Erf) {
            return None;
        }
        v.scaled_down(erf.inputs[0], std::f32::consts::SQRT_2)
    };
    // Form 1: (x * (1 + erf(x/√2))) * 0.5
    if let Some(m) = v.binary_with_scalar(end, BinaryOp::Mul, 0.5) {
        let mul = v.sole(m)?;
        if let [a, b] = mul.inputs[..] {
            for (x, t) in [(a, b), (b, a)] {
                if erf_plus_one(t) == Some(x) {
                    return Some(x);
                }
            }
        }
        return None;
    }
    // Form 2: (x * 0.5) * (1 + erf(x/√2))
    if end.op == Op::Binary(BinaryOp::Mul) {
        if let [a, b] = end.inputs[..] {
            for (h, t) in [(a, b), (b, a)] {
                let half = v.sole(h).and_then(|n| v.binary_with_scalar(n, BinaryOp::Mul, 0.5));
                if let Some(x) = half {
                    if erf_plus_one(t) == Some(x) {
                        return Some(x);
                    }
                }
            }
        }
    }
    None
}

/// `x * clip(x + 3, 0, 6) / 6`, `x * (clip(x + 3, 0, 6) / 6)` and `x * hard_sigmoid(x)` with
/// the HardSwish constants.
pub fn fuse_hardswish(g: &mut Graph) -> PassResult<()> {
    loop {
        let found = {
            let v = View::new(g);
            g.nodes.iter().enumerate().find_map(|(i, n)| match_hardswish(&v, n).map(|x| (i, x)))
        };
        let Some((at, x)) = found else { break };
        rewrite(g, at, UnaryOp::HardSwish, x);
        g.remove_dead();
    }
    Ok(())
}

/// `relu6(x + 3)`: returns x.
fn relu6_plus_3(v: &View, c: ValueId) -> Option<ValueId> {
    let clip = v.sole(c)?;
    if !matches!(clip.op, Op::Clip { min, max } if min == 0.0 && max == 6.0) {
        return None;
    }
    let add = v.sole(clip.inputs[0])?;
    v.binary_with_scalar(add, BinaryOp::Add, 3.0)
}

/// `hard_sigmoid(x)` = relu6(x + 3) / 6 in either spelling: returns x.
fn hard_sigmoid_of(v: &View, s: ValueId) -> Option<ValueId> {
    let n = v.sole(s)?;
    if let Op::HardSigmoid { alpha, beta } = n.op {
        return (approx(alpha, 1.0 / 6.0) && approx(beta, 0.5)).then_some(n.inputs[0]);
    }
    let c = v.binary_with_scalar(n, BinaryOp::Div, 6.0).or_else(|| v.binary_with_scalar(n, BinaryOp::Mul, 1.0 / 6.0))?;
    relu6_plus_3(v, c)
}

fn match_hardswish(v: &View, end: &edgeport_ir::Node) -> Option<ValueId> {
    // x * hard_sigmoid(x)
    if end.op == Op::Binary(BinaryOp::Mul) {
        if let [a, b] = end.inputs[..] {
            for (x, s) in [(a, b), (b, a)] {
                if hard_sigmoid_of(v, s) == Some(x) {
                    return Some(x);
                }
            }
        }
    }
    // (x * relu6(x + 3)) / 6
    let m = v.binary_with_scalar(end, BinaryOp::Div, 6.0).or_else(|| v.binary_with_scalar(end, BinaryOp::Mul, 1.0 / 6.0))?;
    let mul = v.sole(m)?;
    if let [a, b] = mul.inputs[..] {
        for (x, c) in [(a, b), (b, a)] {
            if relu6_plus_3(v, c) == Some(x) {
                return Some(x);
            }
        }
    }
    None
}
