//! CONCATENATION along one axis, with a fused activation.

use edgeport_ir::DType;
use tract_tflite::tflite;

use super::{Act, i32c};
use crate::builder::ModelBuilder;

pub(crate) fn emit(
    b: &mut ModelBuilder,
    inputs: &[i32],
    out: i32,
    axis: usize,
    dtype: DType,
    act: Act,
) {
    let o = tflite::ConcatenationOptions::create(
        &mut b.fbb,
        &tflite::ConcatenationOptionsArgs {
            axis: i32c(axis),
            fused_activation_function: act.fb(),
        },
    );
    let version = if dtype == DType::I8 { 2 } else { 1 };
    b.op(
        tflite::BuiltinOperator::CONCATENATION,
        version,
        inputs,
        &[out],
        (
            tflite::BuiltinOptions::ConcatenationOptions,
            Some(o.as_union_value()),
        ),
    );
}
