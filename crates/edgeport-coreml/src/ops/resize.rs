//! Spatial resizing of the last two axes (iOS15):
//! - `upsample_nearest_neighbor` with integer scale factors: out[i] = in[floor(i / scale)];
//! - `resize_bilinear` to a target size with a `sampling_mode` that fixes the sampling grid
//!   (clamped to [0, in - 1]): `STRICT_ALIGN_CORNERS` i (in-1)/(out-1), `DEFAULT` i in/out,
//!   `UNALIGN_CORNERS` (i + 0.5) in/out - 0.5.

use crate::Target;
use crate::mil::{Mil, OpDef, R, Var, invalid};

use super::i32c;

pub(crate) const UPSAMPLE_NEAREST_NEIGHBOR: OpDef = OpDef {
    name: "upsample_nearest_neighbor",
    since: Target::Ios15,
};
pub(crate) const RESIZE_BILINEAR: OpDef = OpDef {
    name: "resize_bilinear",
    since: Target::Ios15,
};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum SamplingMode {
    StrictAlignCorners,
    Default,
    UnalignCorners,
}

impl SamplingMode {
    pub(crate) const ALL: [SamplingMode; 3] = [
        SamplingMode::UnalignCorners,
        SamplingMode::StrictAlignCorners,
        SamplingMode::Default,
    ];

    pub(crate) fn name(self) -> &'static str {
        match self {
            SamplingMode::StrictAlignCorners => "STRICT_ALIGN_CORNERS",
            SamplingMode::Default => "DEFAULT",
            SamplingMode::UnalignCorners => "UNALIGN_CORNERS",
        }
    }
}

pub(crate) fn upsample_nearest(mil: &mut Mil, out: &str, x: &Var, scale: [usize; 2]) -> R<Var> {
    let r = x.rank();
    if r < 3 {
        return Err(invalid(format!(
            "upsample_nearest_neighbor '{out}' needs rank >= 3"
        )));
    }
    let mut shape = x.shape.clone();
    shape[r - 2] *= scale[0];
    shape[r - 1] *= scale[1];
    mil.op(UPSAMPLE_NEAREST_NEIGHBOR, out)
        .x("x", x)
        .int("scale_factor_height", i32c(scale[0])?)
        .int("scale_factor_width", i32c(scale[1])?)
        .out(out, x.dtype, &shape)
}

pub(crate) fn resize_bilinear(
    mil: &mut Mil,
    out: &str,
    x: &Var,
    size: [usize; 2],
    mode: SamplingMode,
) -> R<Var> {
    let r = x.rank();
    if r < 3 {
        return Err(invalid(format!("resize_bilinear '{out}' needs rank >= 3")));
    }
    let mut shape = x.shape.clone();
    shape[r - 2] = size[0];
    shape[r - 1] = size[1];
    mil.op(RESIZE_BILINEAR, out)
        .x("x", x)
        .int("target_size_height", i32c(size[0])?)
        .int("target_size_width", i32c(size[1])?)
        .string("sampling_mode", mode.name())
        .out(out, x.dtype, &shape)
}
