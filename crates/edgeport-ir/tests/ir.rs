use edgeport_ir::ops::{broadcast_shapes, matmul_shape, Conv, Slice};
use edgeport_ir::tensor::{f16_bits_to_f32, f32_to_f16_bits};
use edgeport_ir::{eval, limits, DType, Graph, IrError, Layout, Op, Tensor, TensorType};

fn t(shape: &[usize]) -> TensorType {
    TensorType::new(DType::F32, shape.to_vec())
}

#[test]
fn conv_shapes_follow_the_onnx_formula() {
    // For every small combination, the output size is floor((in + pads - dil*(k-1) - 1)/s) + 1.
    for input in 1..12usize {
        for k in 1..4usize {
            for s in 1..3usize {
                for d in 1..3usize {
                    for p in 0..2usize {
                        let conv = Conv { strides: [s, s], dilations: [d, d], pads: [p, p, p, p], group: 1, layout: Layout::Nchw };
                        let got = conv.infer(&[&t(&[1, 2, input, input]), &t(&[3, 2, k, k])]);
                        let span = d * (k - 1) + 1;
                        if input + 2 * p < span {
                            assert!(got.is_err());
                        } else {
                            let o = (input + 2 * p - span) / s + 1;
                            assert_eq!(got.unwrap().shape, vec![1, 3, o, o]);
                        }
                    }
                }
            }
        }
    }
}

#[test]
fn nhwc_conv_keeps_channels_last() {
    let conv = Conv { strides: [2, 2], dilations: [1, 1], pads: [0, 0, 1, 1], group: 4, layout: Layout::Nhwc };
    let out = conv.infer(&[&t(&[1, 8, 8, 4]), &t(&[8, 1, 3, 3])]).unwrap();
    assert_eq!(out.shape, vec![1, 4, 4, 8]);
}

#[test]
fn broadcasting_and_matmul_shapes() {
    assert_eq!(broadcast_shapes(&[1, 3, 1, 5], &[4, 5]), Some(vec![1, 3, 4, 5]));
    assert_eq!(broadcast_shapes(&[2, 3], &[3, 2]), None);
    assert_eq!(matmul_shape(&[2, 1, 4, 8], &[3, 8, 5]), Some(vec![2, 3, 4, 5]));
    assert_eq!(matmul_shape(&[8], &[8, 5]), Some(vec![5]));
    assert_eq!(matmul_shape(&[4, 8], &[7, 5]), None);
}

#[test]
fn transpose_eval_round_trips() {
    let x = Tensor::from_f32(vec![2, 3, 4], (0..24).map(|i| i as f32).collect()).unwrap();
    let y = eval::transpose(&x, &[2, 0, 1]).unwrap();
    assert_eq!(y.shape(), &[4, 2, 3]);
    assert_eq!(y.to_f32_vec()[1], 4.0); // y[0,0,1] = x[0,1,0]
    let back = eval::transpose(&y, &[1, 2, 0]).unwrap();
    assert_eq!(back, x);
}

#[test]
fn slice_with_negative_step_and_concat() {
    let x = Tensor::from_i64(vec![5], vec![0, 1, 2, 3, 4]).unwrap();
    let s = Op::Slice(Slice { axes: vec![0], starts: vec![4], ends: vec![-1], steps: vec![-2] });
    let out = eval::eval(&s, &[&x]).unwrap().unwrap();
    assert_eq!(out[0].to_i64_vec(), vec![4, 2, 0]);
    let a = Tensor::from_f32(vec![1, 2], vec![1.0, 2.0]).unwrap();
    let b = Tensor::from_f32(vec![1, 1], vec![3.0]).unwrap();
    let c = eval::eval(&Op::Concat { axis: 1 }, &[&a, &b]).unwrap().unwrap();
    assert_eq!(c[0].to_f32_vec(), vec![1.0, 2.0, 3.0]);
}

#[test]
fn f16_conversion_round_trips_and_rounds_to_even() {
    for bits in [0u16, 0x3c00, 0xc000, 0x7bff, 0x0001, 0x03ff, 0x7c00, 0x8000] {
        assert_eq!(f32_to_f16_bits(f16_bits_to_f32(bits)), bits);
    }
    assert_eq!(f32_to_f16_bits(1.0 + 1.0 / 2048.0), 0x3c00); // tie -> even
    assert_eq!(f32_to_f16_bits(65520.0), 0x7c00); // overflow -> inf
}

#[test]
fn limits_reject_before_allocating() {
    assert!(matches!(limits::checked_elements("x", &[1 << 30]), Err(IrError::Limit { .. })));
    assert!(matches!(limits::checked_elements("x", &[1 << 20, 1 << 20]), Err(IrError::Limit { .. })));
    let mut g = Graph::new("g");
    assert!(g.add_value("huge", t(&[usize::MAX, 2])).is_err());
}

#[test]
fn toposort_orders_and_detects_cycles() {
    let mut g = Graph::new("g");
    let x = g.add_value("x", t(&[2])).unwrap();
    g.inputs.push(x);
    let a = g.add_node1("a", "Relu", Op::Unary(edgeport_ir::ops::UnaryOp::Relu), vec![x]).unwrap();
    let b = g.add_node1("b", "Neg", Op::Unary(edgeport_ir::ops::UnaryOp::Neg), vec![a]).unwrap();
    g.outputs.push(b);
    g.nodes.reverse();
    g.toposort().unwrap();
    assert_eq!(g.nodes[0].name, "a");
    g.validate().unwrap();
    // b feeds a: a cycle.
    g.nodes[0].inputs[0] = b;
    assert!(matches!(g.toposort(), Err(IrError::Cycle { .. })));
}
