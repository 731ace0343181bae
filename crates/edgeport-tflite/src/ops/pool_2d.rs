//! MAX_POOL_2D and AVERAGE_POOL_2D (Pool2DOptions).

use tract_tflite::tflite;

use super::{Act, Padding, i32c};
use crate::builder::ModelBuilder;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PoolOp {
    Max,
    Average,
}

pub(crate) struct Pool2d {
    pub op: PoolOp,
    pub padding: Padding,
    pub kernel: [usize; 2],
    pub stride: [usize; 2],
}

pub(crate) fn emit(b: &mut ModelBuilder, x: i32, out: i32, p: &Pool2d) {
    let opts = tflite::Pool2DOptions::create(
        &mut b.fbb,
        &tflite::Pool2DOptionsArgs {
            padding: p.padding.fb(),
            stride_h: i32c(p.stride[0]),
            stride_w: i32c(p.stride[1]),
            filter_height: i32c(p.kernel[0]),
            filter_width: i32c(p.kernel[1]),
            fused_activation_function: Act::None.fb(),
        },
    );
    let code = match p.op {
        PoolOp::Max => tflite::BuiltinOperator::MAX_POOL_2D,
        PoolOp::Average => tflite::BuiltinOperator::AVERAGE_POOL_2D,
    };
    b.op(
        code,
        1,
        &[x],
        &[out],
        (
            tflite::BuiltinOptions::Pool2DOptions,
            Some(opts.as_union_value()),
        ),
    );
}
