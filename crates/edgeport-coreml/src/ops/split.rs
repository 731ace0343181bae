//! `split` (iOS15) with explicit `split_sizes` along `axis`; one output per size.

use crate::Target;
use crate::mil::{Mil, OpDef, R, Var, invalid};

use super::{i32c, i32s};

pub(crate) const SPLIT: OpDef = OpDef {
    name: "split",
    since: Target::Ios15,
};

pub(crate) fn split(
    mil: &mut Mil,
    outs: &[String],
    x: &Var,
    axis: usize,
    sizes: &[usize],
) -> R<Vec<Var>> {
    let first = outs
        .first()
        .ok_or_else(|| invalid("split without outputs"))?;
    if sizes.len() != outs.len() || x.shape.get(axis) != Some(&sizes.iter().sum()) {
        return Err(invalid(format!(
            "split '{first}': sizes {sizes:?} for {:?}",
            x.shape
        )));
    }
    let outputs: Vec<(String, _, Vec<usize>)> = outs
        .iter()
        .zip(sizes)
        .map(|(n, &s)| {
            let mut shape = x.shape.clone();
            shape[axis] = s;
            (n.clone(), x.dtype, shape)
        })
        .collect();
    mil.op(SPLIT, first)
        .x("x", x)
        .ints("split_sizes", &i32s(sizes)?)
        .int("axis", i32c(axis)?)
        .outs(&outputs)
}
