//! Elementwise unary ops (iOS15): `relu`, `sigmoid`, `tanh`, `erf`, `sqrt`, `rsqrt`, `exp`,
//! `log`, `abs`, `floor`, `ceil`. `rsqrt` and `log` keep their default epsilon (1e-12 and
//! 1e-45, added to x), far below float16 resolution.

use crate::Target;
use crate::mil::{Mil, OpDef, R, Var};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Unary {
    Relu,
    Sigmoid,
    Tanh,
    Erf,
    Sqrt,
    Rsqrt,
    Exp,
    Log,
    Abs,
    Floor,
    Ceil,
}

impl Unary {
    pub(crate) fn def(self) -> OpDef {
        let name = match self {
            Unary::Relu => "relu",
            Unary::Sigmoid => "sigmoid",
            Unary::Tanh => "tanh",
            Unary::Erf => "erf",
            Unary::Sqrt => "sqrt",
            Unary::Rsqrt => "rsqrt",
            Unary::Exp => "exp",
            Unary::Log => "log",
            Unary::Abs => "abs",
            Unary::Floor => "floor",
            Unary::Ceil => "ceil",
        };
        OpDef {
            name,
            since: Target::Ios15,
        }
    }
}

pub(crate) fn unary(mil: &mut Mil, op: Unary, out: &str, x: &Var) -> R<Var> {
    mil.op(op.def(), out).x("x", x).out(out, x.dtype, &x.shape)
}
