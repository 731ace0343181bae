//! A planned model on the GPU and its runs.
//!
//! Planning mirrors edgeport-cpu: activations are folded into the producing kernel, reshapes
//! alias their input, and every runtime value gets a range of one arena by liveness
//! (`edgeport_ir::arena`). The memory buffer holds [arena | weights | index tables]; weights
//! and tables are uploaded once. An inference writes the inputs, records every launch into
//! one compute pass, copies the outputs to a readback buffer and submits once.

use std::collections::BTreeMap;

use edgeport_ir::arena::{Steps, assign_offsets};
use edgeport_ir::{DType, Graph, Tensor, TensorType, ValueId};
use serde::{Deserialize, Serialize};

use crate::GpuError;
use crate::device::Gpu;
use crate::kernels::{self, Act, Ctx, Epilogue, Launch, Operands, PARAM_WORDS, Shader, Tables};

/// Bytes between parameter blocks (WebGPU's minimum uniform offset alignment).
const PARAM_STRIDE: u64 = 256;
/// Largest single upload the session plans (bytes), below any adapter's buffer limit.
const MAX_MEMORY_BYTES: u64 = 1 << 32;

#[derive(Debug, Clone, Default)]
pub struct SessionOptions {
    /// Per graph node: round its outputs to float16 (see `edgeport_cpu::SessionOptions`).
    pub f16_nodes: Option<Vec<bool>>,
    /// Store float weights that float16 holds exactly as float16, where the adapter has
    /// `shader-f16` (the fp16 variants, whose weights are already rounded so).
    pub f16_weights: bool,
}

/// Sizes decided at planning time.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct GpuPlan {
    /// The activation arena (bytes).
    pub arena_bytes: u64,
    /// Weights and index tables (bytes), uploaded once.
    pub weights_bytes: u64,
    /// Float weights are stored as float16 (fp16 variants on adapters with `shader-f16`).
    pub f16_weights: bool,
    /// Steps after fusion, and the kernel launches they take.
    pub steps: usize,
    pub launches: usize,
    /// Distinct compute pipelines.
    pub pipelines: usize,
}

/// A model input or output.
#[derive(Debug, Clone)]
pub struct Port {
    pub name: String,
    pub ty: TensorType,
    /// Element offset in the memory buffer.
    offset: u64,
    round_f16: bool,
}

/// One run's results: outputs, and the GPU's own time for the pass when timestamps exist.
pub struct RunResult {
    pub outputs: Vec<Tensor>,
    pub gpu_ms: Option<f64>,
}

struct Recorded {
    shader: Shader,
    param_offset: u32,
    groups: [u32; 3],
}

pub struct Session {
    gpu: Gpu,
    memory: wgpu::Buffer,
    bind_group: wgpu::BindGroup,
    pipelines: BTreeMap<Shader, wgpu::ComputePipeline>,
    launches: Vec<Recorded>,
    inputs: Vec<Port>,
    outputs: Vec<Port>,
    readback: wgpu::Buffer,
    /// Offset of the timestamps in the readback buffer, with their query set and resolve buffer.
    timestamps: Option<(u64, wgpu::QuerySet, wgpu::Buffer)>,
    plan: GpuPlan,
}

/// A node compiled into launches, before memory is assigned.
struct Pending {
    node: usize,
    act: Option<Act>,
    folded: Option<usize>,
}

impl Session {
    pub async fn new(
        gpu: &Gpu,
        graph: &Graph,
        options: &SessionOptions,
    ) -> Result<Session, GpuError> {
        gpu.check()?;
        let nvalues = graph.values().len();
        let consumers = graph.consumers();
        let is_output = |v: ValueId| graph.outputs.contains(&v);
        // Steps: reshapes aliased, activations folded into kernels that apply them.
        let plan = Steps::plan(graph, |n| kernels::takes_epilogue(&n.op));
        let resolve = |v: ValueId| plan.resolve(v);
        let pending: Vec<Pending> = plan
            .steps
            .iter()
            .map(|s| Pending { node: s.node, act: s.folded.and_then(|a| Act::of(&graph.nodes[a].op)), folded: s.folded })
            .collect();
        let (intervals, slot_of) = plan.value_intervals(graph);
        let (arena_offsets, arena_len) = assign_offsets(&intervals);

        // Index tables follow the arena; their size depends only on shapes, so a dry compile
        // measures it before any operand has an offset.
        let mut dry = Tables { base: 0, data: Vec::new() };
        for p in &pending {
            let node = &graph.nodes[p.node];
            let (ins, outs) = (vec![Some(0); node.inputs.len()], vec![0; node.outputs.len()]);
            let operands = Operands { inputs: &ins, outputs: &outs };
            kernels::compile(&Ctx { graph, node, operands, epilogue: Epilogue::default() }, &mut dry)?;
        }
        let tables_base = arena_len.div_ceil(16) * 16;
        let consts_base = tables_base + dry.data.len().div_ceil(16) * 16;

        // Constants in first-use order. With float16 weights (fp16 variants on adapters with
        // shader-f16), float tensors whose every value float16 holds exactly go to the float16
        // buffer; everything else (integers, scalars, float32-only weights) stays float32.
        let use_f16 = options.f16_weights && gpu.shader_f16;
        let mut order: Vec<ValueId> = Vec::new();
        let mut seen = vec![false; nvalues];
        let reads = pending.iter().flat_map(|p| graph.nodes[p.node].inputs.iter()).chain(&graph.outputs);
        for &v in reads {
            let r = resolve(v);
            if graph.constant(r).is_some() && !seen[r.0 as usize] {
                seen[r.0 as usize] = true;
                order.push(r);
            }
        }
        let mut weights: Vec<f32> = Vec::new();
        let mut weights16: Vec<half::f16> = Vec::new();
        // (float16 buffer?, index in its list)
        let mut place: Vec<Option<(bool, usize)>> = vec![None; nvalues];
        for r in order {
            let Some(t) = graph.constant(r) else { continue };
            let values = t.to_f32_vec();
            let exact = |x: &f32| half::f16::from_f32(*x).to_f32().to_bits() == x.to_bits();
            let as_f16 = use_f16 && t.dtype() == DType::F32 && values.len() > 1 && !is_output(r) && values.iter().all(exact);
            if as_f16 {
                place[r.0 as usize] = Some((true, weights16.len()));
                weights16.extend(values.iter().map(|&x| half::f16::from_f32(x)));
            } else {
                place[r.0 as usize] = Some((false, weights.len()));
                weights.extend(values);
            }
        }
        let weights16_base = consts_base + weights.len().div_ceil(16) * 16;
        let offset_of = |v: ValueId| -> Result<u64, GpuError> {
            let r = resolve(v);
            match place[r.0 as usize] {
                Some((false, i)) => return Ok((consts_base + i) as u64),
                Some((true, i)) => return Ok((weights16_base + i) as u64),
                None => {}
            }
            let slot = slot_of[r.0 as usize].ok_or_else(|| GpuError::Unsupported {
                node: graph.value(v).name.clone(),
                op: "value",
                message: "is read before any node writes it".into(),
            })?;
            Ok(arena_offsets[slot] as u64)
        };

        let f16 = |node: usize| {
            options
                .f16_nodes
                .as_ref()
                .is_some_and(|f| f.get(node).copied().unwrap_or(false))
        };
        let mut operand_offsets: Vec<(Vec<Option<u32>>, Vec<u32>)> =
            Vec::with_capacity(pending.len());
        for p in &pending {
            let node = &graph.nodes[p.node];
            let ins = node
                .inputs
                .iter()
                .map(|&v| offset_of(v).and_then(kernels::offset_u32).map(Some))
                .collect::<Result<Vec<_>, _>>()?;
            let outs = node
                .outputs
                .iter()
                .map(|&v| offset_of(v).and_then(kernels::offset_u32))
                .collect::<Result<Vec<_>, _>>()?;
            operand_offsets.push((ins, outs));
        }
        let producers = graph.producers();
        let port = |v: ValueId| -> Result<Port, GpuError> {
            let value = graph.value(v);
            let readers = &consumers[v.0 as usize];
            let round_f16 = producers.get(v.0 as usize).copied().flatten().is_none()
                && !readers.is_empty()
                && readers.iter().all(|&n| f16(n));
            Ok(Port {
                name: value.name.clone(),
                ty: value.ty.clone(),
                offset: offset_of(v)?,
                round_f16,
            })
        };
        let inputs = graph
            .inputs
            .iter()
            .map(|&v| port(v))
            .collect::<Result<Vec<_>, _>>()?;
        let outputs = graph
            .outputs
            .iter()
            .map(|&v| port(v))
            .collect::<Result<Vec<_>, _>>()?;

        // Kernels, with their index tables after the arena.
        let mut tables = Tables {
            base: tables_base as u64,
            data: Vec::new(),
        };
        let mut launches: Vec<Launch> = Vec::new();
        for (p, (ins, outs)) in pending.iter().zip(&operand_offsets) {
            let node = &graph.nodes[p.node];
            let epilogue = Epilogue {
                act: p.act.unwrap_or(Act::NONE),
                // Rounding commutes with the monotone activations folded in.
                round_f16: f16(p.node) || p.folded.is_some_and(f16),
            };
            let ctx = Ctx {
                graph,
                node,
                operands: Operands {
                    inputs: ins,
                    outputs: outs,
                },
                epilogue,
            };
            launches.extend(kernels::compile(&ctx, &mut tables)?);
        }
        if tables.data.len() != dry.data.len() {
            return Err(GpuError::Runtime("index tables changed size between planning passes".into()));
        }
        for l in &mut launches {
            l.params.set(kernels::WEIGHTS_BASE_SLOT, &[kernels::offset_u32(weights16_base as u64)?]);
        }

        // Memory: one float32 buffer for the arena, tables and float32 constants; float16
        // weights in their own buffer.
        let total_elems = consts_base + weights.len();
        let memory_bytes = (total_elems.max(4) as u64) * 4;
        let limits = gpu.device.limits();
        let limit = limits.max_storage_buffer_binding_size
            .min(limits.max_buffer_size)
            .min(MAX_MEMORY_BYTES);
        if memory_bytes > limit {
            return Err(GpuError::TooLarge {
                what: "the model's GPU memory (bytes)",
                needed: memory_bytes,
                limit,
            });
        }
        let scope = gpu.device.push_error_scope(wgpu::ErrorFilter::OutOfMemory);
        let validation = gpu.device.push_error_scope(wgpu::ErrorFilter::Validation);
        let memory = gpu.device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("edgeport memory"),
            size: memory_bytes,
            usage: wgpu::BufferUsages::STORAGE
                | wgpu::BufferUsages::COPY_DST
                | wgpu::BufferUsages::COPY_SRC,
            mapped_at_creation: false,
        });
        if !tables.data.is_empty() {
            gpu.queue.write_buffer(&memory, tables_base as u64 * 4, bytemuck::cast_slice(&tables.data));
        }
        if !weights.is_empty() {
            gpu.queue.write_buffer(&memory, consts_base as u64 * 4, bytemuck::cast_slice(&weights));
        }
        let weights16_buffer = use_f16.then(|| {
            let mut bytes: Vec<u8> = weights16.iter().flat_map(|h| h.to_bits().to_le_bytes()).collect();
            bytes.resize(bytes.len().div_ceil(4).max(1) * 4, 0);
            let buffer = gpu.device.create_buffer(&wgpu::BufferDescriptor {
                label: Some("edgeport float16 weights"),
                size: bytes.len() as u64,
                usage: wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_DST,
                mapped_at_creation: false,
            });
            gpu.queue.write_buffer(&buffer, 0, &bytes);
            buffer
        });

        // Parameters: one 256-byte block per launch.
        let param_bytes = (launches.len().max(1) as u64) * PARAM_STRIDE;
        let params = gpu.device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("edgeport params"),
            size: param_bytes,
            usage: wgpu::BufferUsages::UNIFORM | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });
        let mut block = vec![0u32; launches.len() * (PARAM_STRIDE as usize / 4)];
        for (i, l) in launches.iter().enumerate() {
            block[i * (PARAM_STRIDE as usize / 4)..][..PARAM_WORDS].copy_from_slice(&l.params.0);
        }
        if !block.is_empty() {
            gpu.queue
                .write_buffer(&params, 0, bytemuck::cast_slice(&block));
        }

        let layout = gpu
            .device
            .create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor {
                label: Some("edgeport"),
                entries: &[
                    wgpu::BindGroupLayoutEntry {
                        binding: 0,
                        visibility: wgpu::ShaderStages::COMPUTE,
                        ty: wgpu::BindingType::Buffer {
                            ty: wgpu::BufferBindingType::Storage { read_only: false },
                            has_dynamic_offset: false,
                            min_binding_size: None,
                        },
                        count: None,
                    },
                    wgpu::BindGroupLayoutEntry {
                        binding: 1,
                        visibility: wgpu::ShaderStages::COMPUTE,
                        ty: wgpu::BindingType::Buffer {
                            ty: wgpu::BufferBindingType::Uniform,
                            has_dynamic_offset: true,
                            min_binding_size: wgpu::BufferSize::new(PARAM_STRIDE),
                        },
                        count: None,
                    },
                    wgpu::BindGroupLayoutEntry {
                        binding: 2,
                        visibility: wgpu::ShaderStages::COMPUTE,
                        ty: wgpu::BindingType::Buffer {
                            ty: wgpu::BufferBindingType::Storage { read_only: true },
                            has_dynamic_offset: false,
                            min_binding_size: None,
                        },
                        count: None,
                    },
                ][..if use_f16 { 3 } else { 2 }],
            });
        let bind_group = gpu.device.create_bind_group(&wgpu::BindGroupDescriptor {
            label: Some("edgeport"),
            layout: &layout,
            entries: &[
                wgpu::BindGroupEntry {
                    binding: 0,
                    resource: memory.as_entire_binding(),
                },
                wgpu::BindGroupEntry {
                    binding: 1,
                    resource: wgpu::BindingResource::Buffer(wgpu::BufferBinding {
                        buffer: &params,
                        offset: 0,
                        size: wgpu::BufferSize::new(PARAM_STRIDE),
                    }),
                },
            ]
            .into_iter()
            .chain(weights16_buffer.as_ref().map(|b| wgpu::BindGroupEntry { binding: 2, resource: b.as_entire_binding() }))
            .collect::<Vec<_>>(),
        });
        let pipeline_layout = gpu
            .device
            .create_pipeline_layout(&wgpu::PipelineLayoutDescriptor {
                label: Some("edgeport"),
                bind_group_layouts: &[Some(&layout)],
                immediate_size: 0,
            });
        let mut pipelines = BTreeMap::new();
        for l in &launches {
            if pipelines.contains_key(&l.shader) {
                continue;
            }
            let module = gpu
                .device
                .create_shader_module(wgpu::ShaderModuleDescriptor {
                    label: Some(l.shader.name()),
                    source: wgpu::ShaderSource::Wgsl(l.shader.source(use_f16).into()),
                });
            let pipeline = gpu
                .device
                .create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
                    label: Some(l.shader.name()),
                    layout: Some(&pipeline_layout),
                    module: &module,
                    entry_point: Some("main"),
                    compilation_options: Default::default(),
                    cache: None,
                });
            pipelines.insert(l.shader, pipeline);
        }

        // Readback: the outputs back to back, then two timestamps.
        let out_bytes: u64 = outputs.iter().map(|p| p.ty.elements() as u64 * 4).sum();
        let ts_at = out_bytes.div_ceil(256) * 256;
        let timestamps = gpu.timestamps.then(|| {
            let set = gpu.device.create_query_set(&wgpu::QuerySetDescriptor {
                label: Some("edgeport pass"),
                ty: wgpu::QueryType::Timestamp,
                count: 2,
            });
            let resolve = gpu.device.create_buffer(&wgpu::BufferDescriptor {
                label: Some("edgeport timestamps"),
                size: 16,
                usage: wgpu::BufferUsages::QUERY_RESOLVE | wgpu::BufferUsages::COPY_SRC,
                mapped_at_creation: false,
            });
            (ts_at, set, resolve)
        });
        let readback = gpu.device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("edgeport readback"),
            size: (ts_at + 16).max(16),
            usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });

        if let Some(e) = validation.pop().await {
            return Err(GpuError::Runtime(e.to_string()));
        }
        if let Some(e) = scope.pop().await {
            return Err(GpuError::OutOfMemory(e.to_string()));
        }
        gpu.check()?;

        let recorded = launches
            .iter()
            .enumerate()
            .map(|(i, l)| Recorded {
                shader: l.shader,
                param_offset: (i as u64 * PARAM_STRIDE) as u32,
                groups: l.grid.groups(),
            })
            .collect();
        let plan = GpuPlan {
            arena_bytes: arena_len as u64 * 4,
            weights_bytes: (weights.len() + tables.data.len()) as u64 * 4 + weights16.len() as u64 * 2,
            f16_weights: use_f16,
            steps: pending.len(),
            launches: launches.len(),
            pipelines: pipelines.len(),
        };
        Ok(Session {
            gpu: gpu.clone(),
            memory,
            bind_group,
            pipelines,
            launches: recorded,
            inputs,
            outputs,
            readback,
            timestamps,
            plan,
        })
    }

    pub fn inputs(&self) -> &[Port] {
        &self.inputs
    }
    pub fn outputs(&self) -> &[Port] {
        &self.outputs
    }
    pub fn plan(&self) -> &GpuPlan {
        &self.plan
    }

    /// Runs the model on `inputs` (in the order of [`Session::inputs`]): one submission.
    pub async fn run(&mut self, inputs: &[Tensor]) -> Result<RunResult, GpuError> {
        self.check_inputs(inputs)?;
        let gpu = &self.gpu;
        gpu.check()?;
        for (port, t) in self.inputs.iter().zip(inputs) {
            let mut data = match t.as_f32() {
                Some(v) => v.to_vec(),
                None => t.to_f32_vec(),
            };
            if port.round_f16 {
                data.iter_mut()
                    .for_each(|x| *x = half::f16::from_f32(*x).to_f32());
            }
            if !data.is_empty() {
                gpu.queue
                    .write_buffer(&self.memory, port.offset * 4, bytemuck::cast_slice(&data));
            }
        }
        let mut encoder = gpu
            .device
            .create_command_encoder(&wgpu::CommandEncoderDescriptor {
                label: Some("edgeport run"),
            });
        {
            let timestamp_writes =
                self.timestamps
                    .as_ref()
                    .map(|(_, set, _)| wgpu::ComputePassTimestampWrites {
                        query_set: set,
                        beginning_of_pass_write_index: Some(0),
                        end_of_pass_write_index: Some(1),
                    });
            let mut pass = encoder.begin_compute_pass(&wgpu::ComputePassDescriptor {
                label: Some("edgeport"),
                timestamp_writes,
            });
            let mut current: Option<Shader> = None;
            for l in &self.launches {
                if current != Some(l.shader) {
                    if let Some(p) = self.pipelines.get(&l.shader) {
                        pass.set_pipeline(p);
                    }
                    current = Some(l.shader);
                }
                pass.set_bind_group(0, &self.bind_group, &[l.param_offset]);
                pass.dispatch_workgroups(l.groups[0], l.groups[1], l.groups[2]);
            }
        }
        let mut at = 0u64;
        for port in &self.outputs {
            let bytes = port.ty.elements() as u64 * 4;
            if bytes > 0 {
                encoder.copy_buffer_to_buffer(
                    &self.memory,
                    port.offset * 4,
                    &self.readback,
                    at,
                    bytes,
                );
            }
            at += bytes;
        }
        if let Some((ts_at, set, resolve)) = &self.timestamps {
            encoder.resolve_query_set(set, 0..2, resolve, 0);
            encoder.copy_buffer_to_buffer(resolve, 0, &self.readback, *ts_at, 16);
        }
        gpu.queue.submit([encoder.finish()]);

        let (tx, rx) = futures_channel::oneshot::channel();
        self.readback.map_async(wgpu::MapMode::Read, .., move |r| {
            let _ = tx.send(r);
        });
        gpu.wait();
        let mapped = rx
            .await
            .map_err(|_| GpuError::Lost("the readback was cancelled".into()))?;
        if let Err(e) = mapped {
            gpu.check()?;
            return Err(GpuError::Runtime(format!(
                "reading the outputs back failed: {e}"
            )));
        }
        let (values, gpu_ms) = {
            let view = self
                .readback
                .get_mapped_range(..)
                .map_err(|e| GpuError::Runtime(e.to_string()))?;
            let bytes: &[u8] = &view;
            let floats: Vec<f32> = bytes[..at as usize]
                .chunks_exact(4)
                .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                .collect();
            let gpu_ms = self.timestamps.as_ref().and_then(|(ts_at, _, _)| {
                let t = &bytes[*ts_at as usize..*ts_at as usize + 16];
                let begin = u64::from_le_bytes(t[..8].try_into().ok()?);
                let end = u64::from_le_bytes(t[8..].try_into().ok()?);
                (end > begin).then(|| {
                    (end - begin) as f64 * f64::from(gpu.queue.get_timestamp_period()) / 1e6
                })
            });
            (floats, gpu_ms)
        };
        self.readback.unmap();
        gpu.check()?;
        let mut at = 0usize;
        let outputs = self
            .outputs
            .iter()
            .map(|port| {
                let n = port.ty.elements();
                let data = values[at..at + n].to_vec();
                at += n;
                let t = Tensor::from_f32(port.ty.shape.clone(), data)
                    .map_err(|e| GpuError::Runtime(e.to_string()))?;
                Ok(if port.ty.dtype == DType::F32 {
                    t
                } else {
                    t.cast(port.ty.dtype)
                })
            })
            .collect::<Result<Vec<_>, GpuError>>()?;
        Ok(RunResult { outputs, gpu_ms })
    }

    fn check_inputs(&self, inputs: &[Tensor]) -> Result<(), GpuError> {
        if inputs.len() != self.inputs.len() {
            let names: Vec<&str> = self.inputs.iter().map(|p| p.name.as_str()).collect();
            return Err(GpuError::Input {
                name: names.join(", "),
                message: format!(
                    "the model takes {} inputs, got {}",
                    self.inputs.len(),
                    inputs.len()
                ),
            });
        }
        for (port, t) in self.inputs.iter().zip(inputs) {
            let err = |message: String| {
                Err(GpuError::Input {
                    name: port.name.clone(),
                    message,
                })
            };
            if t.shape() != port.ty.shape.as_slice() {
                return err(format!(
                    "expected shape {:?}, got {:?}",
                    port.ty.shape,
                    t.shape()
                ));
            }
            if t.dtype() != port.ty.dtype {
                return err(format!("expected {}, got {}", port.ty.dtype, t.dtype()));
            }
        }
        Ok(())
    }
}
