"""Dump the shape of every value of an ONNX model as onnxruntime computes it.

Development aid for the importer (committed Rust tests do not need it):

    .venv/bin/python crates/edgeport-onnx/scripts/ort_shapes.py model.onnx [x=1,3,224,224 ...]

Prints `name dtype d0,d1,...` per line for graph inputs and every node output (Constant
nodes excluded), after running the model once on random data.
"""

import sys

import numpy as np
import onnx
import onnxruntime as ort


def main() -> None:
    path, *shape_args = sys.argv[1:]
    given = {}
    for a in shape_args:
        name, dims = a.split("=", 1)
        given[name] = [int(d) for d in dims.split(",")]
    model = onnx.load(path)
    g = model.graph
    inits = {t.name for t in g.initializer}
    outputs = {o.name for o in g.output}
    for n in g.node:
        if n.op_type == "Constant":
            continue
        for o in n.output:
            if o and o not in outputs:
                g.output.append(onnx.ValueInfoProto(name=o))
                outputs.add(o)
    feeds = {}
    rng = np.random.default_rng(0)
    types = {1: np.float32, 10: np.float16, 7: np.int64, 6: np.int32, 3: np.int8, 2: np.uint8, 9: np.bool_}
    for i in g.input:
        if i.name in inits:
            continue
        tt = i.type.tensor_type
        shape = given.get(i.name) or [d.dim_value for d in tt.shape.dim]
        feeds[i.name] = rng.standard_normal(shape).astype(types[tt.elem_type])
    sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    names = [o.name for o in sess.get_outputs()]
    res = sess.run(names, feeds)
    for k, v in feeds.items():
        print(k, v.dtype, ",".join(map(str, v.shape)))
    for k, v in zip(names, res):
        print(k, np.asarray(v).dtype, ",".join(map(str, np.asarray(v).shape)))


if __name__ == "__main__":
    main()
