//! SLICE (inputs x, begin, size) and STRIDED_SLICE (inputs x, begin, end, strides; masks).

use edgeport_ir::DType;
use tract_tflite::tflite;

use crate::TfliteError;
use crate::builder::{ModelBuilder, empty_options};

/// Unit-step slice of `size` elements from `begin` on every axis.
pub(crate) fn slice(
    b: &mut ModelBuilder,
    name: &str,
    x: i32,
    out: i32,
    begin: Vec<i32>,
    size: Vec<i32>,
    dtype: DType,
) -> Result<(), TfliteError> {
    let rank = begin.len();
    let begin_t = b.vec_i32(&format!("{name}/begin"), begin)?;
    let size_t = b.vec_i32(&format!("{name}/size"), size)?;
    let version = if rank > 4 {
        5
    } else if dtype == DType::I8 {
        2
    } else {
        1
    };
    let options = empty_options(&mut b.fbb, tflite::BuiltinOptions::SliceOptions);
    b.op(
        tflite::BuiltinOperator::SLICE,
        version,
        &[x, begin_t, size_t],
        &[out],
        options,
    );
    Ok(())
}

pub(crate) struct StridedSlice {
    pub begin: Vec<i32>,
    pub end: Vec<i32>,
    pub strides: Vec<i32>,
    /// Bit i set: ignore `begin[i]` and start from the first element in the stride direction.
    pub begin_mask: i32,
    /// Bit i set: ignore `end[i]` and run to the last element in the stride direction.
    pub end_mask: i32,
}

pub(crate) fn strided_slice(
    b: &mut ModelBuilder,
    name: &str,
    x: i32,
    out: i32,
    s: StridedSlice,
    dtype: DType,
) -> Result<(), TfliteError> {
    let rank = s.begin.len();
    let begin_t = b.vec_i32(&format!("{name}/begin"), s.begin)?;
    let end_t = b.vec_i32(&format!("{name}/end"), s.end)?;
    let strides_t = b.vec_i32(&format!("{name}/strides"), s.strides)?;
    let o = tflite::StridedSliceOptions::create(
        &mut b.fbb,
        &tflite::StridedSliceOptionsArgs {
            begin_mask: s.begin_mask,
            end_mask: s.end_mask,
            ellipsis_mask: 0,
            new_axis_mask: 0,
            shrink_axis_mask: 0,
        },
    );
    let version = if rank > 4 {
        4
    } else if dtype == DType::Bool {
        3
    } else if dtype == DType::I8 {
        2
    } else {
        1
    };
    b.op(
        tflite::BuiltinOperator::STRIDED_SLICE,
        version,
        &[x, begin_t, end_t, strides_t],
        &[out],
        (
            tflite::BuiltinOptions::StridedSliceOptions,
            Some(o.as_union_value()),
        ),
    );
    Ok(())
}
