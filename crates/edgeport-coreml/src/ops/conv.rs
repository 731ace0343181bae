//! `conv` (iOS15): 2-D convolution, NCHW, weight [C_out, C_in/groups, kH, kW] (ONNX's layout).

use crate::Target;
use crate::mil::{Mil, OpDef, R, Var, invalid};

use super::{i32c, i32s};

pub(crate) const CONV: OpDef = OpDef {
    name: "conv",
    since: Target::Ios15,
};

/// Window geometry; `pad` is MIL's order: [top, bottom, left, right].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ConvParams {
    pub strides: [usize; 2],
    pub dilations: [usize; 2],
    pub pad: [usize; 4],
    pub groups: usize,
}

/// Output extent of one spatial axis.
pub(crate) fn out_dim(
    input: usize,
    k: usize,
    stride: usize,
    dilation: usize,
    pad: usize,
) -> Option<usize> {
    let span = dilation.checked_mul(k.checked_sub(1)?)?.checked_add(1)?;
    let padded = input.checked_add(pad)?;
    (padded >= span && stride > 0).then(|| (padded - span) / stride + 1)
}

pub(crate) fn conv(
    mil: &mut Mil,
    out: &str,
    x: &Var,
    w: &Var,
    bias: Option<&Var>,
    p: &ConvParams,
) -> R<Var> {
    if x.rank() != 4 || w.rank() != 4 {
        return Err(invalid(format!(
            "conv '{out}' needs rank-4 input and weight"
        )));
    }
    let [pt, pb, pl, pr] = p.pad;
    let oh = out_dim(
        x.shape[2],
        w.shape[2],
        p.strides[0],
        p.dilations[0],
        pt + pb,
    );
    let ow = out_dim(
        x.shape[3],
        w.shape[3],
        p.strides[1],
        p.dilations[1],
        pl + pr,
    );
    let (Some(oh), Some(ow)) = (oh, ow) else {
        return Err(invalid(format!("conv '{out}': window does not fit")));
    };
    let shape = [x.shape[0], w.shape[0], oh, ow];
    let mut b = mil.op(CONV, out).x("x", x).x("weight", w);
    if let Some(bias) = bias {
        b = b.x("bias", bias);
    }
    b.ints("strides", &i32s(&p.strides)?)
        .string("pad_type", "custom")
        .ints("pad", &i32s(&p.pad)?)
        .ints("dilations", &i32s(&p.dilations)?)
        .int("groups", i32c(p.groups)?)
        .out(out, x.dtype, &shape)
}
