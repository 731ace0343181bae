//! `cast` (iOS15: to int32, fp16, fp32, bool; int8/uint8 from iOS17) and `identity`.
//! Float to integer casts truncate toward zero, as ONNX's Cast does.

use crate::Target;
use crate::mil::{Mil, OpDef, R, Var};
use crate::proto::DataType;

pub(crate) const CAST: OpDef = OpDef {
    name: "cast",
    since: Target::Ios15,
};
pub(crate) const IDENTITY: OpDef = OpDef {
    name: "identity",
    since: Target::Ios15,
};

pub(crate) fn cast(mil: &mut Mil, out: &str, x: &Var, to: DataType) -> R<Var> {
    mil.op(CAST, out)
        .x("x", x)
        .string("dtype", to.mil_name())
        .out(out, to, &x.shape)
}

pub(crate) fn identity(mil: &mut Mil, out: &str, x: &Var) -> R<Var> {
    mil.op(IDENTITY, out).x("x", x).out(out, x.dtype, &x.shape)
}
