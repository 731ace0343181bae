//! One file per emitted MIL op (or tight family). Each knows the op's parameter names and
//! types (as MIL's op definitions spell them), computes the output shape the way MIL's type
//! inference does, and declares the first deployment target whose opset has the op.
//!
//! Parameter-type rule kept everywhere: float parameters (alpha, beta, epsilon, constant_val,
//! weights) have the dtype of the op's `x` (iOS15/16 opsets require one `T` for all of them).

pub(crate) mod activation;
pub(crate) mod binary;
pub(crate) mod cast;
pub(crate) mod concat;
pub(crate) mod conv;
pub(crate) mod conv_transpose;
pub(crate) mod gather;
pub(crate) mod layer_norm;
pub(crate) mod linear;
pub(crate) mod matmul;
pub(crate) mod pad;
pub(crate) mod pool;
pub(crate) mod quantize;
pub(crate) mod reduce;
pub(crate) mod reshape;
pub(crate) mod resize;
pub(crate) mod select;
pub(crate) mod slice_by_index;
pub(crate) mod softmax;
pub(crate) mod split;
pub(crate) mod transpose;
pub(crate) mod unary;

use crate::mil::{R, invalid};

/// usize attribute -> int32 parameter (IR limits keep dims far below i32::MAX).
pub(crate) fn i32c(v: usize) -> R<i32> {
    i32::try_from(v).map_err(|_| invalid(format!("value {v} does not fit an int32 parameter")))
}

pub(crate) fn i32s(v: &[usize]) -> R<Vec<i32>> {
    v.iter().map(|&x| i32c(x)).collect()
}
