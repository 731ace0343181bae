//! TRANSPOSE: inputs (x, perm int32 [rank]).

use edgeport_ir::DType;
use tract_tflite::tflite;

use super::i32c;
use crate::TfliteError;
use crate::builder::{ModelBuilder, empty_options};

pub(crate) fn emit(
    b: &mut ModelBuilder,
    name: &str,
    x: i32,
    out: i32,
    perm: &[usize],
    dtype: DType,
) -> Result<(), TfliteError> {
    let perm_t = b.vec_i32(
        &format!("{name}/perm"),
        perm.iter().map(|&p| i32c(p)).collect(),
    )?;
    let version = if perm.len() > 5 {
        6
    } else if perm.len() > 4 {
        4
    } else if dtype == DType::Bool {
        3
    } else if dtype == DType::I8 {
        2
    } else {
        1
    };
    let options = empty_options(&mut b.fbb, tflite::BuiltinOptions::TransposeOptions);
    b.op(
        tflite::BuiltinOperator::TRANSPOSE,
        version,
        &[x, perm_t],
        &[out],
        options,
    );
    Ok(())
}
