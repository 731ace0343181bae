//! Max and average pooling (NCHW), with ONNX padding semantics.

use edgeport_ir::ops::{Pool, PoolKind};

use super::StepIo;

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
}

impl PoolKernel {
    pub fn new(p: &Pool, x: &[usize], out: &[usize]) -> PoolKernel {
        PoolKernel {
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
        }
    }

    pub fn run(&self, io: &StepIo) {
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
