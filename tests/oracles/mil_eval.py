"""An independent NumPy interpreter for Core ML ML Program packages (.mlpackage).

Core ML cannot run predictions off macOS, so this is the numeric oracle for edgeport's Core ML
exporter. It is written from the MIL op semantics (coremltools' public op documentation) and the
file format facts in shared/design.md section 5, not from any converter's code:

* the package (a directory, or a zip of one) is read through its Manifest.json;
* the Model protobuf is parsed with coremltools' generated classes (``coremltools.proto``);
* weight.bin ("blob storage v2") is read by ``BlobStorage`` below, which checks the header, the
  64-byte aligned metadata records (sentinel 0xDEADBEEF), the dtype codes and the data offsets;
* the ``main`` function's block is evaluated op by op, in order. Every op's result is checked
  against the dtype and shape the protobuf declares for its output, so a wrong declaration is
  an error, not a silent reinterpretation.

Precision: an op whose output is fp16 is computed in float32 from its (float16) inputs and its
result is rounded to float16, as a device computing in half precision with float accumulators
would. fp32 ops are computed in float32. This is the faithful reading, not a pessimistic one:
Core ML stores an fp16 program's tensors and weights in fp16 between ops (so every op's
inputs and result carry fp16 rounding), while the GPU and the Neural Engine accumulate conv
and matmul sums with at least fp16 operands and wider accumulators, which float32 accumulation
models from above (no accumulation error is added). What it does not model is a runtime fusing
several ops into one kernel and skipping the rounding between them: fusion differs per device
and OS, and the MIL program promises none, so each op's declared fp16 output is rounded.

Unsupported ops (and nested blocks) raise ``UnsupportedOp`` naming the op type.

Readings where the MIL documentation leaves room (each one is pinned by a self-test in
test_coreml.py against onnxruntime or a direct loop):

* pad_type "same" / "same_lower" (conv, pools): total padding max(0, (ceil(i/s)-1)*s + k_eff - i),
  the odd pixel at the end ("same") or at the start ("same_lower"), as TF / ONNX SAME_UPPER/LOWER.
* conv_transpose: the full output (D-1)*s + (K-1)*d + 1 is cropped by pad (custom), by half the
  excess with the odd pixel at the end (same), and output_shape, when given, fixes the size
  (positions past the full output get only the bias, like ONNX output_padding).
* avg_pool with ceil_mode: PyTorch's rule (a window is clipped at the end of the padding and,
  with padding counted, divided by its clipped size). onnxruntime differs in that corner.
* resize_nearest_neighbor / upsample_nearest_neighbor: source index floor(i * in / out) (resp.
  floor(i / scale)), as ONNX Resize nearest/asymmetric/floor.
* cast from float to an integer type truncates toward zero; round is half to even.
* gather / scatter from iOS17 (opset CoreML7+): negative indices are out of bounds and rejected.

CLI::

    python mil_eval.py MODEL.mlpackage[.zip] --inputs in.npz --out out.npz [--dump-ops]
"""

from __future__ import annotations

import argparse
import io
import json
import math
import struct
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any, Callable

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

__all__ = [
    "MilEvalError",
    "UnsupportedOp",
    "BlobStorage",
    "BlobRecord",
    "MlPackage",
    "MilProgram",
    "TensorType",
    "run_package",
    "supported_ops",
    "blob_values",
]


class MilEvalError(Exception):
    """The package or program is malformed, or an op's result disagrees with its declaration."""


class UnsupportedOp(MilEvalError):
    def __init__(self, op_type: str, detail: str = ""):
        self.op_type = op_type
        super().__init__(f"mil_eval: unsupported MIL op {op_type!r}" + (f" ({detail})" if detail else ""))


# ----------------------------------------------------------------------------------------------
# MIL data types (MIL.proto DataType)
# ----------------------------------------------------------------------------------------------

BOOL, STRING = 1, 2
FLOAT16, FLOAT32, FLOAT64, BFLOAT16 = 10, 11, 12, 13
INT8, INT16, INT32, INT64, INT4 = 21, 22, 23, 24, 25
UINT8, UINT16, UINT32, UINT64, UINT4, UINT2, UINT1, UINT6, UINT3 = 31, 32, 33, 34, 35, 36, 37, 38, 39


@dataclass(frozen=True)
class DType:
    code: int
    name: str  # MIL spelling, as in cast(dtype=...)
    np: Any  # numpy storage dtype (sub-byte types are stored unpacked, one element per byte)
    bits: int
    signed: bool = False

    @property
    def is_float(self) -> bool:
        return self.code in (FLOAT16, FLOAT32, FLOAT64)

    @property
    def is_sub_byte(self) -> bool:
        return self.bits < 8


DTYPES: dict[int, DType] = {
    d.code: d
    for d in (
        DType(BOOL, "bool", np.bool_, 8),
        DType(STRING, "string", object, 0),
        DType(FLOAT16, "fp16", np.float16, 16, True),
        DType(FLOAT32, "fp32", np.float32, 32, True),
        DType(FLOAT64, "fp64", np.float64, 64, True),
        DType(INT8, "int8", np.int8, 8, True),
        DType(INT16, "int16", np.int16, 16, True),
        DType(INT32, "int32", np.int32, 32, True),
        DType(INT64, "int64", np.int64, 64, True),
        DType(INT4, "int4", np.int8, 4, True),
        DType(UINT8, "uint8", np.uint8, 8),
        DType(UINT16, "uint16", np.uint16, 16),
        DType(UINT32, "uint32", np.uint32, 32),
        DType(UINT64, "uint64", np.uint64, 64),
        DType(UINT4, "uint4", np.uint8, 4),
        DType(UINT2, "uint2", np.uint8, 2),
        DType(UINT1, "uint1", np.uint8, 1),
        DType(UINT6, "uint6", np.uint8, 6),
        DType(UINT3, "uint3", np.uint8, 3),
    )
}
DTYPE_BY_NAME = {d.name: d for d in DTYPES.values()}
DTYPE_BY_NAME.update({"fp": DTYPES[FLOAT32], "float16": DTYPES[FLOAT16], "float32": DTYPES[FLOAT32]})


def dtype_name(code: int) -> str:
    d = DTYPES.get(code)
    return d.name if d else f"<MIL dtype {code}>"


def _np_dtype_code(a: np.ndarray) -> int:
    m = {
        np.dtype(np.bool_): BOOL,
        np.dtype(np.float16): FLOAT16,
        np.dtype(np.float32): FLOAT32,
        np.dtype(np.float64): FLOAT64,
        np.dtype(np.int8): INT8,
        np.dtype(np.int16): INT16,
        np.dtype(np.int32): INT32,
        np.dtype(np.int64): INT64,
        np.dtype(np.uint8): UINT8,
        np.dtype(np.uint16): UINT16,
        np.dtype(np.uint32): UINT32,
        np.dtype(np.uint64): UINT64,
    }
    return m[np.dtype(a.dtype)]


def unpack_bits(data: bytes | np.ndarray, nbits: int, count: int, signed: bool = False) -> np.ndarray:
    """Sub-byte elements packed one byte at a time, least significant bit first (an element may
    straddle two bytes: its low bits sit in the high bits of the first byte)."""
    raw = np.frombuffer(bytes(data), np.uint8) if not isinstance(data, np.ndarray) else data.astype(np.uint8)
    bits = np.unpackbits(raw, bitorder="little")
    need = count * nbits
    if bits.size < need:
        raise MilEvalError(f"packed data has {bits.size} bits, {count} x {nbits}-bit elements need {need}")
    bits = bits[:need].reshape(count, nbits).astype(np.uint16)
    vals = (bits << np.arange(nbits, dtype=np.uint16)).sum(axis=1)
    if signed:
        vals = vals.astype(np.int16)
        vals = np.where(vals >= (1 << (nbits - 1)), vals - (1 << nbits), vals)
        return vals.astype(np.int8)
    return vals.astype(np.uint8)


# ----------------------------------------------------------------------------------------------
# weight.bin: blob storage v2
# ----------------------------------------------------------------------------------------------

BLOB_SENTINEL = 0xDEADBEEF
BLOB_ALIGN = 64
# blob storage dtype code -> MIL dtype code (BFloat16 = 5 has no MIL tensor counterpart here)
BLOB_DTYPES = {
    1: FLOAT16,
    2: FLOAT32,
    3: UINT8,
    4: INT8,
    5: BFLOAT16,
    6: INT16,
    7: UINT16,
    8: INT4,
    9: UINT1,
    10: UINT2,
    11: UINT4,
    12: UINT3,
    13: UINT6,
    14: INT32,
    15: UINT32,
}
MIL_TO_BLOB_DTYPE = {v: k for k, v in BLOB_DTYPES.items()}


@dataclass(frozen=True)
class BlobRecord:
    offset: int  # of the metadata record
    blob_dtype: int
    size: int  # bytes of data
    data_offset: int
    padding_bits: int
    reserved: tuple[int, ...]

    @property
    def mil_dtype(self) -> int | None:
        return BLOB_DTYPES.get(self.blob_dtype)


class BlobStorage:
    """Reader for one weight.bin (blob storage v2, little-endian, 64-byte alignment)."""

    HEADER = struct.Struct("<II7Q")  # count, version, 7 reserved u64
    RECORD = struct.Struct("<IIQQQ4Q")  # sentinel, dtype, size, data_offset, padding bits, 4 reserved

    def __init__(self, data: bytes, name: str = "weight.bin"):
        self.data = bytes(data)
        self.name = name
        if len(self.data) < self.HEADER.size:
            raise MilEvalError(f"{name}: {len(self.data)} bytes, shorter than the 64-byte header")
        count, version, *reserved = self.HEADER.unpack_from(self.data, 0)
        if version != 2:
            raise MilEvalError(f"{name}: storage version {version}, expected 2")
        if any(reserved):
            raise MilEvalError(f"{name}: header reserved fields are not zero: {reserved}")
        self.count = count
        self.version = version

    def record(self, offset: int) -> BlobRecord:
        name = self.name
        if offset % BLOB_ALIGN:
            raise MilEvalError(f"{name}: blob offset {offset} is not {BLOB_ALIGN}-byte aligned")
        if offset < self.HEADER.size or offset + self.RECORD.size > len(self.data):
            raise MilEvalError(f"{name}: blob offset {offset} outside the file ({len(self.data)} bytes)")
        sentinel, dt, size, data_offset, pad_bits, *reserved = self.RECORD.unpack_from(self.data, offset)
        if sentinel != BLOB_SENTINEL:
            raise MilEvalError(f"{name}: record at {offset}: sentinel {sentinel:#x}, expected 0xdeadbeef")
        if dt not in BLOB_DTYPES:
            raise MilEvalError(f"{name}: record at {offset}: unknown blob dtype {dt}")
        if data_offset != offset + self.RECORD.size:
            raise MilEvalError(
                f"{name}: record at {offset}: data offset {data_offset}, expected {offset + self.RECORD.size}"
            )
        if data_offset % BLOB_ALIGN:
            raise MilEvalError(f"{name}: record at {offset}: data offset {data_offset} not aligned")
        if data_offset + size > len(self.data):
            raise MilEvalError(
                f"{name}: record at {offset}: {size} data bytes run past the end of the file ({len(self.data)})"
            )
        if any(reserved):
            raise MilEvalError(f"{name}: record at {offset}: reserved fields are not zero: {reserved}")
        sub_byte = dt in (8, 9, 10, 11, 12, 13)
        if pad_bits >= 8 or (pad_bits and not sub_byte):
            raise MilEvalError(f"{name}: record at {offset}: padding_size_in_bits {pad_bits} for dtype {dt}")
        return BlobRecord(offset, dt, size, data_offset, pad_bits, tuple(reserved))

    def records(self) -> list[BlobRecord]:
        """Walk every record from the first (at 64) to the end of the file; the walk must visit
        exactly `count` records and account for every byte (only zero alignment padding between)."""
        out = []
        pos = self.HEADER.size
        while pos < len(self.data):
            rec = self.record(pos)
            out.append(rec)
            end = rec.data_offset + rec.size
            nxt = -(-end // BLOB_ALIGN) * BLOB_ALIGN
            gap = self.data[end:min(nxt, len(self.data))]
            if gap.strip(b"\0"):
                raise MilEvalError(f"{self.name}: non-zero bytes between blobs at {end}..{nxt}")
            pos = nxt
        if len(out) != self.count:
            raise MilEvalError(f"{self.name}: header says {self.count} blobs, the file holds {len(out)}")
        return out

    def read(self, offset: int, mil_dtype: int, shape: tuple[int, ...]) -> np.ndarray:
        """The blob whose metadata record is at `offset`, as a tensor of `mil_dtype` / `shape`."""
        rec = self.record(offset)
        if mil_dtype not in DTYPES or mil_dtype == STRING:
            raise MilEvalError(f"{self.name}: blob at {offset} declared as {dtype_name(mil_dtype)}, which mil_eval cannot hold")
        if rec.mil_dtype != mil_dtype:
            raise MilEvalError(
                f"{self.name}: blob at {offset} has blob dtype {rec.blob_dtype} "
                f"({dtype_name(rec.mil_dtype or 0)}), the program declares {dtype_name(mil_dtype)}"
            )
        dt = DTYPES[mil_dtype]
        n = int(np.prod(shape, dtype=np.int64))
        raw = self.data[rec.data_offset : rec.data_offset + rec.size]
        if dt.is_sub_byte:
            have = (rec.size * 8 - rec.padding_bits) // dt.bits
            if (rec.size * 8 - rec.padding_bits) % dt.bits or have != n:
                raise MilEvalError(
                    f"{self.name}: blob at {offset}: {rec.size} bytes - {rec.padding_bits} padding bits hold "
                    f"{(rec.size * 8 - rec.padding_bits) / dt.bits:g} {dt.name} elements, shape {shape} needs {n}"
                )
            return unpack_bits(raw, dt.bits, n, dt.signed).reshape(shape)
        item = np.dtype(dt.np).itemsize
        if rec.size != n * item:
            raise MilEvalError(
                f"{self.name}: blob at {offset}: {rec.size} bytes, shape {shape} of {dt.name} needs {n * item}"
            )
        return np.frombuffer(raw, np.dtype(dt.np).newbyteorder("<")).astype(dt.np).reshape(shape)


# ----------------------------------------------------------------------------------------------
# the package
# ----------------------------------------------------------------------------------------------


class MlPackage:
    """An .mlpackage directory or a zip of one. `files` maps package-relative POSIX paths
    (e.g. "Manifest.json", "Data/com.apple.CoreML/model.mlmodel") to their bytes."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.files = self._read_files(self.path)
        if "Manifest.json" not in self.files:
            raise MilEvalError(f"{path}: no Manifest.json at the package root (files: {sorted(self.files)[:8]})")
        self.manifest = json.loads(self.files["Manifest.json"].decode("utf-8"))
        entries = self.manifest.get("itemInfoEntries", {})
        root = self.manifest.get("rootModelIdentifier")
        if root not in entries:
            raise MilEvalError(f"{path}: rootModelIdentifier {root!r} is not an itemInfoEntries key")
        self.model_path = "Data/" + entries[root]["path"]
        if self.model_path not in self.files:
            raise MilEvalError(f"{path}: the root model {self.model_path} is missing")
        from coremltools.proto import Model_pb2

        self.spec = Model_pb2.Model()
        self.spec.ParseFromString(self.files[self.model_path])
        self.model_dir = str(PurePosixPath(self.model_path).parent)
        self._blobs: dict[str, BlobStorage] = {}

    @staticmethod
    def _read_files(path: Path) -> dict[str, bytes]:
        if path.is_dir():
            return {
                p.relative_to(path).as_posix(): p.read_bytes() for p in sorted(path.rglob("*")) if p.is_file()
            }
        with zipfile.ZipFile(path) as zf:
            names = [n for n in zf.namelist() if not n.endswith("/")]
            files = {n: zf.read(n) for n in names}
        if "Manifest.json" in files:
            return files
        # a zip holding one top-level X.mlpackage/ folder
        tops = {n.split("/", 1)[0] for n in files}
        if len(tops) == 1:
            top = tops.pop() + "/"
            return {n[len(top) :]: b for n, b in files.items()}
        return files

    def resolve(self, file_name: str) -> str:
        """A blobFileValue fileName ("@model_path/weights/weight.bin") -> package path."""
        if not file_name.startswith("@model_path/"):
            raise MilEvalError(f"blob file name {file_name!r} does not start with @model_path/")
        return self.model_dir + "/" + file_name[len("@model_path/") :]

    def blob_storage(self, file_name: str) -> BlobStorage:
        p = self.resolve(file_name)
        if p not in self._blobs:
            if p not in self.files:
                raise MilEvalError(f"blob file {file_name!r} ({p}) is not in the package")
            self._blobs[p] = BlobStorage(self.files[p], p)
        return self._blobs[p]


# ----------------------------------------------------------------------------------------------
# values
# ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TensorType:
    dtype: int
    shape: tuple[int | None, ...] | None  # None: variadic rank; None entries: unknown dims

    def describe(self) -> str:
        dims = "*" if self.shape is None else ",".join("?" if d is None else str(d) for d in self.shape)
        return f"tensor<{dtype_name(self.dtype)}, [{dims}]>"

    def static_shape(self) -> tuple[int, ...]:
        if self.shape is None or any(d is None for d in self.shape):
            raise MilEvalError(f"{self.describe()} has no static shape")
        return tuple(int(d) for d in self.shape)


def parse_type(vt) -> TensorType:
    kind = vt.WhichOneof("type")
    if kind != "tensorType":
        raise MilEvalError(f"value type {kind!r} is not supported (only tensors)")
    tt = vt.tensorType
    if tt.rank < 0:
        return TensorType(tt.dataType, None)
    dims = []
    for d in tt.dimensions:
        k = d.WhichOneof("dimension")
        if k == "constant":
            dims.append(int(d.constant.size))
        elif k == "unknown":
            if d.unknown.variadic:
                return TensorType(tt.dataType, None)
            dims.append(None)
        else:
            raise MilEvalError(f"dimension without a value in {vt}")
    if len(dims) != tt.rank:
        raise MilEvalError(f"tensor type rank {tt.rank} with {len(dims)} dimensions")
    return TensorType(tt.dataType, tuple(dims))


def decode_immediate(tt: TensorType, tv) -> Any:
    """A TensorValue (immediate) of type `tt` -> numpy array (or str for a scalar string)."""
    kind = tv.WhichOneof("value")
    shape = tt.static_shape()
    n = int(np.prod(shape, dtype=np.int64))
    dt = DTYPES.get(tt.dtype)
    if dt is None:
        raise MilEvalError(f"immediate value of unsupported dtype {tt.dtype}")
    if kind == "strings":
        vals = list(tv.strings.values)
        if tt.dtype != STRING:
            raise MilEvalError(f"strings immediate for a {dt.name} tensor")
        if shape == ():
            if len(vals) != 1:
                raise MilEvalError(f"scalar string with {len(vals)} values")
            return vals[0]
        arr = np.array(vals, dtype=object)
    elif kind == "bytes":
        raw = tv.bytes.values
        if dt.is_sub_byte:
            return unpack_bits(raw, dt.bits, n, dt.signed).reshape(shape)
        if tt.dtype not in (FLOAT16, INT8, UINT8, UINT32, INT16, UINT16, INT32, FLOAT32, BOOL):
            raise MilEvalError(f"bytes immediate for a {dt.name} tensor")
        item = np.dtype(dt.np).itemsize
        if len(raw) != n * item:
            raise MilEvalError(f"bytes immediate of {len(raw)} bytes for {tt.describe()} ({n * item} expected)")
        arr = np.frombuffer(raw, np.dtype(dt.np).newbyteorder("<")).astype(dt.np)
    else:
        field = {
            "floats": (tv.floats, (FLOAT32, FLOAT16, FLOAT64)),
            "doubles": (tv.doubles, (FLOAT64, FLOAT32)),
            "ints": (tv.ints, (INT32, INT16, UINT16, INT8, UINT8, UINT32, INT64)),
            "longInts": (tv.longInts, (INT64, INT32, UINT64)),
            "bools": (tv.bools, (BOOL,)),
        }.get(kind)
        if field is None:
            raise MilEvalError(f"immediate TensorValue kind {kind!r} for {tt.describe()}")
        msg, allowed = field
        if tt.dtype not in allowed:
            raise MilEvalError(f"{kind} immediate for a {dt.name} tensor")
        vals = list(msg.values)
        arr = np.array(vals, dtype=np.float64 if kind in ("floats", "doubles") else None)
        if kind == "bools":
            arr = np.array(vals, dtype=np.bool_)
        if kind == "floats":
            arr = np.array(vals, dtype=np.float32)
        arr = arr.astype(dt.np) if arr.size else np.zeros((0,), dt.np)
    if arr.size != n:
        raise MilEvalError(f"immediate value has {arr.size} elements, {tt.describe()} needs {n}")
    return arr.reshape(shape)


def decode_value(value, pkg: MlPackage | None) -> tuple[Any, TensorType]:
    """A MIL Value -> (numpy array or str, its declared type)."""
    tt = parse_type(value.type)
    kind = value.WhichOneof("value")
    if kind == "immediateValue":
        iv = value.immediateValue
        if iv.WhichOneof("value") != "tensor":
            raise MilEvalError(f"immediate value kind {iv.WhichOneof('value')!r} is not supported")
        return decode_immediate(tt, iv.tensor), tt
    if kind == "blobFileValue":
        if pkg is None:
            raise MilEvalError("blobFileValue without a package to read it from")
        bf = value.blobFileValue
        arr = pkg.blob_storage(bf.fileName).read(int(bf.offset), tt.dtype, tt.static_shape())
        return arr, tt
    raise MilEvalError(f"value without immediateValue / blobFileValue ({kind})")


def blob_values(pkg: MlPackage, function: str = "main"):
    """Every blobFileValue in the program: yields (op output name, attribute/param name,
    fileName, offset, declared TensorType, array read by BlobStorage)."""
    fn = pkg.spec.mlProgram.functions[function]
    block = fn.block_specializations[fn.opset]

    def walk(ops):
        for op in ops:
            vals = [(k, v) for k, v in op.attributes.items()]
            for k, arg in op.inputs.items():
                for b in arg.arguments:
                    if b.WhichOneof("binding") == "value":
                        vals.append((k, b.value))
            for k, v in vals:
                if v.WhichOneof("value") == "blobFileValue":
                    arr, tt = decode_value(v, pkg)
                    name = op.outputs[0].name if op.outputs else op.type
                    yield name, k, v.blobFileValue.fileName, int(v.blobFileValue.offset), tt, arr
            for blk in op.blocks:
                yield from walk(blk.operations)

    yield from walk(block.operations)


# ----------------------------------------------------------------------------------------------
# op context
# ----------------------------------------------------------------------------------------------

OPSET_ORDER = {"CoreML5": 15, "CoreML6": 16, "CoreML7": 17, "CoreML8": 18, "CoreML9": 26}
_MISSING = object()


class OpCtx:
    def __init__(self, op, params: dict[str, list], dtypes: dict[str, list[int]], consts: dict[str, list[bool]], opset: str):
        self.op = op
        self.type = op.type
        self.params = params
        self.dtypes = dtypes
        self.consts = consts
        self.opset = opset
        self.ios = OPSET_ORDER.get(opset, 15)
        self.result_dtype: int | None = None  # set by ops whose output dtype is not x's
        self.result_dtypes: list[int] | None = None  # per output, for ops with mixed outputs

    def has(self, name: str) -> bool:
        return name in self.params

    def raw(self, name: str, default=_MISSING):
        if name not in self.params:
            if default is _MISSING:
                raise MilEvalError(f"{self.type}: missing required input {name!r}")
            return default
        vals = self.params[name]
        if len(vals) != 1:
            raise MilEvalError(f"{self.type}: input {name!r} has {len(vals)} bindings, expected 1")
        return vals[0]

    def t(self, name: str, default=_MISSING):
        """A tensor input ready for computation: fp16 is widened to fp32."""
        v = self.raw(name, default)
        if isinstance(v, np.ndarray) and v.dtype == np.float16:
            return v.astype(np.float32)
        return v

    def f(self, name: str, default=_MISSING) -> float:
        v = self.raw(name, default)
        return float(np.asarray(v).reshape(()))

    def i(self, name: str, default=_MISSING) -> int:
        v = self.raw(name, default)
        a = np.asarray(v)
        if a.size != 1:
            raise MilEvalError(f"{self.type}: {name!r} should be a scalar, got shape {a.shape}")
        return int(a.reshape(()))

    def b(self, name: str, default=_MISSING) -> bool:
        v = self.raw(name, default)
        return bool(np.asarray(v).reshape(()))

    def ints(self, name: str, default=_MISSING):
        v = self.raw(name, default)
        if v is None:
            return None
        return [int(a) for a in np.asarray(v).reshape(-1)]

    def bools(self, name: str, default=_MISSING):
        v = self.raw(name, default)
        if v is None:
            return None
        return [bool(a) for a in np.asarray(v).reshape(-1)]

    def s(self, name: str, default=_MISSING) -> str:
        v = self.raw(name, default)
        if isinstance(v, np.ndarray):
            if v.dtype != object or v.size != 1:
                raise MilEvalError(f"{self.type}: {name!r} should be a string")
            v = str(v.reshape(()).item())
        return v

    def list(self, name: str) -> list:
        if name not in self.params:
            raise MilEvalError(f"{self.type}: missing required input {name!r}")
        return [v.astype(np.float32) if isinstance(v, np.ndarray) and v.dtype == np.float16 else v for v in self.params[name]]

    def dtype_of(self, name: str, idx: int = 0) -> int:
        return self.dtypes[name][idx]

    def is_const(self, name: str) -> bool:
        return all(self.consts.get(name, [False]))


OpFn = Callable[[OpCtx], Any]
OPS: dict[str, OpFn] = {}


def op(*names: str):
    def deco(fn: OpFn) -> OpFn:
        for n in names:
            OPS[n] = fn
        return fn

    return deco


def supported_ops() -> list[str]:
    return sorted(OPS)


def _f32(a):
    a = np.asarray(a)
    return a.astype(np.float32) if a.dtype == np.float16 else a


def _axis(axis: int, rank: int, op_type: str) -> int:
    if not -rank <= axis < rank:
        raise MilEvalError(f"{op_type}: axis {axis} out of range for rank {rank}")
    return axis % rank


# ----------------------------------------------------------------------------------------------
# elementwise
# ----------------------------------------------------------------------------------------------

_BINARY = {
    "add": np.add,
    "sub": np.subtract,
    "mul": np.multiply,
    "maximum": np.maximum,
    "minimum": np.minimum,
    "pow": np.power,
    "floor_div": np.floor_divide,
    "mod": np.mod,
}
_COMPARE = {
    "equal": np.equal,
    "not_equal": np.not_equal,
    "greater": np.greater,
    "greater_equal": np.greater_equal,
    "less": np.less,
    "less_equal": np.less_equal,
}
_LOGICAL = {"logical_and": np.logical_and, "logical_or": np.logical_or, "logical_xor": np.logical_xor}


def _check_same_dtype(c: OpCtx, *names):
    ds = {c.dtype_of(n) for n in names}
    if len(ds) != 1:
        raise MilEvalError(f"{c.type}: inputs {names} have different dtypes {[dtype_name(d) for d in ds]}")


@op(*_BINARY)
def _binary(c: OpCtx):
    _check_same_dtype(c, "x", "y")
    x, y = c.t("x"), c.t("y")
    if c.type == "floor_div" and np.issubdtype(np.asarray(x).dtype, np.integer):
        return np.floor_divide(x, y)
    return _BINARY[c.type](x, y)


@op("real_div")
def _real_div(c: OpCtx):
    _check_same_dtype(c, "x", "y")
    x, y = c.t("x"), c.t("y")
    if np.issubdtype(np.asarray(x).dtype, np.integer):
        return np.trunc(np.true_divide(x, y)).astype(np.asarray(x).dtype)
    return np.true_divide(x, y)


@op(*_COMPARE)
def _compare(c: OpCtx):
    _check_same_dtype(c, "x", "y")
    c.result_dtype = BOOL
    return _COMPARE[c.type](c.t("x"), c.t("y"))


@op(*_LOGICAL)
def _logical(c: OpCtx):
    c.result_dtype = BOOL
    return _LOGICAL[c.type](c.t("x"), c.t("y"))


@op("logical_not")
def _logical_not(c: OpCtx):
    c.result_dtype = BOOL
    return np.logical_not(c.t("x"))


def _erf(x: np.ndarray) -> np.ndarray:
    return np.vectorize(math.erf, otypes=[np.float64])(np.asarray(x, np.float64)).astype(np.float32)


def _sigmoid(x):
    with np.errstate(over="ignore"):
        return (1.0 / (1.0 + np.exp(-x))).astype(np.asarray(x).dtype)


_UNARY = {
    "abs": np.abs,
    "acos": np.arccos,
    "asin": np.arcsin,
    "atan": np.arctan,
    "atanh": np.arctanh,
    "ceil": np.ceil,
    "cos": np.cos,
    "cosh": np.cosh,
    "exp": np.exp,
    "exp2": np.exp2,
    "floor": np.floor,
    "round": np.round,  # half to even: 0.5 -> 0
    "sign": np.sign,
    "sin": np.sin,
    "sinh": np.sinh,
    "sqrt": np.sqrt,
    "square": np.square,
    "tan": np.tan,
    "tanh": np.tanh,
    "erf": _erf,
    "relu": lambda x: np.maximum(x, np.zeros((), np.asarray(x).dtype)),
    "relu6": lambda x: np.clip(x, 0, 6).astype(np.asarray(x).dtype),
    "sigmoid": _sigmoid,
    "silu": lambda x: x * _sigmoid(x),
    "softplus": lambda x: np.logaddexp(np.zeros((), np.asarray(x).dtype), x),
    "softsign": lambda x: x / (1 + np.abs(x)),
    "identity": lambda x: x,
}


@op(*_UNARY)
def _unary(c: OpCtx):
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        return _UNARY[c.type](c.t("x"))


@op("rsqrt")
def _rsqrt(c: OpCtx):
    with np.errstate(divide="ignore", invalid="ignore"):
        return 1.0 / np.sqrt(c.t("x") + np.float32(c.f("epsilon", 1e-12)))


@op("inverse")
def _inverse(c: OpCtx):
    with np.errstate(divide="ignore"):
        return 1.0 / (c.t("x") + np.float32(c.f("epsilon", 1e-4)))


@op("log")
def _log(c: OpCtx):
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.log(c.t("x") + np.float32(c.f("epsilon", 1e-45)))


@op("clip")
def _clip(c: OpCtx):
    x = c.t("x")
    return np.minimum(np.maximum(x, np.float32(c.f("alpha"))), np.float32(c.f("beta"))).astype(x.dtype)


@op("threshold")
def _threshold(c: OpCtx):
    x = c.t("x")
    return np.maximum(x, np.asarray(c.f("alpha")).astype(x.dtype))


@op("leaky_relu")
def _leaky_relu(c: OpCtx):
    x = c.t("x")
    return np.where(x >= 0, x, np.float32(c.f("alpha")) * x).astype(x.dtype)


@op("elu")
def _elu(c: OpCtx):
    x = c.t("x")
    with np.errstate(over="ignore"):
        return np.where(x > 0, x, np.float32(c.f("alpha")) * (np.exp(x) - 1)).astype(x.dtype)


@op("thresholded_relu")
def _thresholded_relu(c: OpCtx):
    x = c.t("x")
    return np.where(x >= np.float32(c.f("alpha")), x, 0).astype(x.dtype)


@op("clamped_relu")
def _clamped_relu(c: OpCtx):
    x = c.t("x")
    a, b = np.float32(c.f("alpha")), np.float32(c.f("beta"))
    return np.where(x >= 0, np.minimum(b, x), np.minimum(b, a * x)).astype(x.dtype)


@op("sigmoid_hard")
def _sigmoid_hard(c: OpCtx):
    x = c.t("x")
    return np.clip(np.float32(c.f("alpha")) * x + np.float32(c.f("beta")), 0, 1).astype(x.dtype)


@op("linear_activation")
def _linear_activation(c: OpCtx):
    x = c.t("x")
    return (np.float32(c.f("alpha")) * x + np.float32(c.f("beta"))).astype(x.dtype)


@op("scaled_tanh")
def _scaled_tanh(c: OpCtx):
    x = c.t("x")
    return (np.float32(c.f("alpha")) * np.tanh(np.float32(c.f("beta")) * x)).astype(x.dtype)


def _per_channel(v: np.ndarray, x: np.ndarray, op_type: str) -> np.ndarray:
    v = _f32(v).reshape(-1)
    if x.ndim < 2 or v.size != x.shape[1]:
        raise MilEvalError(f"{op_type}: per-channel parameter of size {v.size} for input shape {x.shape}")
    return v.reshape((1, -1) + (1,) * (x.ndim - 2))


@op("prelu")
def _prelu(c: OpCtx):
    x = c.t("x")
    if not 3 <= x.ndim <= 5:
        raise MilEvalError(f"prelu: input rank {x.ndim}, MIL requires 3..5")
    a = _per_channel(c.t("alpha"), x, c.type)
    return np.where(x > 0, x, a * x).astype(x.dtype)


@op("softplus_parametric")
def _softplus_parametric(c: OpCtx):
    x = c.t("x")
    a, b = _per_channel(c.t("alpha"), x, c.type), _per_channel(c.t("beta"), x, c.type)
    return (a * np.logaddexp(0, b * x)).astype(x.dtype)


@op("gelu")
def _gelu(c: OpCtx):
    x = c.t("x")
    mode = c.s("mode", "EXACT")
    if mode == "EXACT":
        y = 0.5 * x * (1.0 + _erf(x / np.float32(math.sqrt(2.0))))
    elif mode == "TANH_APPROXIMATION":
        y = 0.5 * x * (1.0 + np.tanh(np.float32(math.sqrt(2.0 / math.pi)) * (x + np.float32(0.044715) * x**3)))
    elif mode == "SIGMOID_APPROXIMATION":
        y = x * _sigmoid(np.float32(1.702) * x)
    else:
        raise MilEvalError(f"gelu: unknown mode {mode!r}")
    return y.astype(x.dtype)


def _softmax(x: np.ndarray, axis: int) -> np.ndarray:
    m = np.max(x, axis=axis, keepdims=True)
    e = np.exp(x - m)
    return e / np.sum(e, axis=axis, keepdims=True)


@op("softmax")
def _softmax_op(c: OpCtx):
    x = c.t("x")
    return _softmax(x, _axis(c.i("axis", -1), x.ndim, c.type))


@op("select")
def _select(c: OpCtx):
    if not (c.has("a") and c.has("b")):
        raise UnsupportedOp("select", "without a and b")
    _check_same_dtype(c, "a", "b")
    c.result_dtype = c.dtype_of("a")
    return np.where(c.t("cond").astype(bool), c.t("a"), c.t("b"))


# ----------------------------------------------------------------------------------------------
# const / cast
# ----------------------------------------------------------------------------------------------


@op("const")
def _const(c: OpCtx):
    c.result_dtype = c.dtype_of("val")
    return c.raw("val")


_CASTABLE = {"fp16", "fp32", "int32", "bool", "int8", "uint8", "int16", "uint16", "fp64", "int64"}


@op("cast")
def _cast(c: OpCtx):
    name = c.s("dtype")
    if name not in _CASTABLE:
        raise MilEvalError(f"cast: unknown dtype {name!r}")
    if name in ("int8", "uint8", "int16", "uint16") and c.ios < 17:
        raise MilEvalError(f"cast to {name} needs iOS17 (opset {c.opset})")
    dt = DTYPE_BY_NAME[name]
    c.result_dtype = dt.code
    x = c.raw("x")
    if dt.code == BOOL:
        return x != 0
    if np.issubdtype(dt.np, np.integer) and np.asarray(x).dtype.kind == "f":
        return np.trunc(x).astype(dt.np)
    return np.asarray(x).astype(dt.np)


# ----------------------------------------------------------------------------------------------
# linear algebra
# ----------------------------------------------------------------------------------------------


@op("linear")
def _linear(c: OpCtx):
    x, w = c.t("x"), _f32(c.t("weight"))
    if w.ndim != 2 or x.shape[-1] != w.shape[1]:
        raise MilEvalError(f"linear: x {x.shape} with weight {w.shape} ([D_out, D_in])")
    y = np.matmul(x, w.T)
    if c.has("bias"):
        y = y + _f32(c.t("bias"))
    return y


@op("matmul")
def _matmul(c: OpCtx):
    x, y = c.t("x"), c.t("y")
    if c.b("transpose_x", False) and x.ndim >= 2:
        x = np.swapaxes(x, -1, -2)
    if c.b("transpose_y", False) and y.ndim >= 2:
        y = np.swapaxes(y, -1, -2)
    dx, dy = c.dtype_of("x"), c.dtype_of("y")
    if dx != dy:
        if c.ios < 17:
            raise MilEvalError(f"matmul: x is {dtype_name(dx)} and y {dtype_name(dy)} before iOS17")
        c.result_dtype = dy if c.is_const("x") and not c.is_const("y") else dx
    return np.matmul(x, y)


@op("einsum")
def _einsum(c: OpCtx):
    vals = c.list("values")
    return np.einsum(c.s("equation"), *vals)


# ----------------------------------------------------------------------------------------------
# convolution and pooling
# ----------------------------------------------------------------------------------------------


def _same_pads(in_sizes, kernel, strides, lower: bool):
    pads = []
    for i, k, s in zip(in_sizes, kernel, strides):
        out = -(-i // s)
        total = max(0, (out - 1) * s + k - i)
        before = (total + 1) // 2 if lower else total // 2
        pads.append((before, total - before))
    return pads


def _spatial_pads(c: OpCtx, in_sizes, eff_kernel, strides, default_type: str | None = None):
    nd = len(in_sizes)
    pad_type = c.s("pad_type", default_type) if default_type is not None else c.s("pad_type")
    if pad_type == "valid":
        return [(0, 0)] * nd, pad_type
    if pad_type == "custom":
        p = c.ints("pad", [0] * (2 * nd))
        if len(p) != 2 * nd:
            raise MilEvalError(f"{c.type}: pad {p} for {nd} spatial dims")
        return [(p[2 * i], p[2 * i + 1]) for i in range(nd)], pad_type
    if pad_type in ("same", "same_lower"):
        return _same_pads(in_sizes, eff_kernel, strides, pad_type == "same_lower"), pad_type
    raise MilEvalError(f"{c.type}: unknown pad_type {pad_type!r}")


def conv_nd(x, w, strides, dilations, pads, groups):
    """x [N, C, *D], w [Co, C/groups, *K] -> [N, Co, *Dout]; pads [(before, after)]."""
    n, cin = x.shape[:2]
    nd = x.ndim - 2
    cout, cg = w.shape[:2]
    k = w.shape[2:]
    if cin != cg * groups or cout % groups:
        raise MilEvalError(f"conv: x channels {cin}, weight {w.shape}, groups {groups}")
    xp = np.pad(x, [(0, 0), (0, 0)] + [tuple(p) for p in pads])
    dk = [(k[i] - 1) * dilations[i] + 1 for i in range(nd)]
    if any(xp.shape[2 + i] < dk[i] for i in range(nd)):
        raise MilEvalError(f"conv: padded input {xp.shape} smaller than the dilated kernel {dk}")
    out = [(xp.shape[2 + i] - dk[i]) // strides[i] + 1 for i in range(nd)]
    win = sliding_window_view(xp, dk, axis=tuple(range(2, 2 + nd)))
    sl = (slice(None), slice(None))
    sl += tuple(slice(None, None, s) for s in strides)
    sl += tuple(slice(None, None, d) for d in dilations)
    win = win[sl]  # [N, C, *out, *k]
    P = int(np.prod(out))
    K = int(np.prod(k))
    win = win.reshape(n, groups, cg, P, K).transpose(0, 1, 3, 2, 4).reshape(n, groups, P, cg * K)
    wm = w.reshape(groups, cout // groups, cg * K).transpose(0, 2, 1)  # [G, cg*K, cog]
    y = np.matmul(win, wm)  # [N, G, P, cog]
    return y.transpose(0, 1, 3, 2).reshape((n, cout) + tuple(out))


def _spatial_param(c: OpCtx, name: str, nd: int, default: int = 1):
    v = c.ints(name, None)
    if v is None:
        return [default] * nd
    if len(v) != nd:
        raise MilEvalError(f"{c.type}: {name} {v} for {nd} spatial dims")
    return v


@op("conv")
def _conv(c: OpCtx):
    x, w = c.t("x"), _f32(c.t("weight"))
    nd = x.ndim - 2
    if not 1 <= nd <= 3 or w.ndim != x.ndim:
        raise MilEvalError(f"conv: x {x.shape} weight {w.shape}")
    strides = _spatial_param(c, "strides", nd)
    dil = _spatial_param(c, "dilations", nd)
    groups = c.i("groups", 1)
    eff = [(w.shape[2 + i] - 1) * dil[i] + 1 for i in range(nd)]
    pads, _ = _spatial_pads(c, x.shape[2:], eff, strides)
    y = conv_nd(x, w, strides, dil, pads, groups)
    if c.has("bias"):
        y = y + _f32(c.t("bias")).reshape((1, -1) + (1,) * nd)
    return y


@op("conv_transpose")
def _conv_transpose(c: OpCtx):
    x, w = c.t("x"), _f32(c.t("weight"))
    n, cin = x.shape[:2]
    nd = x.ndim - 2
    groups = c.i("groups", 1)
    if w.shape[0] != cin or cin % groups:
        raise MilEvalError(f"conv_transpose: x {x.shape}, weight {w.shape} ([C_in, C_out/groups, *K]), groups {groups}")
    cog = w.shape[1]
    cout = cog * groups
    k = w.shape[2:]
    strides = _spatial_param(c, "strides", nd)
    dil = _spatial_param(c, "dilations", nd)
    D = x.shape[2:]
    full = [(D[i] - 1) * strides[i] + (k[i] - 1) * dil[i] + 1 for i in range(nd)]
    y = np.zeros((n, cout) + tuple(full), np.float32)
    cig = cin // groups
    for g in range(groups):
        xg = x[:, g * cig : (g + 1) * cig]
        wg = w[g * cig : (g + 1) * cig]
        for kidx in np.ndindex(*k):
            contrib = np.tensordot(xg, wg[(slice(None), slice(None)) + kidx], axes=([1], [0]))  # [N, *D, cog]
            contrib = np.moveaxis(contrib, -1, 1)
            sl = tuple(
                slice(kidx[i] * dil[i], kidx[i] * dil[i] + (D[i] - 1) * strides[i] + 1, strides[i]) for i in range(nd)
            )
            y[(slice(None), slice(g * cog, (g + 1) * cog)) + sl] += contrib
    pad_type = c.s("pad_type", "valid")
    out_shape = c.ints("output_shape", None)
    if out_shape is not None and len(out_shape) == nd + 2:
        want = out_shape[2:]
    elif out_shape is not None and len(out_shape) == nd:
        want = out_shape
    else:
        want = None
    if pad_type == "valid":
        befores = [0] * nd
        want = want or full
    elif pad_type == "custom":
        p = c.ints("pad", [0] * (2 * nd))
        befores = [p[2 * i] for i in range(nd)]
        want = want or [full[i] - p[2 * i] - p[2 * i + 1] for i in range(nd)]
    elif pad_type in ("same", "same_lower"):
        want = want or [D[i] * strides[i] for i in range(nd)]
        tot = [max(0, full[i] - want[i]) for i in range(nd)]
        befores = [(t + 1) // 2 if pad_type == "same_lower" else t // 2 for t in tot]
    else:
        raise MilEvalError(f"conv_transpose: unknown pad_type {pad_type!r}")
    out = np.zeros((n, cout) + tuple(want), np.float32)
    src = tuple(slice(b, min(b + wnt, f)) for b, wnt, f in zip(befores, want, full))
    dst = tuple(slice(0, s.stop - s.start) for s in src)
    out[(slice(None), slice(None)) + dst] = y[(slice(None), slice(None)) + src]
    if c.has("bias"):
        out = out + _f32(c.t("bias")).reshape((1, -1) + (1,) * nd)
    return out


def _pool_geometry(c: OpCtx, x):
    nd = x.ndim - 2
    if not 1 <= nd <= 3:
        raise MilEvalError(f"{c.type}: input rank {x.ndim}")
    ks = c.ints("kernel_sizes")
    if len(ks) != nd:
        raise MilEvalError(f"{c.type}: kernel_sizes {ks} for {nd} spatial dims")
    strides = _spatial_param(c, "strides", nd)
    D = x.shape[2:]
    pads, pad_type = _spatial_pads(c, D, ks, strides)
    ceil_mode = c.b("ceil_mode", False)
    outs = []
    for i in range(nd):
        span = D[i] + pads[i][0] + pads[i][1] - ks[i]
        if ceil_mode:
            if pad_type not in ("valid", "custom"):
                raise MilEvalError(f"{c.type}: ceil_mode with pad_type {pad_type}")
            o = -(-span // strides[i]) + 1
            if (o - 1) * strides[i] >= D[i] + pads[i][0] and pads[i][0] + pads[i][1] > 0:
                o -= 1
        else:
            o = span // strides[i] + 1
        outs.append(o)
    return nd, ks, strides, pads, outs


def _pool_windows(a, nd, ks, strides, outs):
    win = sliding_window_view(a, ks, axis=tuple(range(2, 2 + nd)))
    sl = (slice(None), slice(None)) + tuple(slice(0, (o - 1) * s + 1, s) for o, s in zip(outs, strides))
    return win[sl]


def _pool(c: OpCtx, kind: str):
    x = c.t("x")
    nd, ks, strides, pads, outs = _pool_geometry(c, x)
    D = x.shape[2:]
    extra = [max(0, (outs[i] - 1) * strides[i] + ks[i] - (D[i] + pads[i][0] + pads[i][1])) for i in range(nd)]
    spec = [(0, 0), (0, 0)] + [(pads[i][0], pads[i][1] + extra[i]) for i in range(nd)]
    axes = tuple(range(-nd, 0))
    if kind == "max":
        xp = np.pad(x, spec, constant_values=-np.inf)
        return _pool_windows(xp, nd, ks, strides, outs).max(axis=axes)
    xp = np.pad(x, spec)
    if kind == "l2":
        return np.sqrt(_pool_windows(xp * xp, nd, ks, strides, outs).sum(axis=axes))
    sums = _pool_windows(xp, nd, ks, strides, outs).sum(axis=axes)
    ones = np.ones((1, 1) + tuple(D), np.float32)
    if c.b("exclude_padding_from_average", False):
        cnt_src = np.pad(ones, spec)
    else:  # padding counts, the part of a ceil-mode window beyond the padding does not
        inner = np.pad(ones, [(0, 0), (0, 0)] + [tuple(p) for p in pads], constant_values=1.0)
        cnt_src = np.pad(inner, [(0, 0), (0, 0)] + [(0, e) for e in extra])
    counts = _pool_windows(cnt_src, nd, ks, strides, outs).sum(axis=axes)
    return sums / counts


@op("avg_pool")
def _avg_pool(c):
    return _pool(c, "avg")


@op("max_pool")
def _max_pool(c):
    return _pool(c, "max")


@op("l2_pool")
def _l2_pool(c):
    return _pool(c, "l2")


# ----------------------------------------------------------------------------------------------
# normalization
# ----------------------------------------------------------------------------------------------


@op("batch_norm")
def _batch_norm(c: OpCtx):
    x = c.t("x")
    if not 3 <= x.ndim <= 5:
        raise MilEvalError(f"batch_norm: input rank {x.ndim}, MIL requires 3..5")
    mean = _per_channel(c.t("mean"), x, c.type)
    var = _per_channel(c.t("variance"), x, c.type)
    eps = np.float32(c.f("epsilon", 1e-5))
    y = (x - mean) / np.sqrt(var + eps)
    if c.has("gamma"):
        y = y * _per_channel(c.t("gamma"), x, c.type)
    if c.has("beta"):
        y = y + _per_channel(c.t("beta"), x, c.type)
    return y


@op("instance_norm")
def _instance_norm(c: OpCtx):
    x = c.t("x")
    axes = tuple(range(2, x.ndim))
    eps = np.float32(c.f("epsilon", 1e-5))
    mean = x.mean(axis=axes, keepdims=True)
    var = ((x - mean) ** 2).mean(axis=axes, keepdims=True)
    y = (x - mean) / np.sqrt(var + eps)
    if c.has("gamma"):
        y = y * _per_channel(c.t("gamma"), x, c.type)
    if c.has("beta"):
        y = y + _per_channel(c.t("beta"), x, c.type)
    return y


@op("layer_norm")
def _layer_norm(c: OpCtx):
    x = c.t("x")
    axes = c.ints("axes", None)
    axes = tuple(range(x.ndim)) if axes is None else tuple(sorted(_axis(a, x.ndim, c.type) for a in axes))
    eps = np.float32(c.f("epsilon", 1e-5))
    mean = x.mean(axis=axes, keepdims=True)
    var = ((x - mean) ** 2).mean(axis=axes, keepdims=True)
    y = (x - mean) / np.sqrt(var + eps)
    bshape = tuple(x.shape[i] if i in axes else 1 for i in range(x.ndim))
    for name, fn in (("gamma", np.multiply), ("beta", np.add)):
        if c.has(name):
            p = _f32(c.t(name))
            if p.size != int(np.prod([x.shape[a] for a in axes])):
                raise MilEvalError(f"layer_norm: {name} shape {p.shape} for axes {axes} of {x.shape}")
            y = fn(y, p.reshape(bshape))
    return y


@op("l2_norm")
def _l2_norm(c: OpCtx):
    x = c.t("x")
    axes = tuple(range(max(0, x.ndim - 3), x.ndim))
    eps = np.float32(c.f("epsilon", 1e-6))
    return x / np.sqrt((x * x).sum(axis=axes, keepdims=True) + eps)


@op("local_response_norm")
def _lrn(c: OpCtx):
    x = c.t("x")
    size = c.i("size")
    alpha, beta, k = np.float32(c.f("alpha", 1e-4)), np.float32(c.f("beta", 0.75)), np.float32(c.f("k", 1.0))
    sq = np.pad(x * x, [(0, 0), ((size - 1) // 2, size // 2)] + [(0, 0)] * (x.ndim - 2))
    s = sliding_window_view(sq, size, axis=1).sum(axis=-1)
    return x / (k + alpha / size * s) ** beta


# ----------------------------------------------------------------------------------------------
# reductions
# ----------------------------------------------------------------------------------------------


def _reduce_axes(c: OpCtx, x):
    axes = c.ints("axes", None)
    if axes is None:
        return tuple(range(x.ndim))
    return tuple(sorted({_axis(a, x.ndim, c.type) for a in axes}))


_REDUCE = {
    "reduce_mean": lambda x, a, k: np.mean(x, axis=a, keepdims=k),
    "reduce_sum": lambda x, a, k: np.sum(x, axis=a, keepdims=k),
    "reduce_max": lambda x, a, k: np.max(x, axis=a, keepdims=k),
    "reduce_min": lambda x, a, k: np.min(x, axis=a, keepdims=k),
    "reduce_prod": lambda x, a, k: np.prod(x, axis=a, keepdims=k),
    "reduce_l1_norm": lambda x, a, k: np.sum(np.abs(x), axis=a, keepdims=k),
    "reduce_l2_norm": lambda x, a, k: np.sqrt(np.sum(x * x, axis=a, keepdims=k)),
    "reduce_sum_square": lambda x, a, k: np.sum(x * x, axis=a, keepdims=k),
    "reduce_log_sum": lambda x, a, k: np.log(np.sum(x, axis=a, keepdims=k)),
    "reduce_log_sum_exp": lambda x, a, k: np.log(np.sum(np.exp(x), axis=a, keepdims=k)),
}


@op(*_REDUCE)
def _reduce(c: OpCtx):
    x = c.t("x")
    r = _REDUCE[c.type](x, _reduce_axes(c, x), c.b("keep_dims", False))
    return np.asarray(r).astype(x.dtype) if np.issubdtype(x.dtype, np.integer) else r


@op("reduce_argmax", "reduce_argmin")
def _reduce_arg(c: OpCtx):
    x = c.t("x")
    axis = _axis(c.i("axis", -1), x.ndim, c.type)
    fn = np.argmax if c.type == "reduce_argmax" else np.argmin
    r = fn(x, axis=axis)
    if c.b("keep_dims", False):
        r = np.expand_dims(r, axis)
    out = c.s("output_dtype", "int32")
    c.result_dtype = DTYPE_BY_NAME[out].code
    return r


# ----------------------------------------------------------------------------------------------
# shape manipulation
# ----------------------------------------------------------------------------------------------


@op("reshape")
def _reshape(c: OpCtx):
    x = c.raw("x")
    shape = c.ints("shape")
    r = x.ndim
    out = list(shape)
    if 0 in shape:
        if c.ios < 17 and len(shape) != r:
            raise MilEvalError(f"reshape: shape {shape} has 0 and length != rank {r} (allowed from iOS17)")
        for i, s in enumerate(shape):
            if s == 0:
                j = r - (len(shape) - i)
                out[i] = x.shape[j] if j >= 0 else 1
    if out.count(-1) > 1:
        raise MilEvalError(f"reshape: more than one -1 in {shape}")
    if any(s < -1 for s in out):
        raise MilEvalError(f"reshape: invalid shape {shape}")
    return x.reshape(out)


@op("transpose")
def _transpose(c: OpCtx):
    x = c.raw("x")
    perm = c.ints("perm")
    if sorted(_axis(p, x.ndim, c.type) for p in perm) != list(range(x.ndim)):
        raise MilEvalError(f"transpose: perm {perm} for rank {x.ndim}")
    return np.transpose(x, [p % x.ndim for p in perm])


@op("concat")
def _concat(c: OpCtx):
    vals = c.list("values")
    ds = set(c.dtypes["values"])
    if len(ds) != 1:
        raise MilEvalError(f"concat: inputs of different dtypes {[dtype_name(d) for d in ds]}")
    c.result_dtype = ds.pop()
    axis = _axis(c.i("axis"), vals[0].ndim, c.type)
    if c.b("interleave", False):
        st = np.stack(vals, axis=axis + 1)
        shp = list(vals[0].shape)
        shp[axis] *= len(vals)
        return st.reshape(shp)
    return np.concatenate(vals, axis=axis)


@op("stack")
def _stack(c: OpCtx):
    vals = c.list("values")
    c.result_dtype = c.dtypes["values"][0]
    axis = c.i("axis")
    return np.stack(vals, axis=axis)


@op("split")
def _split(c: OpCtx):
    x = c.raw("x")
    axis = _axis(c.i("axis"), x.ndim, c.type)
    sizes = c.ints("split_sizes", None)
    if sizes is None:
        ns = c.i("num_splits")
        if x.shape[axis] % ns:
            raise MilEvalError(f"split: dim {x.shape[axis]} not divisible by num_splits {ns}")
        sizes = [x.shape[axis] // ns] * ns
    elif c.has("num_splits") and c.i("num_splits") != len(sizes):
        raise MilEvalError(f"split: num_splits {c.i('num_splits')} with split_sizes {sizes}")
    if sum(sizes) != x.shape[axis]:
        raise MilEvalError(f"split: split_sizes {sizes} do not sum to dim {x.shape[axis]}")
    return np.split(x, np.cumsum(sizes)[:-1], axis=axis)


@op("slice_by_index")
def _slice_by_index(c: OpCtx):
    x = c.raw("x")
    r = x.ndim
    begin = c.ints("begin")
    end = c.ints("end")
    stride = c.ints("stride", None) or [1] * r
    bm = c.bools("begin_mask", None) or [False] * r
    em = c.bools("end_mask", None) or [False] * r
    sm = c.bools("squeeze_mask", None) or [False] * r
    if not all(len(v) == r for v in (begin, end, stride, bm, em, sm)):
        raise MilEvalError(f"slice_by_index: parameter lengths differ from rank {r}")
    idx = []
    for i in range(r):
        if stride[i] == 0:
            raise MilEvalError("slice_by_index: zero stride")
        if sm[i]:
            b = 0 if bm[i] else begin[i]
            if not -x.shape[i] <= b < x.shape[i]:
                raise MilEvalError(f"slice_by_index: squeeze index {b} out of range for dim {x.shape[i]}")
            idx.append(b % x.shape[i])
        else:
            idx.append(slice(None if bm[i] else begin[i], None if em[i] else end[i], stride[i]))
    return np.asarray(x[tuple(idx)])


@op("slice_by_size")
def _slice_by_size(c: OpCtx):
    x = c.raw("x")
    begin = c.ints("begin")
    size = c.ints("size")
    idx = []
    for i in range(x.ndim):
        b = begin[i] % x.shape[i] if x.shape[i] else 0
        e = x.shape[i] if size[i] == -1 else b + size[i]
        if e > x.shape[i]:
            raise MilEvalError(f"slice_by_size: begin {begin} size {size} past shape {x.shape}")
        idx.append(slice(b, e))
    return x[tuple(idx)]


def _check_indices(c: OpCtx, idx, dim):
    idx = np.asarray(idx).astype(np.int64)
    if c.ios >= 17 and np.any(idx < 0):
        raise MilEvalError(f"{c.type}: negative indices are out of bounds from iOS17 (opset {c.opset})")
    if np.any(idx < -dim) or np.any(idx >= dim):
        raise MilEvalError(f"{c.type}: index out of range for dim {dim}: [{idx.min()}, {idx.max()}]")
    return np.where(idx < 0, idx + dim, idx)


@op("gather")
def _gather(c: OpCtx):
    x = c.raw("x")
    axis = _axis(c.i("axis", 0), x.ndim, c.type)
    bd = c.i("batch_dims", 0)
    idx = _check_indices(c, c.raw("indices"), x.shape[axis])
    if bd == 0:
        return np.take(x, idx, axis=axis)
    if c.ios < 16:
        raise MilEvalError("gather: batch_dims needs iOS16")
    if bd > axis or x.shape[:bd] != idx.shape[:bd]:
        raise MilEvalError(f"gather: batch_dims {bd}, axis {axis}, x {x.shape}, indices {idx.shape}")
    B = x.shape[:bd]
    xs = x.reshape((-1,) + x.shape[bd:])
    ids = idx.reshape((-1,) + idx.shape[bd:])
    parts = [np.take(xs[i], ids[i], axis=axis - bd) for i in range(xs.shape[0])]
    return np.stack(parts).reshape(B + parts[0].shape)


@op("gather_along_axis")
def _gather_along_axis(c: OpCtx):
    x = c.raw("x")
    axis = _axis(c.i("axis", 0), x.ndim, c.type)
    idx = _check_indices(c, c.raw("indices"), x.shape[axis])
    return np.take_along_axis(x, idx, axis=axis)


@op("gather_nd")
def _gather_nd(c: OpCtx):
    x = c.raw("x")
    idx = np.asarray(c.raw("indices")).astype(np.int64)
    bd = c.i("batch_dims", 0)
    if bd:
        raise UnsupportedOp("gather_nd", "batch_dims > 0")
    k = idx.shape[-1]
    flat = idx.reshape(-1, k)
    for j in range(k):
        flat[:, j] = _check_indices(c, flat[:, j], x.shape[j])
    out = x[tuple(flat.T)]
    return out.reshape(idx.shape[:-1] + x.shape[k:])


@op("squeeze")
def _squeeze(c: OpCtx):
    x = c.raw("x")
    axes = c.ints("axes", None)
    if axes is None:
        return np.squeeze(x) if x.ndim else x
    axes = tuple(a for a in {_axis(a, x.ndim, c.type) for a in axes} if x.shape[a] == 1)
    return np.squeeze(x, axis=axes)


@op("expand_dims")
def _expand_dims(c: OpCtx):
    x = c.raw("x")
    axes = c.ints("axes")
    r = x.ndim + len(axes)
    norm = sorted(a + r if a < 0 else a for a in axes)
    if len(set(norm)) != len(norm) or any(not 0 <= a < r for a in norm):
        raise MilEvalError(f"expand_dims: axes {axes} for rank {x.ndim}")
    return np.expand_dims(x, tuple(norm))


@op("flatten2d")
def _flatten2d(c: OpCtx):
    x = c.raw("x")
    axis = c.i("axis", 1)
    if axis < 0:
        axis += x.ndim
    return x.reshape(int(np.prod(x.shape[:axis])), -1)


@op("tile")
def _tile(c: OpCtx):
    x = c.raw("x")
    reps = c.ints("reps")
    if len(reps) != x.ndim:
        raise MilEvalError(f"tile: reps {reps} for rank {x.ndim}")
    return np.tile(x, reps)


@op("reverse")
def _reverse(c: OpCtx):
    x = c.raw("x")
    axes = c.ints("axes", None)
    return np.flip(x, axis=None if axes is None else tuple(axes))


@op("pad")
def _pad(c: OpCtx):
    x = c.t("x")
    p = c.ints("pad")
    if len(p) % 2 or len(p) // 2 > x.ndim:
        raise MilEvalError(f"pad: pad {p} for rank {x.ndim}")
    n = len(p) // 2
    spec = [(0, 0)] * (x.ndim - n) + [(p[2 * i], p[2 * i + 1]) for i in range(n)]
    mode = c.s("mode", "constant")
    if mode == "constant":
        return np.pad(x, spec, constant_values=c.f("constant_val", 0.0))
    if mode == "reflect":
        for i, (b, a) in enumerate(spec):
            if b > x.shape[i] - 1 or a > x.shape[i] - 1:
                raise MilEvalError(f"pad: reflect pad {spec[i]} too large for dim {x.shape[i]}")
        return np.pad(x, spec, mode="reflect")
    if mode == "replicate":
        return np.pad(x, spec, mode="edge")
    raise MilEvalError(f"pad: unknown mode {mode!r}")


@op("shape")
def _shape(c: OpCtx):
    c.result_dtype = INT32
    return np.array(np.asarray(c.raw("x")).shape, np.int32)


@op("fill")
def _fill(c: OpCtx):
    v = c.raw("value", np.float32(0.0))
    c.result_dtype = c.dtype_of("value") if c.has("value") else FLOAT32
    return np.full(c.ints("shape"), np.asarray(v).reshape(()))


@op("range_1d")
def _range_1d(c: OpCtx):
    c.result_dtype = c.dtype_of("start")
    return np.arange(c.raw("start"), c.raw("end"), c.raw("step"))


@op("cumsum")
def _cumsum(c: OpCtx):
    x = c.t("x")
    axis = _axis(c.i("axis", 0), x.ndim, c.type)
    if c.b("reverse", False):
        x = np.flip(x, axis)
    y = np.cumsum(x, axis=axis)
    if c.b("exclusive", False):
        y = y - x
    if c.b("reverse", False):
        y = np.flip(y, axis)
    return y


@op("depth_to_space")
def _depth_to_space(c: OpCtx):
    x = c.raw("x")
    b = c.i("block_size")
    n, ch, h, w = x.shape
    y = x.reshape(n, b, b, ch // (b * b), h, w).transpose(0, 3, 4, 1, 5, 2)
    return y.reshape(n, ch // (b * b), h * b, w * b)


@op("space_to_depth")
def _space_to_depth(c: OpCtx):
    x = c.raw("x")
    b = c.i("block_size")
    n, ch, h, w = x.shape
    y = x.reshape(n, ch, h // b, b, w // b, b).transpose(0, 3, 5, 1, 2, 4)
    return y.reshape(n, ch * b * b, h // b, w // b)


@op("pixel_shuffle")
def _pixel_shuffle(c: OpCtx):
    x = c.raw("x")
    f = c.i("upscale_factor")
    n, ch, h, w = x.shape
    y = x.reshape(n, ch // (f * f), f, f, h, w).transpose(0, 1, 4, 2, 5, 3)
    return y.reshape(n, ch // (f * f), h * f, w * f)


# ----------------------------------------------------------------------------------------------
# resizing
# ----------------------------------------------------------------------------------------------


def _lerp_axis(x: np.ndarray, axis: int, grid: np.ndarray) -> np.ndarray:
    n = x.shape[axis]
    g = np.clip(grid.astype(np.float64), 0, n - 1)
    i0 = np.floor(g).astype(np.int64)
    i1 = np.minimum(i0 + 1, n - 1)
    wgt = (g - i0).astype(np.float32)
    shape = [1] * x.ndim
    shape[axis] = -1
    wgt = wgt.reshape(shape)
    return np.take(x, i0, axis=axis) * (1 - wgt) + np.take(x, i1, axis=axis) * wgt


def _grid(mode: str, n_in: int, n_out: int) -> np.ndarray:
    i = np.arange(n_out, dtype=np.float64)
    if mode in ("STRICT_ALIGN_CORNERS", "ALIGN_CORNERS"):
        if n_out == 1:
            return np.array([(n_in - 1) / 2.0 if mode == "ALIGN_CORNERS" else 0.0])
        return i * (n_in - 1) / (n_out - 1)
    if mode == "DEFAULT":
        if n_out == 1:
            return np.zeros(1)
        return i * (n_in - n_in / n_out) / (n_out - 1)
    if mode == "OFFSET_CORNERS":
        delta = max(1, n_in - 1) / n_out
        return 0.5 * delta + i * delta
    if mode == "UNALIGN_CORNERS":
        sp = n_in / n_out
        return i * sp + 0.5 * sp - 0.5
    if mode == "ASYMMETRIC":  # align_corners=False, half_pixel_centers=False
        return i * n_in / n_out
    raise MilEvalError(f"unknown sampling mode {mode!r}")


def _bilinear(x, out_h, out_w, mode):
    y = _lerp_axis(x, x.ndim - 2, _grid(mode, x.shape[-2], out_h))
    return _lerp_axis(y, x.ndim - 1, _grid(mode, x.shape[-1], out_w))


@op("upsample_bilinear")
def _upsample_bilinear(c: OpCtx):
    x = c.t("x")
    sh, sw = c.f("scale_factor_height", 1.0), c.f("scale_factor_width", 1.0)
    oh, ow = int(math.floor(x.shape[-2] * sh)), int(math.floor(x.shape[-1] * sw))
    align = c.b("align_corners", True)
    half = c.b("half_pixel_centers", not align) if c.ios >= 16 else not align
    if c.has("half_pixel_centers") and c.ios < 16:
        raise MilEvalError("upsample_bilinear: half_pixel_centers needs iOS16")
    if align and half:
        raise MilEvalError("upsample_bilinear: align_corners and half_pixel_centers both true")
    mode = "STRICT_ALIGN_CORNERS" if align else ("UNALIGN_CORNERS" if half else "ASYMMETRIC")
    return _bilinear(x, oh, ow, mode)


@op("resize_bilinear")
def _resize_bilinear(c: OpCtx):
    x = c.t("x")
    oh, ow = c.i("target_size_height", 1), c.i("target_size_width", 1)
    return _bilinear(x, oh, ow, c.s("sampling_mode", "DEFAULT"))


def _nearest_index(n_in: int, n_out: int, scale: float | None) -> np.ndarray:
    i = np.arange(n_out, dtype=np.float64)
    src = np.floor(i / scale) if scale is not None else np.floor(i * n_in / n_out)
    return np.clip(src, 0, n_in - 1).astype(np.int64)


@op("upsample_nearest_neighbor")
def _upsample_nearest(c: OpCtx):
    x = c.raw("x")
    sh, sw = c.f("scale_factor_height", 1.0), c.f("scale_factor_width", 1.0)
    oh, ow = int(math.floor(x.shape[-2] * sh)), int(math.floor(x.shape[-1] * sw))
    y = np.take(x, _nearest_index(x.shape[-2], oh, sh), axis=x.ndim - 2)
    return np.take(y, _nearest_index(x.shape[-1], ow, sw), axis=x.ndim - 1)


@op("resize_nearest_neighbor")
def _resize_nearest(c: OpCtx):
    x = c.raw("x")
    oh, ow = c.i("target_size_height"), c.i("target_size_width")
    y = np.take(x, _nearest_index(x.shape[-2], oh, None), axis=x.ndim - 2)
    return np.take(y, _nearest_index(x.shape[-1], ow, None), axis=x.ndim - 1)


@op("crop")
def _crop(c: OpCtx):
    x = c.raw("x")
    ch, cw = c.ints("crop_height"), c.ints("crop_width")
    return x[..., ch[0] : x.shape[-2] - ch[1], cw[0] : x.shape[-1] - cw[1]]


# ----------------------------------------------------------------------------------------------
# attention (iOS18)
# ----------------------------------------------------------------------------------------------


@op("scaled_dot_product_attention")
def _sdpa(c: OpCtx):
    if c.ios < 18:
        raise MilEvalError("scaled_dot_product_attention needs iOS18")
    q, k, v = c.t("query"), c.t("key"), c.t("value")
    s = np.matmul(q, np.swapaxes(k, -1, -2)) / np.float32(math.sqrt(q.shape[-1]))
    if c.has("attn_mask"):
        m = c.t("attn_mask")
        if m.dtype == np.bool_:
            s = np.where(m, s, -np.inf)
        else:
            s = s + m
    c.result_dtype = c.dtype_of("query")
    return np.matmul(_softmax(s, -1), v)


# ----------------------------------------------------------------------------------------------
# constexpr (compressed weights)
# ----------------------------------------------------------------------------------------------


@op("constexpr_affine_dequantize")
def _affine_dequantize(c: OpCtx):
    q = c.raw("quantized_data").astype(np.float32)
    zp = np.asarray(c.raw("zero_point")).astype(np.float32)
    scale = np.asarray(c.t("scale")).astype(np.float32)
    axis = _axis(c.i("axis"), q.ndim, c.type)
    shape = [1] * q.ndim
    shape[axis] = -1

    def bc(v, name):
        if v.size == 1:
            return v.reshape(())
        if v.ndim != 1 or v.size != q.shape[axis]:
            raise MilEvalError(f"{c.type}: {name} of shape {v.shape} for data {q.shape} along axis {axis}")
        return v.reshape(shape)

    c.result_dtype = c.dtype_of("scale")
    return bc(scale, "scale") * (q - bc(zp, "zero_point"))


@op("constexpr_cast")
def _constexpr_cast(c: OpCtx):
    dt = DTYPE_BY_NAME[c.s("output_dtype")]
    c.result_dtype = dt.code
    return c.raw("source_val").astype(dt.np)


def _lut_lookup(c: OpCtx, idx: np.ndarray, lut: np.ndarray) -> np.ndarray:
    """Each index read from its group's table: lut [*G, NUM_PALETTES, VECTOR_SIZE], the groups
    dividing the indices' dims; gives [*idx.shape, VECTOR_SIZE]."""
    r = idx.ndim
    if lut.ndim != r + 2:
        raise MilEvalError(f"{c.type}: lut rank {lut.ndim} for indices rank {r}")
    if any(idx.shape[i] % lut.shape[i] for i in range(r)):
        raise MilEvalError(f"{c.type}: lut groups {lut.shape[:r]} do not divide indices {idx.shape}")
    block = [idx.shape[i] // lut.shape[i] for i in range(r)]
    grp = tuple(np.arange(idx.shape[i]).reshape([-1 if j == i else 1 for j in range(r)]) // block[i] for i in range(r))
    return lut[grp + (idx,)]


@op("constexpr_lut_to_dense")
def _lut_to_dense(c: OpCtx):
    lut = c.raw("lut")
    c.result_dtype = c.dtype_of("lut")
    if c.has("shape"):  # iOS16: packed uint8 indices, 1-D lut, explicit shape
        shape = c.ints("shape")
        nbits = int(round(math.log2(lut.size)))
        if 1 << nbits != lut.size or nbits not in (1, 2, 4, 6, 8):
            raise MilEvalError(f"{c.type}: lut of {lut.size} entries")
        n = int(np.prod(shape))
        raw = np.asarray(c.raw("indices")).astype(np.uint8)
        if raw.size != -(-n * nbits // 8):
            raise MilEvalError(f"{c.type}: {raw.size} index bytes for {n} x {nbits}-bit indices")
        idx = unpack_bits(raw.tobytes(), nbits, n)
        return lut.reshape(-1)[idx].reshape(shape)
    # iOS18: typed (unpacked) indices, lut [*G, NUM_PALETTES, VECTOR_SIZE]
    idx = np.asarray(c.raw("indices")).astype(np.int64)
    r = idx.ndim
    vs = lut.shape[-1]
    vals = _lut_lookup(c, idx, lut)  # [*idx.shape, VECTOR_SIZE]
    if vs == 1:
        return vals[..., 0]
    va = _axis(c.i("vector_axis"), r, c.type)
    vals = np.moveaxis(vals, -1, va + 1)  # vector elements right after vector_axis
    shp = list(idx.shape)
    shp[va] *= vs
    return vals.reshape(shp)


@op("constexpr_sparse_to_dense")
def _sparse_to_dense(c: OpCtx):
    nz = c.raw("nonzero_data")
    c.result_dtype = c.dtype_of("nonzero_data")
    if c.has("shape"):  # iOS16: packed uint8 mask + shape
        shape = c.ints("shape")
        n = int(np.prod(shape))
        mask = unpack_bits(np.asarray(c.raw("mask")).astype(np.uint8).tobytes(), 1, n).astype(bool)
    else:  # iOS18: uint1 mask with the output shape
        m = np.asarray(c.raw("mask"))
        shape = list(m.shape)
        mask = m.reshape(-1).astype(bool)
    if int(mask.sum()) != nz.size:
        raise MilEvalError(f"{c.type}: {int(mask.sum())} set mask bits for {nz.size} nonzero values")
    out = np.zeros(mask.size, nz.dtype)
    out[mask] = nz.reshape(-1)
    return out.reshape(shape)


def _sparse_mask(c: OpCtx, mask_param: str, nz: np.ndarray) -> np.ndarray:
    """A uint1 mask (iOS18) as booleans, checked against the count of nonzero values."""
    mask = np.asarray(c.raw(mask_param)).astype(bool)
    if int(mask.sum()) != nz.size:
        raise MilEvalError(f"{c.type}: {int(mask.sum())} set mask bits for {nz.size} nonzero values")
    return mask


@op("constexpr_sparse_blockwise_shift_scale")
def _sparse_blockwise_shift_scale(c: OpCtx):
    """Dequantizes the nonzero values of a sparse int tensor: (mask, values) for sparse_to_dense."""
    nz = np.asarray(c.raw("nonzero_data")).reshape(-1)
    mask = _sparse_mask(c, "data_mask", nz)
    dense = np.zeros(mask.shape, np.float32)
    dense[mask] = nz.astype(np.float32)
    deq = _shift_scale(c, dense)
    c.result_dtypes = [UINT1, c.dtype_of("scale")]
    return mask.astype(np.uint8), deq[mask].reshape(-1)


@op("constexpr_lut_to_sparse")
def _lut_to_sparse(c: OpCtx):
    """Looks up the nonzero indices of a sparse index tensor: (mask, values) for sparse_to_dense."""
    nz = np.asarray(c.raw("indices_nonzero_data")).reshape(-1)
    mask = _sparse_mask(c, "indices_mask", nz)
    lut = c.raw("lut")
    if c.has("vector_axis") or lut.shape[-1] != 1:
        raise UnsupportedOp(c.type, "vector palettes")
    idx = np.zeros(mask.shape, np.int64)
    idx[mask] = nz.astype(np.int64)
    vals = _lut_lookup(c, idx, lut)[..., 0]
    c.result_dtypes = [UINT1, c.dtype_of("lut")]
    return mask.astype(np.uint8), vals[mask].reshape(-1)


def _shift_scale(c: OpCtx, data: np.ndarray) -> np.ndarray:
    """`scale * (data - offset)`, scale and offset repeated over blocks of `data`."""
    scale = np.asarray(c.t("scale")).astype(np.float32)
    if scale.ndim != data.ndim:
        raise MilEvalError(f"{c.type}: scale rank {scale.ndim} != data rank {data.ndim}")

    def expand(v):
        for i in range(data.ndim):
            if data.shape[i] % v.shape[i]:
                raise MilEvalError(f"{c.type}: {v.shape} does not divide data {data.shape}")
            v = np.repeat(v, data.shape[i] // v.shape[i], axis=i)
        return v

    if c.has("offset"):
        off = np.asarray(c.raw("offset")).astype(np.float32)
        if off.shape != scale.shape:
            raise MilEvalError(f"{c.type}: offset {off.shape} vs scale {scale.shape}")
        data = data - expand(off)
    return expand(scale) * data


@op("constexpr_blockwise_shift_scale")
def _blockwise_shift_scale(c: OpCtx):
    c.result_dtype = c.dtype_of("scale")
    return _shift_scale(c, c.raw("data").astype(np.float32))


# ----------------------------------------------------------------------------------------------
# sorting, scatter, one-hot, quantization
# ----------------------------------------------------------------------------------------------


def _sort_indices(x: np.ndarray, axis: int, ascending: bool) -> np.ndarray:
    """Stable: equal values keep their order."""
    key = x if ascending else -x.astype(np.float64) if x.dtype.kind in "iu" else -x
    return np.argsort(key, axis=axis, kind="stable")


@op("topk")
def _topk(c: OpCtx):
    x = c.t("x")
    axis = _axis(c.i("axis", -1), x.ndim, c.type)
    k = c.i("k", 1)
    if k == -1:
        k = x.shape[axis]
    order = _sort_indices(x, axis, c.b("ascending", False))
    idx = np.take(order, np.arange(k), axis=axis)
    vals = np.take_along_axis(x, idx, axis=axis)
    if not c.b("return_indices", True):
        return vals
    idt = DTYPE_BY_NAME[c.s("output_indices_dtype", "int32")].code
    c.result_dtypes = [c.dtype_of("x"), idt]
    return vals, idx


@op("argsort")
def _argsort(c: OpCtx):
    x = c.t("x")
    axis = _axis(c.i("axis", -1), x.ndim, c.type)
    c.result_dtype = INT32
    return _sort_indices(x, axis, c.b("ascending", False))


@op("one_hot")
def _one_hot(c: OpCtx):
    idx = np.asarray(c.raw("indices")).astype(np.int64)
    n = c.i("one_hot_vector_size")
    on = c.raw("on_value", np.float32(1.0))
    off = c.raw("off_value", np.float32(0.0))
    c.result_dtype = c.dtype_of("on_value") if c.has("on_value") else FLOAT32
    axis = c.i("axis", -1)
    axis = axis + idx.ndim + 1 if axis < 0 else axis
    hot = np.arange(n).reshape([-1 if i == axis else 1 for i in range(idx.ndim + 1)]) == np.expand_dims(idx, axis)
    return np.where(hot, np.asarray(on).reshape(()), np.asarray(off).reshape(()))


_SCATTER_MODES = {
    "update": lambda old, u: u,
    "add": np.add,
    "sub": np.subtract,
    "mul": np.multiply,
    "div": np.divide,
    "max": np.maximum,
    "min": np.minimum,
}


def _scatter_apply(out: np.ndarray, positions: list[tuple], updates: np.ndarray, mode: str, op_type: str):
    fn = _SCATTER_MODES.get(mode)
    if fn is None:
        raise MilEvalError(f"{op_type}: unknown mode {mode!r}")
    for pos, u in zip(positions, updates):
        out[pos] = fn(out[pos], u)
    return out


@op("scatter")
def _scatter(c: OpCtx):
    data = c.t("data").copy()
    axis = _axis(c.i("axis", 0), data.ndim, c.type)
    idx = _check_indices(c, np.asarray(c.raw("indices")).reshape(-1), data.shape[axis])
    upd = np.moveaxis(c.t("updates"), axis, 0)
    out = np.moveaxis(data, axis, 0)
    _scatter_apply(out, [(int(i),) for i in idx], list(upd), c.s("mode", "update"), c.type)
    return np.moveaxis(out, 0, axis)


@op("scatter_along_axis")
def _scatter_along_axis(c: OpCtx):
    data = c.t("data").copy()
    axis = _axis(c.i("axis", 0), data.ndim, c.type)
    idx = _check_indices(c, c.raw("indices"), data.shape[axis])
    upd = c.t("updates")
    positions = []
    for p in np.ndindex(*idx.shape):
        q = list(p)
        q[axis] = int(idx[p])
        positions.append(tuple(q))
    return _scatter_apply(data, positions, [upd[p] for p in np.ndindex(*idx.shape)], c.s("mode", "add"), c.type)


@op("scatter_nd")
def _scatter_nd(c: OpCtx):
    data = c.t("data").copy()
    idx = np.asarray(c.raw("indices")).astype(np.int64)
    k = idx.shape[-1]
    flat = idx.reshape(-1, k)
    for j in range(k):
        flat[:, j] = _check_indices(c, flat[:, j], data.shape[j])
    upd = c.t("updates").reshape((-1,) + data.shape[k:])
    return _scatter_apply(data, [tuple(int(v) for v in r) for r in flat], list(upd), c.s("mode", "add"), c.type)


@op("fill_like")
def _fill_like(c: OpCtx):
    ref = c.raw("ref_tensor")
    c.result_dtype = c.dtype_of("ref_tensor")
    return np.full(np.asarray(ref).shape, np.asarray(c.raw("value", np.float32(0.0))).reshape(()))


@op("pixel_unshuffle")
def _pixel_unshuffle(c: OpCtx):
    x = c.raw("x")
    f = c.i("downscale_factor")
    n, ch, h, w = x.shape
    y = x.reshape(n, ch, h // f, f, w // f, f).transpose(0, 1, 3, 5, 2, 4)
    return y.reshape(n, ch * f * f, h // f, w // f)


def _axis_broadcast(v, ref_ndim: int, axis: int | None, dim: int, op_type: str, name: str):
    v = np.asarray(v)
    if v.size == 1 and v.ndim <= 1:
        return v.reshape(())
    if axis is None or v.ndim != 1 or v.size != dim:
        raise MilEvalError(f"{op_type}: {name} of shape {v.shape} along axis {axis} (dim {dim})")
    return v.reshape([-1 if i == axis else 1 for i in range(ref_ndim)])


@op("quantize")
def _quantize(c: OpCtx):
    x = c.t("input")
    name = c.s("output_dtype")
    dt = DTYPE_BY_NAME[name]
    c.result_dtype = dt.code
    axis = c.i("axis", None) if c.has("axis") else None
    axis = None if axis is None else _axis(axis, x.ndim, c.type)
    dim = x.shape[axis] if axis is not None else 0
    scale = _axis_broadcast(_f32(c.t("scale")), x.ndim, axis, dim, c.type, "scale")
    zp = _axis_broadcast(np.asarray(c.raw("zero_point", np.zeros((), dt.np))).astype(np.float32), x.ndim, axis, dim, c.type, "zero_point")
    info = np.iinfo(dt.np)
    return np.clip(np.round(x / scale) + zp, info.min, info.max).astype(dt.np)


@op("dequantize")
def _dequantize(c: OpCtx):
    q = np.asarray(c.raw("input")).astype(np.float32)
    c.result_dtype = c.dtype_of("scale")
    axis = c.i("axis", None) if c.has("axis") else None
    axis = None if axis is None else _axis(axis, q.ndim, c.type)
    dim = q.shape[axis] if axis is not None else 0
    scale = _axis_broadcast(_f32(c.t("scale")), q.ndim, axis, dim, c.type, "scale")
    zp = _axis_broadcast(np.asarray(c.raw("zero_point", np.zeros((), np.float32))).astype(np.float32), q.ndim, axis, dim, c.type, "zero_point")
    return scale * (q - zp)


@op("resize")
def _resize(c: OpCtx):
    if c.ios < 17:
        raise MilEvalError("resize needs iOS17")
    x = c.t("x")
    shape = c.ints("shape")
    nd = c.i("resized_dims")
    if nd > len(shape) or len(shape) > x.ndim:
        raise MilEvalError(f"resize: shape {shape}, resized_dims {nd}, rank {x.ndim}")
    out_sizes = []
    for j in range(nd):
        s = shape[len(shape) - nd + j]
        out_sizes.append(x.shape[x.ndim - nd + j] if s == 0 else s)
    mode = c.s("interpolation_mode", "LINEAR")
    sampling = c.s("sampling_mode", "DEFAULT")
    y = x
    for j, n_out in enumerate(out_sizes):
        ax = x.ndim - nd + j
        if mode == "LINEAR":
            y = _lerp_axis(y, ax, _grid(sampling, y.shape[ax], n_out))
        elif mode == "NEAREST_NEIGHBOR":
            y = np.take(y, _nearest_index(y.shape[ax], n_out, None), axis=ax)
        else:
            raise MilEvalError(f"resize: unknown interpolation_mode {mode!r}")
    return y


# ----------------------------------------------------------------------------------------------
# the program
# ----------------------------------------------------------------------------------------------


def _natural_dtype(c: OpCtx) -> int | None:
    if c.result_dtype is not None:
        return c.result_dtype
    for name in ("x", "values", "data", "query"):
        if name in c.dtypes:
            return c.dtypes[name][0]
    return None


class MilProgram:
    """The `main` function (or another) of a package's ML Program, ready to run."""

    def __init__(self, pkg: MlPackage, function: str = "main"):
        self.pkg = pkg
        spec = pkg.spec
        if spec.WhichOneof("Type") != "mlProgram":
            raise MilEvalError(f"the model is a {spec.WhichOneof('Type')!r}, not an mlProgram")
        prog = spec.mlProgram
        if prog.version != 1:
            raise MilEvalError(f"program version {prog.version}, expected 1")
        if function not in prog.functions:
            raise MilEvalError(f"no function {function!r} (have {list(prog.functions)})")
        self.fn = prog.functions[function]
        self.opset = self.fn.opset
        if self.opset not in self.fn.block_specializations:
            raise MilEvalError(f"no block for opset {self.opset!r}")
        self.block = self.fn.block_specializations[self.opset]
        self.inputs = {i.name: parse_type(i.type) for i in self.fn.inputs}
        self.output_names = list(self.block.outputs)

    def op_types(self) -> list[str]:
        return [o.type for o in self.block.operations]

    def run(self, feeds: dict[str, np.ndarray], trace: Callable | None = None) -> dict[str, np.ndarray]:
        env: dict[str, np.ndarray] = {}
        env_types: dict[str, int] = {}
        is_const: dict[str, bool] = {}
        for name, tt in self.inputs.items():
            if name not in feeds:
                raise MilEvalError(f"missing input {name!r} (inputs: {list(self.inputs)})")
            a = np.asarray(feeds[name])
            if tt.shape is not None and (len(a.shape) != len(tt.shape) or any(
                d is not None and d != s for d, s in zip(tt.shape, a.shape)
            )):
                raise MilEvalError(f"input {name!r}: shape {a.shape}, the program declares {tt.describe()}")
            env[name] = a.astype(DTYPES[tt.dtype].np)
            env_types[name] = tt.dtype
            is_const[name] = False
        extra = set(feeds) - set(self.inputs)
        if extra:
            raise MilEvalError(f"unknown inputs {sorted(extra)} (program inputs: {list(self.inputs)})")

        for index, o in enumerate(self.block.operations):
            try:
                self._run_op(o, env, env_types, is_const)
            except UnsupportedOp:
                raise
            except MilEvalError as e:
                raise MilEvalError(f"op #{index} {o.type} -> {[x.name for x in o.outputs]}: {e}") from None
            if trace is not None:
                trace(o, [env[x.name] for x in o.outputs])
        missing = [n for n in self.output_names if n not in env]
        if missing:
            raise MilEvalError(f"block outputs {missing} are never produced")
        return {n: env[n] for n in self.output_names}

    def _run_op(self, o, env, env_types, is_const):
        if o.blocks:
            raise UnsupportedOp(o.type, "ops with nested blocks")
        fn = OPS.get(o.type)
        if fn is None:
            raise UnsupportedOp(o.type)
        params: dict[str, list] = {}
        dtypes: dict[str, list[int]] = {}
        consts: dict[str, list[bool]] = {}
        for k, arg in o.inputs.items():
            vals, dts, cs = [], [], []
            for b in arg.arguments:
                kind = b.WhichOneof("binding")
                if kind == "name":
                    if b.name not in env:
                        raise MilEvalError(f"input {k!r} refers to {b.name!r}, which is not defined before this op")
                    vals.append(env[b.name])
                    dts.append(env_types[b.name])
                    cs.append(is_const[b.name])
                elif kind == "value":
                    v, tt = decode_value(b.value, self.pkg)
                    vals.append(v)
                    dts.append(tt.dtype)
                    cs.append(True)
                else:
                    raise MilEvalError(f"input {k!r} has an empty binding")
            params[k], dtypes[k], consts[k] = vals, dts, cs
        for k, v in o.attributes.items():
            if k == "name":
                continue
            if k in params:
                raise MilEvalError(f"{k!r} is both an input and an attribute")
            val, tt = decode_value(v, self.pkg)
            params[k], dtypes[k], consts[k] = [val], [tt.dtype], [True]
        ctx = OpCtx(o, params, dtypes, consts, self.opset)
        result = fn(ctx)
        results = list(result) if isinstance(result, (list, tuple)) else [result]
        if len(results) != len(o.outputs):
            raise MilEvalError(f"produces {len(results)} values, the op declares {len(o.outputs)} outputs")
        naturals = ctx.result_dtypes or [_natural_dtype(ctx)] * len(results)
        all_const = o.type == "const" or o.type.startswith("constexpr_") or (
            params and all(all(cs) for cs in consts.values())
        )
        for out, val, natural in zip(o.outputs, results, naturals):
            tt = parse_type(out.type)
            if out.name in env:
                raise MilEvalError(f"output {out.name!r} is already defined (SSA violation)")
            if natural is not None and natural != tt.dtype:
                raise MilEvalError(
                    f"output {out.name!r} is declared {dtype_name(tt.dtype)} but the op gives {dtype_name(natural)}"
                )
            if isinstance(val, str):
                if tt.dtype != STRING:
                    raise MilEvalError(f"output {out.name!r}: string value for {tt.describe()}")
                env[out.name] = val
            else:
                arr = np.asarray(val)
                if tt.shape is not None:
                    if len(arr.shape) != len(tt.shape) or any(
                        d is not None and d != s for d, s in zip(tt.shape, arr.shape)
                    ):
                        raise MilEvalError(
                            f"output {out.name!r} has shape {arr.shape}, declared {tt.describe()}"
                        )
                dt = DTYPES[tt.dtype]
                if dt.code == STRING:
                    env[out.name] = arr
                else:
                    if arr.dtype.kind == "f" and np.dtype(dt.np).kind in "iu":
                        raise MilEvalError(f"output {out.name!r}: float result for {dt.name}")
                    env[out.name] = arr.astype(dt.np, order="C")
            env_types[out.name] = tt.dtype
            is_const[out.name] = bool(all_const)


def run_package(path: str | Path, feeds: dict[str, np.ndarray], function: str = "main") -> dict[str, np.ndarray]:
    return MilProgram(MlPackage(path), function).run(feeds)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("package", type=Path, nargs="?", help=".mlpackage directory or .mlpackage.zip")
    ap.add_argument("--inputs", type=Path, required=False, help="npz of inputs (keys = program input names)")
    ap.add_argument("--out", type=Path, help="write the outputs to this npz")
    ap.add_argument("--function", default="main")
    ap.add_argument("--dump-ops", action="store_true", help="print each op with its output shapes")
    ap.add_argument("--list-ops", action="store_true", help="print the supported op types and exit")
    args = ap.parse_args(argv)
    if args.list_ops:
        print("\n".join(supported_ops()))
        return 0
    if args.package is None:
        ap.error("the package is required")
    prog = MilProgram(MlPackage(args.package), args.function)
    feeds = {}
    if args.inputs:
        with np.load(args.inputs) as z:
            feeds = {k: z[k] for k in z.files}

    def trace(o, outs):
        if args.dump_ops:
            desc = ", ".join(f"{x.name}: {getattr(v, 'dtype', 'str')} {getattr(v, 'shape', '')}" for x, v in zip(o.outputs, outs))
            print(f"{o.type}: {desc}")

    outs = prog.run(feeds, trace=trace)
    for k, v in outs.items():
        print(f"{k}: {v.dtype} {tuple(v.shape)} min={v.min() if v.size else 0:.6g} max={v.max() if v.size else 0:.6g}")
    if args.out:
        buf = io.BytesIO()
        np.savez(buf, **outs)
        args.out.write_bytes(buf.getvalue())
    return 0


if __name__ == "__main__":
    sys.exit(main())
