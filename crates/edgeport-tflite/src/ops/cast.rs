//! CAST between element types, and DEQUANTIZE for float16 constants widened to float32 (the
//! canonical TFLite fp16-weights pattern).

use edgeport_ir::DType;
use tract_tflite::tflite;

use crate::builder::{ModelBuilder, empty_options, tfl_dtype};

pub(crate) fn cast(b: &mut ModelBuilder, x: i32, out: i32, from: DType, to: DType) {
    let o = tflite::CastOptions::create(
        &mut b.fbb,
        &tflite::CastOptionsArgs {
            in_data_type: tfl_dtype(from),
            out_data_type: tfl_dtype(to),
        },
    );
    let any = |d: DType| from == d || to == d;
    let version = if any(DType::F16) {
        5
    } else if any(DType::I8) {
        3
    } else {
        1
    };
    b.op(
        tflite::BuiltinOperator::CAST,
        version,
        &[x],
        &[out],
        (
            tflite::BuiltinOptions::CastOptions,
            Some(o.as_union_value()),
        ),
    );
}

pub(crate) fn dequantize_f16(b: &mut ModelBuilder, x: i32, out: i32) {
    let options = empty_options(&mut b.fbb, tflite::BuiltinOptions::DequantizeOptions);
    b.op(
        tflite::BuiltinOperator::DEQUANTIZE,
        3,
        &[x],
        &[out],
        options,
    );
}

/// QUANTIZE: float32 `x` to the int8 tensor `out` (its parameters are on the tensor).
pub(crate) fn quantize_int8(b: &mut ModelBuilder, x: i32, out: i32) {
    let options = empty_options(&mut b.fbb, tflite::BuiltinOptions::QuantizeOptions);
    b.op(tflite::BuiltinOperator::QUANTIZE, 2, &[x], &[out], options);
}

/// DEQUANTIZE: the int8 tensor `x` to float32 `out`.
pub(crate) fn dequantize_int8(b: &mut ModelBuilder, x: i32, out: i32) {
    let options = empty_options(&mut b.fbb, tflite::BuiltinOptions::DequantizeOptions);
    b.op(tflite::BuiltinOperator::DEQUANTIZE, 2, &[x], &[out], options);
}
