//! TRANSPOSE_CONV: inputs (output_shape int32 [4], filter OHWI, input NHWC, optional bias [O]).

use tract_tflite::tflite;

use super::{Act, Padding, i32c};
use crate::builder::ModelBuilder;

pub(crate) struct TransposeConv {
    pub padding: Padding,
    pub stride: [usize; 2],
    pub act: Act,
}

pub(crate) fn emit(
    b: &mut ModelBuilder,
    output_shape: i32,
    filter: i32,
    x: i32,
    bias: Option<i32>,
    out: i32,
    p: &TransposeConv,
) {
    let opts = tflite::TransposeConvOptions::create(
        &mut b.fbb,
        &tflite::TransposeConvOptionsArgs {
            padding: p.padding.fb(),
            stride_h: i32c(p.stride[0]),
            stride_w: i32c(p.stride[1]),
            fused_activation_function: p.act.fb(),
        },
    );
    // Fused activation needs version 4, a bias input version 3.
    let version = if p.act != Act::None {
        4
    } else if bias.is_some() {
        3
    } else {
        1
    };
    let mut inputs = vec![output_shape, filter, x];
    inputs.extend(bias);
    b.op(
        tflite::BuiltinOperator::TRANSPOSE_CONV,
        version,
        &inputs,
        &[out],
        (
            tflite::BuiltinOptions::TransposeConvOptions,
            Some(opts.as_union_value()),
        ),
    );
}
