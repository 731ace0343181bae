//! `quantize` and `dequantize` (iOS17): an activation held as int8 between two float ops, as a
//! W8A8 program stores it (`scale * (q - zero_point)`, per tensor). Core ML fuses the pair
//! into the neighbouring ops where its hardware computes in int8.

use edgeport_ir::QuantParams;

use crate::Target;
use crate::mil::{Mil, OpDef, R, Var};
use crate::proto::DataType;

pub(crate) const QUANTIZE: OpDef = OpDef {
    name: "quantize",
    since: Target::Ios17,
};
pub(crate) const DEQUANTIZE: OpDef = OpDef {
    name: "dequantize",
    since: Target::Ios17,
};

/// `x` quantized to int8 under `int8_name`, then read back in `x`'s float type as `out`.
pub(crate) fn round_trip(mil: &mut Mil, x: &Var, q: QuantParams, int8_name: &str, out: &str) -> R<Var> {
    let stored = mil
        .op(QUANTIZE, int8_name)
        .x("input", x)
        .float("scale", q.scale, x.dtype)
        .int8("zero_point", q.zero_point)
        .string("output_dtype", "int8")
        .out(int8_name, DataType::Int8, &x.shape)?;
    mil.op(DEQUANTIZE, out)
        .x("input", &stored)
        .float("scale", q.scale, x.dtype)
        .int8("zero_point", q.zero_point)
        .out(out, x.dtype, &x.shape)
}
