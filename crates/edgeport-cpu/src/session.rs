//! A planned model and its runs.

use std::cell::RefCell;

use candle_core::{CpuStorage, Device, InplaceOp2, Layout as CandleLayout};
use edgeport_ir::{DType, DynamicQuant, Graph, QuantParams, Tensor, TensorType, ValueId};

use crate::kernels::{self, Activation, Kernel, StepIo};
use edgeport_ir::arena::{assign_offsets, Interval, Steps};

use crate::plan::{Buf, Memory, MemoryPlan};
use crate::CpuError;

/// Largest activation arena a session plans (bytes); wasm32 has 4 GiB of address space.
#[cfg(target_arch = "wasm32")]
const MAX_ARENA_BYTES: u64 = 1 << 31;
#[cfg(not(target_arch = "wasm32"))]
const MAX_ARENA_BYTES: u64 = 1 << 34;

#[derive(Debug, Clone)]
pub struct SessionOptions {
    /// Threads for matrix products (1 = single-threaded; wasm always runs single-threaded).
    pub threads: usize,
    /// Per graph node: true when its outputs are stored as float16, as an fp16 Core ML program
    /// stores every intermediate. Those outputs are rounded to float16 after the step (and a
    /// model input is rounded when every node reading it is such a node), so the run shows
    /// the program's rounding error. `None`: everything stays float32.
    pub f16_nodes: Option<Vec<bool>>,
    /// Simulate full-integer quantization: every value with `QuantParams` (model inputs
    /// included) is stored as int8 and read back, as the int8 artifact rounds it, and no
    /// activation folds into a producer whose own output is stored as int8.
    pub int8_values: bool,
    /// Per graph node: how a hybrid kernel quantizes its first input as it runs (TFLite's
    /// int8-weight CONV_2D / FULLY_CONNECTED). The step reads a copy of that input rounded
    /// row by row; other readers of the value see it unchanged. `None`: no hybrid nodes.
    pub hybrid_nodes: Option<Vec<Option<DynamicQuant>>>,
    /// Keep every value observable ([`Session::run_observed`]): nothing folds into a
    /// producer, so each node's output is written to memory.
    pub observe: bool,
}

impl Default for SessionOptions {
    fn default() -> Self {
        SessionOptions { threads: 1, f16_nodes: None, int8_values: false, hybrid_nodes: None, observe: false }
    }
}

/// A model input or output: name, type and where it lives.
#[derive(Debug, Clone)]
pub struct Port {
    pub name: String,
    pub ty: TensorType,
    buf: Buf,
    /// Rounded to float16 when written (see `SessionOptions::f16_nodes`).
    round_f16: bool,
    /// Stored as int8 when written (see `SessionOptions::int8_values`).
    quant: Option<QuantParams>,
    value: ValueId,
}

struct Step {
    node: String,
    op: &'static str,
    kernel: Kernel,
    inputs: Vec<Buf>,
    outputs: Vec<Buf>,
    scratch: Buf,
    extra: Vec<Buf>,
    epilogue: Option<Activation>,
    round_f16: bool,
    /// Per output: stored as int8 (see `SessionOptions::int8_values`).
    quant: Vec<Option<QuantParams>>,
    /// The node's output values (what `run_observed` reports).
    values: Vec<ValueId>,
    /// A hybrid node: where its first input lives (`inputs[0]` is the rounded copy).
    dynamic: Option<(Buf, DynamicQuant)>,
}

pub struct Session {
    steps: Vec<Step>,
    inputs: Vec<Port>,
    outputs: Vec<Port>,
    arena: candle_core::Tensor,
    weights: candle_core::Tensor,
    plan: MemoryPlan,
    parallelism: gemm::Parallelism,
    step_ms: Vec<f64>,
}

/// A node compiled but not yet given memory.
struct Pending {
    node: usize,
    compiled: kernels::Compiled,
    epilogue: Option<Activation>,
    /// The node whose activation was folded in.
    folded: Option<usize>,
}

impl Session {
    pub fn new(graph: &Graph, options: &SessionOptions) -> Result<Session, CpuError> {
        let nvalues = graph.values().len();
        let consumers = graph.consumers();
        // Steps: reshapes aliased, activations folded into kernels that apply them.
        let quant_of = |v: ValueId| if options.int8_values { graph.value(v).quant } else { None };
        let plan = Steps::plan(graph, |n| {
            !options.observe && kernels::takes_epilogue(&n.op) && n.outputs.first().is_none_or(|&o| quant_of(o).is_none())
        });
        let resolve = |v: ValueId| plan.resolve(v);
        let mut pending: Vec<Pending> = Vec::with_capacity(plan.steps.len());
        for step in &plan.steps {
            let compiled = kernels::compile(graph, &graph.nodes[step.node])?;
            let epilogue = step.folded.and_then(|a| Activation::of(&graph.nodes[a].op));
            pending.push(Pending { node: step.node, compiled, epilogue, folded: step.folded });
        }

        // Constants: packed once, in first-use order.
        let mut weights: Vec<f32> = Vec::new();
        let mut const_buf: Vec<Option<Buf>> = vec![None; nvalues];
        let pack = |weights: &mut Vec<f32>, data: &[f32]| {
            let buf = Buf { weights: true, offset: weights.len(), len: data.len() };
            weights.extend_from_slice(data);
            buf
        };
        let mut const_of = |weights: &mut Vec<f32>, v: ValueId| -> Option<Buf> {
            let t = graph.constant(v)?;
            if let Some(b) = const_buf[v.0 as usize] {
                return Some(b);
            }
            let b = pack(weights, &t.to_f32_vec());
            const_buf[v.0 as usize] = Some(b);
            Some(b)
        };

        // Liveness of runtime values, then each step's scratch (alive during the step only).
        let (mut intervals, slot_of) = plan.value_intervals(graph);
        let scratch_slot: Vec<Option<usize>> = pending
            .iter()
            .enumerate()
            .map(|(s, p)| {
                (p.compiled.scratch > 0).then(|| {
                    intervals.push(Interval { first: s + 1, last: s + 1, len: p.compiled.scratch });
                    intervals.len() - 1
                })
            })
            .collect();
        // A hybrid step's rounded copy of its input, alive during the step only.
        let hybrid = |node: usize| options.hybrid_nodes.as_ref().and_then(|h| h.get(node).copied().flatten());
        let copy_slot: Vec<Option<usize>> = pending
            .iter()
            .enumerate()
            .map(|(s, p)| {
                hybrid(p.node)?;
                let &x = graph.nodes[p.node].inputs.first()?;
                let len = graph.ty(x).shape.iter().product::<usize>();
                intervals.push(Interval { first: s + 1, last: s + 1, len });
                Some(intervals.len() - 1)
            })
            .collect();
        let unshared: u64 = intervals.iter().map(|i| i.len as u64 * 4).sum();
        let (offsets, arena_len) = assign_offsets(&intervals);
        let arena_bytes = arena_len as u64 * 4;
        if arena_bytes > MAX_ARENA_BYTES {
            return Err(CpuError::TooLarge { what: "activation memory", needed: arena_bytes, limit: MAX_ARENA_BYTES });
        }
        let arena_buf = |slot: usize| Buf { weights: false, offset: offsets[slot], len: intervals[slot].len };
        let mut buf_of = |weights: &mut Vec<f32>, v: ValueId| -> Result<Buf, CpuError> {
            let r = resolve(v);
            if let Some(b) = const_of(weights, r) {
                return Ok(b);
            }
            let slot = slot_of[r.0 as usize].ok_or_else(|| CpuError::Unsupported {
                node: graph.value(v).name.clone(),
                op: "value",
                message: "is read before any node writes it".into(),
            })?;
            Ok(arena_buf(slot))
        };

        let f16 = |node: usize| options.f16_nodes.as_ref().is_some_and(|f| f.get(node).copied().unwrap_or(false));
        let mut steps = Vec::with_capacity(pending.len());
        for (s, p) in pending.into_iter().enumerate() {
            let node = &graph.nodes[p.node];
            let mut inputs = node.inputs.iter().map(|&v| buf_of(&mut weights, v)).collect::<Result<Vec<_>, _>>()?;
            let dynamic = match (copy_slot[s], hybrid(p.node)) {
                (Some(slot), Some(dq)) if !inputs.is_empty() => {
                    let source = inputs[0];
                    inputs[0] = arena_buf(slot);
                    Some((source, dq))
                }
                _ => None,
            };
            let outputs = node.outputs.iter().map(|&v| buf_of(&mut weights, v)).collect::<Result<Vec<_>, _>>()?;
            let scratch = scratch_slot[s].map(arena_buf).unwrap_or_default();
            let extra = p.compiled.extra_consts.iter().map(|c| pack(&mut weights, c)).collect();
            steps.push(Step {
                node: node.name.clone(),
                op: node.op.name(),
                kernel: p.compiled.kernel,
                inputs,
                outputs,
                scratch,
                extra,
                epilogue: p.epilogue,
                // Rounding commutes with the monotone activations folded in, so one rounding
                // after the step stands for either node's.
                round_f16: f16(p.node) || p.folded.is_some_and(f16),
                quant: match p.folded {
                    // the folded activation's output is what the step writes
                    Some(a) => graph.nodes[a].outputs.iter().map(|&v| quant_of(v)).collect(),
                    None => node.outputs.iter().map(|&v| quant_of(v)).collect(),
                },
                values: match p.folded {
                    Some(a) => graph.nodes[a].outputs.clone(),
                    None => node.outputs.clone(),
                },
                dynamic,
            });
        }
        let producers = graph.producers();
        let mut port = |weights: &mut Vec<f32>, v: ValueId| -> Result<Port, CpuError> {
            let value = graph.value(v);
            let readers = &consumers[v.0 as usize];
            let round_f16 = producers.get(v.0 as usize).copied().flatten().is_none()
                && !readers.is_empty()
                && readers.iter().all(|&n| f16(n));
            let quant = if producers.get(v.0 as usize).copied().flatten().is_none() { quant_of(v) } else { None };
            Ok(Port { name: value.name.clone(), ty: value.ty.clone(), buf: buf_of(weights, v)?, round_f16, quant, value: v })
        };
        let inputs = graph.inputs.iter().map(|&v| port(&mut weights, v)).collect::<Result<Vec<_>, _>>()?;
        let outputs = graph.outputs.iter().map(|&v| port(&mut weights, v)).collect::<Result<Vec<_>, _>>()?;

        let plan = MemoryPlan {
            arena_bytes,
            unshared_bytes: unshared,
            weights_bytes: weights.len() as u64 * 4,
            steps: steps.len(),
        };
        let weights_len = weights.len().max(1);
        weights.resize(weights_len, 0.0);
        let device = Device::Cpu;
        let arena = candle_core::Tensor::zeros(arena_len.max(1), candle_core::DType::F32, &device)?;
        let weights = candle_core::Tensor::from_vec(weights, weights_len, &device)?;
        let parallelism = match options.threads {
            #[cfg(not(target_arch = "wasm32"))]
            t if t > 1 => gemm::Parallelism::Rayon(t),
            _ => gemm::Parallelism::None,
        };
        let step_ms = vec![0.0; steps.len()];
        Ok(Session { steps, inputs, outputs, arena, weights, plan, parallelism, step_ms })
    }

    pub fn inputs(&self) -> &[Port] {
        &self.inputs
    }
    pub fn outputs(&self) -> &[Port] {
        &self.outputs
    }
    pub fn memory_plan(&self) -> &MemoryPlan {
        &self.plan
    }

    /// Runs the model on `inputs` (in the order of [`Session::inputs`]).
    pub fn run(&mut self, inputs: &[Tensor]) -> Result<Vec<Tensor>, CpuError> {
        self.run_timed(inputs, None)
    }

    /// Runs the model, showing `observer` every model input and every node output as it is
    /// written (with [`SessionOptions::observe`], every value of the graph).
    pub fn run_observed(&mut self, inputs: &[Tensor], observer: &mut dyn FnMut(ValueId, &[f32])) -> Result<Vec<Tensor>, CpuError> {
        self.run_inner(inputs, None, Some(observer))
    }

    /// Runs the model, timing every step with `clock` (milliseconds) when given; the times are
    /// then read with [`Session::step_times`].
    pub fn run_timed(&mut self, inputs: &[Tensor], clock: Option<&dyn Fn() -> f64>) -> Result<Vec<Tensor>, CpuError> {
        self.run_inner(inputs, clock, None)
    }

    fn run_inner<'o>(
        &mut self,
        inputs: &[Tensor],
        clock: Option<&dyn Fn() -> f64>,
        observer: Option<&'o mut dyn FnMut(ValueId, &[f32])>,
    ) -> Result<Vec<Tensor>, CpuError> {
        self.check_inputs(inputs)?;
        let inference = Inference {
            session: self,
            inputs,
            clock,
            observer: RefCell::new(observer),
            outputs: RefCell::new(Vec::with_capacity(self.outputs.len())),
            error: RefCell::new(None),
            step_ms: RefCell::new(Vec::with_capacity(self.steps.len())),
        };
        let result = self.arena.inplace_op2(&self.weights, &inference);
        if let Some(e) = inference.error.borrow_mut().take() {
            return Err(e);
        }
        result?;
        let step_ms = inference.step_ms.into_inner();
        let outputs = inference.outputs.into_inner();
        if clock.is_some() {
            self.step_ms = step_ms;
        }
        self.outputs
            .iter()
            .zip(outputs)
            .map(|(port, data)| {
                let t = Tensor::from_f32(port.ty.shape.clone(), data).map_err(|e| CpuError::Storage(e.to_string()))?;
                Ok(if port.ty.dtype == DType::F32 { t } else { t.cast(port.ty.dtype) })
            })
            .collect()
    }

    /// (node name, op, milliseconds) of every step of the last timed run.
    pub fn step_times(&self) -> impl Iterator<Item = (&str, &'static str, f64)> {
        self.steps.iter().zip(&self.step_ms).map(|(s, &ms)| (s.node.as_str(), s.op, ms))
    }

    fn check_inputs(&self, inputs: &[Tensor]) -> Result<(), CpuError> {
        if inputs.len() != self.inputs.len() {
            let names: Vec<&str> = self.inputs.iter().map(|p| p.name.as_str()).collect();
            return Err(CpuError::Input {
                name: names.join(", "),
                message: format!("the model takes {} inputs, got {}", self.inputs.len(), inputs.len()),
            });
        }
        for (port, t) in self.inputs.iter().zip(inputs) {
            let err = |message: String| Err(CpuError::Input { name: port.name.clone(), message });
            if t.shape() != port.ty.shape.as_slice() {
                return err(format!("expected shape {:?}, got {:?}", port.ty.shape, t.shape()));
            }
            if t.dtype() != port.ty.dtype {
                return err(format!("expected {}, got {}", port.ty.dtype, t.dtype()));
            }
        }
        Ok(())
    }
}

/// One inference as a candle in-place op over the arena (the weights are its source operand).
struct Inference<'a, 'o> {
    session: &'a Session,
    inputs: &'a [Tensor],
    clock: Option<&'a dyn Fn() -> f64>,
    observer: RefCell<Option<&'o mut dyn FnMut(ValueId, &[f32])>>,
    outputs: RefCell<Vec<Vec<f32>>>,
    error: RefCell<Option<CpuError>>,
    step_ms: RefCell<Vec<f64>>,
}

impl Inference<'_, '_> {
    fn execute(&self, arena: &mut [f32], weights: &[f32]) -> Result<(), CpuError> {
        let s = self.session;
        let mem = Memory::new(arena, weights);
        for (port, t) in s.inputs.iter().zip(self.inputs) {
            // SAFETY: nothing else is borrowed from the arena between steps.
            let dst = unsafe { mem.write(port.buf) };
            match t.as_f32() {
                Some(v) => dst.copy_from_slice(v),
                None => dst.copy_from_slice(&t.to_f32_vec()),
            }
            if port.round_f16 {
                round_to_f16(dst);
            }
            if let Some(q) = port.quant {
                store_int8(dst, q);
            }
            if let Some(obs) = self.observer.borrow_mut().as_mut() {
                obs(port.value, dst);
            }
        }
        let mut times = self.step_ms.borrow_mut();
        times.clear();
        for step in &s.steps {
            let start = self.clock.map(|c| c());
            if let Some((source, dq)) = step.dynamic {
                // SAFETY: the copy's slot is the step's own; the source is another buffer.
                let copy = unsafe { mem.write(step.inputs[0]) };
                copy.copy_from_slice(mem.read(source));
                dq.fake(copy);
            }
            let io = StepIo {
                mem: &mem,
                inputs: &step.inputs,
                outputs: &step.outputs,
                scratch: step.scratch,
                extra: &step.extra,
                parallelism: s.parallelism,
                epilogue: step.epilogue,
            };
            step.kernel
                .run(&io)
                .map_err(|message| CpuError::Runtime { node: step.node.clone(), op: step.op, message })?;
            if let Some(act) = step.epilogue.filter(|_| !step.kernel.applies_epilogue()) {
                act.apply(io.output(0));
            }
            if step.round_f16 {
                for i in 0..step.outputs.len() {
                    round_to_f16(io.output(i));
                }
            }
            for (i, q) in step.quant.iter().enumerate() {
                if let Some(q) = q {
                    store_int8(io.output(i), *q);
                }
            }
            if let Some(obs) = self.observer.borrow_mut().as_mut() {
                for (i, &v) in step.values.iter().enumerate() {
                    obs(v, io.output(i));
                }
            }
            if let (Some(c), Some(t0)) = (self.clock, start) {
                times.push(c() - t0);
            }
        }
        let mut outputs = self.outputs.borrow_mut();
        for port in &s.outputs {
            outputs.push(mem.read(port.buf).to_vec());
        }
        Ok(())
    }
}

impl InplaceOp2 for Inference<'_, '_> {
    fn name(&self) -> &'static str {
        "edgeport-inference"
    }

    fn cpu_fwd(&self, dst: &mut CpuStorage, _: &CandleLayout, src: &CpuStorage, _: &CandleLayout) -> candle_core::Result<()> {
        let (CpuStorage::F32(arena), CpuStorage::F32(weights)) = (dst, src) else {
            candle_core::bail!("edgeport arena and weights are float32");
        };
        if let Err(e) = self.execute(arena, weights) {
            *self.error.borrow_mut() = Some(e);
            candle_core::bail!("inference failed");
        }
        Ok(())
    }
}

/// Each value as int8 with `q` stores it (round half away from zero, saturate).
fn store_int8(values: &mut [f32], q: QuantParams) {
    for x in values {
        *x = q.fake(*x);
    }
}

/// Each value as float16 stores it (round to nearest even, overflow to infinity).
fn round_to_f16(values: &mut [f32]) {
    for x in values {
        *x = half::f16::from_f32(*x).to_f32();
    }
}
