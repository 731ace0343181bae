//! `max_pool` and `avg_pool` (iOS15) over the last two axes with custom padding
//! [top, bottom, left, right] and `ceil_mode` false (the IR resolved ONNX's ceil mode into
//! padding). `avg_pool`'s `exclude_padding_from_average` is ONNX's `!count_include_pad`.

use crate::Target;
use crate::mil::{Mil, OpDef, R, Var, invalid};

use super::conv::out_dim;
use super::i32s;

pub(crate) const MAX_POOL: OpDef = OpDef {
    name: "max_pool",
    since: Target::Ios15,
};
pub(crate) const AVG_POOL: OpDef = OpDef {
    name: "avg_pool",
    since: Target::Ios15,
};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PoolKind {
    Max,
    /// With `exclude_padding_from_average`.
    Avg {
        exclude_padding: bool,
    },
}

pub(crate) fn pool(
    mil: &mut Mil,
    out: &str,
    x: &Var,
    kind: PoolKind,
    kernel: [usize; 2],
    strides: [usize; 2],
    pad: [usize; 4],
) -> R<Var> {
    if x.rank() != 4 {
        return Err(invalid(format!("pool '{out}' needs a rank-4 input")));
    }
    let [pt, pb, pl, pr] = pad;
    let (Some(oh), Some(ow)) = (
        out_dim(x.shape[2], kernel[0], strides[0], 1, pt + pb),
        out_dim(x.shape[3], kernel[1], strides[1], 1, pl + pr),
    ) else {
        return Err(invalid(format!("pool '{out}': window does not fit")));
    };
    let shape = [x.shape[0], x.shape[1], oh, ow];
    let (def, exclude) = match kind {
        PoolKind::Max => (MAX_POOL, None),
        PoolKind::Avg { exclude_padding } => (AVG_POOL, Some(exclude_padding)),
    };
    let mut b = mil
        .op(def, out)
        .x("x", x)
        .ints("kernel_sizes", &i32s(&kernel)?)
        .ints("strides", &i32s(&strides)?)
        .string("pad_type", "custom")
        .ints("pad", &i32s(&pad)?)
        .boolean("ceil_mode", false);
    if let Some(e) = exclude {
        b = b.boolean("exclude_padding_from_average", e);
    }
    b.out(out, x.dtype, &shape)
}
