//! Resize (NCHW) with ONNX coordinate transforms; per-axis source tables built at compile time.

use edgeport_ir::ops::{Resize, ResizeMode, ResizeTap};

use super::StepIo;

type Tap = ResizeTap;

pub struct ResizeKernel {
    nc: usize,
    h: usize,
    w: usize,
    ys: Vec<Tap>,
    xs: Vec<Tap>,
    nearest: bool,
}

impl ResizeKernel {
    pub fn new(r: &Resize, x: &[usize], out: &[usize]) -> ResizeKernel {
        ResizeKernel {
            nc: x[0] * x[1],
            h: x[2],
            w: x[3],
            ys: r.taps(x[2], out[2]),
            xs: r.taps(x[3], out[3]),
            nearest: matches!(r.mode, ResizeMode::Nearest(_)),
        }
    }

    pub fn run(&self, io: &StepIo) {
        let (x, out) = (io.input(0), io.output(0));
        let (oh, ow) = (self.ys.len(), self.xs.len());
        for c in 0..self.nc {
            let src = &x[c * self.h * self.w..][..self.h * self.w];
            let dst = &mut out[c * oh * ow..][..oh * ow];
            for (oy, &(y0, y1, fy)) in self.ys.iter().enumerate() {
                let (r0, r1) = (&src[y0 * self.w..][..self.w], &src[y1 * self.w..][..self.w]);
                let drow = &mut dst[oy * ow..][..ow];
                if self.nearest {
                    drow.iter_mut().zip(&self.xs).for_each(|(d, &(x0, _, _))| *d = r0[x0]);
                    continue;
                }
                for (d, &(x0, x1, fx)) in drow.iter_mut().zip(&self.xs) {
                    let top = r0[x0] + (r0[x1] - r0[x0]) * fx;
                    let bottom = r1[x0] + (r1[x1] - r1[x0]) * fx;
                    *d = top + (bottom - top) * fy;
                }
            }
        }
    }
}
