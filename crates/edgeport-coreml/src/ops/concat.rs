//! `concat` (iOS15): a tuple of values along `axis`, `interleave` false.

use crate::Target;
use crate::mil::{Mil, OpDef, R, Var, invalid};

use super::i32c;

pub(crate) const CONCAT: OpDef = OpDef {
    name: "concat",
    since: Target::Ios15,
};

pub(crate) fn concat(mil: &mut Mil, out: &str, values: &[Var], axis: usize) -> R<Var> {
    let first = values
        .first()
        .ok_or_else(|| invalid(format!("concat '{out}' without inputs")))?;
    let mut shape = first.shape.clone();
    let total: usize = values
        .iter()
        .map(|v| v.shape.get(axis).copied().unwrap_or(0))
        .sum();
    match shape.get_mut(axis) {
        Some(d) => *d = total,
        None => return Err(invalid(format!("concat '{out}': axis {axis} out of range"))),
    }
    mil.op(CONCAT, out)
        .tuple("values", values)
        .int("axis", i32c(axis)?)
        .boolean("interleave", false)
        .out(out, first.dtype, &shape)
}
