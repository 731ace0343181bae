//! `reshape` (target shape as an int32 vector), `squeeze` and `expand_dims` (axes) (iOS15).

use crate::Target;
use crate::mil::{Mil, OpDef, R, Var, invalid};

use super::i32s;

pub(crate) const RESHAPE: OpDef = OpDef {
    name: "reshape",
    since: Target::Ios15,
};
pub(crate) const SQUEEZE: OpDef = OpDef {
    name: "squeeze",
    since: Target::Ios15,
};
pub(crate) const EXPAND_DIMS: OpDef = OpDef {
    name: "expand_dims",
    since: Target::Ios15,
};

pub(crate) fn reshape(mil: &mut Mil, out: &str, x: &Var, shape: &[usize]) -> R<Var> {
    if shape.iter().product::<usize>() != x.shape.iter().product::<usize>() {
        return Err(invalid(format!(
            "reshape '{out}': {:?} -> {shape:?}",
            x.shape
        )));
    }
    mil.op(RESHAPE, out)
        .x("x", x)
        .ints("shape", &i32s(shape)?)
        .out(out, x.dtype, shape)
}

/// Remove the unit axes `axes` (sorted) of x.
pub(crate) fn squeeze(mil: &mut Mil, out: &str, x: &Var, axes: &[usize]) -> R<Var> {
    if axes.iter().any(|&a| x.shape.get(a) != Some(&1)) {
        return Err(invalid(format!(
            "squeeze '{out}': axes {axes:?} of {:?} are not all 1",
            x.shape
        )));
    }
    let shape: Vec<usize> = x
        .shape
        .iter()
        .enumerate()
        .filter(|(i, _)| !axes.contains(i))
        .map(|(_, &d)| d)
        .collect();
    mil.op(SQUEEZE, out)
        .x("x", x)
        .ints("axes", &i32s(axes)?)
        .out(out, x.dtype, &shape)
}

/// Insert unit axes at `axes` (sorted positions in the output).
pub(crate) fn expand_dims(mil: &mut Mil, out: &str, x: &Var, axes: &[usize]) -> R<Var> {
    let rank = x.rank() + axes.len();
    let mut src = x.shape.iter();
    let mut shape = Vec::with_capacity(rank);
    for i in 0..rank {
        if axes.contains(&i) {
            shape.push(1);
        } else {
            shape.push(
                *src.next()
                    .ok_or_else(|| invalid(format!("expand_dims '{out}': bad axes {axes:?}")))?,
            );
        }
    }
    mil.op(EXPAND_DIMS, out)
        .x("x", x)
        .ints("axes", &i32s(axes)?)
        .out(out, x.dtype, &shape)
}

/// When `long` is `short` with some unit dims inserted, the positions (in `long`) of those
/// unit dims.
pub(crate) fn unit_axes(long: &[usize], short: &[usize]) -> Option<Vec<usize>> {
    if long.len() <= short.len() {
        return None;
    }
    let mut j = 0;
    let mut axes = Vec::new();
    for (i, &d) in long.iter().enumerate() {
        if j < short.len() && d == short[j] {
            j += 1;
        } else if d == 1 {
            axes.push(i);
        } else {
            return None;
        }
    }
    (j == short.len()).then_some(axes)
}
