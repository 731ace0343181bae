use super::{arity, expect_float, Layout};
use crate::error::shape_err;
use crate::{IrResult, TensorType};

/// 2-D convolution. Weight stays OIHW whatever the activation layout.
#[derive(Debug, Clone, PartialEq)]
pub struct Conv {
    pub strides: [usize; 2],
    pub dilations: [usize; 2],
    /// top, left, bottom, right
    pub pads: [usize; 4],
    pub group: usize,
    pub layout: Layout,
}

/// 2-D transposed convolution. Weight stays [I, O/group, kH, kW] whatever the layout.
#[derive(Debug, Clone, PartialEq)]
pub struct ConvTranspose {
    pub strides: [usize; 2],
    pub dilations: [usize; 2],
    /// top, left, bottom, right (cropped from the full output)
    pub pads: [usize; 4],
    pub output_padding: [usize; 2],
    pub group: usize,
    pub layout: Layout,
}

/// Output extent of a convolution window along one axis, or None when the window
/// does not fit.
pub fn conv_out_dim(input: usize, kernel: usize, stride: usize, dilation: usize, pad_sum: usize) -> Option<usize> {
    let span = dilation.checked_mul(kernel.checked_sub(1)?)?.checked_add(1)?;
    let padded = input.checked_add(pad_sum)?;
    if padded < span || stride == 0 {
        return None;
    }
    Some((padded - span) / stride + 1)
}

fn activation_dims(op: &'static str, x: &TensorType, layout: Layout) -> IrResult<(usize, usize, usize, usize)> {
    if x.rank() != 4 {
        return Err(shape_err(op, format!("expects a rank-4 input, got shape {:?}", x.shape)));
    }
    let (c, h, w) = layout.chw_axes();
    Ok((x.shape[0], x.shape[c], x.shape[h], x.shape[w]))
}

fn out_shape(layout: Layout, n: usize, c: usize, h: usize, w: usize) -> Vec<usize> {
    match layout {
        Layout::Nchw => vec![n, c, h, w],
        Layout::Nhwc => vec![n, h, w, c],
    }
}

impl Conv {
    pub fn infer(&self, inputs: &[&TensorType]) -> IrResult<TensorType> {
        const OP: &str = "Conv";
        arity(OP, inputs, 2, 3)?;
        expect_float(OP, inputs, 0)?;
        let (n, c, h, w) = activation_dims(OP, inputs[0], self.layout)?;
        let wt = inputs[1];
        if wt.rank() != 4 {
            return Err(shape_err(OP, format!("weight must be rank 4 (OIHW), got {:?}", wt.shape)));
        }
        let (o, i, kh, kw) = (wt.shape[0], wt.shape[1], wt.shape[2], wt.shape[3]);
        if self.group == 0 || c % self.group != 0 || o % self.group != 0 || i * self.group != c {
            return Err(shape_err(
                OP,
                format!("{c} input channels do not match weight {:?} with group {}", wt.shape, self.group),
            ));
        }
        if let Some(b) = inputs.get(2)
            && b.shape != [o]
        {
            return Err(shape_err(OP, format!("bias must have shape [{o}], got {:?}", b.shape)));
        }
        let [pt, pl, pb, pr] = self.pads;
        let oh = conv_out_dim(h, kh, self.strides[0], self.dilations[0], pt + pb);
        let ow = conv_out_dim(w, kw, self.strides[1], self.dilations[1], pl + pr);
        match (oh, ow) {
            (Some(oh), Some(ow)) => Ok(TensorType::new(inputs[0].dtype, out_shape(self.layout, n, o, oh, ow))),
            _ => Err(shape_err(OP, format!("kernel {kh}x{kw} does not fit input {h}x{w} with pads {:?}", self.pads))),
        }
    }
}

impl ConvTranspose {
    pub fn infer(&self, inputs: &[&TensorType]) -> IrResult<TensorType> {
        const OP: &str = "ConvTranspose";
        arity(OP, inputs, 2, 3)?;
        expect_float(OP, inputs, 0)?;
        let (n, c, h, w) = activation_dims(OP, inputs[0], self.layout)?;
        let wt = inputs[1];
        if wt.rank() != 4 || wt.shape[0] != c || self.group == 0 || c % self.group != 0 {
            return Err(shape_err(
                OP,
                format!("weight {:?} does not match {c} input channels with group {}", wt.shape, self.group),
            ));
        }
        let o = wt.shape[1] * self.group;
        if let Some(b) = inputs.get(2)
            && b.shape != [o]
        {
            return Err(shape_err(OP, format!("bias must have shape [{o}], got {:?}", b.shape)));
        }
        let dim = |input: usize, k: usize, axis: usize| -> Option<usize> {
            let full = self.strides[axis]
                .checked_mul(input.checked_sub(1)?)?
                .checked_add(self.output_padding[axis])?
                .checked_add(self.dilations[axis].checked_mul(k.checked_sub(1)?)? + 1)?;
            full.checked_sub(self.pads[axis] + self.pads[axis + 2]).filter(|&d| d > 0)
        };
        match (dim(h, wt.shape[2], 0), dim(w, wt.shape[3], 1)) {
            (Some(oh), Some(ow)) => Ok(TensorType::new(inputs[0].dtype, out_shape(self.layout, n, o, oh, ow))),
            _ => Err(shape_err(OP, format!("pads {:?} leave an empty output", self.pads))),
        }
    }
}
