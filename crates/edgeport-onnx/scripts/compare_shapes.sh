#!/bin/sh
# Compare every value shape of the imported IR with onnxruntime's (development aid).
# usage: crates/edgeport-onnx/scripts/compare_shapes.sh model.onnx [x=1,3,224,224 ...]
set -e
cd "$(dirname "$0")/../../.."
cargo build -q -p edgeport-onnx --example onnx_dump
./target/debug/examples/onnx_dump "$@" --values > /tmp/edgeport_ir_values.txt
.venv/bin/python crates/edgeport-onnx/scripts/ort_shapes.py "$@" > /tmp/edgeport_ort_values.txt
.venv/bin/python - <<'PY'
ir = {}
for line in open("/tmp/edgeport_ir_values.txt"):
    parts = line.split(" ")
    if len(parts) == 3:
        ir[parts[0]] = (parts[1], parts[2].strip())
names = {"float32": "float32", "float16": "float16", "int64": "int64", "int32": "int32", "int8": "int8", "uint8": "uint8", "bool": "bool"}
bad = missing = ok = 0
for line in open("/tmp/edgeport_ort_values.txt"):
    name, dt, dims = line.rstrip("\n").split(" ")
    if name not in ir:
        missing += 1
        continue
    if ir[name] != (names.get(dt, dt), dims):
        bad += 1
        print("MISMATCH", name, "ort", dt, dims, "ir", ir[name])
    else:
        ok += 1
print(f"{ok} equal, {bad} different, {missing} not in the IR (aliases, folded away or removed)")
PY
