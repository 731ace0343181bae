//! `greater_equal` (elementwise comparison with broadcasting, bool result) and `select`
//! (cond ? a : b with broadcasting) (iOS15).

use crate::Target;
use crate::mil::{Mil, OpDef, R, Var, invalid};
use crate::proto::DataType;

pub(crate) const GREATER_EQUAL: OpDef = OpDef {
    name: "greater_equal",
    since: Target::Ios15,
};
pub(crate) const SELECT: OpDef = OpDef {
    name: "select",
    since: Target::Ios15,
};

pub(crate) fn greater_equal(mil: &mut Mil, out: &str, x: &Var, y: &Var) -> R<Var> {
    let shape = edgeport_ir::ops::broadcast_shapes(&x.shape, &y.shape)
        .filter(|_| x.dtype == y.dtype)
        .ok_or_else(|| {
            invalid(format!(
                "greater_equal '{out}': {:?} vs {:?}",
                x.shape, y.shape
            ))
        })?;
    mil.op(GREATER_EQUAL, out)
        .x("x", x)
        .x("y", y)
        .out(out, DataType::Bool, &shape)
}

pub(crate) fn select(mil: &mut Mil, out: &str, cond: &Var, a: &Var, b: &Var) -> R<Var> {
    let shape = edgeport_ir::ops::broadcast_shapes(&a.shape, &b.shape)
        .and_then(|s| edgeport_ir::ops::broadcast_shapes(&cond.shape, &s))
        .filter(|_| a.dtype == b.dtype && cond.dtype == DataType::Bool)
        .ok_or_else(|| {
            invalid(format!(
                "select '{out}': cond {:?}, a {:?}, b {:?}",
                cond.shape, a.shape, b.shape
            ))
        })?;
    mil.op(SELECT, out)
        .x("cond", cond)
        .x("a", a)
        .x("b", b)
        .out(out, a.dtype, &shape)
}
