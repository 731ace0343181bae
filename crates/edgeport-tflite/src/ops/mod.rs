//! One file per emitted TFLite builtin (or tight family): each builds the op's options table
//! and picks the operator version the features it uses need (per TFLite's op versioning rules).

pub(crate) mod activation;
pub(crate) mod arithmetic;
pub(crate) mod batch_matmul;
pub(crate) mod cast;
pub(crate) mod concatenation;
pub(crate) mod conv_2d;
pub(crate) mod depthwise_conv_2d;
pub(crate) mod fully_connected;
pub(crate) mod gather;
pub(crate) mod pad;
pub(crate) mod pool_2d;
pub(crate) mod reduce;
pub(crate) mod reshape;
pub(crate) mod resize;
pub(crate) mod slice;
pub(crate) mod softmax;
pub(crate) mod split;
pub(crate) mod transpose;
pub(crate) mod transpose_conv;
pub(crate) mod unary_math;

use tract_tflite::tflite;

/// A fused activation that TFLite ops with `fused_activation_function` can absorb.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Act {
    None,
    Relu,
    Relu6,
    ReluN1To1,
}

impl Act {
    pub(crate) fn fb(self) -> tflite::ActivationFunctionType {
        match self {
            Act::None => tflite::ActivationFunctionType::NONE,
            Act::Relu => tflite::ActivationFunctionType::RELU,
            Act::Relu6 => tflite::ActivationFunctionType::RELU6,
            Act::ReluN1To1 => tflite::ActivationFunctionType::RELU_N1_TO_1,
        }
    }
}

/// TFLite's two padding schemes for windowed ops.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Padding {
    Same,
    Valid,
}

impl Padding {
    pub(crate) fn fb(self) -> tflite::Padding {
        match self {
            Padding::Same => tflite::Padding::SAME,
            Padding::Valid => tflite::Padding::VALID,
        }
    }
}

/// usize attribute to the int32 the schema wants (attributes are small; saturate if not).
pub(crate) fn i32c(v: usize) -> i32 {
    i32::try_from(v).unwrap_or(i32::MAX)
}
