//! Activations: RELU, RELU6, RELU_N1_TO_1, RELU_0_TO_1, LOGISTIC, TANH, HARD_SWISH,
//! LEAKY_RELU (alpha), GELU (approximate), PRELU (x, alpha).

use tract_tflite::tflite;

use crate::builder::{ModelBuilder, NO_OPTIONS, empty_options};

#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Activation {
    Relu,
    Relu6,
    ReluN1To1,
    Relu0To1,
    Logistic,
    Tanh,
    HardSwish,
    LeakyRelu { alpha: f32 },
    Gelu { approximate: bool },
}

pub(crate) fn emit(b: &mut ModelBuilder, a: Activation, x: i32, out: i32) {
    let (code, options) = match a {
        Activation::Relu => (tflite::BuiltinOperator::RELU, NO_OPTIONS),
        Activation::Relu6 => (tflite::BuiltinOperator::RELU6, NO_OPTIONS),
        Activation::ReluN1To1 => (tflite::BuiltinOperator::RELU_N1_TO_1, NO_OPTIONS),
        Activation::Relu0To1 => (tflite::BuiltinOperator::RELU_0_TO_1, NO_OPTIONS),
        Activation::Logistic => (tflite::BuiltinOperator::LOGISTIC, NO_OPTIONS),
        Activation::Tanh => (tflite::BuiltinOperator::TANH, NO_OPTIONS),
        Activation::HardSwish => (
            tflite::BuiltinOperator::HARD_SWISH,
            empty_options(&mut b.fbb, tflite::BuiltinOptions::HardSwishOptions),
        ),
        Activation::LeakyRelu { alpha } => {
            let o = tflite::LeakyReluOptions::create(
                &mut b.fbb,
                &tflite::LeakyReluOptionsArgs { alpha },
            );
            (
                tflite::BuiltinOperator::LEAKY_RELU,
                (
                    tflite::BuiltinOptions::LeakyReluOptions,
                    Some(o.as_union_value()),
                ),
            )
        }
        Activation::Gelu { approximate } => {
            let o =
                tflite::GeluOptions::create(&mut b.fbb, &tflite::GeluOptionsArgs { approximate });
            (
                tflite::BuiltinOperator::GELU,
                (
                    tflite::BuiltinOptions::GeluOptions,
                    Some(o.as_union_value()),
                ),
            )
        }
    };
    b.op(code, 1, &[x], &[out], options);
}

/// PRELU: y = x < 0 ? alpha * x : x, alpha broadcast to x.
pub(crate) fn prelu(b: &mut ModelBuilder, x: i32, alpha: i32, out: i32) {
    b.op(
        tflite::BuiltinOperator::PRELU,
        1,
        &[x, alpha],
        &[out],
        NO_OPTIONS,
    );
}
