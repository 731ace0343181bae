//! `linear` (iOS15): y = x @ weight.T + bias with const weight [D_out, D_in] and bias [D_out];
//! x of rank 1 to 3.

use crate::Target;
use crate::mil::{Mil, OpDef, R, Var, invalid};

pub(crate) const LINEAR: OpDef = OpDef {
    name: "linear",
    since: Target::Ios15,
};

/// Highest rank of `x` that `linear` accepts.
pub(crate) const MAX_RANK: usize = 3;

pub(crate) fn linear(
    mil: &mut Mil,
    out: &str,
    x: &Var,
    weight: &Var,
    bias: Option<&Var>,
) -> R<Var> {
    let (Some(&k), [n, k2]) = (x.shape.last(), weight.shape.as_slice()) else {
        return Err(invalid(format!(
            "linear '{out}' needs x of rank >= 1 and a rank-2 weight"
        )));
    };
    if k != *k2 || !(1..=MAX_RANK).contains(&x.rank()) {
        return Err(invalid(format!(
            "linear '{out}': x {:?} does not match weight {:?}",
            x.shape, weight.shape
        )));
    }
    let mut shape = x.shape.clone();
    if let Some(last) = shape.last_mut() {
        *last = *n;
    }
    let mut b = mil.op(LINEAR, out).x("x", x).x("weight", weight);
    if let Some(bias) = bias {
        b = b.x("bias", bias);
    }
    b.out(out, x.dtype, &shape)
}
