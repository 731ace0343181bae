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
}
