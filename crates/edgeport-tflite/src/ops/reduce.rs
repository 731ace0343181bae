//! Reductions MEAN, SUM, REDUCE_MAX, REDUCE_MIN, REDUCE_PROD: inputs (x, axes int32), keep_dims.

use tract_tflite::tflite;

use super::i32c;
use crate::TfliteError;
use crate::builder::ModelBuilder;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Reducer {
    Mean,
    Sum,
    Max,
    Min,
    Prod,
}

pub(crate) fn emit(
    b: &mut ModelBuilder,
    name: &str,
    op: Reducer,
    x: i32,
    out: i32,
    axes: &[usize],
    keep_dims: bool,
) -> Result<(), TfliteError> {
    let axes_t = b.vec_i32(
        &format!("{name}/axes"),
        axes.iter().map(|&a| i32c(a)).collect(),
    )?;
    let o = tflite::ReducerOptions::create(&mut b.fbb, &tflite::ReducerOptionsArgs { keep_dims });
    let code = match op {
        Reducer::Mean => tflite::BuiltinOperator::MEAN,
        Reducer::Sum => tflite::BuiltinOperator::SUM,
        Reducer::Max => tflite::BuiltinOperator::REDUCE_MAX,
        Reducer::Min => tflite::BuiltinOperator::REDUCE_MIN,
        Reducer::Prod => tflite::BuiltinOperator::REDUCE_PROD,
    };
    let int8 = b
        .tensor_info(x)
        .is_some_and(|(d, _)| d == tflite::TensorType::INT8);
    let version = if int8 { 2 } else { 1 };
    b.op(
        code,
        version,
        &[x, axes_t],
        &[out],
        (
            tflite::BuiltinOptions::ReducerOptions,
            Some(o.as_union_value()),
        ),
    );
    Ok(())
}
