//! `softmax` (iOS15) along one axis.

use crate::Target;
use crate::mil::{Mil, OpDef, R, Var};

use super::i32c;

pub(crate) const SOFTMAX: OpDef = OpDef {
    name: "softmax",
    since: Target::Ios15,
};

pub(crate) fn softmax(mil: &mut Mil, out: &str, x: &Var, axis: usize) -> R<Var> {
    mil.op(SOFTMAX, out)
        .x("x", x)
        .int("axis", i32c(axis)?)
        .out(out, x.dtype, &x.shape)
}
