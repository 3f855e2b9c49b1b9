"""The wire format between the grader and a submission's process: data only, no code.

A message is a JSON header plus the raw bytes of its tensors, framed by lengths. Decoding
builds nothing but JSON values, Python numbers and strings, tuples, lists, dicts, slices,
torch tensors (from their raw bytes, a dtype out of a fixed list and a shape), numpy scalars
of a fixed list of types, torch dtypes, devices and sizes, and references (``Ref``) that the
receiving side looks up in its own table. There is no pickle anywhere: a submission cannot
make the grader run its code by what it sends, only give it numbers.

What a submission sends is sized before anything is made of it: ``read_message`` checks the
lengths a message declares against ``Caps`` before it reads the bytes, and ``decode``
charges every value it builds to a ``Budget`` before it allocates it, so that a short
message cannot ask for a large value (a numpy ``void`` of 3 GB, one tensor's bytes used a
thousand times). Anything out of the format is a ``ProtocolError``.
"""

import json
import math
import re
import struct
from dataclasses import dataclass

import torch

MAX_MESSAGE = 1 << 28
"""Bytes of one message from the grader at most (header and tensors)."""

MAX_DEPTH = 32
"""Nesting of containers in a message at most."""

MAX_DIMS = 16
"""Dimensions of a tensor or a torch.Size at most."""

_DTYPES = {str(dtype).removeprefix("torch."): dtype for dtype in (
    torch.float16, torch.bfloat16, torch.float32, torch.float64, torch.complex64,
    torch.complex128, torch.uint8, torch.int8, torch.int16, torch.int32, torch.int64,
    torch.bool)}

_NUMPY_SCALARS = ("bool_", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32",
                  "uint64", "float16", "float32", "float64")
"""numpy scalar types a message may name (never ``void`` or ``str_``: their size is the
number they are given)."""

_DEVICE = re.compile(r"(cpu|cuda|mps|meta)(:\d{1,2})?")

_NODE = 64
"""Bytes charged for each value decoded (a Python object and its slot in a container)."""


class ProtocolError(Exception):
    """A message that is not in the format: the other side is broken or lying."""


@dataclass(frozen=True)
class Caps:
    """Sizes of one message that a reader accepts: the JSON header, and everything."""

    header: int = 1 << 20  # bytes of JSON (decoded, up to ~60 times as many in objects)
    total: int = 1 << 25  # bytes of header and tensors together
    blobs: int = 10_000  # tensors in one message


GRADER_CAPS = Caps()
"""What the grader reads from a submission: 1 MiB of header, 32 MiB in all (the largest
reply of the solutions, chapter 8's, is 0.8 MB)."""

WORKER_CAPS = Caps(header=MAX_MESSAGE, total=MAX_MESSAGE, blobs=100_000)
"""What the submission's process reads from the grader (the notebook comes this way)."""


class Budget:
    """Bytes that decoded values may still take: each value is charged before it is made.

    ``limit`` None: no limit (the submission's side, reading the grader's messages)."""

    def __init__(self, limit=None):
        self.left = limit

    def charge(self, size):
        if self.left is None:
            return
        if size > self.left:
            raise ProtocolError("it sent more data than the grader holds for one question")
        self.left -= size


class Ref:
    """A reference to an object that lives on the other side (``kind`` is "h" for a handle
    of the submission's process, "m" for a mirror of one of the grader's objects, "g" for a
    tensor of the submission's autograd graph, "c" for a stand-in of the grader's that the
    submission may only call, with no arguments)."""

    __slots__ = ("kind", "id")

    def __init__(self, kind, id):
        self.kind, self.id = kind, id

    def __repr__(self):
        return f"Ref({self.kind!r}, {self.id})"


# ------------------------------------------------------------------------------ encoding


def encode(value, blobs, refer, tensors=True):
    """``value`` as JSON-able data; tensor bytes appended to ``blobs``; anything else is
    passed to ``refer(value)``, which returns a ``Ref`` or raises TypeError.

    With ``tensors`` plain tensors outside the autograd graph go by value and the others to
    ``refer``; without it every tensor goes to ``refer``."""
    if value is None or isinstance(value, (bool, str)):
        return value
    if type(value) is int:
        return value if abs(value) < 2**53 else {"$int": str(value)}
    if type(value) is float:
        return value if math.isfinite(value) else {"$float": repr(value)}
    if type(value) is torch.Tensor and tensors and not value.requires_grad:
        return _encode_tensor(value, blobs)
    if isinstance(value, torch.dtype):
        return {"$dtype": str(value).removeprefix("torch.")}
    if isinstance(value, torch.device):
        return {"$device": str(value)}
    if isinstance(value, torch.Size):
        return {"$size": list(value)}
    if type(value) is tuple or (isinstance(value, tuple) and hasattr(value, "_fields")):
        return {"$tuple": [encode(item, blobs, refer, tensors) for item in value]}
    if type(value) is list:
        return [encode(item, blobs, refer, tensors) for item in value]
    if type(value) in (dict, __import__("collections").OrderedDict):
        return {"$dict": [[encode(k, blobs, refer, tensors), encode(v, blobs, refer, tensors)]
                          for k, v in value.items()]}
    if type(value) is slice:
        return {"$slice": [encode(part, blobs, refer, tensors)
                           for part in (value.start, value.stop, value.step)]}
    if value is Ellipsis:
        return {"$ellipsis": True}
    if type(value).__module__ == "numpy" and type(value).__name__ in _NUMPY_SCALARS:
        return {"$numpy": type(value).__name__,
                "value": encode(value.item(), blobs, refer, tensors)}
    ref = refer(value)
    if ref.kind == "g":  # the submission's side: a tensor that requires grad
        return {"$gtensor": {"t": _encode_tensor(value, blobs), "id": ref.id}}
    return {"$ref": [ref.kind, ref.id]}


def _encode_tensor(tensor, blobs):
    name = str(tensor.dtype).removeprefix("torch.")
    if name not in _DTYPES or tensor.layout != torch.strided or tensor.is_quantized:
        raise TypeError(f"cannot send a tensor of dtype {tensor.dtype} / {tensor.layout}")
    data = tensor.detach().to("cpu").contiguous()
    raw = data.reshape(-1).view(torch.uint8).numpy().tobytes() if data.numel() else b""
    blobs.append(raw)
    return {"$tensor": len(blobs) - 1, "dtype": name, "shape": list(data.shape),
            "grad": bool(tensor.requires_grad)}


# ------------------------------------------------------------------------------ decoding


def decode(data, blobs, resolve, budget=None):
    """The value ``encode`` made; ``resolve(Ref)`` (``resolve(Ref, tensor)`` for a tensor of
    the other side's graph) turns references into objects. Each value is charged to
    ``budget`` (a ``Budget``; None: no limit) before it is made; ProtocolError for anything
    out of the format."""
    return _Decoder(blobs, resolve, budget or Budget()).value(data, 0)


class _Decoder:
    """One message's values: each kind of tagged value has its own validator below."""

    def __init__(self, blobs, resolve, budget):
        self.blobs, self.resolve, self.budget = blobs, resolve, budget

    def value(self, data, depth):
        if depth > MAX_DEPTH:
            raise ProtocolError("a message nested too deep")
        self.budget.charge(_NODE)
        if data is None or isinstance(data, (bool, int, float)):
            return data
        if isinstance(data, str):
            self.budget.charge(len(data))
            return data
        if isinstance(data, list):
            self.budget.charge(8 * len(data))
            return [self.value(item, depth + 1) for item in data]
        if not isinstance(data, dict) or len(data) == 0:
            raise ProtocolError(f"unexpected {type(data).__name__} in a message")
        key = next(iter(data))
        method = _TAGS.get(key) if isinstance(key, str) else None
        if method is None:
            raise ProtocolError("unknown tag in a message")
        return method(self, data, data[key], depth)

    def _tensor(self, data, body, depth):
        return self.tensor(data)

    def tensor(self, data):
        dtype = _DTYPES.get(data.get("dtype")) if isinstance(data.get("dtype"), str) else None
        shape = _shape(data.get("shape"))
        index = data.get("$tensor")
        if dtype is None or type(index) is not int or not 0 <= index < len(self.blobs):
            raise ProtocolError("bad tensor in a message")
        raw = self.blobs[index]
        count = math.prod(shape)
        if len(raw) != count * torch.empty((), dtype=dtype).element_size():
            raise ProtocolError("a tensor's bytes do not match its shape")
        if dtype is torch.bool and raw.translate(None, b"\x00\x01"):
            raise ProtocolError("a bool tensor's bytes must be 0 or 1")
        self.budget.charge(len(raw) + 256)
        if count == 0:
            return torch.empty(shape, dtype=dtype)
        return torch.frombuffer(bytearray(raw), dtype=torch.uint8).view(dtype).reshape(shape)

    def _tuple(self, data, body, depth):
        return tuple(self.value(item, depth + 1) for item in _list(body))

    def _dict(self, data, body, depth):
        out = {}
        for pair in _list(body):
            if not (isinstance(pair, list) and len(pair) == 2):
                raise ProtocolError("expected key-value pairs in a message")
            key = self.value(pair[0], depth + 1)
            try:
                hash(key)
            except TypeError:
                raise ProtocolError("a dict key must be a number, string or tuple") from None
            if isinstance(key, torch.Tensor):
                raise ProtocolError("a dict key must be a number, string or tuple")
            out[key] = self.value(pair[1], depth + 1)
        return out

    def _int(self, data, body, depth):
        text = _str(body)
        if len(text) > 400 or not re.fullmatch(r"-?\d+", text):
            raise ProtocolError("bad integer in a message")
        return int(text)

    def _float(self, data, body, depth):
        text = _str(body)
        if text not in ("inf", "-inf", "nan"):
            raise ProtocolError("bad float in a message")
        return float(text)

    def _dtype(self, data, body, depth):
        if not isinstance(body, str) or body not in _DTYPES:
            raise ProtocolError("unknown dtype in a message")
        return _DTYPES[body]

    def _device(self, data, body, depth):
        if not _DEVICE.fullmatch(_str(body)):
            raise ProtocolError("unknown device in a message")
        return torch.device(body)

    def _size(self, data, body, depth):
        return torch.Size(_shape(body))

    def _slice(self, data, body, depth):
        parts = _list(body)
        if len(parts) != 3 or not all(part is None or type(part) is int for part in parts):
            raise ProtocolError("bad slice in a message")
        return slice(*parts)

    def _ellipsis(self, data, body, depth):
        return Ellipsis

    def _numpy(self, data, body, depth):
        import numpy

        if not isinstance(body, str) or body not in _NUMPY_SCALARS:
            raise ProtocolError("unknown numpy type in a message")
        value = data.get("value")
        if type(value) not in (bool, int, float) or (type(value) is int and abs(value) >= 2**64):
            raise ProtocolError("bad numpy value in a message")
        try:
            return getattr(numpy, body)(value)
        except (OverflowError, ValueError, TypeError):
            raise ProtocolError("bad numpy value in a message") from None

    def _ref(self, data, body, depth):
        parts = _list(body)
        if len(parts) != 2 or parts[0] not in ("h", "m", "c") or type(parts[1]) is not int:
            raise ProtocolError("bad reference in a message")
        return self.resolve(Ref(parts[0], parts[1]))

    def _gtensor(self, data, body, depth):  # a tensor in the autograd graph: value, handle
        if not isinstance(body, dict) or type(body.get("id")) is not int:
            raise ProtocolError("bad graph tensor in a message")
        return self.resolve(Ref("g", body["id"]), self.tensor(_dict(body.get("t"))))


_TAGS = {"$tensor": _Decoder._tensor, "$tuple": _Decoder._tuple, "$dict": _Decoder._dict,
         "$int": _Decoder._int, "$float": _Decoder._float, "$dtype": _Decoder._dtype,
         "$device": _Decoder._device, "$size": _Decoder._size, "$slice": _Decoder._slice,
         "$ellipsis": _Decoder._ellipsis, "$numpy": _Decoder._numpy, "$ref": _Decoder._ref,
         "$gtensor": _Decoder._gtensor}


def _shape(value):
    """A tensor's shape: at most MAX_DIMS sizes, each a non-negative int below 2**48."""
    dims = _list(value)
    if len(dims) > MAX_DIMS or not all(type(n) is int and 0 <= n < 2**48 for n in dims):
        raise ProtocolError("bad shape in a message")
    return dims


def _dict(value):
    if not isinstance(value, dict):
        raise ProtocolError("expected an object in a message")
    return value


def _list(value):
    if not isinstance(value, list):
        raise ProtocolError("expected a list in a message")
    return value


def _str(value):
    if not isinstance(value, str):
        raise ProtocolError("expected a string in a message")
    return value


# ------------------------------------------------------------------------------ framing


def frame(header, blobs=()):
    """One message as bytes: lengths, then the JSON header, then each blob."""
    body = json.dumps(header, allow_nan=False).encode()
    parts = [struct.pack("<QI", len(body), len(blobs))]
    parts += [struct.pack("<Q", len(blob)) for blob in blobs]
    return b"".join([*parts, body, *blobs])


def fits(data, caps):
    """Whether the message ``data`` (``frame``'s bytes) is within ``caps``."""
    size, count = struct.unpack("<QI", data[:12])
    return size <= caps.header and count <= caps.blobs and len(data) - 12 - 8 * count <= caps.total


def write_message(stream, header, blobs=()):
    """Write one message (``frame``) to ``stream`` and flush it."""
    stream.write(frame(header, blobs))
    stream.flush()


def read_message(stream, caps=WORKER_CAPS):
    """One message: (header, a dict; blobs); raises EOFError at the end, ProtocolError on
    junk or on a message larger than ``caps`` allow (checked before its bytes are read)."""
    head = _read_exactly(stream, 12)
    size, count = struct.unpack("<QI", head)
    if count > caps.blobs:
        raise ProtocolError("too many tensors in a message")
    if size > caps.header:
        raise ProtocolError("message header too large")
    sizes = struct.unpack(f"<{count}Q", _read_exactly(stream, 8 * count)) if count else ()
    if size + sum(sizes) > caps.total:
        raise ProtocolError("message too large")
    try:
        header = json.loads(_read_exactly(stream, size))
    except (ValueError, RecursionError) as error:
        raise ProtocolError(f"header is not JSON: {type(error).__name__}") from None
    if not isinstance(header, dict):
        raise ProtocolError("a message's header must be a JSON object")
    return header, [_read_exactly(stream, n) for n in sizes]


def _read_exactly(stream, n):
    chunks, left = [], n
    while left:
        chunk = stream.read(left)
        if not chunk:
            raise EOFError("the other side closed the channel")
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)
