//! `conv_transpose` (iOS15): weight [C_in, C_out/groups, kH, kW] (ONNX's layout), const weight
//! and bias; `pad` [top, bottom, left, right] crops the full output
//! (D_in - 1) * stride + (K - 1) * dilation + 1.

use crate::Target;
use crate::mil::{Mil, OpDef, R, Var, invalid};

use super::{i32c, i32s};

pub(crate) const CONV_TRANSPOSE: OpDef = OpDef {
    name: "conv_transpose",
    since: Target::Ios15,
};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ConvTransposeParams {
    pub strides: [usize; 2],
    pub dilations: [usize; 2],
    /// [top, bottom, left, right]
    pub pad: [usize; 4],
    pub groups: usize,
}

pub(crate) fn conv_transpose(
    mil: &mut Mil,
    out: &str,
    x: &Var,
    w: &Var,
    bias: Option<&Var>,
    p: &ConvTransposeParams,
) -> R<Var> {
    if x.rank() != 4 || w.rank() != 4 {
        return Err(invalid(format!(
            "conv_transpose '{out}' needs rank-4 input and weight"
        )));
    }
    let full = |i: usize, k: usize, s: usize, d: usize| (i.max(1) - 1) * s + (k.max(1) - 1) * d + 1;
    let [pt, pb, pl, pr] = p.pad;
    let fh = full(x.shape[2], w.shape[2], p.strides[0], p.dilations[0]);
    let fw = full(x.shape[3], w.shape[3], p.strides[1], p.dilations[1]);
    let (Some(oh), Some(ow)) = (
        fh.checked_sub(pt + pb).filter(|&d| d > 0),
        fw.checked_sub(pl + pr).filter(|&d| d > 0),
    ) else {
        return Err(invalid(format!(
            "conv_transpose '{out}': pads leave an empty output"
        )));
    };
    let shape = [x.shape[0], w.shape[1] * p.groups, oh, ow];
    let mut b = mil.op(CONV_TRANSPOSE, out).x("x", x).x("weight", w);
    if let Some(bias) = bias {
        b = b.x("bias", bias);
    }
    b.string("pad_type", "custom")
        .ints("pad", &i32s(&p.pad)?)
        .ints("strides", &i32s(&p.strides)?)
        .ints("dilations", &i32s(&p.dilations)?)
        .int("groups", i32c(p.groups)?)
        .out(out, x.dtype, &shape)
}
