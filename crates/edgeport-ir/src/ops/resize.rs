use super::{arity, expect_float, Layout};
use crate::error::shape_err;
use crate::{IrResult, TensorType};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResizeMode {
    Nearest(NearestMode),
    Linear,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NearestMode {
    RoundPreferFloor,
    RoundPreferCeil,
    Floor,
    Ceil,
}

/// ONNX coordinate_transformation_mode values the IR supports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CoordMode {
    HalfPixel,
    PytorchHalfPixel,
    AlignCorners,
    Asymmetric,
}

/// Source coordinates of one output coordinate: `(i0, i1, weight of i1)`.
pub type ResizeTap = (usize, usize, f32);

/// Spatial resize of a rank-4 activation to a static `size` (height, width).
#[derive(Debug, Clone, PartialEq)]
pub struct Resize {
    pub mode: ResizeMode,
    pub coord: CoordMode,
    pub size: [usize; 2],
    pub layout: Layout,
}

impl Resize {
    pub fn infer(&self, inputs: &[&TensorType]) -> IrResult<TensorType> {
        const OP: &str = "Resize";
        arity(OP, inputs, 1, 1)?;
        expect_float(OP, inputs, 0)?;
        let x = inputs[0];
        if x.rank() != 4 || self.size.contains(&0) {
            return Err(shape_err(OP, format!("expects a rank-4 input and non-empty size, got {:?} -> {:?}", x.shape, self.size)));
        }
        let (_, h, w) = self.layout.chw_axes();
        let mut shape = x.shape.clone();
        shape[h] = self.size[0];
        shape[w] = self.size[1];
        Ok(TensorType::new(x.dtype, shape))
    }

    /// Source taps along one axis of `input` elements resized to `output`: per output
    /// coordinate `(i0, i1, weight of i1)` (nearest modes give `i0 == i1`, weight 0).
    pub fn taps(&self, input: usize, output: usize) -> Vec<ResizeTap> {
        let scale = output as f64 / input as f64;
        let last = input.saturating_sub(1);
        (0..output)
            .map(|o| {
                let o = o as f64;
                let src = match self.coord {
                    CoordMode::HalfPixel => (o + 0.5) / scale - 0.5,
                    CoordMode::PytorchHalfPixel if output > 1 => (o + 0.5) / scale - 0.5,
                    CoordMode::PytorchHalfPixel => 0.0,
                    CoordMode::AlignCorners if output > 1 => o * last as f64 / (output - 1) as f64,
                    CoordMode::AlignCorners => 0.0,
                    CoordMode::Asymmetric => o / scale,
                };
                match self.mode {
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
}
