//! `layer_norm` (iOS15): normalizes over `axes`; const gamma and beta have exactly the shape
//! x.shape[axes]; epsilon has x's dtype.

use crate::Target;
use crate::mil::{Mil, OpDef, R, Var, invalid};

use super::i32s;

pub(crate) const LAYER_NORM: OpDef = OpDef {
    name: "layer_norm",
    since: Target::Ios15,
};

pub(crate) fn layer_norm(
    mil: &mut Mil,
    out: &str,
    x: &Var,
    axes: &[usize],
    gamma: Option<&Var>,
    beta: Option<&Var>,
    epsilon: f32,
) -> R<Var> {
    let norm: Vec<usize> = axes
        .iter()
        .filter_map(|&a| x.shape.get(a).copied())
        .collect();
    for p in gamma.iter().chain(beta.iter()) {
        if p.shape != norm || p.dtype != x.dtype {
            return Err(invalid(format!(
                "layer_norm '{out}': parameter {:?} does not match {norm:?}",
                p.shape
            )));
        }
    }
    let mut b = mil.op(LAYER_NORM, out).x("x", x).ints("axes", &i32s(axes)?);
    if let Some(g) = gamma {
        b = b.x("gamma", g);
    }
    if let Some(bt) = beta {
        b = b.x("beta", bt);
    }
    b.float("epsilon", epsilon, x.dtype)
        .out(out, x.dtype, &x.shape)
}
