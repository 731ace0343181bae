//! `transpose` (iOS15): output axis i is input axis perm[i].

use crate::Target;
use crate::mil::{Mil, OpDef, R, Var, invalid};

use super::i32s;

pub(crate) const TRANSPOSE: OpDef = OpDef {
    name: "transpose",
    since: Target::Ios15,
};

pub(crate) fn transpose(mil: &mut Mil, out: &str, x: &Var, perm: &[usize]) -> R<Var> {
    let shape = perm
        .iter()
        .map(|&p| x.shape.get(p).copied())
        .collect::<Option<Vec<usize>>>()
        .filter(|s| s.len() == x.rank())
        .ok_or_else(|| {
            invalid(format!(
                "transpose '{out}': perm {perm:?} for rank {}",
                x.rank()
            ))
        })?;
    mil.op(TRANSPOSE, out)
        .x("x", x)
        .ints("perm", &i32s(perm)?)
        .out(out, x.dtype, &shape)
}
