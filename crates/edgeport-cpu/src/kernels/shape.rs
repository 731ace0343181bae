//! Data movement: strided views (transpose, slice), concat, split, gather, pad, cast.

use edgeport_ir::ops::{Pad, PadMode, Slice};
use edgeport_ir::tensor::{f16_bits_to_f32, f32_to_f16_bits};
use edgeport_ir::DType;

use super::StepIo;
use crate::strided::{copy_view, strides};

/// A strided read of the input copied out contiguously.
pub struct ViewKernel {
    shape: Vec<usize>,
    strides: Vec<isize>,
    base: isize,
}

impl ViewKernel {
    pub fn transpose(x: &[usize], perm: &[usize]) -> ViewKernel {
        let st = strides(x);
        ViewKernel { shape: perm.iter().map(|&p| x[p]).collect(), strides: perm.iter().map(|&p| st[p]).collect(), base: 0 }
    }

    pub fn slice(x: &[usize], s: &Slice, out: &[usize]) -> ViewKernel {
        let mut st = strides(x);
        let mut base = 0isize;
        for (i, &axis) in s.axes.iter().enumerate() {
            let dim = x[axis] as i64;
            // negative steps start at most at the last element
            let start = if s.steps[i] < 0 { s.starts[i].min(dim - 1) } else { s.starts[i] };
            base += start as isize * st[axis];
            st[axis] *= s.steps[i] as isize;
        }
        ViewKernel { shape: out.to_vec(), strides: st, base }
    }

    pub fn run(&self, io: &StepIo) {
        copy_view(io.output(0), io.input(0), &self.shape, &self.strides, self.base);
    }
}

/// Copies blocks: `outer` rows of `inner` elements, at row strides `src_row` / `dst_row`.
fn copy_blocks(dst: &mut [f32], dst_row: usize, src: &[f32], src_row: usize, outer: usize, inner: usize) {
    for o in 0..outer {
        dst[o * dst_row..][..inner].copy_from_slice(&src[o * src_row..][..inner]);
    }
}

/// Per part: (row length from `axis` on, offset of its block within a row of the whole).
fn row_parts(shapes: &[&[usize]], axis: usize) -> Vec<(usize, usize)> {
    let mut offset = 0;
    shapes
        .iter()
        .map(|s| {
            let row: usize = s[axis..].iter().product();
            let part = (row, offset);
            offset += row;
            part
        })
        .collect()
}

pub struct ConcatKernel {
    outer: usize,
    out_row: usize,
    /// Per input: (row length, offset of its block within an output row).
    parts: Vec<(usize, usize)>,
}

impl ConcatKernel {
    pub fn new(inputs: &[&[usize]], axis: usize, out: &[usize]) -> ConcatKernel {
        let parts = row_parts(inputs, axis);
        ConcatKernel { outer: out[..axis].iter().product(), out_row: out[axis..].iter().product(), parts }
    }

    pub fn run(&self, io: &StepIo) {
        let out = io.output(0);
        for (i, &(row, offset)) in self.parts.iter().enumerate() {
            copy_blocks(&mut out[offset..], self.out_row, io.input(i), row, self.outer, row);
        }
    }
}

pub struct SplitKernel {
    outer: usize,
    in_row: usize,
    parts: Vec<(usize, usize)>,
}

impl SplitKernel {
    pub fn new(x: &[usize], outputs: &[&[usize]], axis: usize) -> SplitKernel {
        let parts = row_parts(outputs, axis);
        SplitKernel { outer: x[..axis].iter().product(), in_row: x[axis..].iter().product(), parts }
    }

    pub fn run(&self, io: &StepIo) {
        let x = io.input(0);
        for (i, &(row, offset)) in self.parts.iter().enumerate() {
            copy_blocks(io.output(i), row, &x[offset..], self.in_row, self.outer, row);
        }
    }
}

pub struct GatherKernel {
    node: String,
    outer: usize,
    dim: usize,
    inner: usize,
    indices: usize,
}

impl GatherKernel {
    pub fn new(node: &str, x: &[usize], indices: usize, axis: usize) -> GatherKernel {
        GatherKernel {
            node: node.to_string(),
            outer: x[..axis].iter().product(),
            dim: x[axis],
            inner: x[axis + 1..].iter().product(),
            indices,
        }
    }

    /// Indices are data (they may come from the model's input), so out-of-range ones are an
    /// error rather than a panic.
    pub fn run(&self, io: &StepIo) -> Result<(), String> {
        let (x, idx, out) = (io.input(0), io.input(1), io.output(0));
        let (d, inner) = (self.dim, self.inner);
        for (j, &raw) in idx.iter().take(self.indices).enumerate() {
            let i = raw as i64;
            let i = if i < 0 { i + d as i64 } else { i };
            if i < 0 || i >= d as i64 || raw.fract() != 0.0 {
                return Err(format!("node '{}': index {raw} out of range for a dimension of {d}", self.node));
            }
            let i = i as usize;
            for o in 0..self.outer {
                out[(o * self.indices + j) * inner..][..inner].copy_from_slice(&x[(o * d + i) * inner..][..inner]);
            }
        }
        Ok(())
    }
}

pub struct PadKernel {
    out_shape: Vec<usize>,
    in_strides: Vec<isize>,
    /// Per axis and output coordinate: the input coordinate, or None inside constant padding.
    maps: Vec<Vec<Option<usize>>>,
    value: f32,
}

impl PadKernel {
    pub fn new(p: &Pad, x: &[usize], out: &[usize]) -> PadKernel {
        let maps = x
            .iter()
            .zip(&p.pads)
            .zip(out)
            .enumerate()
            .map(|(axis, ((&d, _), &o))| (0..o).map(|i| p.source_index(axis, d, i)).collect())
            .collect();
        let value = match p.mode {
            PadMode::Constant(v) => v,
            _ => 0.0,
        };
        PadKernel { out_shape: out.to_vec(), in_strides: strides(x), maps, value }
    }

    pub fn run(&self, io: &StepIo) {
        let (x, out) = (io.input(0), io.output(0));
        let rank = self.out_shape.len();
        let mut idx = [0usize; edgeport_ir::limits::MAX_RANK];
        for o in out.iter_mut() {
            let mut src = Some(0isize);
            for ((map, &i), &stride) in self.maps.iter().zip(&idx[..rank]).zip(&self.in_strides) {
                src = match (src, map[i]) {
                    (Some(s), Some(i)) => Some(s + i as isize * stride),
                    _ => None,
                };
            }
            *o = src.map_or(self.value, |s| x[s as usize]);
            for a in (0..rank).rev() {
                idx[a] += 1;
                if idx[a] < self.out_shape[a] {
                    break;
                }
                idx[a] = 0;
            }
        }
    }
}

/// Cast between carried-as-float32 values: rounds to what the target type can hold.
pub fn cast(x: &[f32], out: &mut [f32], to: DType) {
    let conv: fn(f32) -> f32 = match to {
        DType::F32 => |v| v,
        DType::F16 => |v| f16_bits_to_f32(f32_to_f16_bits(v)),
        DType::Bool => |v| if v != 0.0 { 1.0 } else { 0.0 },
        DType::I8 => |v| (v.trunc() as i8) as f32,
        DType::U8 => |v| (v.trunc() as u8) as f32,
        DType::I32 => |v| (v.trunc() as i32) as f32,
        DType::I64 => |v| v.trunc(),
    };
    for (o, &v) in out.iter_mut().zip(x) {
        *o = conv(v);
    }
}
