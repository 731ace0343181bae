//! One kernel per IR op family. `compile` turns a node into a [`Kernel`] with everything
//! shape-dependent resolved (strides, index tables, gemm dimensions), so `run` only loops.
//! Adding an IR op means one arm in `compile` and one in `Kernel::run`.

mod activation;
mod binary;
mod conv;
mod matmul;
mod pool;
mod reduce;
mod resize;
mod shape;

pub use activation::Activation;

use edgeport_ir::{DType, Graph, Layout, Node, Op};

use crate::plan::{Buf, Memory};
use crate::CpuError;

/// What a kernel needs beyond its operands, decided at compile time.
pub struct Compiled {
    pub kernel: Kernel,
    /// Scratch floats the kernel needs during its run (im2col, col2im).
    pub scratch: usize,
    /// Extra constants the kernel reads (broadcast-expanded scales), appended to the weights.
    pub extra_consts: Vec<Vec<f32>>,
}

impl Compiled {
    fn plain(kernel: Kernel) -> Result<Compiled, CpuError> {
        Ok(Compiled { kernel, scratch: 0, extra_consts: Vec::new() })
    }
}

pub enum Kernel {
    Conv(conv::ConvKernel),
    ConvTranspose(conv::ConvTransposeKernel),
    Pool(pool::PoolKernel),
    Resize(resize::ResizeKernel),
    Activation(Activation),
    Binary(binary::BinaryKernel),
    MatMul(matmul::MatMulKernel),
    /// Contiguous copy (a reshape whose output cannot share its input's buffer).
    Copy,
    /// Strided copy: transpose and slice.
    View(shape::ViewKernel),
    Concat(shape::ConcatKernel),
    Split(shape::SplitKernel),
    Gather(shape::GatherKernel),
    Pad(shape::PadKernel),
    Cast(DType),
    Reduce(reduce::ReduceKernel),
    Softmax(reduce::SoftmaxKernel),
    LayerNorm(reduce::LayerNormKernel),
}

/// Operand access for one step. The planner guarantees that a step's outputs and scratch do
/// not overlap each other or its inputs, so handing out `&mut` slices of them is sound.
pub struct StepIo<'a> {
    pub(crate) mem: &'a Memory<'a>,
    pub(crate) inputs: &'a [Buf],
    pub(crate) outputs: &'a [Buf],
    pub(crate) scratch: Buf,
    pub(crate) extra: &'a [Buf],
    pub(crate) parallelism: gemm::Parallelism,
    /// The folded activation, for kernels that apply it themselves (see `applies_epilogue`).
    pub(crate) epilogue: Option<Activation>,
}

impl<'a> StepIo<'a> {
    pub fn input(&self, i: usize) -> &'a [f32] {
        self.mem.read(self.inputs[i])
    }
    pub fn has_input(&self, i: usize) -> bool {
        i < self.inputs.len()
    }
    pub fn extra(&self, i: usize) -> &'a [f32] {
        self.mem.read(self.extra[i])
    }
    /// The i-th output; request each output at most once per run.
    pub fn output(&self, i: usize) -> &'a mut [f32] {
        // SAFETY: see the type's invariant; outputs are distinct from inputs and each other.
        unsafe { self.mem.write(self.outputs[i]) }
    }
    pub fn scratch(&self) -> &'a mut [f32] {
        // SAFETY: the scratch range is private to this step.
        unsafe { self.mem.write(self.scratch) }
    }
}

impl Kernel {
    pub fn run(&self, io: &StepIo) -> Result<(), String> {
        match self {
            Kernel::Conv(k) => k.run(io),
            Kernel::ConvTranspose(k) => k.run(io),
            Kernel::Pool(k) => k.run(io),
            Kernel::Resize(k) => k.run(io),
            Kernel::Activation(a) => {
                let out = io.output(0);
                out.copy_from_slice(io.input(0));
                a.apply(out);
            }
            Kernel::Binary(k) => k.run(io),
            Kernel::MatMul(k) => k.run(io),
            Kernel::Copy => io.output(0).copy_from_slice(io.input(0)),
            Kernel::View(k) => k.run(io),
            Kernel::Concat(k) => k.run(io),
            Kernel::Split(k) => k.run(io),
            Kernel::Gather(k) => return k.run(io),
            Kernel::Pad(k) => k.run(io),
            Kernel::Cast(to) => shape::cast(io.input(0), io.output(0), *to),
            Kernel::Reduce(k) => k.run(io),
            Kernel::Softmax(k) => k.run(io),
            Kernel::LayerNorm(k) => k.run(io),
        }
        Ok(())
    }

    /// Whether the kernel applies the folded activation itself (while its output is in cache).
    pub fn applies_epilogue(&self) -> bool {
        matches!(self, Kernel::Conv(_))
    }

}

/// Whether an activation may be folded into the kernel of `op` (applied in place after the
/// kernel writes its output).
pub fn takes_epilogue(op: &Op) -> bool {
    matches!(op, Op::Conv(_) | Op::ConvTranspose(_) | Op::MatMul | Op::Binary(_) | Op::PRelu)
}

pub(crate) fn unsupported(node: &Node, message: impl Into<String>) -> CpuError {
    CpuError::Unsupported { node: node.name.clone(), op: node.op.name(), message: message.into() }
}

fn nchw(node: &Node, layout: Layout) -> Result<(), CpuError> {
    match layout {
        Layout::Nchw => Ok(()),
        Layout::Nhwc => Err(unsupported(node, "the CPU runtime runs channels-first (NCHW) graphs")),
    }
}

/// Compile one node. `graph` gives operand types and constant data.
pub fn compile(graph: &Graph, node: &Node) -> Result<Compiled, CpuError> {
    let shape_of = |i: usize| graph.ty(node.inputs[i]).shape.as_slice();
    let out_shape = |i: usize| graph.ty(node.outputs[i]).shape.as_slice();
    match &node.op {
        Op::Conv(c) => {
            nchw(node, c.layout)?;
            conv::ConvKernel::compile(c, shape_of(0), shape_of(1), out_shape(0))
        }
        Op::ConvTranspose(c) => {
            nchw(node, c.layout)?;
            conv::ConvTransposeKernel::compile(c, shape_of(0), shape_of(1), out_shape(0))
        }
        Op::Pool(p) => {
            nchw(node, p.layout)?;
            Ok(pool::PoolKernel::compile(p, shape_of(0), out_shape(0)))
        }
        Op::Resize(r) => {
            nchw(node, r.layout)?;
            Compiled::plain(Kernel::Resize(resize::ResizeKernel::new(r, shape_of(0), out_shape(0))))
        }
        Op::Unary(_) | Op::Clip { .. } | Op::LeakyRelu { .. } | Op::HardSigmoid { .. } => match Activation::of(&node.op) {
            Some(a) => Compiled::plain(Kernel::Activation(a)),
            None => Err(unsupported(node, "not an elementwise activation")),
        },
        Op::Binary(b) => Compiled::plain(Kernel::Binary(binary::BinaryKernel::new(
            binary::BinaryFn::Op(*b),
            shape_of(0),
            shape_of(1),
            out_shape(0),
        ))),
        Op::PRelu => Compiled::plain(Kernel::Binary(binary::BinaryKernel::new(
            binary::BinaryFn::PRelu,
            shape_of(0),
            shape_of(1),
            out_shape(0),
        ))),
        Op::MatMul => Compiled::plain(Kernel::MatMul(matmul::MatMulKernel::new(shape_of(0), shape_of(1)))),
        Op::Reshape { .. } => Compiled::plain(Kernel::Copy),
        Op::Transpose { perm } => Compiled::plain(Kernel::View(shape::ViewKernel::transpose(shape_of(0), perm))),
        Op::Slice(s) => Compiled::plain(Kernel::View(shape::ViewKernel::slice(shape_of(0), s, out_shape(0)))),
        Op::Concat { axis } => {
            let shapes: Vec<&[usize]> = (0..node.inputs.len()).map(shape_of).collect();
            Compiled::plain(Kernel::Concat(shape::ConcatKernel::new(&shapes, *axis, out_shape(0))))
        }
        Op::Split { axis, .. } => {
            let shapes: Vec<&[usize]> = (0..node.outputs.len()).map(out_shape).collect();
            Compiled::plain(Kernel::Split(shape::SplitKernel::new(shape_of(0), &shapes, *axis)))
        }
        Op::Gather { axis } => Compiled::plain(Kernel::Gather(shape::GatherKernel::new(
            &node.name,
            shape_of(0),
            graph.ty(node.inputs[1]).elements(),
            *axis,
        ))),
        Op::Reduce(r) => Compiled::plain(Kernel::Reduce(reduce::ReduceKernel::new(r, shape_of(0)))),
        Op::Softmax { axis } => Compiled::plain(Kernel::Softmax(reduce::SoftmaxKernel::new(shape_of(0), *axis))),
        Op::LayerNorm(l) => reduce::LayerNormKernel::compile(graph, node, l),
        Op::Pad(p) => Compiled::plain(Kernel::Pad(shape::PadKernel::new(p, shape_of(0), out_shape(0)))),
        Op::Cast { to } => Compiled::plain(Kernel::Cast(*to)),
    }
}
