//! Every error the importer reports: one line, naming the culprit, with the right kind.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use edgeport_onnx::pb::tensor_proto::DataLocation;
use edgeport_onnx::pb::{StringStringEntryProto, TensorProto};
use edgeport_onnx::{import, ErrorKind, ImportOptions};
use prost::Message;

fn relu_model() -> Model {
    unary_model(13, &[1, 4], op("Relu", &["x"], vec![]))
}

fn err_of(bytes: &[u8]) -> (ErrorKind, String) {
    match import(bytes, &ImportOptions::default()) {
        Ok(_) => panic!("import unexpectedly succeeded"),
        Err(e) => (e.kind(), e.to_string()),
    }
}

#[test]
fn not_a_model() {
    let (kind, e) = err_of(b"");
    assert_eq!((kind, e.as_str()), (ErrorKind::InvalidModel, "not an ONNX model: the input is empty"));
    let (kind, e) = err_of(b"\xff\xff\xff\xff this is not protobuf");
    assert_eq!(kind, ErrorKind::InvalidModel);
    assert!(e.starts_with("not an ONNX model: protobuf decode failed"), "{e}");
    let bytes = relu_model().weight("w", &[64]).bytes();
    let (kind, e) = err_of(&bytes[..bytes.len() - 7]);
    assert_eq!(kind, ErrorKind::InvalidModel);
    assert!(e.starts_with("not an ONNX model: protobuf decode failed"), "{e}");
    assert!(!e.contains('\n'));
}

#[test]
fn no_graph() {
    let mut m = relu_model();
    m.proto.graph = None;
    assert_eq!(m.err(), (ErrorKind::InvalidModel, "ONNX model has no graph".into()));
}

#[test]
fn ir_version_and_opset_ranges() {
    for v in [2, 11] {
        let mut m = relu_model();
        m.proto.ir_version = v;
        assert_eq!(m.err(), (ErrorKind::Unsupported, format!("unsupported ONNX IR version {v} (supported: 3..=10)")));
    }
    for v in [6, 23] {
        let m = unary_model(v, &[1, 4], op("Relu", &["x"], vec![]));
        assert_eq!(
            m.err(),
            (ErrorKind::Unsupported, format!("unsupported ONNX opset {v} for the default domain (supported: 7..=22)"))
        );
    }
    let mut m = relu_model();
    m.proto.opset_import[0].domain = "com.example".into();
    assert_eq!(m.err(), (ErrorKind::InvalidModel, "ONNX model does not import the default opset (ai.onnx)".into()));
}

#[test]
fn empty_graph() {
    let m = Model::new(13).input("x", F32, &[1]).output("x");
    assert_eq!(m.err(), (ErrorKind::InvalidModel, "graph has no nodes".into()));
    let m = Model::new(13).input("x", F32, &[1]).node(op("Relu", &["x"], vec![]));
    assert_eq!(m.err(), (ErrorKind::InvalidModel, "graph has no outputs".into()));
}

#[test]
fn external_data_names_the_tensor() {
    let t = TensorProto { data_location: Some(DataLocation::External as i32), ..tensor_f32("conv.weight", &[4], vec![]) };
    let m = relu_model().init(t);
    assert_eq!(
        m.err(),
        (
            ErrorKind::Unsupported,
            "tensor 'conv.weight' stores its data externally; external data is not supported, embed the weights in the .onnx file".into()
        )
    );
    let t = TensorProto {
        external_data: vec![StringStringEntryProto { key: "location".into(), value: "w.bin".into() }],
        ..tensor_f32("fc.weight", &[4], vec![])
    };
    let (_, e) = relu_model().init(t).err();
    assert!(e.starts_with("tensor 'fc.weight' stores its data externally"), "{e}");
}

#[test]
fn every_unsupported_node_is_listed_once() {
    let m = Model::new(13)
        .input("x", F32, &[1, 4])
        .node(node("Relu", "r", &["x"], &["a"], vec![]))
        .node(node("NonMaxSuppression", "nms", &["a"], &["b"], vec![]))
        .node(node("FusedConv", "fused", &["a"], &["c"], vec![]))
        .node(node("Loop", "", &["b", "c"], &["d"], vec![]))
        .node(node("Einsum", "downstream", &["d"], &["e"], vec![]))
        .node(node("Relu", "after", &["e"], &["y"], vec![]));
    let mut m = m.output("y");
    m.graph().node[2].domain = "com.microsoft".into();
    let (kind, e) = m.err();
    assert_eq!(kind, ErrorKind::Unsupported);
    assert_eq!(
        e,
        "4 unsupported ONNX ops: nms (NonMaxSuppression), fused (com.microsoft.FusedConv), Loop_3 (Loop), downstream (Einsum)"
    );
}

#[test]
fn unsupported_ops_come_before_missing_input_shapes() {
    let (kind, e) = Model::new(13)
        .input_dims("x", F32, Some(&[Dim::P("N"), Dim::N(4)]))
        .node(op("Foo", &["x"], vec![]))
        .output("y")
        .err();
    assert_eq!((kind, e.as_str()), (ErrorKind::Unsupported, "1 unsupported ONNX op: Foo (Foo)"));
}

#[test]
fn unsupported_dtype_names_the_tensor() {
    let t = TensorProto { name: "scale".into(), dims: vec![1], data_type: DOUBLE, double_data: vec![1.0], ..Default::default() };
    assert_eq!(relu_model().init(t).err(), (ErrorKind::Unsupported, "tensor 'scale' has unsupported element type DOUBLE".into()));
    let m = Model::new(13).input("x", DOUBLE, &[2]).node(op("Relu", &["x"], vec![])).output("y");
    assert_eq!(m.err(), (ErrorKind::Unsupported, "input 'x' has unsupported element type DOUBLE".into()));
    let m = relu_model().node(node("Cast", "to_double", &["y"], &["z"], vec![ai("to", DOUBLE as i64)])).output("z");
    assert_eq!(
        m.err(),
        (ErrorKind::Unsupported, "1 unsupported ONNX op: to_double (Cast: tensor 'z' would have unsupported element type DOUBLE)".into())
    );
}

#[test]
fn cycle_names_a_node_on_it() {
    let m = Model::new(13)
        .input("x", F32, &[2])
        .node(node("Add", "entry", &["x", "loop_b"], &["loop_a"], vec![]))
        .node(node("Relu", "back", &["loop_a"], &["loop_b"], vec![]))
        .node(node("Relu", "out", &["loop_a"], &["y"], vec![]))
        .output("y");
    let (kind, e) = m.err();
    assert_eq!(kind, ErrorKind::InvalidModel);
    assert!(e == "graph has a cycle through node 'entry'" || e == "graph has a cycle through node 'back'", "{e}");
}

#[test]
fn dynamic_dims_need_input_shapes() {
    let model = |dims: &[Dim]| Model::new(13).input_dims("x", F32, Some(dims)).node(op("Relu", &["x"], vec![])).output("y");
    let (kind, e) = model(&[Dim::P("N"), Dim::N(3)]).err();
    assert_eq!((kind, e.as_str()), (ErrorKind::Unsupported, "input 'x' has dynamic dim 'N' at axis 0; pass --input-shape x=..."));
    let (_, e) = model(&[Dim::N(1), Dim::Unknown]).err();
    assert_eq!(e, "input 'x' has dynamic dim '?' at axis 1; pass --input-shape x=...");
    let (_, e) = model(&[Dim::N(1), Dim::N(-1)]).err();
    assert_eq!(e, "input 'x' has dynamic dim '-1' at axis 1; pass --input-shape x=...");
    let no_shape = Model::new(13).input_dims("x", F32, None).node(op("Relu", &["x"], vec![])).output("y");
    assert_eq!(no_shape.err(), (ErrorKind::Unsupported, "input 'x' has unknown rank; pass --input-shape x=...".into()));

    let mut opts = ImportOptions::default();
    opts.input_shapes.insert("x".into(), vec![2, 3]);
    assert!(model(&[Dim::P("N"), Dim::N(3)]).import_with(&opts).is_ok());
    opts.input_shapes.insert("x".into(), vec![2, 3, 4]);
    let e = model(&[Dim::P("N"), Dim::N(3)]).import_with(&opts).unwrap_err();
    assert_eq!(e.to_string(), "input 'x': the model gives rank 2 but the input shape [2, 3, 4] has rank 3");
}

#[test]
fn input_shapes_must_name_inputs() {
    let mut opts = ImportOptions::default();
    opts.input_shapes.insert("image".into(), vec![1, 4]);
    let e = relu_model().weight("w", &[1]).import_with(&opts).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidModel);
    assert_eq!(e.to_string(), "input shape given for 'image', which is not a graph input (graph inputs: 'x')");
    // An initializer listed as an input is not a graph input either.
    let mut m = relu_model().weight("w", &[1]);
    m.graph().input.push(value_info("w", F32, Some(&[Dim::N(1)])));
    opts.input_shapes.clear();
    opts.input_shapes.insert("w".into(), vec![1]);
    assert!(m.import_with(&opts).unwrap_err().to_string().starts_with("input shape given for 'w'"));
}

#[test]
fn limits_are_checked_before_allocating() {
    // 2^30 x 2^30 floats declared with no data: rejected by size, not by a failed allocation.
    let t = TensorProto { name: "huge".into(), dims: vec![1 << 30, 1 << 30], data_type: F32, ..Default::default() };
    let (kind, e) = relu_model().init(t).err();
    assert_eq!(kind, ErrorKind::Limit);
    assert_eq!(e, "value 'huge' exceeds a limit: dimension 1073741824 exceeds the limit of 16777216");
    let t = TensorProto { name: "wide".into(), dims: vec![1 << 20, 1 << 20], data_type: F32, ..Default::default() };
    let (kind, e) = relu_model().init(t).err();
    assert_eq!(kind, ErrorKind::Limit);
    assert!(e.starts_with("value 'wide' exceeds a limit: shape [1048576, 1048576] exceeds"), "{e}");
    let t = TensorProto { name: "overflow".into(), dims: vec![i64::MAX, i64::MAX], data_type: F32, ..Default::default() };
    assert_eq!(relu_model().init(t).err().0, ErrorKind::Limit);
    let t = TensorProto { name: "neg".into(), dims: vec![-3], data_type: F32, ..Default::default() };
    assert_eq!(relu_model().init(t).err(), (ErrorKind::InvalidModel, "tensor 'neg': negative dimension -3 in [-3]".into()));

    let m = Model::new(13).input("x", F32, &[1 << 25, 2]).node(op("Relu", &["x"], vec![])).output("y");
    assert_eq!(m.err().0, ErrorKind::Limit);
    let mut opts = ImportOptions::default();
    opts.input_shapes.insert("x".into(), vec![1 << 14, 1 << 14, 1 << 14]);
    let m = Model::new(13).input_dims("x", F32, Some(&[Dim::P("a"), Dim::P("b"), Dim::P("c")])).node(op("Relu", &["x"], vec![])).output("y");
    assert_eq!(m.import_with(&opts).unwrap_err().kind(), ErrorKind::Limit);

    // A folded shape that is too large: ConstantOfShape([2^20, 2^20]).
    let m = Model::new(13)
        .input("x", F32, &[1])
        .init_i64("s", &[2], vec![1 << 20, 1 << 20])
        .node(node("ConstantOfShape", "cos", &["s"], &["c"], vec![]))
        .node(node("Add", "add", &["x", "c"], &["y"], vec![]))
        .output("y");
    assert_eq!(m.err().0, ErrorKind::Limit);
}

#[test]
fn malformed_tensor_data_names_the_tensor() {
    let mut t = tensor_f32("conv.weight", &[2, 3], vec![1.0; 6]);
    t.raw_data.truncate(10);
    assert_eq!(
        relu_model().init(t).err(),
        (ErrorKind::InvalidModel, "tensor 'conv.weight': raw_data holds 10 bytes, expected 24 for shape [2, 3] float32".into())
    );
    let t = tensor_i64("shape", &[3], vec![1, 2]);
    assert_eq!(
        relu_model().init(t).err(),
        (ErrorKind::InvalidModel, "tensor 'shape': int64_data holds 2 values, expected 3 for shape [3] int64".into())
    );
}

#[test]
fn undefined_values_and_missing_outputs() {
    let m = Model::new(13).input("x", F32, &[2]).node(node("Add", "add", &["x", "ghost"], &["y"], vec![])).output("y");
    assert_eq!(
        m.err(),
        (ErrorKind::InvalidModel, "node 'add' (Add): input 'ghost' is not produced by any node, initializer or graph input".into())
    );
    let m = relu_model().output("nowhere");
    assert_eq!(m.err(), (ErrorKind::InvalidModel, "graph output 'nowhere' is not produced by any node".into()));
    let m = Model::new(13)
        .input("x", F32, &[2])
        .node(node("Relu", "a", &["x"], &["y"], vec![]))
        .node(node("Relu", "b", &["x"], &["y"], vec![]))
        .output("y");
    assert_eq!(m.err(), (ErrorKind::InvalidModel, "value 'y' is produced more than once".into()));
}

#[test]
fn bad_attributes_and_shapes_name_the_node() {
    let (kind, e) = unary_model(13, &[2, 3], op("Transpose", &["x"], vec![ints("perm", &[0, 0])])).err();
    assert_eq!((kind, e.as_str()), (ErrorKind::InvalidModel, "node 'Transpose' (Transpose): perm [0, 0] is not a permutation of rank 2"));
    let (_, e) = unary_model(13, &[2, 3], op("Reshape", &["x", "s"], vec![])).init_i64("s", &[1], vec![7]).err();
    assert_eq!(e, "node 'Reshape' (Reshape): cannot reshape [2, 3] (6 elements) to [7]");
    let (_, e) = Model::new(13)
        .input("a", F32, &[2, 3])
        .input("b", F32, &[4])
        .node(node("Add", "add", &["a", "b"], &["y"], vec![]))
        .output("y")
        .err();
    assert_eq!(e, "node 'add' (Add): cannot broadcast [2, 3] with [4]");
    let (_, e) = unary_model(13, &[2, 3], op("Softmax", &["x"], vec![s("axis", "one")])).err();
    assert_eq!(e, "node 'Softmax' (Softmax): attribute 'axis' must be INT, got STRING");
    let (_, e) = unary_model(13, &[2, 3], op("Reshape", &["x", "s"], vec![])).err();
    assert_eq!(e, "node 'Reshape' (Reshape): input 's' is not produced by any node, initializer or graph input");
}

#[test]
fn runtime_reshape_targets_are_unsupported() {
    let m = Model::new(13)
        .input("x", F32, &[2, 3])
        .input("s", I64, &[2])
        .node(node("Reshape", "r", &["x", "s"], &["y"], vec![]))
        .output("y");
    assert_eq!(
        m.err(),
        (ErrorKind::Unsupported, "1 unsupported ONNX op: r (Reshape: input 'shape' must be constant (it is computed at run time))".into())
    );
}

#[test]
fn names_with_control_characters_stay_on_one_line() {
    let m = Model::new(13).input("x", F32, &[2]).node(node("Bad\nOp", "line1\nline2", &["x"], &["y"], vec![])).output("y");
    let (_, e) = m.err();
    assert_eq!(e, "1 unsupported ONNX op: line1\\nline2 (Bad\\nOp)");
}

#[test]
fn wrong_message_types_do_not_panic() {
    // A valid protobuf that is some other message.
    let t = tensor_f32("w", &[2], vec![1.0, 2.0]);
    let r = import(&t.encode_to_vec(), &ImportOptions::default());
    assert!(r.is_err());
}
