//! `gather` (iOS15): x[..., indices, ...] along `axis`; int32 indices of any rank (negative
//! indices count from the end).

use crate::Target;
use crate::mil::{Mil, OpDef, R, Var, invalid};
use crate::proto::DataType;

use super::i32c;

pub(crate) const GATHER: OpDef = OpDef {
    name: "gather",
    since: Target::Ios15,
};

pub(crate) fn gather(mil: &mut Mil, out: &str, x: &Var, indices: &Var, axis: usize) -> R<Var> {
    if axis >= x.rank() || indices.dtype != DataType::Int32 {
        return Err(invalid(format!(
            "gather '{out}': axis {axis} of {:?}, indices {:?}",
            x.shape, indices.dtype
        )));
    }
    let mut shape = x.shape[..axis].to_vec();
    shape.extend_from_slice(&indices.shape);
    shape.extend_from_slice(&x.shape[axis + 1..]);
    mil.op(GATHER, out)
        .x("x", x)
        .x("indices", indices)
        .int("axis", i32c(axis)?)
        .out(out, x.dtype, &shape)
}
