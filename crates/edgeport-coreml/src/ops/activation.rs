//! Parametric activations (iOS15): `gelu` (mode), `leaky_relu` (alpha), `prelu` (alpha [C] on
//! axis 1 of a rank 3-5 x), `sigmoid_hard` (min(max(alpha x + beta, 0), 1)) and `clip`
//! (min(max(x, alpha), beta)). Scalar parameters have x's dtype.

use crate::Target;
use crate::mil::{Mil, OpDef, R, Var, invalid};

pub(crate) const GELU: OpDef = OpDef {
    name: "gelu",
    since: Target::Ios15,
};
pub(crate) const LEAKY_RELU: OpDef = OpDef {
    name: "leaky_relu",
    since: Target::Ios15,
};
pub(crate) const PRELU: OpDef = OpDef {
    name: "prelu",
    since: Target::Ios15,
};
pub(crate) const SIGMOID_HARD: OpDef = OpDef {
    name: "sigmoid_hard",
    since: Target::Ios15,
};
pub(crate) const CLIP: OpDef = OpDef {
    name: "clip",
    since: Target::Ios15,
};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum GeluMode {
    Exact,
    TanhApproximation,
}

pub(crate) fn gelu(mil: &mut Mil, out: &str, x: &Var, mode: GeluMode) -> R<Var> {
    let mode = match mode {
        GeluMode::Exact => "EXACT",
        GeluMode::TanhApproximation => "TANH_APPROXIMATION",
    };
    mil.op(GELU, out)
        .x("x", x)
        .string("mode", mode)
        .out(out, x.dtype, &x.shape)
}

pub(crate) fn leaky_relu(mil: &mut Mil, out: &str, x: &Var, alpha: f32) -> R<Var> {
    mil.op(LEAKY_RELU, out)
        .x("x", x)
        .float("alpha", alpha, x.dtype)
        .out(out, x.dtype, &x.shape)
}

/// `alpha` must be a const of shape [C] with C = x.shape[1].
pub(crate) fn prelu(mil: &mut Mil, out: &str, x: &Var, alpha: &Var) -> R<Var> {
    if !(3..=5).contains(&x.rank()) || alpha.shape != [x.shape[1]] || alpha.dtype != x.dtype {
        return Err(invalid(format!(
            "prelu '{out}': alpha {:?} does not fit x {:?}",
            alpha.shape, x.shape
        )));
    }
    mil.op(PRELU, out)
        .x("x", x)
        .x("alpha", alpha)
        .out(out, x.dtype, &x.shape)
}

pub(crate) fn sigmoid_hard(mil: &mut Mil, out: &str, x: &Var, alpha: f32, beta: f32) -> R<Var> {
    mil.op(SIGMOID_HARD, out)
        .x("x", x)
        .float("alpha", alpha, x.dtype)
        .float("beta", beta, x.dtype)
        .out(out, x.dtype, &x.shape)
}

pub(crate) fn clip(mil: &mut Mil, out: &str, x: &Var, alpha: f32, beta: f32) -> R<Var> {
    mil.op(CLIP, out)
        .x("x", x)
        .float("alpha", alpha, x.dtype)
        .float("beta", beta, x.dtype)
        .out(out, x.dtype, &x.shape)
}
