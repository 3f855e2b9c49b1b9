"""The wire format between the grader and a submission's process: data only, no code.

A message is a JSON header plus the raw bytes of its tensors, framed by lengths. Decoding
builds nothing but JSON values, Python numbers and strings, tuples, lists, dicts, slices,
torch tensors (from their raw bytes, a dtype out of a fixed list and a shape), torch dtypes,
devices and sizes, and references (``Ref``) that the receiving side looks up in its own
table. There is no pickle anywhere: a submission cannot make the grader run its code by
what it sends, only give it numbers. Sizes are capped, so a flood is an error, not a
grader that runs out of memory.
"""

import json
import math
import struct

import torch

MAX_MESSAGE = 1 << 28
"""Bytes of one message at most (header and tensors)."""

_DTYPES = {str(dtype).removeprefix("torch."): dtype for dtype in (
    torch.float16, torch.bfloat16, torch.float32, torch.float64, torch.complex64,
    torch.complex128, torch.uint8, torch.int8, torch.int16, torch.int32, torch.int64,
    torch.bool)}


class ProtocolError(Exception):
    """A message that is not in the format: the other side is broken or lying."""


class Ref:
    """A reference to an object that lives on the other side (``kind`` is "h" for a handle
    of the submission's process, "m" for a mirror of one of the grader's objects)."""

    __slots__ = ("kind", "id")

    def __init__(self, kind, id):
        self.kind, self.id = kind, id

    def __repr__(self):
        return f"Ref({self.kind!r}, {self.id})"


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
    if type(value).__module__ == "numpy" and hasattr(value, "item") and getattr(
            value, "shape", None) == ():
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


def decode(data, blobs, resolve):
    """The value ``encode`` made; ``resolve(Ref)`` turns references into objects."""
    if data is None or isinstance(data, (bool, str, float)):
        return data
    if isinstance(data, int):
        return data
    if isinstance(data, list):
        return [decode(item, blobs, resolve) for item in data]
    if not isinstance(data, dict) or len(data) == 0:
        raise ProtocolError(f"unexpected {type(data).__name__} in a message")
    key = next(iter(data))
    body = data[key]
    if key == "$tensor":
        return _decode_tensor(data, blobs)
    if key == "$tuple":
        return tuple(decode(item, blobs, resolve) for item in _list(body))
    if key == "$dict":
        return {_hashable(decode(k, blobs, resolve)): decode(v, blobs, resolve)
                for k, v in _pairs(body)}
    if key == "$int":
        return int(_str(body))
    if key == "$float":
        return float(_str(body))
    if key == "$dtype":
        if body not in _DTYPES:
            raise ProtocolError(f"unknown dtype {body!r}")
        return _DTYPES[body]
    if key == "$device":
        return torch.device(_str(body))
    if key == "$size":
        return torch.Size([int(n) for n in _list(body)])
    if key == "$slice":
        return slice(*(decode(part, blobs, resolve) for part in _list(body)[:3]))
    if key == "$ellipsis":
        return Ellipsis
    if key == "$numpy":
        import numpy
        kind = getattr(numpy, _str(body), None)
        if not (isinstance(kind, type) and issubclass(kind, numpy.generic)):
            raise ProtocolError(f"unknown numpy type {body!r}")
        return kind(decode(data.get("value"), blobs, resolve))
    if key == "$ref":
        kind, id = _list(body)
        return resolve(Ref(_str(kind), int(id)))
    if key == "$gtensor":  # a tensor in the autograd graph: its value, and a handle to it
        tensor = _decode_tensor(_dict(body.get("t")), blobs) if isinstance(body, dict) else None
        if tensor is None:
            raise ProtocolError("bad graph tensor in a message")
        return resolve(Ref("g", int(body.get("id", -1))), tensor)
    raise ProtocolError(f"unknown tag {key!r}")


def _decode_tensor(data, blobs):
    dtype = _DTYPES.get(data.get("dtype"))
    shape = [int(n) for n in _list(data.get("shape"))]
    index = data["$tensor"]
    if dtype is None or not isinstance(index, int) or not 0 <= index < len(blobs):
        raise ProtocolError("bad tensor in a message")
    raw = blobs[index]
    count = math.prod(shape)
    if len(raw) != count * torch.empty((), dtype=dtype).element_size():
        raise ProtocolError("a tensor's bytes do not match its shape")
    if count == 0:
        return torch.empty(shape, dtype=dtype)
    return torch.frombuffer(bytearray(raw), dtype=torch.uint8).view(dtype).reshape(shape)


def _dict(value):
    if not isinstance(value, dict):
        raise ProtocolError("expected an object in a message")
    return value


def _list(value):
    if not isinstance(value, list):
        raise ProtocolError("expected a list in a message")
    return value


def _pairs(value):
    pairs = _list(value)
    if not all(isinstance(pair, list) and len(pair) == 2 for pair in pairs):
        raise ProtocolError("expected key-value pairs in a message")
    return pairs


def _str(value):
    if not isinstance(value, str):
        raise ProtocolError("expected a string in a message")
    return value


def _hashable(key):
    if isinstance(key, (list, dict, torch.Tensor)):
        raise ProtocolError("a dict key must be a number, string or tuple")
    return key


# ------------------------------------------------------------------------------ framing


def write_message(stream, header, blobs=()):
    """Write one message: lengths, then the JSON header, then each blob."""
    body = json.dumps(header, allow_nan=False).encode()
    parts = [struct.pack("<QI", len(body), len(blobs))]
    parts += [struct.pack("<Q", len(blob)) for blob in blobs]
    stream.write(b"".join(parts))
    stream.write(body)
    for blob in blobs:
        stream.write(blob)
    stream.flush()


def read_message(stream):
    """One message: (header, blobs); raises EOFError at the end, ProtocolError on junk."""
    head = _read_exactly(stream, 12)
    size, count = struct.unpack("<QI", head)
    if count > 100_000:
        raise ProtocolError("too many tensors in a message")
    sizes = struct.unpack(f"<{count}Q", _read_exactly(stream, 8 * count)) if count else ()
    if size + sum(sizes) > MAX_MESSAGE:
        raise ProtocolError("message too large")
    try:
        header = json.loads(_read_exactly(stream, size))
    except ValueError as error:
        raise ProtocolError(f"header is not JSON: {error}") from None
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
