//! SOFTMAX over the last axis, beta 1.

use tract_tflite::tflite;

use crate::builder::ModelBuilder;

pub(crate) fn emit(b: &mut ModelBuilder, x: i32, out: i32) {
    let o = tflite::SoftmaxOptions::create(&mut b.fbb, &tflite::SoftmaxOptionsArgs { beta: 1.0 });
    b.op(
        tflite::BuiltinOperator::SOFTMAX,
        1,
        &[x],
        &[out],
        (
            tflite::BuiltinOptions::SoftmaxOptions,
            Some(o.as_union_value()),
        ),
    );
}
