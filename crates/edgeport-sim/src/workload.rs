//! What the simulator runs: a model reduced to the layers a runtime dispatches, each with the op
//! name a delegate's support list is written in, its op class (which picks an efficiency), its
//! arithmetic and the elements it reads and writes.
//!
//! A workload comes from an IR graph ([`Workload::from_graph`]) or, for calibration against
//! published figures of well-known networks, from [`crate::zoo`] built with [`WorkloadBuilder`].

use edgeport_ir::{Graph, Op, TensorType};
use serde::{Deserialize, Serialize};

/// Kinds of work with distinct efficiency on real kernels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OpClass {
    /// Dense convolution (group 1 or few groups).
    Conv,
    /// Depthwise (group == channels) convolution: memory bound on every unit.
    DepthwiseConv,
    ConvTranspose,
    /// MatMul / fully connected / attention products.
    MatMul,
    /// Elementwise arithmetic and activations.
    Elementwise,
    Pool,
    Reduce,
    /// Softmax and normalizations: several passes over the data.
    Normalize,
    Resize,
    /// Copies: transpose, concat, split, slice, gather, pad, cast.
    Copy,
    /// Metadata-only: reshape, squeeze. No time beyond dispatch, often not even that.
    Free,
}

impl OpClass {
    pub const ALL: [OpClass; 11] = [
        OpClass::Conv,
        OpClass::DepthwiseConv,
        OpClass::ConvTranspose,
        OpClass::MatMul,
        OpClass::Elementwise,
        OpClass::Pool,
        OpClass::Reduce,
        OpClass::Normalize,
        OpClass::Resize,
        OpClass::Copy,
        OpClass::Free,
    ];

    /// Convolutions and matmuls: the ops whose FLOPs are 2 x MACs (+ bias).
    pub fn is_linear(self) -> bool {
        matches!(self, OpClass::Conv | OpClass::DepthwiseConv | OpClass::ConvTranspose | OpClass::MatMul)
    }

    pub fn name(self) -> &'static str {
        match self {
            OpClass::Conv => "conv",
            OpClass::DepthwiseConv => "depthwise_conv",
            OpClass::ConvTranspose => "conv_transpose",
            OpClass::MatMul => "matmul",
            OpClass::Elementwise => "elementwise",
            OpClass::Pool => "pool",
            OpClass::Reduce => "reduce",
            OpClass::Normalize => "normalize",
            OpClass::Resize => "resize",
            OpClass::Copy => "copy",
            OpClass::Free => "free",
        }
    }
}

/// One dispatched layer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Layer {
    pub name: String,
    /// IR op name (`Conv`, `HardSwish`, `Resize`, ...): what support lists name.
    pub op: String,
    pub class: OpClass,
    pub flops: u64,
    /// Elements of constant inputs (weights, biases), stored in the variant's weight dtype.
    pub weight_elems: u64,
    /// Elements of each produced tensor, summed.
    pub output_elems: u64,
    /// Layers whose outputs this one reads; empty entries are model inputs.
    pub inputs: Vec<Operand>,
    /// Convolution kernel size (kH, kW), for delegates that limit it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kernel: Option<[usize; 2]>,
    /// Largest tensor rank it touches, for delegates limited to 4-D.
    pub rank: usize,
}

/// A non-constant input of a layer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Operand {
    /// The output of an earlier layer (index into `Workload::layers`).
    Layer(usize),
    /// A model input with this many elements.
    ModelInput(u64),
}

impl Layer {
    /// Elements read from activations (not weights).
    pub fn input_elems(&self, layers: &[Layer]) -> u64 {
        self.inputs
            .iter()
            .map(|o| match *o {
                Operand::Layer(i) => layers.get(i).map_or(0, |l| l.output_elems),
                Operand::ModelInput(n) => n,
            })
            .sum()
    }
}

/// A model as the simulator sees it: layers in execution order.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Workload {
    pub name: String,
    pub layers: Vec<Layer>,
    /// Elements of the model's outputs (read back at the end).
    pub output_elems: u64,
}

impl Workload {
    pub fn total_flops(&self) -> u64 {
        self.layers.iter().map(|l| l.flops).sum()
    }

    pub fn weight_elems(&self) -> u64 {
        self.layers.iter().map(|l| l.weight_elems).sum()
    }

    /// The graph's nodes as layers, in the graph's (topological) order.
    pub fn from_graph(graph: &Graph) -> Workload {
        let producers = graph.producers();
        let mut layers = Vec::with_capacity(graph.nodes.len());
        for node in &graph.nodes {
            let in_types: Vec<&TensorType> = node.inputs.iter().map(|&v| graph.ty(v)).collect();
            let out_types: Vec<&TensorType> = node.outputs.iter().map(|&v| graph.ty(v)).collect();
            let cost = node.op.cost(&in_types, &out_types);
            let mut weight_elems = 0u64;
            let mut inputs = Vec::new();
            for &v in &node.inputs {
                let elems = graph.ty(v).elements() as u64;
                if graph.is_const(v) {
                    weight_elems += elems;
                } else if let Some(p) = producers.get(v.0 as usize).copied().flatten() {
                    inputs.push(Operand::Layer(p));
                } else {
                    inputs.push(Operand::ModelInput(elems));
                }
            }
            let rank = in_types.iter().chain(&out_types).map(|t| t.shape.len()).max().unwrap_or(0);
            let (class, kernel) = classify(&node.op, &in_types);
            layers.push(Layer {
                name: node.name.clone(),
                op: node.op.name().to_string(),
                class,
                flops: cost.flops,
                weight_elems,
                output_elems: out_types.iter().map(|t| t.elements() as u64).sum(),
                inputs,
                kernel,
                rank,
            });
        }
        let output_elems = graph.outputs.iter().map(|&v| graph.ty(v).elements() as u64).sum();
        Workload { name: graph.name.clone(), layers, output_elems }
    }
}

fn classify(op: &Op, inputs: &[&TensorType]) -> (OpClass, Option<[usize; 2]>) {
    let kernel = |i: usize| inputs.get(i).and_then(|t| (t.shape.len() == 4).then(|| [t.shape[2], t.shape[3]]));
    match op {
        Op::Conv(c) => {
            // Weight is [O, I/group, kH, kW]: depthwise when each group sees one input channel.
            let depthwise = c.group > 1 && inputs.get(1).is_some_and(|w| w.shape.get(1) == Some(&1));
            (if depthwise { OpClass::DepthwiseConv } else { OpClass::Conv }, kernel(1))
        }
        Op::ConvTranspose(_) => (OpClass::ConvTranspose, kernel(1)),
        Op::MatMul => (OpClass::MatMul, None),
        Op::Pool(_) => (OpClass::Pool, None),
        Op::Resize(_) => (OpClass::Resize, None),
        Op::Unary(_)
        | Op::Binary(_)
        | Op::PRelu
        | Op::Clip { .. }
        | Op::LeakyRelu { .. }
        | Op::HardSigmoid { .. } => (OpClass::Elementwise, None),
        Op::Reduce(_) => (OpClass::Reduce, None),
        Op::Softmax { .. } | Op::LayerNorm(_) => (OpClass::Normalize, None),
        Op::Reshape { .. } => (OpClass::Free, None),
        Op::Transpose { .. }
        | Op::Concat { .. }
        | Op::Split { .. }
        | Op::Slice(_)
        | Op::Gather { .. }
        | Op::Pad(_)
        | Op::Cast { .. } => (OpClass::Copy, None),
    }
}

/// Builds workloads of well-known architectures layer by layer, tracking an NCHW activation
/// shape (`[c, h, w]`, batch 1) or a token sequence (`[tokens, width]`) per tensor handle.
#[derive(Debug, Default)]
pub struct WorkloadBuilder {
    w: Workload,
    shapes: Vec<Vec<usize>>,
    /// Producer of each handle: a layer or the model input.
    sources: Vec<Operand>,
}

/// A tensor inside a [`WorkloadBuilder`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct T(usize);

impl WorkloadBuilder {
    pub fn new(name: &str) -> WorkloadBuilder {
        WorkloadBuilder { w: Workload { name: name.to_string(), ..Workload::default() }, ..Default::default() }
    }

    /// A model input of this shape (without the batch dim).
    pub fn input(&mut self, shape: &[usize]) -> T {
        self.shapes.push(shape.to_vec());
        self.sources.push(Operand::ModelInput(shape.iter().product::<usize>() as u64));
        T(self.shapes.len() - 1)
    }

    pub fn shape(&self, t: T) -> &[usize] {
        &self.shapes[t.0]
    }

    /// Channels of an image tensor (first dim).
    pub fn channels(&self, t: T) -> usize {
        self.shapes[t.0].first().copied().unwrap_or(0)
    }

    fn push(&mut self, op: &str, class: OpClass, ins: &[T], out: Vec<usize>, flops: u64, weights: u64) -> T {
        let rank = ins.iter().map(|t| self.shapes[t.0].len()).chain([out.len()]).max().unwrap_or(0) + 1;
        let name = format!("{}_{}", op.to_ascii_lowercase(), self.w.layers.len());
        self.w.layers.push(Layer {
            name,
            op: op.to_string(),
            class,
            flops,
            weight_elems: weights,
            output_elems: out.iter().product::<usize>() as u64,
            inputs: ins.iter().map(|t| self.sources[t.0]).collect(),
            kernel: None,
            rank,
        });
        self.shapes.push(out);
        self.sources.push(Operand::Layer(self.w.layers.len() - 1));
        T(self.shapes.len() - 1)
    }

    /// 2-D convolution with bias, "same" padding, `groups` groups (`groups == cin`: depthwise).
    pub fn conv(&mut self, x: T, cout: usize, k: usize, stride: usize, groups: usize) -> T {
        self.conv_rect(x, cout, [k, k], stride, groups)
    }

    pub fn conv_rect(&mut self, x: T, cout: usize, k: [usize; 2], stride: usize, groups: usize) -> T {
        let s = &self.shapes[x.0];
        let out = [s[1].div_ceil(stride), s[2].div_ceil(stride)];
        self.conv_to(x, cout, k, groups, out)
    }

    /// 2-D convolution with explicit total padding `pad` = [top + bottom, left + right]
    /// (`[0, 0]`: "valid"); the output is `(h + pad - k) / stride + 1`.
    pub fn conv_pad(&mut self, x: T, cout: usize, k: [usize; 2], stride: usize, groups: usize, pad: [usize; 2]) -> T {
        let s = &self.shapes[x.0];
        let out = [(s[1] + pad[0] - k[0]) / stride + 1, (s[2] + pad[1] - k[1]) / stride + 1];
        self.conv_to(x, cout, k, groups, out)
    }

    /// A convolution with bias producing `[cout, out[0], out[1]]`; `groups == cin` is depthwise.
    fn conv_to(&mut self, x: T, cout: usize, k: [usize; 2], groups: usize, out: [usize; 2]) -> T {
        let cin = self.channels(x);
        let groups = groups.max(1);
        let [oh, ow] = out;
        let macs = (cout * oh * ow * (cin / groups) * k[0] * k[1]) as u64;
        let weights = (cout * (cin / groups) * k[0] * k[1] + cout) as u64;
        let class = if groups > 1 && groups == cin { OpClass::DepthwiseConv } else { OpClass::Conv };
        let t = self.push("Conv", class, &[x], vec![cout, oh, ow], 2 * macs + (cout * oh * ow) as u64, weights);
        if let Some(l) = self.w.layers.last_mut() {
            l.kernel = Some(k);
        }
        t
    }

    /// Transposed convolution that multiplies the spatial size by `stride`.
    pub fn conv_transpose(&mut self, x: T, cout: usize, k: usize, stride: usize) -> T {
        let s = self.shapes[x.0].clone();
        let (cin, h, w) = (s[0], s[1], s[2]);
        let macs = (cin * h * w * cout * k * k) as u64;
        let t = self.push(
            "ConvTranspose",
            OpClass::ConvTranspose,
            &[x],
            vec![cout, h * stride, w * stride],
            2 * macs,
            (cin * cout * k * k + cout) as u64,
        );
        if let Some(l) = self.w.layers.last_mut() {
            l.kernel = Some([k, k]);
        }
        t
    }

    /// An elementwise op or activation (`Relu`, `Clip`, `HardSwish`, `Sigmoid`, `Gelu`, ...) on one tensor.
    pub fn act(&mut self, x: T, op: &str) -> T {
        let s = self.shapes[x.0].clone();
        let n = s.iter().product::<usize>() as u64;
        self.push(op, OpClass::Elementwise, &[x], s, n, 0)
    }

    /// A binary elementwise op (`Add`, `Mul`, ...); the output has `a`'s shape (b broadcasts).
    pub fn binary(&mut self, a: T, b: T, op: &str) -> T {
        let s = self.shapes[a.0].clone();
        let n = s.iter().product::<usize>() as u64;
        self.push(op, OpClass::Elementwise, &[a, b], s, n, 0)
    }

    pub fn add(&mut self, a: T, b: T) -> T {
        self.binary(a, b, "Add")
    }

    /// Max or average pooling (`op` = `MaxPool` / `AvgPool`) with a square window.
    pub fn pool(&mut self, x: T, op: &str, k: usize, stride: usize) -> T {
        let s = self.shapes[x.0].clone();
        let (c, h, w) = (s[0], s[1].div_ceil(stride), s[2].div_ceil(stride));
        self.push(op, OpClass::Pool, &[x], vec![c, h, w], (c * h * w * k * k) as u64, 0)
    }

    /// Pooling without padding ("valid"): the output is `(h - k) / stride + 1`.
    pub fn pool_valid(&mut self, x: T, op: &str, k: usize, stride: usize) -> T {
        let s = self.shapes[x.0].clone();
        let (c, h, w) = (s[0], (s[1] - k) / stride + 1, (s[2] - k) / stride + 1);
        self.push(op, OpClass::Pool, &[x], vec![c, h, w], (c * h * w * k * k) as u64, 0)
    }

    /// Global average pooling to `[c, 1, 1]` (a ReduceMean in most exporters).
    pub fn global_pool(&mut self, x: T) -> T {
        let s = self.shapes[x.0].clone();
        let n = s.iter().product::<usize>() as u64;
        self.push("ReduceMean", OpClass::Reduce, &[x], vec![s[0], 1, 1], n, 0)
    }

    /// Fully connected: the input is flattened to `[rows, k]` with `rows` = first dims.
    pub fn linear(&mut self, x: T, out_features: usize) -> T {
        self.fully_connected(x, out_features, false)
    }

    /// Fully connected whose weight matrix is shared with an earlier layer (a language-model
    /// decoder tied to the token embedding): only the bias is counted as its own weights.
    pub fn linear_tied(&mut self, x: T, out_features: usize) -> T {
        self.fully_connected(x, out_features, true)
    }

    fn fully_connected(&mut self, x: T, out_features: usize, tied: bool) -> T {
        let s = self.shapes[x.0].clone();
        let (rows, k) = match s.len() {
            2 => (s[0], s[1]),
            _ => (1, s.iter().product()),
        };
        let macs = (rows * k * out_features) as u64;
        let out = if s.len() == 2 { vec![rows, out_features] } else { vec![out_features] };
        let weights = if tied { out_features } else { k * out_features + out_features } as u64;
        self.push("MatMul", OpClass::MatMul, &[x], out, 2 * macs + (rows * out_features) as u64, weights)
    }

    /// Embedding lookup: a `Gather` of `ids.len()` rows from a `[vocab, width]` table.
    pub fn embedding(&mut self, ids: T, vocab: usize, width: usize) -> T {
        let rows = self.shapes[ids.0].iter().product::<usize>();
        self.push("Gather", OpClass::Copy, &[ids], vec![rows, width], 0, (vocab * width) as u64)
    }

    /// Activation x activation matmul (attention): `[heads, m, k] x [heads, k, n]`.
    pub fn matmul_act(&mut self, a: T, b: T, heads: usize, m: usize, k: usize, n: usize) -> T {
        self.push("MatMul", OpClass::MatMul, &[a, b], vec![heads, m, n], 2 * (heads * m * k * n) as u64, 0)
    }

    pub fn softmax(&mut self, x: T) -> T {
        let s = self.shapes[x.0].clone();
        let n = s.iter().product::<usize>() as u64;
        self.push("Softmax", OpClass::Normalize, &[x], s, 3 * n, 0)
    }

    /// Layer norm over the last dim, with scale and bias.
    pub fn layer_norm(&mut self, x: T) -> T {
        let s = self.shapes[x.0].clone();
        let n = s.iter().product::<usize>() as u64;
        let width = s.last().copied().unwrap_or(1) as u64;
        self.push("LayerNorm", OpClass::Normalize, &[x], s, 5 * n, 2 * width)
    }

    /// Resize an image tensor to `[c, h, w]` (`linear`: bilinear taps, else nearest).
    pub fn resize(&mut self, x: T, h: usize, w: usize, linear: bool) -> T {
        let c = self.channels(x);
        let n = (c * h * w) as u64;
        self.push("Resize", OpClass::Resize, &[x], vec![c, h, w], if linear { 4 * n } else { 0 }, 0)
    }

    /// Concatenation along channels (image tensors) or the first dim.
    pub fn concat(&mut self, xs: &[T]) -> T {
        let mut out = self.shapes[xs[0].0].clone();
        out[0] = xs.iter().map(|t| self.shapes[t.0][0]).sum();
        self.push("Concat", OpClass::Copy, xs, out, 0, 0)
    }

    /// One `Split` along the first dim into parts of these sizes (one layer, several outputs).
    pub fn split(&mut self, x: T, sizes: &[usize]) -> Vec<T> {
        let s = self.shapes[x.0].clone();
        let whole = self.push("Split", OpClass::Copy, &[x], s.clone(), 0, 0);
        let source = self.sources[whole.0];
        sizes
            .iter()
            .map(|&n| {
                let mut part = s.clone();
                part[0] = n;
                self.shapes.push(part);
                self.sources.push(source);
                T(self.shapes.len() - 1)
            })
            .collect()
    }

    /// A data-movement op (`Transpose`, `Slice`, `Pad`, `Gather`...) producing `out`.
    pub fn copy(&mut self, x: T, op: &str, out: Vec<usize>) -> T {
        self.push(op, OpClass::Copy, &[x], out, 0, 0)
    }

    /// A metadata-only reshape to `out`.
    pub fn reshape(&mut self, x: T, out: Vec<usize>) -> T {
        self.push("Reshape", OpClass::Free, &[x], out, 0, 0)
    }

    /// A model output.
    pub fn output(&mut self, x: T) {
        self.w.output_elems += self.shapes[x.0].iter().product::<usize>() as u64;
    }

    pub fn finish(self) -> Workload {
        self.w
    }
}
