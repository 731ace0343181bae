//! RESHAPE: inputs (x, shape int32 [rank]) with the same shape in ReshapeOptions.new_shape.

use tract_tflite::tflite;

use super::i32c;
use crate::TfliteError;
use crate::builder::ModelBuilder;

pub(crate) fn emit(
    b: &mut ModelBuilder,
    name: &str,
    x: i32,
    out: i32,
    shape: &[usize],
) -> Result<(), TfliteError> {
    let dims: Vec<i32> = shape.iter().map(|&d| i32c(d)).collect();
    let shape_t = b.vec_i32(&format!("{name}/shape"), dims.clone())?;
    let new_shape = b.fbb.create_vector(&dims);
    let o = tflite::ReshapeOptions::create(
        &mut b.fbb,
        &tflite::ReshapeOptionsArgs {
            new_shape: Some(new_shape),
        },
    );
    b.op(
        tflite::BuiltinOperator::RESHAPE,
        1,
        &[x, shape_t],
        &[out],
        (
            tflite::BuiltinOptions::ReshapeOptions,
            Some(o.as_union_value()),
        ),
    );
    Ok(())
}
