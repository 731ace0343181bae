//! FULLY_CONNECTED: inputs (x [..., K], weights [N, K], bias [N] or -1). Hybrid (int8
//! weights, float32 input) quantizes each input row asymmetrically as it runs.

use tract_tflite::tflite;

use super::Act;
use crate::builder::{ModelBuilder, NO_INPUT};

pub(crate) fn emit(
    b: &mut ModelBuilder,
    x: i32,
    weights: i32,
    bias: Option<i32>,
    out: i32,
    keep_num_dims: bool,
    act: Act,
    asymmetric_quantize_inputs: bool,
) {
    let opts = tflite::FullyConnectedOptions::create(
        &mut b.fbb,
        &tflite::FullyConnectedOptionsArgs {
            fused_activation_function: act.fb(),
            weights_format: tflite::FullyConnectedOptionsWeightsFormat::DEFAULT,
            keep_num_dims,
            asymmetric_quantize_inputs,
        },
    );
    // A missing bias is passed as the optional input -1 (three inputs, so no version 6 needed);
    // keep_num_dims needs version 5, asymmetric_quantize_inputs (hybrid) version 9.
    let version = if asymmetric_quantize_inputs {
        9
    } else if keep_num_dims {
        5
    } else {
        1
    };
    b.op(
        tflite::BuiltinOperator::FULLY_CONNECTED,
        version,
        &[x, weights, bias.unwrap_or(NO_INPUT)],
        &[out],
        (
            tflite::BuiltinOptions::FullyConnectedOptions,
            Some(opts.as_union_value()),
        ),
    );
}
