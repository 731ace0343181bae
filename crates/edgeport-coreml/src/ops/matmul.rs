//! `matmul` (iOS15): numpy matmul with broadcasting batch dims; rank-1 operands are promoted
//! and the inserted dim removed, as numpy does.

use crate::Target;
use crate::mil::{Mil, OpDef, R, Var, invalid};

pub(crate) const MATMUL: OpDef = OpDef {
    name: "matmul",
    since: Target::Ios15,
};

pub(crate) fn matmul(mil: &mut Mil, out: &str, x: &Var, y: &Var) -> R<Var> {
    let shape = edgeport_ir::ops::matmul_shape(&x.shape, &y.shape)
        .ok_or_else(|| invalid(format!("matmul '{out}': {:?} x {:?}", x.shape, y.shape)))?;
    mil.op(MATMUL, out)
        .x("x", x)
        .x("y", y)
        .boolean("transpose_x", false)
        .boolean("transpose_y", false)
        .out(out, x.dtype, &shape)
}
