use edgeport_ir::ops::{BinaryOp, Conv, Reduce, ReduceKind, UnaryOp};
use edgeport_ir::{DType, Graph, Layout, Op, Tensor, TensorType, ValueId};
use edgeport_passes::{fold_affine_into_conv, fuse_gelu, fuse_hardswish, optimize, to_nhwc, LayoutOptions};

fn conv(g: &mut Graph, name: &str, x: ValueId, cin: usize, cout: usize, group: usize) -> ValueId {
    let w = g.add_const(&format!("{name}.w"), Tensor::from_f32(vec![cout, cin / group, 3, 3], vec![0.1; cout * cin / group * 9]).unwrap());
    let op = Op::Conv(Conv { strides: [1, 1], dilations: [1, 1], pads: [1, 1, 1, 1], group, layout: Layout::Nchw });
    g.add_node1(name, "Conv", op, vec![x, w]).unwrap()
}

fn count(g: &Graph, name: &str) -> usize {
    g.nodes.iter().filter(|n| n.op.name() == name).count()
}

/// x -> conv -> relu -> depthwise conv -> (+ residual) -> global mean -> reshape [1, C]
fn small_cnn() -> Graph {
    let mut g = Graph::new("cnn");
    let x = g.add_value("x", TensorType::new(DType::F32, vec![1, 4, 8, 8])).unwrap();
    g.inputs.push(x);
    let c1 = conv(&mut g, "c1", x, 4, 8, 1);
    let r = g.add_node1("r", "Relu", Op::Unary(UnaryOp::Relu), vec![c1]).unwrap();
    let c2 = conv(&mut g, "c2", r, 8, 8, 8);
    let add = g.add_node1("add", "Add", Op::Binary(BinaryOp::Add), vec![c2, r]).unwrap();
    let bias = g.add_const("bias", Tensor::from_f32(vec![8, 1, 1], vec![0.5; 8]).unwrap());
    let add2 = g.add_node1("add2", "Add", Op::Binary(BinaryOp::Add), vec![add, bias]).unwrap();
    let mean = g
        .add_node1("gap", "GlobalAveragePool", Op::Reduce(Reduce { kind: ReduceKind::Mean, axes: vec![2, 3], keep_dims: true }), vec![add2])
        .unwrap();
    let flat = g.add_node1("flat", "Flatten", Op::Reshape { shape: vec![1, 8] }, vec![mean]).unwrap();
    g.rename_value(flat, "logits");
    g.outputs.push(flat);
    g.validate().unwrap();
    g
}

#[test]
fn nhwc_layout_leaves_only_the_interface_transpose() {
    let mut g = small_cnn();
    optimize(&mut g).unwrap();
    to_nhwc(&mut g, LayoutOptions::default()).unwrap();
    g.validate().unwrap();
    assert_eq!(count(&g, "Transpose"), 1, "{}", edgeport_ir::print_graph(&g));
    assert!(g.nodes.iter().all(|n| !matches!(&n.op, Op::Conv(c) if c.layout == Layout::Nchw)));
    assert_eq!(g.value(g.outputs[0]).name, "logits");
    assert_eq!(g.ty(g.outputs[0]).shape, vec![1, 8]);
}

#[test]
fn nhwc_io_removes_every_transpose() {
    let mut g = small_cnn();
    optimize(&mut g).unwrap();
    to_nhwc(&mut g, LayoutOptions { nhwc_io: true }).unwrap();
    g.validate().unwrap();
    assert_eq!(count(&g, "Transpose"), 0, "{}", edgeport_ir::print_graph(&g));
    assert_eq!(g.ty(g.inputs[0]).shape, vec![1, 8, 8, 4]);
    assert_eq!(g.value(g.inputs[0]).name, "x");
}

#[test]
fn batchnorm_as_mul_add_folds_into_conv() {
    let mut g = Graph::new("bn");
    let x = g.add_value("x", TensorType::new(DType::F32, vec![1, 2, 4, 4])).unwrap();
    g.inputs.push(x);
    let c = conv(&mut g, "c", x, 2, 2, 1);
    let s = g.add_const("s", Tensor::from_f32(vec![2, 1, 1], vec![2.0, 3.0]).unwrap());
    let b = g.add_const("b", Tensor::from_f32(vec![2, 1, 1], vec![1.0, -1.0]).unwrap());
    let m = g.add_node1("bn.mul", "BatchNormalization", Op::Binary(BinaryOp::Mul), vec![c, s]).unwrap();
    let a = g.add_node1("bn.add", "BatchNormalization", Op::Binary(BinaryOp::Add), vec![m, b]).unwrap();
    g.outputs.push(a);
    fold_affine_into_conv(&mut g).unwrap();
    g.remove_dead();
    g.validate().unwrap();
    assert_eq!(g.nodes.len(), 1);
    let n = &g.nodes[0];
    let w = g.constant(n.inputs[1]).unwrap().to_f32_vec();
    let bias = g.constant(n.inputs[2]).unwrap().to_f32_vec();
    assert!((w[0] - 0.2).abs() < 1e-6 && (w[w.len() - 1] - 0.3).abs() < 1e-6);
    assert_eq!(bias, vec![1.0, -1.0]);
    assert_eq!(g.outputs[0], n.outputs[0]);
}

fn scalar(g: &mut Graph, name: &str, v: f32) -> ValueId {
    g.add_const(name, Tensor::scalar_f32(v))
}

#[test]
fn erf_gelu_pattern_becomes_gelu() {
    let mut g = Graph::new("gelu");
    let x = g.add_value("x", TensorType::new(DType::F32, vec![1, 16])).unwrap();
    g.inputs.push(x);
    let sqrt2 = scalar(&mut g, "sqrt2", std::f32::consts::SQRT_2);
    let one = scalar(&mut g, "one", 1.0);
    let half = scalar(&mut g, "half", 0.5);
    let d = g.add_node1("div", "Div", Op::Binary(BinaryOp::Div), vec![x, sqrt2]).unwrap();
    let e = g.add_node1("erf", "Erf", Op::Unary(UnaryOp::Erf), vec![d]).unwrap();
    let a = g.add_node1("add", "Add", Op::Binary(BinaryOp::Add), vec![e, one]).unwrap();
    let m = g.add_node1("mul", "Mul", Op::Binary(BinaryOp::Mul), vec![x, a]).unwrap();
    let y = g.add_node1("mul2", "Mul", Op::Binary(BinaryOp::Mul), vec![m, half]).unwrap();
    g.outputs.push(y);
    fuse_gelu(&mut g).unwrap();
    g.validate().unwrap();
    assert_eq!(g.nodes.len(), 1);
    assert_eq!(g.nodes[0].op, Op::Unary(UnaryOp::Gelu));
}

#[test]
fn hardswish_pattern_becomes_hardswish() {
    let mut g = Graph::new("hs");
    let x = g.add_value("x", TensorType::new(DType::F32, vec![1, 4, 2, 2])).unwrap();
    g.inputs.push(x);
    let three = scalar(&mut g, "three", 3.0);
    let six = scalar(&mut g, "six", 6.0);
    let a = g.add_node1("add", "Add", Op::Binary(BinaryOp::Add), vec![x, three]).unwrap();
    let c = g.add_node1("clip", "Clip", Op::Clip { min: 0.0, max: 6.0 }, vec![a]).unwrap();
    let m = g.add_node1("mul", "Mul", Op::Binary(BinaryOp::Mul), vec![x, c]).unwrap();
    let y = g.add_node1("div", "Div", Op::Binary(BinaryOp::Div), vec![m, six]).unwrap();
    g.outputs.push(y);
    fuse_hardswish(&mut g).unwrap();
    g.validate().unwrap();
    assert_eq!(g.nodes.len(), 1);
    assert_eq!(g.nodes[0].op, Op::Unary(UnaryOp::HardSwish));
}

