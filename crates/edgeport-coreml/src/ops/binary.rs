//! Elementwise binary ops with numpy broadcasting (iOS15): `add`, `sub`, `mul`, `real_div`,
//! `pow`, `maximum`, `minimum`. Both operands have one dtype (fp16, fp32 or int32).

use crate::Target;
use crate::mil::{Mil, OpDef, R, Var, invalid};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Binary {
    Add,
    Sub,
    Mul,
    RealDiv,
    Pow,
    Maximum,
    Minimum,
}

impl Binary {
    pub(crate) fn def(self) -> OpDef {
        let name = match self {
            Binary::Add => "add",
            Binary::Sub => "sub",
            Binary::Mul => "mul",
            Binary::RealDiv => "real_div",
            Binary::Pow => "pow",
            Binary::Maximum => "maximum",
            Binary::Minimum => "minimum",
        };
        OpDef {
            name,
            since: Target::Ios15,
        }
    }
}

pub(crate) fn binary(mil: &mut Mil, op: Binary, out: &str, x: &Var, y: &Var) -> R<Var> {
    if x.dtype != y.dtype {
        return Err(invalid(format!(
            "{} '{out}': operand dtypes differ",
            op.def().name
        )));
    }
    let shape = edgeport_ir::ops::broadcast_shapes(&x.shape, &y.shape).ok_or_else(|| {
        invalid(format!(
            "{} '{out}': cannot broadcast {:?} with {:?}",
            op.def().name,
            x.shape,
            y.shape
        ))
    })?;
    mil.op(op.def(), out)
        .x("x", x)
        .x("y", y)
        .out(out, x.dtype, &shape)
}
