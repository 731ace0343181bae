//! One WGSL kernel per op family (`src/wgsl/`), and the Rust side that turns an IR node into
//! launches of them: parameters resolved to element offsets in the memory buffer, grids sized.
//! Adding an IR op means a kernel here (or reusing one) and one arm in [`compile`].

mod conv;
mod elementwise;
mod shape;
mod spatial;

use edgeport_ir::ops::UnaryOp;
use edgeport_ir::{Graph, Layout, Node, Op};

use crate::GpuError;

/// Parameter slots per launch (one 256-byte uniform block).
pub const PARAM_WORDS: usize = 64;
/// Threads per workgroup of the one-thread-per-element kernels.
pub const WORKGROUP: u32 = 64;
/// Largest workgroup count along one dimension (WebGPU's default limit).
pub const MAX_GROUPS: u32 = 65_535;
/// Highest rank the strided kernels walk (the IR's limit).
pub const MAX_RANK: usize = 8;
/// "No operand" (an absent bias).
pub const NONE: u32 = u32::MAX;

/// The kernels, each a WGSL module with one `main` entry point.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Shader {
    Unary,
    Binary,
    Strided,
    Gather,
    Pad,
    Pool,
    Resize,
    Reduce,
    Softmax,
    LayerNorm,
    MatMul,
    Conv,
    Depthwise,
    ConvTranspose,
}

const PRELUDE: &str = include_str!("../wgsl/prelude.wgsl");
const GEMM_CORE: &str = include_str!("../wgsl/gemm_core.wgsl");
/// Operand reads: everything from the one float32 buffer...
const LOAD_F32: &str = "fn ld(i: u32) -> f32 { return mem[i]; }\n";
/// ...or, for fp16 variants on adapters with `shader-f16`, float weights (from element
/// `WEIGHTS_BASE_SLOT` on) from a float16 buffer.
const LOAD_F16: &str = "@group(0) @binding(2) var<storage, read> weights16: array<f16>;\n\
fn ld(i: u32) -> f32 {\n\
    let base = p(62u);\n\
    if (i >= base) { return f32(weights16[i - base]); }\n\
    return mem[i];\n\
}\n";
/// Parameter slot holding the element offset where float16 weights begin.
pub const WEIGHTS_BASE_SLOT: usize = 62;

impl Shader {
    pub fn name(self) -> &'static str {
        match self {
            Shader::Unary => "unary",
            Shader::Binary => "binary",
            Shader::Strided => "strided",
            Shader::Gather => "gather",
            Shader::Pad => "pad",
            Shader::Pool => "pool",
            Shader::Resize => "resize",
            Shader::Reduce => "reduce",
            Shader::Softmax => "softmax",
            Shader::LayerNorm => "layer_norm",
            Shader::MatMul => "matmul",
            Shader::Conv => "conv",
            Shader::Depthwise => "depthwise",
            Shader::ConvTranspose => "conv_transpose",
        }
    }

    /// The complete WGSL module. With `f16_weights` float weights are read from a second,
    /// float16 buffer (`shader-f16`), which halves their memory and bandwidth.
    pub fn source(self, f16_weights: bool) -> String {
        let load = if f16_weights { LOAD_F16 } else { LOAD_F32 };
        let prelude = format!("{}{PRELUDE}\n{load}", if f16_weights { "enable f16;\n" } else { "" });
        let prelude = prelude.as_str();
        let body = match self {
            Shader::Unary => include_str!("../wgsl/unary.wgsl"),
            Shader::Binary => include_str!("../wgsl/binary.wgsl"),
            Shader::Strided => include_str!("../wgsl/strided.wgsl"),
            Shader::Gather => include_str!("../wgsl/gather.wgsl"),
            Shader::Pad => include_str!("../wgsl/pad.wgsl"),
            Shader::Pool => include_str!("../wgsl/pool.wgsl"),
            Shader::Resize => include_str!("../wgsl/resize.wgsl"),
            Shader::Reduce => include_str!("../wgsl/reduce.wgsl"),
            Shader::Softmax => include_str!("../wgsl/softmax.wgsl"),
            Shader::LayerNorm => include_str!("../wgsl/layer_norm.wgsl"),
            Shader::MatMul => {
                return format!(
                    "{prelude}\n{}\n{GEMM_CORE}",
                    include_str!("../wgsl/matmul.wgsl")
                );
            }
            Shader::Conv => {
                return format!(
                    "{prelude}\n{}\n{GEMM_CORE}",
                    include_str!("../wgsl/conv.wgsl")
                );
            }
            Shader::Depthwise => include_str!("../wgsl/depthwise.wgsl"),
            Shader::ConvTranspose => include_str!("../wgsl/conv_transpose.wgsl"),
        };
        format!("{prelude}\n{body}")
    }

    pub const ALL: [Shader; 14] = [
        Shader::Unary,
        Shader::Binary,
        Shader::Strided,
        Shader::Gather,
        Shader::Pad,
        Shader::Pool,
        Shader::Resize,
        Shader::Reduce,
        Shader::Softmax,
        Shader::LayerNorm,
        Shader::MatMul,
        Shader::Conv,
        Shader::Depthwise,
        Shader::ConvTranspose,
    ];
}

/// How many workgroups a launch runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Grid {
    /// One thread per element, `WORKGROUP` per group, wrapping into y past `MAX_GROUPS`.
    Threads(u32),
    /// One workgroup per row (layer norm), wrapping the same way.
    Rows(u32),
    /// An explicit grid (gemm tiles).
    Groups([u32; 3]),
}

impl Grid {
    pub fn groups(self) -> [u32; 3] {
        let wrap = |groups: u32| {
            if groups <= MAX_GROUPS {
                [groups.max(1), 1, 1]
            } else {
                [MAX_GROUPS, groups.div_ceil(MAX_GROUPS), 1]
            }
        };
        match self {
            Grid::Threads(n) => wrap(n.div_ceil(WORKGROUP)),
            Grid::Rows(n) => wrap(n),
            Grid::Groups(g) => g,
        }
    }
}

/// One kernel launch of a step.
#[derive(Debug, Clone)]
pub struct Launch {
    pub shader: Shader,
    pub params: Params,
    pub grid: Grid,
}

/// What every kernel applies to the values it writes (parameters 0..3).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Epilogue {
    pub act: Act,
    pub round_f16: bool,
}

/// Activation codes shared with `activate` in prelude.wgsl.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Act {
    pub code: u32,
    pub a: f32,
    pub b: f32,
}

impl Act {
    pub const NONE: Act = Act {
        code: 0,
        a: 0.0,
        b: 0.0,
    };

    /// The activation an op computes, if it is one.
    pub fn of(op: &Op) -> Option<Act> {
        let plain = |code| {
            Some(Act {
                code,
                a: 0.0,
                b: 0.0,
            })
        };
        match *op {
            Op::Unary(u) => plain(match u {
                UnaryOp::Relu => 1,
                UnaryOp::Sigmoid => 3,
                UnaryOp::Tanh => 4,
                UnaryOp::Erf => 5,
                UnaryOp::Gelu => 6,
                UnaryOp::GeluTanh => 7,
                UnaryOp::HardSwish => 8,
                UnaryOp::Sqrt => 9,
                UnaryOp::Rsqrt => 10,
                UnaryOp::Reciprocal => 11,
                UnaryOp::Exp => 12,
                UnaryOp::Log => 13,
                UnaryOp::Neg => 14,
                UnaryOp::Abs => 15,
                UnaryOp::Floor => 16,
                UnaryOp::Ceil => 17,
            }),
            Op::Clip { min, max } => Some(Act {
                code: 2,
                a: min,
                b: max,
            }),
            Op::LeakyRelu { alpha } => Some(Act {
                code: 18,
                a: alpha,
                b: 0.0,
            }),
            Op::HardSigmoid { alpha, beta } => Some(Act {
                code: 19,
                a: alpha,
                b: beta,
            }),
            _ => None,
        }
    }
}

/// A launch's parameter block; slot meanings are documented at the top of each kernel.
#[derive(Debug, Clone)]
pub struct Params(pub [u32; PARAM_WORDS]);

impl Params {
    /// Epilogue and thread count filled in.
    pub fn new(epilogue: Epilogue, threads: u32) -> Params {
        let mut p = [0u32; PARAM_WORDS];
        p[0] = epilogue.act.code;
        p[1] = epilogue.act.a.to_bits();
        p[2] = epilogue.act.b.to_bits();
        p[3] = u32::from(epilogue.round_f16);
        p[4] = threads;
        Params(p)
    }

    pub fn set(&mut self, slot: usize, values: &[u32]) -> &mut Self {
        self.0[slot..slot + values.len()].copy_from_slice(values);
        self
    }

    pub fn set_i32(&mut self, slot: usize, values: &[i32]) -> &mut Self {
        for (i, v) in values.iter().enumerate() {
            self.0[slot + i] = *v as u32;
        }
        self
    }
}

/// Where one step's operands live: element offsets in the memory buffer.
pub struct Operands<'a> {
    pub inputs: &'a [Option<u32>],
    pub outputs: &'a [u32],
}

/// Index tables kernels read (resize taps, pad maps), appended to the memory buffer after
/// the weights; `push` returns the table's element offset.
pub struct Tables {
    pub base: u64,
    pub data: Vec<f32>,
}

impl Tables {
    pub fn push(&mut self, values: &[f32]) -> Result<u32, GpuError> {
        let at = self.base + self.data.len() as u64;
        self.data.extend_from_slice(values);
        offset_u32(at)
    }
}

pub fn offset_u32(v: u64) -> Result<u32, GpuError> {
    u32::try_from(v).map_err(|_| GpuError::TooLarge {
        what: "model memory (elements)",
        needed: v,
        limit: u64::from(u32::MAX),
    })
}

/// What compiling one node needs.
pub struct Ctx<'a> {
    pub graph: &'a Graph,
    pub node: &'a Node,
    pub operands: Operands<'a>,
    pub epilogue: Epilogue,
}

impl Ctx<'_> {
    pub fn shape(&self, input: usize) -> &[usize] {
        &self.graph.ty(self.node.inputs[input]).shape
    }
    pub fn out_shape(&self, output: usize) -> &[usize] {
        &self.graph.ty(self.node.outputs[output]).shape
    }
    /// The i-th input's offset; absent optional inputs (`""` in ONNX) are errors here.
    pub fn input(&self, i: usize) -> Result<u32, GpuError> {
        self.operands
            .inputs
            .get(i)
            .copied()
            .flatten()
            .ok_or_else(|| self.unsupported(format!("input {i} is missing")))
    }
    pub fn optional_input(&self, i: usize) -> u32 {
        self.operands
            .inputs
            .get(i)
            .copied()
            .flatten()
            .unwrap_or(NONE)
    }
    pub fn output(&self, i: usize) -> u32 {
        self.operands.outputs[i]
    }
    pub fn unsupported(&self, message: impl Into<String>) -> GpuError {
        GpuError::Unsupported {
            node: self.node.name.clone(),
            op: self.node.op.name(),
            message: message.into(),
        }
    }
    pub fn params(&self, threads: u32) -> Params {
        Params::new(self.epilogue, threads)
    }
    pub fn count(&self, n: usize) -> Result<u32, GpuError> {
        u32::try_from(n).map_err(|_| {
            self.unsupported(format!("{n} elements exceed the kernels' 32-bit indexing"))
        })
    }
    pub fn dims(&self, dims: &[usize]) -> Result<Vec<u32>, GpuError> {
        dims.iter().map(|&d| self.count(d)).collect()
    }
    fn nchw(&self, layout: Layout) -> Result<(), GpuError> {
        match layout {
            Layout::Nchw => Ok(()),
            Layout::Nhwc => {
                Err(self.unsupported("the GPU runtime runs channels-first (NCHW) graphs"))
            }
        }
    }
}

/// Whether the kernel for `op` applies a folded activation to its single output.
pub fn takes_epilogue(op: &Op) -> bool {
    matches!(
        op,
        Op::Conv(_)
            | Op::ConvTranspose(_)
            | Op::MatMul
            | Op::Binary(_)
            | Op::PRelu
            | Op::Pool(_)
            | Op::Resize(_)
            | Op::LayerNorm(_)
    )
}

/// The launches of one node.
pub fn compile(ctx: &Ctx, tables: &mut Tables) -> Result<Vec<Launch>, GpuError> {
    match &ctx.node.op {
        Op::Conv(c) => {
            ctx.nchw(c.layout)?;
            conv::conv(ctx, c)
        }
        Op::ConvTranspose(c) => {
            ctx.nchw(c.layout)?;
            conv::conv_transpose(ctx, c)
        }
        Op::MatMul => conv::matmul(ctx),
        Op::Pool(p) => {
            ctx.nchw(p.layout)?;
            spatial::pool(ctx, p)
        }
        Op::Resize(r) => {
            ctx.nchw(r.layout)?;
            spatial::resize(ctx, r, tables)
        }
        Op::Unary(_) | Op::Clip { .. } | Op::LeakyRelu { .. } | Op::HardSigmoid { .. } => {
            elementwise::unary(ctx)
        }
        Op::Binary(b) => elementwise::binary(ctx, elementwise::binary_code(*b)),
        Op::PRelu => elementwise::binary(ctx, elementwise::PRELU),
        Op::Reshape { .. } => shape::copy(ctx),
        Op::Transpose { perm } => shape::transpose(ctx, perm),
        Op::Slice(s) => shape::slice(ctx, s),
        Op::Concat { axis } => shape::concat(ctx, *axis),
        Op::Split { axis, .. } => shape::split(ctx, *axis),
        Op::Gather { axis } => shape::gather(ctx, *axis),
        Op::Pad(p) => shape::pad(ctx, p, tables),
        Op::Cast { to } => shape::cast(ctx, *to),
        Op::Reduce(r) => elementwise::reduce(ctx, r),
        Op::Softmax { axis } => elementwise::softmax(ctx, *axis),
        Op::LayerNorm(l) => elementwise::layer_norm(ctx, l),
    }
}

/// Row-major strides of `shape`.
pub fn strides(shape: &[usize]) -> Vec<usize> {
    let mut s = vec![1usize; shape.len()];
    for i in (0..shape.len().saturating_sub(1)).rev() {
        s[i] = s[i + 1] * shape[i + 1];
    }
    s
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn every_kernel_is_valid_wgsl() {
        let modes = [(false, naga::valid::Capabilities::empty()), (true, naga::valid::Capabilities::SHADER_FLOAT16)];
        for (f16, caps) in modes {
            for shader in Shader::ALL {
                let source = shader.source(f16);
                let module = naga::front::wgsl::parse_str(&source)
                    .unwrap_or_else(|e| panic!("{} (f16 {f16}): {}", shader.name(), e.emit_to_string(&source)));
                naga::valid::Validator::new(naga::valid::ValidationFlags::all(), caps)
                    .validate(&module)
                    .unwrap_or_else(|e| panic!("{} (f16 {f16}): {}", shader.name(), e.emit_to_string(&source)));
            }
        }
    }

    #[test]
    fn wide_launches_wrap_into_y() {
        assert_eq!(Grid::Threads(64).groups(), [1, 1, 1]);
        assert_eq!(Grid::Threads(0).groups(), [1, 1, 1]);
        let g = Grid::Threads(64 * 70_000).groups();
        assert_eq!(g, [MAX_GROUPS, 2, 1]);
    }
}
