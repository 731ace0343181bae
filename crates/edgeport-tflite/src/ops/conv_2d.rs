//! CONV_2D: input NHWC, filter OHWI, bias [O].

use tract_tflite::tflite;

use super::{Act, Padding, i32c};
use crate::builder::ModelBuilder;

pub(crate) struct Conv2d {
    pub padding: Padding,
    /// (h, w)
    pub stride: [usize; 2],
    pub dilation: [usize; 2],
    pub act: Act,
}

pub(crate) fn emit(b: &mut ModelBuilder, x: i32, filter: i32, bias: i32, out: i32, p: &Conv2d) {
    let opts = tflite::Conv2DOptions::create(
        &mut b.fbb,
        &tflite::Conv2DOptionsArgs {
            padding: p.padding.fb(),
            stride_h: i32c(p.stride[0]),
            stride_w: i32c(p.stride[1]),
            dilation_h_factor: i32c(p.dilation[0]),
            dilation_w_factor: i32c(p.dilation[1]),
            fused_activation_function: p.act.fb(),
        },
    );
    b.op(
        tflite::BuiltinOperator::CONV_2D,
        1,
        &[x, filter, bias],
        &[out],
        (
            tflite::BuiltinOptions::Conv2DOptions,
            Some(opts.as_union_value()),
        ),
    );
}
