// A few hand-written ONNX models for the browser test, encoded with a minimal protobuf writer
// (field numbers from onnx.proto), so the test needs no Python.

function varint(n) {
  const out = [];
  let v = BigInt(n);
  while (v > 127n) {
    out.push(Number((v & 127n) | 128n));
    v >>= 7n;
  }
  out.push(Number(v));
  return out;
}

const int = (no, v) => [...varint(no << 3), ...varint(v)];
const bytes = (no, data) => [...varint((no << 3) | 2), ...varint(data.length), ...data];
const str = (no, s) => bytes(no, [...Buffer.from(s, "utf8")]);

// TensorShapeProto.Dimension: dim_value = 1, dim_param = 2.
const dim = (d) => (typeof d === "number" ? int(1, d) : str(2, d));
// ValueInfoProto { name = 1, type = 2: TypeProto { tensor_type = 1: { elem_type = 1, shape = 2 } } }
function valueInfo(name, dims) {
  const shape = dims.flatMap((d) => bytes(1, dim(d)));
  const tensor = [...int(1, 1 /* FLOAT */), ...bytes(2, shape)];
  return [...str(1, name), ...bytes(2, bytes(1, tensor))];
}
// NodeProto { input = 1, output = 2, name = 3, op_type = 4 }
function node(op, name, inputs, outputs) {
  return [...inputs.flatMap((i) => str(1, i)), ...outputs.flatMap((o) => str(2, o)), ...str(3, name), ...str(4, op)];
}

/** ModelProto { ir_version = 1, producer_name = 2, graph = 7, opset_import = 8 } */
export function model({ nodes, inputs, outputs, opset = 13 }) {
  const graph = [
    ...nodes.flatMap((n) => bytes(1, node(...n))),
    ...str(2, "e2e"),
    ...inputs.flatMap(([n, d]) => bytes(11, valueInfo(n, d))),
    ...outputs.flatMap(([n, d]) => bytes(12, valueInfo(n, d))),
  ];
  const opsetImport = [...str(1, ""), ...int(2, opset)];
  return Buffer.from([...int(1, 8), ...str(2, "edgeport-e2e"), ...bytes(7, graph), ...bytes(8, opsetImport)]);
}

/** Relu, then two ops no converter knows: both must be listed at once. */
export function unsupportedModel() {
  return model({
    nodes: [
      ["Relu", "relu_ok", ["x"], ["r"]],
      ["FancyOp", "fancy_0", ["r"], ["f"]],
      ["WeirdOp", "weird_1", ["f"], ["y"]],
    ],
    inputs: [["x", [1, 4]]],
    outputs: [["y", [1, 4]]],
  });
}

/** One Relu over an input whose batch dim is open ("N"). */
export function dynamicModel() {
  return model({
    nodes: [["Relu", "relu_0", ["x"], ["y"]]],
    inputs: [["x", ["N", 4]]],
    outputs: [["y", ["N", 4]]],
  });
}
