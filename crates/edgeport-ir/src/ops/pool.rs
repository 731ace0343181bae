use super::{arity, conv::conv_out_dim, expect_float, Layout};
use crate::error::shape_err;
use crate::{IrResult, TensorType};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PoolKind {
    Max,
    Avg,
}

/// 2-D max or average pooling. `ceil_mode` from ONNX is resolved at import into extra
/// bottom/right padding, which then behaves like explicit padding (it counts towards an
/// average only with `count_include_pad`, as onnxruntime does).
#[derive(Debug, Clone, PartialEq)]
pub struct Pool {
    pub kind: PoolKind,
    pub kernel: [usize; 2],
    pub strides: [usize; 2],
    /// top, left, bottom, right
    pub pads: [usize; 4],
    /// Average only: whether padded cells count in the divisor.
    pub count_include_pad: bool,
    pub layout: Layout,
}

impl Pool {
    pub fn infer(&self, op: &'static str, inputs: &[&TensorType]) -> IrResult<TensorType> {
        arity(op, inputs, 1, 1)?;
        expect_float(op, inputs, 0)?;
        let x = inputs[0];
        if x.rank() != 4 {
            return Err(shape_err(op, format!("expects a rank-4 input, got {:?}", x.shape)));
        }
        let (c, h, w) = self.layout.chw_axes();
        let [pt, pl, pb, pr] = self.pads;
        let oh = conv_out_dim(x.shape[h], self.kernel[0], self.strides[0], 1, pt + pb);
        let ow = conv_out_dim(x.shape[w], self.kernel[1], self.strides[1], 1, pl + pr);
        let (Some(oh), Some(ow)) = (oh, ow) else {
            return Err(shape_err(op, format!("window {:?} does not fit input {:?}", self.kernel, x.shape)));
        };
        let mut shape = x.shape.clone();
        shape[h] = oh;
        shape[w] = ow;
        let _ = c;
        Ok(TensorType::new(x.dtype, shape))
    }
}
