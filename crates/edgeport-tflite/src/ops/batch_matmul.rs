//! BATCH_MATMUL: numpy-style batched matrix product with broadcasting batch dims.

use tract_tflite::tflite;

use crate::builder::ModelBuilder;

pub(crate) fn emit(b: &mut ModelBuilder, x: i32, y: i32, out: i32) {
    let opts = tflite::BatchMatMulOptions::create(
        &mut b.fbb,
        &tflite::BatchMatMulOptionsArgs {
            adj_x: false,
            adj_y: false,
            asymmetric_quantize_inputs: false,
        },
    );
    b.op(
        tflite::BuiltinOperator::BATCH_MATMUL,
        1,
        &[x, y],
        &[out],
        (
            tflite::BuiltinOptions::BatchMatMulOptions,
            Some(opts.as_union_value()),
        ),
    );
}
