//! Resize (NCHW) with ONNX coordinate transforms; per-axis source tables built at compile time.

use edgeport_ir::ops::{CoordMode, NearestMode, Resize, ResizeMode};

use super::StepIo;

/// Source taps of one output coordinate: `(i0, i1, weight of i1)`.
type Tap = (usize, usize, f32);

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
            ys: taps(r, x[2], out[2]),
            xs: taps(r, x[3], out[3]),
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

fn taps(r: &Resize, input: usize, output: usize) -> Vec<Tap> {
    let scale = output as f64 / input as f64;
    let last = input.saturating_sub(1);
    (0..output)
        .map(|o| {
            let o = o as f64;
            let src = match r.coord {
                CoordMode::HalfPixel => (o + 0.5) / scale - 0.5,
                CoordMode::PytorchHalfPixel if output > 1 => (o + 0.5) / scale - 0.5,
                CoordMode::PytorchHalfPixel => 0.0,
                CoordMode::AlignCorners if output > 1 => o * last as f64 / (output - 1) as f64,
                CoordMode::AlignCorners => 0.0,
                CoordMode::Asymmetric => o / scale,
            };
            match r.mode {
                ResizeMode::Linear => {
                    let s = src.clamp(0.0, last as f64);
                    let i0 = s.floor() as usize;
                    let i1 = (i0 + 1).min(last);
                    (i0, i1, (s - i0 as f64) as f32)
                }
                ResizeMode::Nearest(mode) => {
                    let i = match mode {
                        NearestMode::RoundPreferFloor if src.fract() == 0.5 => src.floor(),
                        NearestMode::RoundPreferCeil if src.fract() == 0.5 => src.ceil(),
                        NearestMode::RoundPreferFloor | NearestMode::RoundPreferCeil => src.round(),
                        NearestMode::Floor => src.floor(),
                        NearestMode::Ceil => src.ceil(),
                    };
                    let i = i.clamp(0.0, last as f64) as usize;
                    (i, i, 0.0)
                }
            }
        })
        .collect()
}
