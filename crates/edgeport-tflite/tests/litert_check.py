"""Run a .tflite model with the real LiteRT interpreter, for edgeport-tflite's numeric tests.

Usage: litert_check.py DIR

DIR holds model.tflite and manifest.tsv, one line per tensor (tab-separated):
    input   NAME  DTYPE  DIMS  FILE      (DIMS comma-separated, empty for a scalar; FILE raw little-endian)
    output  NAME
The model is run through its "serving_default" signature with three kernel sets: the default
(XNNPACK delegate), the builtin optimized kernels without delegates, and the reference kernels
(skipped, with a "skipped" line, when that resolver lacks one of the model's ops: it has no
CEIL, for one).
Outputs go to DIR/out_<mode>_<k>.bin, described in DIR/result.tsv:
    output  MODE  NAME  DTYPE  DIMS  FILE
Any failure exits non-zero with the reason on stderr.
"""

import os
import sys

import numpy as np
from ai_edge_litert import interpreter as litert

MODES = {
    "xnnpack": litert.OpResolverType.AUTO,
    "builtin": litert.OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES,
    "reference": litert.OpResolverType.BUILTIN_REF,
}


def dims(text):
    return [int(d) for d in text.split(",") if d != ""]


def main(folder):
    inputs, outputs = {}, []
    with open(os.path.join(folder, "manifest.tsv"), encoding="utf-8") as f:
        for line in f:
            parts = line.rstrip("\n").split("\t")
            if parts[0] == "input":
                _, name, dtype, shape, file = parts
                data = np.fromfile(os.path.join(folder, file), dtype=np.dtype(dtype))
                inputs[name] = data.reshape(dims(shape))
            elif parts[0] == "output":
                outputs.append(parts[1])
    model = os.path.join(folder, "model.tflite")
    lines = []
    for mode, resolver in MODES.items():
        try:
            interp = litert.Interpreter(model_path=model, experimental_op_resolver_type=resolver, num_threads=1)
        except ValueError as e:
            if mode == "reference" and "Didn't find op" in str(e):
                lines.append(f"skipped\t{mode}\t{str(e).splitlines()[0]}\n")
                continue
            raise
        sigs = interp.get_signature_list()
        if list(sigs) != ["serving_default"]:
            raise SystemExit(f"signatures are {list(sigs)}, expected ['serving_default']")
        sig = sigs["serving_default"]
        if sorted(sig["inputs"]) != sorted(inputs) or sorted(sig["outputs"]) != sorted(outputs):
            raise SystemExit(f"signature names {sig} do not match the manifest {list(inputs)} -> {outputs}")
        runner = interp.get_signature_runner("serving_default")
        result = runner(**inputs)
        for k, name in enumerate(outputs):
            arr = np.array(result[name], order="C")  # ascontiguousarray would make scalars 1-D
            file = f"out_{mode}_{k}.bin"
            arr.tofile(os.path.join(folder, file))
            shape = ",".join(str(d) for d in arr.shape)
            lines.append(f"output\t{mode}\t{name}\t{arr.dtype.name}\t{shape}\t{file}\n")
    with open(os.path.join(folder, "result.tsv"), "w", encoding="utf-8") as f:
        f.writelines(lines)


if __name__ == "__main__":
    if len(sys.argv) != 2:
        raise SystemExit(__doc__)
    main(sys.argv[1])
