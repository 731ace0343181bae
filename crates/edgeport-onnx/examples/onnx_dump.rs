//! Print the imported IR of an ONNX model: `cargo run -p edgeport-onnx --example onnx_dump --
//! model.onnx [name=1,3,224,224 ...]`. With `--shapes`, print only `output name shape` lines; with `--values`, `name dtype dims` for
//! every value.

use edgeport_onnx::{import, ImportOptions};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(path) = args.first() else {
        eprintln!("usage: onnx_dump MODEL.onnx [--shapes] [input=d0,d1,...]...");
        std::process::exit(2);
    };
    let mut opts = ImportOptions::default();
    let mut shapes_only = false;
    let mut values = false;
    for a in &args[1..] {
        if a == "--shapes" {
            shapes_only = true;
        } else if a == "--values" {
            values = true;
        } else if let Some((name, dims)) = a.split_once('=') {
            let dims: Vec<usize> = dims.split(',').filter_map(|d| d.parse().ok()).collect();
            opts.input_shapes.insert(name.to_string(), dims);
        }
    }
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) => {
            eprintln!("{path}: {e}");
            std::process::exit(1);
        }
    };
    match import(&bytes, &opts) {
        Ok(m) => {
            if values {
                for v in m.graph.values() {
                    let dims: Vec<String> = v.ty.shape.iter().map(|d| d.to_string()).collect();
                    println!("{} {} {}", v.name, v.ty.dtype, dims.join(","));
                }
            } else if shapes_only {
                for &o in &m.graph.outputs {
                    let v = m.graph.value(o);
                    println!("output {} {:?} {}", v.name, v.ty.shape, v.ty.dtype);
                }
            } else {
                print!("{}", edgeport_ir::print_graph(&m.graph));
                println!("{:?}", m.info);
            }
        }
        Err(e) => {
            eprintln!("error ({:?}): {e}", e.kind());
            std::process::exit(1);
        }
    }
}
