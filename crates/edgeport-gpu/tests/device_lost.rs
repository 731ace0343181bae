//! Device loss on a real adapter (lavapipe in `cargo xtask test`): an error, never a panic.
//! Skipped where no adapter exists, unless EDGEPORT_REQUIRE_GPU=1.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use edgeport_gpu::{Gpu, GpuError, Session, SessionOptions};
use edgeport_ir::ops::UnaryOp;
use edgeport_ir::{DType, Graph, Op, Tensor, TensorType};

fn relu_graph() -> Graph {
    let mut g = Graph::new("relu");
    let x = g.add_value("x", TensorType::new(DType::F32, vec![1, 4])).unwrap();
    g.inputs.push(x);
    let y = g.add_node1("relu", "Relu", Op::Unary(UnaryOp::Relu), vec![x]).unwrap();
    g.outputs.push(y);
    g
}

#[test]
fn runs_after_the_device_is_lost_fail_with_lost() {
    let gpu = match pollster::block_on(Gpu::open()) {
        Ok(g) => g,
        Err(e) if std::env::var("EDGEPORT_REQUIRE_GPU").as_deref() != Ok("1") => {
            eprintln!("skipped: {e}");
            return;
        }
        Err(e) => panic!("EDGEPORT_REQUIRE_GPU=1 but {e}"),
    };
    let mut session = pollster::block_on(Session::new(&gpu, &relu_graph(), &SessionOptions::default())).unwrap();
    let x = Tensor::from_f32(vec![1, 4], vec![-1.0, 2.0, -3.0, 4.0]).unwrap();
    let out = pollster::block_on(session.run(std::slice::from_ref(&x))).unwrap();
    assert_eq!(out.outputs[0].to_f32_vec(), [0.0, 2.0, 0.0, 4.0]);

    gpu.destroy();
    match pollster::block_on(session.run(&[x])) {
        Err(GpuError::Lost(_)) => {}
        other => panic!("expected a lost device, got {:?}", other.map(|r| r.outputs)),
    }
    // A new session on the lost device is refused the same way.
    let again = pollster::block_on(Session::new(&gpu, &relu_graph(), &SessionOptions::default()));
    assert!(matches!(again, Err(GpuError::Lost(_))), "{:?}", again.err());
}
