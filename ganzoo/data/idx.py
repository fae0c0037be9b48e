"""The IDX format of MNIST and Fashion-MNIST, parsed by hand.

An IDX file starts with a magic number: two zero bytes, an element-type byte
(``0x08`` = unsigned byte, the only type those datasets use) and the number of
dimensions ``d``; then ``d`` big-endian uint32 sizes; then the elements, row-major.
"""

from __future__ import annotations

import gzip
import math
import struct
import zlib
from pathlib import Path

import torch

from ..errors import DataError

__all__ = ["UBYTE", "parse_idx", "read_gz"]

UBYTE = 0x08  # the element-type code of unsigned bytes


def read_gz(path: Path) -> bytes:
    """The decompressed bytes of a gzip file; :class:`DataError` naming the file if it is not one."""
    try:
        with gzip.open(path, "rb") as f:
            return f.read()
    except (OSError, EOFError, zlib.error) as exc:
        raise DataError(f"{path} is not a valid gzip file ({exc}); delete it and run again to download it") from exc


def parse_idx(data: bytes | bytearray, ndim: int, source: Path | str) -> torch.Tensor:
    """An IDX byte string as a uint8 tensor of ``ndim`` dimensions; ``source`` names the file in errors."""
    if len(data) < 4:
        raise DataError(f"{source} is not an IDX file: {len(data)} bytes, shorter than the 4-byte magic number")
    zero_a, zero_b, dtype, dims = data[0], data[1], data[2], data[3]
    if zero_a or zero_b:
        raise DataError(f"{source} is not an IDX file: magic number {bytes(data[:4]).hex()} does not start "
                        "with two zero bytes")
    if dtype != UBYTE:
        raise DataError(f"{source}: IDX element type 0x{dtype:02x} is not supported (expected 0x08, unsigned bytes)")
    if dims != ndim:
        raise DataError(f"{source}: the IDX header gives {dims} dimension(s), expected {ndim}")
    header = 4 + 4 * dims
    if len(data) < header:
        raise DataError(f"{source} is truncated: {len(data)} bytes, shorter than its {header}-byte header")
    shape = struct.unpack(f">{dims}I", bytes(data[4:header]))
    expected, actual = math.prod(shape), len(data) - header
    if actual != expected:
        raise DataError(f"{source}: the header says {'x'.join(map(str, shape))} = {expected} bytes of data "
                        f"but the file holds {actual}; it is truncated or corrupt. Delete it and run again")
    buffer = data if isinstance(data, bytearray) else bytearray(data)  # writable: no torch warning, no aliasing
    if expected == 0:
        return torch.empty(shape, dtype=torch.uint8)
    return torch.frombuffer(buffer, dtype=torch.uint8, offset=header).view(shape)
