//! One importer per ONNX op, registered in the single table below (op type -> importer).
//! Adding an op: a new `<op>.rs` with `pub fn import(ctx: &mut Ctx) -> Result<()>` and one
//! line in `TABLE`.

pub mod common;
pub mod window;

mod abs;
mod add;
mod average_pool;
mod batch_normalization;
mod cast;
mod ceil;
mod clip;
mod concat;
mod constant;
mod constant_of_shape;
mod conv;
mod conv_transpose;
mod div;
mod dropout;
mod equal;
mod erf;
mod exp;
mod expand;
mod flatten;
mod floor;
mod gather;
mod gelu;
mod gemm;
mod global_average_pool;
mod global_max_pool;
mod hard_sigmoid;
mod hard_swish;
mod identity;
mod layer_normalization;
mod leaky_relu;
mod log;
mod mat_mul;
mod max;
mod max_pool;
mod mean;
mod min;
mod mul;
mod neg;
mod non_zero;
mod not;
mod pad;
mod pow;
mod prelu;
mod range;
mod reciprocal;
mod reduce_max;
mod reduce_mean;
mod reduce_min;
mod reduce_prod;
mod reduce_sum;
mod relu;
mod reshape;
mod resize;
mod shape;
mod sigmoid;
mod size;
mod slice;
mod softmax;
mod split;
mod sqrt;
mod squeeze;
mod sub;
mod sum;
mod tanh;
mod transpose;
mod unsqueeze;
mod upsample;
mod r#where;

use crate::context::Ctx;
use crate::error::Result;

/// An op importer: reads the current node through `ctx`, emits IR, binds the outputs.
pub type ImportFn = fn(&mut Ctx) -> Result<()>;

/// Default-domain op type -> importer, sorted by op type.
const TABLE: &[(&str, ImportFn)] = &[
    ("Abs", abs::import),
    ("Add", add::import),
    ("AveragePool", average_pool::import),
    ("BatchNormalization", batch_normalization::import),
    ("Cast", cast::import),
    ("Ceil", ceil::import),
    ("Clip", clip::import),
    ("Concat", concat::import),
    ("Constant", constant::import),
    ("ConstantOfShape", constant_of_shape::import),
    ("Conv", conv::import),
    ("ConvTranspose", conv_transpose::import),
    ("Div", div::import),
    ("Dropout", dropout::import),
    ("Equal", equal::import),
    ("Erf", erf::import),
    ("Exp", exp::import),
    ("Expand", expand::import),
    ("Flatten", flatten::import),
    ("Floor", floor::import),
    ("Gather", gather::import),
    ("Gelu", gelu::import),
    ("Gemm", gemm::import),
    ("GlobalAveragePool", global_average_pool::import),
    ("GlobalMaxPool", global_max_pool::import),
    ("HardSigmoid", hard_sigmoid::import),
    ("HardSwish", hard_swish::import),
    ("Identity", identity::import),
    ("LayerNormalization", layer_normalization::import),
    ("LeakyRelu", leaky_relu::import),
    ("Log", log::import),
    ("MatMul", mat_mul::import),
    ("Max", max::import),
    ("MaxPool", max_pool::import),
    ("Mean", mean::import),
    ("Min", min::import),
    ("Mul", mul::import),
    ("Neg", neg::import),
    ("NonZero", non_zero::import),
    ("Not", not::import),
    ("PRelu", prelu::import),
    ("Pad", pad::import),
    ("Pow", pow::import),
    ("Range", range::import),
    ("Reciprocal", reciprocal::import),
    ("ReduceMax", reduce_max::import),
    ("ReduceMean", reduce_mean::import),
    ("ReduceMin", reduce_min::import),
    ("ReduceProd", reduce_prod::import),
    ("ReduceSum", reduce_sum::import),
    ("Relu", relu::import),
    ("Reshape", reshape::import),
    ("Resize", resize::import),
    ("Shape", shape::import),
    ("Sigmoid", sigmoid::import),
    ("Size", size::import),
    ("Slice", slice::import),
    ("Softmax", softmax::import),
    ("Split", split::import),
    ("Sqrt", sqrt::import),
    ("Squeeze", squeeze::import),
    ("Sub", sub::import),
    ("Sum", sum::import),
    ("Tanh", tanh::import),
    ("Transpose", transpose::import),
    ("Unsqueeze", unsqueeze::import),
    ("Upsample", upsample::import),
    ("Where", r#where::import),
];

/// The importer of a default-domain op type.
pub fn lookup(op_type: &str) -> Option<ImportFn> {
    TABLE.binary_search_by(|(name, _)| (*name).cmp(op_type)).ok().and_then(|i| TABLE.get(i)).map(|(_, f)| *f)
}

/// Every supported op type, sorted.
pub fn supported() -> Vec<&'static str> {
    TABLE.iter().map(|(name, _)| *name).collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn table_is_sorted_and_unique() {
        assert!(super::TABLE.windows(2).all(|w| w[0].0 < w[1].0));
    }
}
