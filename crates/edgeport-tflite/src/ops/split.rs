//! SPLIT (equal parts; inputs axis, x) and SPLIT_V (inputs x, size_splits int32, axis).

use edgeport_ir::DType;
use tract_tflite::tflite;

use super::i32c;
use crate::TfliteError;
use crate::builder::ModelBuilder;

/// Equal split into `outputs.len()` parts.
pub(crate) fn split(
    b: &mut ModelBuilder,
    name: &str,
    x: i32,
    outputs: &[i32],
    axis: usize,
    dtype: DType,
) -> Result<(), TfliteError> {
    let axis_t = b.constant(
        &format!("{name}/axis"),
        &edgeport_ir::Tensor::new(vec![], edgeport_ir::TensorData::I32(vec![i32c(axis)]))
            .map_err(|e| TfliteError::Invalid(e.to_string()))?,
    )?;
    let o = tflite::SplitOptions::create(
        &mut b.fbb,
        &tflite::SplitOptionsArgs {
            num_splits: i32c(outputs.len()),
        },
    );
    let version = match dtype {
        DType::I32 => 3,
        DType::I8 => 2,
        _ => 1,
    };
    b.op(
        tflite::BuiltinOperator::SPLIT,
        version,
        &[axis_t, x],
        outputs,
        (
            tflite::BuiltinOptions::SplitOptions,
            Some(o.as_union_value()),
        ),
    );
    Ok(())
}

/// Split into parts of the given sizes.
pub(crate) fn split_v(
    b: &mut ModelBuilder,
    name: &str,
    x: i32,
    outputs: &[i32],
    axis: usize,
    sizes: &[usize],
    dtype: DType,
) -> Result<(), TfliteError> {
    let sizes_t = b.vec_i32(
        &format!("{name}/size_splits"),
        sizes.iter().map(|&s| i32c(s)).collect(),
    )?;
    let axis_t = b.constant(
        &format!("{name}/axis"),
        &edgeport_ir::Tensor::new(vec![], edgeport_ir::TensorData::I32(vec![i32c(axis)]))
            .map_err(|e| TfliteError::Invalid(e.to_string()))?,
    )?;
    let o = tflite::SplitVOptions::create(
        &mut b.fbb,
        &tflite::SplitVOptionsArgs {
            num_splits: i32c(outputs.len()),
        },
    );
    let version = if dtype == DType::I8 { 2 } else { 1 };
    b.op(
        tflite::BuiltinOperator::SPLIT_V,
        version,
        &[x, sizes_t, axis_t],
        outputs,
        (
            tflite::BuiltinOptions::SplitVOptions,
            Some(o.as_union_value()),
        ),
    );
    Ok(())
}
