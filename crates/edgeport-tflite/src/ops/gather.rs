//! GATHER: inputs (params, indices int32/int64), options axis and batch_dims (0).

use edgeport_ir::DType;
use tract_tflite::tflite;

use super::i32c;
use crate::builder::ModelBuilder;

pub(crate) fn emit(
    b: &mut ModelBuilder,
    x: i32,
    indices: i32,
    out: i32,
    axis: usize,
    dtype: DType,
) {
    let o = tflite::GatherOptions::create(
        &mut b.fbb,
        &tflite::GatherOptionsArgs {
            axis: i32c(axis),
            batch_dims: 0,
        },
    );
    let version = match dtype {
        DType::Bool => 3,
        DType::I8 => 2,
        _ => 1,
    };
    b.op(
        tflite::BuiltinOperator::GATHER,
        version,
        &[x, indices],
        &[out],
        (
            tflite::BuiltinOptions::GatherOptions,
            Some(o.as_union_value()),
        ),
    );
}
