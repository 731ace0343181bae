//! DEPTHWISE_CONV_2D: input NHWC, filter [1, kH, kW, C*M], bias [C*M].

use tract_tflite::tflite;

use super::{Act, Padding, i32c};
use crate::builder::ModelBuilder;

pub(crate) struct DepthwiseConv2d {
    pub padding: Padding,
    pub stride: [usize; 2],
    pub dilation: [usize; 2],
    pub depth_multiplier: usize,
    pub act: Act,
}

pub(crate) fn emit(
    b: &mut ModelBuilder,
    x: i32,
    filter: i32,
    bias: i32,
    out: i32,
    p: &DepthwiseConv2d,
) {
    let opts = tflite::DepthwiseConv2DOptions::create(
        &mut b.fbb,
        &tflite::DepthwiseConv2DOptionsArgs {
            padding: p.padding.fb(),
            stride_h: i32c(p.stride[0]),
            stride_w: i32c(p.stride[1]),
            depth_multiplier: i32c(p.depth_multiplier),
            dilation_h_factor: i32c(p.dilation[0]),
            dilation_w_factor: i32c(p.dilation[1]),
            fused_activation_function: p.act.fb(),
        },
    );
    // Dilation needs version 2.
    let version = if p.dilation != [1, 1] { 2 } else { 1 };
    b.op(
        tflite::BuiltinOperator::DEPTHWISE_CONV_2D,
        version,
        &[x, filter, bias],
        &[out],
        (
            tflite::BuiltinOptions::DepthwiseConv2DOptions,
            Some(opts.as_union_value()),
        ),
    );
}
