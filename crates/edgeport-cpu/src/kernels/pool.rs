//! Max and average pooling (NCHW), with ONNX padding semantics.

use edgeport_ir::ops::{Pool, PoolKind};

use super::conv::{Geometry, Phases};
use super::{Compiled, Kernel, StepIo};

pub struct PoolKernel {
    kind: PoolKind,
    nc: usize,
    h: usize,
    w: usize,
    oh: usize,
    ow: usize,
    kernel: [usize; 2],
    stride: [usize; 2],
    pad: [usize; 4],
    count_include_pad: bool,
    /// Max pooling runs over the padded, phase-split plane (see conv.rs).
    max: Option<(Geometry, Phases)>,
}

impl PoolKernel {
    pub fn compile(p: &Pool, x: &[usize], out: &[usize]) -> Compiled {
        let max = (p.kind == PoolKind::Max).then(|| {
            let g = Geometry::window([x[2], x[3]], [out[2], out[3]], p.kernel, p.strides, p.pads);
            let phases = Phases::new(&g);
            (g, phases)
        });
        let scratch = max.as_ref().map_or(0, |(g, ph)| ph.scratch_len(g.oh));
        let kernel = PoolKernel {
            kind: p.kind,
            nc: x[0] * x[1],
            h: x[2],
            w: x[3],
            oh: out[2],
            ow: out[3],
            kernel: p.kernel,
            stride: p.strides,
            pad: p.pads,
            count_include_pad: p.count_include_pad,
            max,
        };
        Compiled { kernel: Kernel::Pool(kernel), scratch, extra_consts: Vec::new() }
    }

    /// Max over the window taps, each a contiguous pass over the wide output plane.
    fn run_max(&self, g: &Geometry, p: &Phases, io: &StepIo) {
        let (x, out) = (io.input(0), io.output(0));
        let (phases, wide) = io.scratch().split_at_mut(p.phases_len());
        let len = g.oh * p.wq;
        let wide = &mut wide[..len];
        let taps: Vec<usize> = (0..g.kh * g.kw).map(|t| p.tap_offset(g, t / g.kw, t % g.kw)).collect();
        for c in 0..self.nc {
            p.fill_with(g, &x[c * g.h * g.w..][..g.h * g.w], phases, f32::NEG_INFINITY);
            wide.fill(f32::NEG_INFINITY);
            for &at in &taps {
                for (d, &v) in wide.iter_mut().zip(&phases[at..at + len]) {
                    *d = d.max(v);
                }
            }
            let dst = &mut out[c * g.oh * g.ow..][..g.oh * g.ow];
            for (drow, wrow) in dst.chunks_exact_mut(g.ow).zip(wide.chunks_exact(p.wq)) {
                drow.copy_from_slice(&wrow[..g.ow]);
            }
        }
    }

    pub fn run(&self, io: &StepIo) {
        if let Some((g, p)) = &self.max {
            return self.run_max(g, p, io);
        }
        let (x, out) = (io.input(0), io.output(0));
        let global = self.kernel == [self.h, self.w] && self.pad == [0; 4] && self.oh == 1 && self.ow == 1;
        for c in 0..self.nc {
            let src = &x[c * self.h * self.w..][..self.h * self.w];
            let dst = &mut out[c * self.oh * self.ow..][..self.oh * self.ow];
            if global {
                dst[0] = match self.kind {
                    PoolKind::Avg => src.iter().sum::<f32>() / src.len() as f32,
                    PoolKind::Max => src.iter().copied().fold(f32::NEG_INFINITY, f32::max),
                };
                continue;
            }
            for oy in 0..self.oh {
                let y0 = (oy * self.stride[0]) as isize - self.pad[0] as isize;
                let y1 = (y0 + self.kernel[0] as isize).min((self.h + self.pad[2]) as isize);
                for ox in 0..self.ow {
                    let x0 = (ox * self.stride[1]) as isize - self.pad[1] as isize;
                    let x1 = (x0 + self.kernel[1] as isize).min((self.w + self.pad[3]) as isize);
                    let padded_count = ((y1 - y0) * (x1 - x0)) as f32;
                    let (ya, yb) = (y0.max(0) as usize, (y1.min(self.h as isize)).max(0) as usize);
                    let (xa, xb) = (x0.max(0) as usize, (x1.min(self.w as isize)).max(0) as usize);
                    let mut acc = match self.kind {
                        PoolKind::Max => f32::NEG_INFINITY,
                        PoolKind::Avg => 0.0,
                    };
                    for y in ya..yb {
                        let row = &src[y * self.w + xa..y * self.w + xb];
                        acc = match self.kind {
                            PoolKind::Max => row.iter().copied().fold(acc, f32::max),
                            PoolKind::Avg => acc + row.iter().sum::<f32>(),
                        };
                    }
                    dst[oy * self.ow + ox] = match self.kind {
                        PoolKind::Max => acc,
                        PoolKind::Avg => {
                            let count = if self.count_include_pad {
                                padded_count
                            } else {
                                ((yb.saturating_sub(ya)) * (xb.saturating_sub(xa))) as f32
                            };
                            acc / count.max(1.0)
                        }
                    };
                }
            }
        }
    }
}
