//! A tiny builder for ONNX models in tests, over the prost types.
//!
//! Set `EDGEPORT_DUMP_TEST_MODELS=<dir>` to also write every built model to
//! `<dir>/<test name>.onnx` (used to cross-check shapes with onnxruntime by hand).

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use edgeport_ir::TensorType;
use edgeport_onnx::pb::attribute_proto::AttributeType;
use edgeport_onnx::pb::tensor_proto::DataType;
use edgeport_onnx::pb::tensor_shape_proto::{dimension, Dimension};
use edgeport_onnx::pb::{
    type_proto, AttributeProto, GraphProto, ModelProto, NodeProto, OperatorSetIdProto, TensorProto, TensorShapeProto,
    TypeProto, ValueInfoProto,
};
use edgeport_onnx::{import, ImportOptions, Imported, OnnxError};
use prost::Message;

pub const F32: i32 = DataType::Float as i32;
pub const F16: i32 = DataType::Float16 as i32;
pub const I64: i32 = DataType::Int64 as i32;
pub const I32: i32 = DataType::Int32 as i32;
pub const BOOL: i32 = DataType::Bool as i32;
pub const U8: i32 = DataType::Uint8 as i32;
pub const DOUBLE: i32 = DataType::Double as i32;

/// A dim of a graph input: a number, a named symbol, or unknown.
#[derive(Clone, Debug)]
pub enum Dim {
    N(i64),
    P(&'static str),
    Unknown,
}

pub struct Model {
    pub proto: ModelProto,
}

impl Model {
    pub fn new(opset: i64) -> Model {
        let proto = ModelProto {
            ir_version: 8,
            opset_import: vec![OperatorSetIdProto { domain: String::new(), version: opset }],
            producer_name: "edgeport-tests".into(),
            producer_version: "1".into(),
            graph: Some(GraphProto { name: "g".into(), ..Default::default() }),
            ..Default::default()
        };
        Model { proto }
    }

    pub fn graph(&mut self) -> &mut GraphProto {
        self.proto.graph.as_mut().unwrap()
    }

    pub fn input(mut self, name: &str, elem: i32, dims: &[i64]) -> Self {
        let dims: Vec<Dim> = dims.iter().map(|&d| Dim::N(d)).collect();
        self.graph().input.push(value_info(name, elem, Some(&dims)));
        self
    }

    pub fn input_dims(mut self, name: &str, elem: i32, dims: Option<&[Dim]>) -> Self {
        self.graph().input.push(value_info(name, elem, dims));
        self
    }

    pub fn output(mut self, name: &str) -> Self {
        // No type: the importer infers it (and onnxruntime accepts it when cross-checking).
        self.graph().output.push(ValueInfoProto { name: name.into(), ..Default::default() });
        self
    }

    pub fn init(mut self, t: TensorProto) -> Self {
        self.graph().initializer.push(t);
        self
    }

    pub fn init_f32(self, name: &str, dims: &[i64], data: Vec<f32>) -> Self {
        self.init(tensor_f32(name, dims, data))
    }

    /// A float32 initializer filled with `0.01 * i`.
    pub fn weight(self, name: &str, dims: &[i64]) -> Self {
        let n: i64 = dims.iter().product();
        self.init_f32(name, dims, (0..n).map(|i| 0.01 * i as f32).collect())
    }

    pub fn init_i64(self, name: &str, dims: &[i64], data: Vec<i64>) -> Self {
        self.init(tensor_i64(name, dims, data))
    }

    pub fn node(mut self, n: NodeProto) -> Self {
        self.graph().node.push(n);
        self
    }

    pub fn bytes(&self) -> Vec<u8> {
        self.proto.encode_to_vec()
    }

    fn dump(&self, name: &str) {
        if let Ok(dir) = std::env::var("EDGEPORT_DUMP_TEST_MODELS") {
            let _ = std::fs::create_dir_all(&dir);
            let _ = std::fs::write(format!("{dir}/{name}.onnx"), self.bytes());
        }
    }

    pub fn import(&self) -> Result<Imported, OnnxError> {
        self.import_with(&ImportOptions::default())
    }

    pub fn import_with(&self, opts: &ImportOptions) -> Result<Imported, OnnxError> {
        let r = import(&self.bytes(), opts);
        if let Ok(m) = &r {
            m.graph.validate().expect("imported graph validates");
        }
        r
    }

    /// Import, dump under `name` when asked, and return the imported model (panics on error).
    pub fn ok(&self, name: &str) -> Imported {
        self.dump(name);
        match self.import() {
            Ok(m) => m,
            Err(e) => panic!("{name}: import failed: {e}"),
        }
    }

    /// Import and return the error text (panics on success).
    pub fn err(&self) -> (edgeport_onnx::ErrorKind, String) {
        match self.import() {
            Ok(_) => panic!("import unexpectedly succeeded"),
            Err(e) => (e.kind(), e.to_string()),
        }
    }
}

pub fn value_info(name: &str, elem: i32, dims: Option<&[Dim]>) -> ValueInfoProto {
    let shape = dims.map(|dims| TensorShapeProto {
        dim: dims
            .iter()
            .map(|d| Dimension {
                denotation: String::new(),
                value: match d {
                    Dim::N(n) => Some(dimension::Value::DimValue(*n)),
                    Dim::P(p) => Some(dimension::Value::DimParam(p.to_string())),
                    Dim::Unknown => None,
                },
            })
            .collect(),
    });
    ValueInfoProto {
        name: name.into(),
        r#type: Some(TypeProto {
            denotation: String::new(),
            value: Some(type_proto::Value::TensorType(type_proto::Tensor { elem_type: elem, shape })),
        }),
        ..Default::default()
    }
}

pub fn tensor_f32(name: &str, dims: &[i64], data: Vec<f32>) -> TensorProto {
    TensorProto {
        name: name.into(),
        dims: dims.to_vec(),
        data_type: F32,
        raw_data: data.iter().flat_map(|x| x.to_le_bytes()).collect(),
        ..Default::default()
    }
}

pub fn tensor_i64(name: &str, dims: &[i64], data: Vec<i64>) -> TensorProto {
    TensorProto { name: name.into(), dims: dims.to_vec(), data_type: I64, int64_data: data, ..Default::default() }
}

/// A node; `name` may be empty.
pub fn node(op: &str, name: &str, inputs: &[&str], outputs: &[&str], attrs: Vec<AttributeProto>) -> NodeProto {
    NodeProto {
        op_type: op.into(),
        name: name.into(),
        input: inputs.iter().map(|s| s.to_string()).collect(),
        output: outputs.iter().map(|s| s.to_string()).collect(),
        attribute: attrs,
        ..Default::default()
    }
}

/// Shorthand: node named after its op with inputs and one output `y`.
pub fn op(op_type: &str, inputs: &[&str], attrs: Vec<AttributeProto>) -> NodeProto {
    node(op_type, op_type, inputs, &["y"], attrs)
}

fn attr(name: &str, t: AttributeType) -> AttributeProto {
    AttributeProto { name: name.into(), r#type: t as i32, ..Default::default() }
}
pub fn ai(name: &str, i: i64) -> AttributeProto {
    AttributeProto { i, ..attr(name, AttributeType::Int) }
}
pub fn af(name: &str, f: f32) -> AttributeProto {
    AttributeProto { f, ..attr(name, AttributeType::Float) }
}
pub fn ints(name: &str, v: &[i64]) -> AttributeProto {
    AttributeProto { ints: v.to_vec(), ..attr(name, AttributeType::Ints) }
}
pub fn floats(name: &str, v: &[f32]) -> AttributeProto {
    AttributeProto { floats: v.to_vec(), ..attr(name, AttributeType::Floats) }
}
pub fn s(name: &str, v: &str) -> AttributeProto {
    AttributeProto { s: v.as_bytes().to_vec(), ..attr(name, AttributeType::String) }
}
pub fn at(name: &str, t: TensorProto) -> AttributeProto {
    AttributeProto { t: Some(t), ..attr(name, AttributeType::Tensor) }
}

/// Type of the graph output named `name`.
pub fn out(m: &Imported, name: &str) -> TensorType {
    let g = &m.graph;
    for &o in &g.outputs {
        if g.value(o).name == name {
            return g.ty(o).clone();
        }
    }
    panic!("no output named {name}: {}", edgeport_ir::print_graph(g));
}

/// Shape of the graph output `y`.
pub fn y_shape(m: &Imported) -> Vec<usize> {
    out(m, "y").shape
}

/// Names of the IR ops in node order.
pub fn ops(m: &Imported) -> Vec<&'static str> {
    m.graph.nodes.iter().map(|n| n.op.name()).collect()
}

/// A one-op model: input x (float32 of `dims`), op `op_type` over `inputs`, output y.
pub fn unary_model(opset: i64, dims: &[i64], n: NodeProto) -> Model {
    Model::new(opset).input("x", F32, dims).node(n).output("y")
}
