//! Constant rewrites done at export time: weight layout changes, group slices, dilation.

use edgeport_ir::ops::Slice;
use edgeport_ir::{DType, Tensor, eval};

use crate::TfliteError;

fn ir(e: edgeport_ir::IrError) -> TfliteError {
    TfliteError::Invalid(e.to_string())
}

/// `t` permuted by `perm`, as float32.
pub(crate) fn permute_f32(t: &Tensor, perm: &[usize]) -> Result<Tensor, TfliteError> {
    let p = eval::transpose(t, perm).map_err(ir)?;
    Ok(if p.dtype() == DType::F32 {
        p
    } else {
        p.cast(DType::F32)
    })
}

/// Rows `start..end` of axis `axis`.
pub(crate) fn slice_axis(
    t: &Tensor,
    axis: usize,
    start: usize,
    end: usize,
) -> Result<Tensor, TfliteError> {
    let mut shape = t.shape().to_vec();
    if axis >= shape.len() || end > shape[axis] || start > end {
        return Err(TfliteError::Invalid(format!(
            "slice {start}..{end} of axis {axis} out of range for {shape:?}"
        )));
    }
    shape[axis] = end - start;
    let s = Slice {
        axes: vec![axis],
        starts: vec![start as i64],
        ends: vec![end as i64],
        steps: vec![1],
    };
    eval::slice(t, &s, &shape).map_err(ir)
}

/// A kernel [A, B, kH, kW] with `dilation - 1` zeros inserted between taps, so that a
/// dilation-free op computes the dilated one.
pub(crate) fn dilate_kernel(t: &Tensor, dilation: [usize; 2]) -> Result<Tensor, TfliteError> {
    let s = t.shape();
    if s.len() != 4 || dilation.contains(&0) {
        return Err(TfliteError::Invalid(format!(
            "cannot dilate kernel {s:?} by {dilation:?}"
        )));
    }
    if dilation == [1, 1] {
        return Ok(t.clone());
    }
    let (a, b, kh, kw) = (s[0], s[1], s[2], s[3]);
    let (eh, ew) = ((kh - 1) * dilation[0] + 1, (kw - 1) * dilation[1] + 1);
    let src = t.to_f32_vec();
    let mut out = vec![0.0f32; a * b * eh * ew];
    for i in 0..a * b {
        for y in 0..kh {
            for x in 0..kw {
                out[(i * eh + y * dilation[0]) * ew + x * dilation[1]] = src[(i * kh + y) * kw + x];
            }
        }
    }
    Tensor::from_f32(vec![a, b, eh, ew], out).map_err(ir)
}

/// True when every element of a float tensor equals `v`.
pub(crate) fn all_equal(t: &Tensor, v: f32) -> bool {
    t.to_f32_vec().iter().all(|&x| x == v)
}
