"""The blocks of a CAR v1 file: an index of where each block lies, and reads checked against their CID's hash.

atmst's ``ReadOnlyCARBlockStore`` does the same through ``file.read(1)`` per varint byte and a seek per block, which
dominated indexing an export and its block reads (``python -m bench.profile_ingest``). Here the file is one buffer
(bytes when small, a read-only mmap when the export was spooled to disk, so a large one is never copied into memory)
and both are slices. Repository blocks are DAG-CBOR addressed by CIDv1 SHA-256: any other CID is refused, as atmst
does."""

from __future__ import annotations

import hashlib
import io
import mmap
from array import array
from typing import IO

from cbrrr import CID, decode_dag_cbor

#: an export up to this size is read into memory; a larger one is mapped
IN_MEMORY_MAX = 16 * 1024 * 1024
#: the 4-byte prefix and 36-byte length of a CIDv1 DAG-CBOR SHA-256 CID
CID_PREFIX = CID.CIDV1_DAG_CBOR_SHA256_32_PFX
CID_LENGTH = 36
#: an export of more blocks is refused: its index alone would be 128 MB (about 7.5 million records)
MAX_BLOCKS = 10_000_000
#: a CAR v1 header is ``{"version": 1, "roots": [cid]}``, some 60 bytes; a longer claim is refused before it is read
MAX_HEADER_BYTES = 64 * 1024


class BadCar(ValueError):
    """Not a readable CAR v1 of repository blocks."""


class BadBlock(ValueError):
    """A block whose bytes do not hash to its CID."""


def _varint(buf: bytes | mmap.mmap, at: int) -> tuple[int, int]:
    value, shift = 0, 0
    for index in range(at, min(at + 9, len(buf))):
        byte = buf[index]
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, index + 1
        shift += 7
    raise BadCar(f"a truncated or over-long varint at byte {at}")


def _buffer(file: IO[bytes]) -> bytes | mmap.mmap:
    file.seek(0, io.SEEK_END)
    size = file.tell()
    file.seek(0)
    if size > IN_MEMORY_MAX:
        try:
            return mmap.mmap(file.fileno(), 0, access=mmap.ACCESS_READ)
        except (OSError, io.UnsupportedOperation):  # an in-memory file: it is in memory already
            pass
    return file.read()


class TooManyBlocks(BadCar):
    """A CAR with more blocks than an index is kept for."""


class CarBlocks:
    """The root and the block index of a CAR file, read once when opened; ``close`` releases a mapping.

    The index is an open-addressing hash table in one ``array("Q")``: each slot packs where a section starts (its
    CID) and its length, and the CID itself is compared in the buffer. A dict of CID bytes to offsets cost about
    220 bytes a block (a repository of 2.6 million blocks: 570 MB; a hostile 2 GB export of minimal blocks: about
    12 GB); the table costs 12-24. Slots are found by ``hash()`` of the CID, as a dict would (SipHash with a
    per-process key), so a CAR cannot be made of colliding CIDs. A CID met again is indexed once.
    """

    def __init__(self, file: IO[bytes]) -> None:
        self._buf = _buffer(file)
        buf = self._buf
        if len(buf) >= 1 << 32:
            raise BadCar("a CAR of 4 GiB or more")  # offsets and lengths are packed in 32 bits each
        length, at = _varint(buf, 0)
        # checked before the slice: a slice of a mapping is a copy, and a claimed length could span the whole export
        if length > MAX_HEADER_BYTES:
            raise BadCar(f"a CAR header of {length:,} bytes (the limit is {MAX_HEADER_BYTES:,})")
        if at + length > len(buf):
            raise BadCar(f"the CAR header runs past the end of the CAR ({length:,} bytes claimed)")
        try:
            header = decode_dag_cbor(bytes(buf[at : at + length]))
        except ValueError as exc:
            raise BadCar(f"the CAR header is not DAG-CBOR: {exc}") from None
        roots = header.get("roots") if isinstance(header, dict) else None
        if not isinstance(header, dict) or header.get("version") != 1:
            raise BadCar("not a CAR v1 header")
        if not isinstance(roots, list) or len(roots) != 1 or not isinstance(roots[0], CID):
            raise BadCar("a repository CAR has exactly one root")
        self.root: CID = roots[0]
        self._index(at + length)

    def _index(self, at: int) -> None:
        buf = self._buf
        # sized for blocks of 200 bytes (a repository's average is about 350), so an export rarely regrows it, and
        # never past what the cap needs (16 M slots, 128 MB)
        table = _table(min(len(buf) // 200, MAX_BLOCKS))
        mask = len(table) - 1
        room = min(len(table) * 2 // 3, MAX_BLOCKS)
        count = 0
        end = len(buf)
        while at < end:
            # varints of one and two bytes (sections under 16 KiB) inline: a call per block was a quarter of the index
            length = buf[at]
            if length < 0x80:
                start = at + 1
            elif at + 1 < end and buf[at + 1] < 0x80:
                length = length & 0x7F | buf[at + 1] << 7
                start = at + 2
            else:
                length, start = _varint(buf, at)
            at = start + length
            if length < CID_LENGTH or at > end:
                raise BadCar(f"a block at byte {start} runs past the end of the CAR")
            cid = buf[start : start + CID_LENGTH]
            if not cid.startswith(CID_PREFIX):
                raise BadCar(f"a block at byte {start} is not addressed by a CIDv1 DAG-CBOR SHA-256")
            slot = hash(cid) & mask
            entry = table[slot]
            while entry:
                if buf[entry >> 32 : (entry >> 32) + CID_LENGTH] == cid:
                    break  # the same CID again
                slot = (slot + 1) & mask
                entry = table[slot]
            else:
                table[slot] = start << 32 | length
                count += 1
                if count > room:
                    if count > MAX_BLOCKS:
                        raise TooManyBlocks(f"the CAR holds more than {MAX_BLOCKS:,} blocks")
                    table = self._regrown(table)
                    mask = len(table) - 1
                    room = min(len(table) * 2 // 3, MAX_BLOCKS)
        self._table = table
        self._mask = mask
        self.count = count

    def _regrown(self, old: array[int]) -> array[int]:
        buf = self._buf
        table = _table(len(old) * 2)
        mask = len(table) - 1
        for entry in old:
            if entry:
                start = entry >> 32
                slot = hash(buf[start : start + CID_LENGTH]) & mask
                while table[slot]:
                    slot = (slot + 1) & mask
                table[slot] = entry
        return table

    def get(self, cid: bytes) -> bytes:
        """The block ``cid`` names, checked against its hash; ``KeyError`` when the CAR does not hold it."""
        buf, table, mask = self._buf, self._table, self._mask
        slot = hash(cid) & mask
        while entry := table[slot]:
            start = entry >> 32
            if buf[start : start + CID_LENGTH] == cid:
                block = bytes(buf[start + CID_LENGTH : start + (entry & 0xFFFFFFFF)])
                if hashlib.sha256(block).digest() != cid[4:]:
                    raise BadBlock(f"block {CID(cid).encode()} does not hash to its CID")
                return block
            slot = (slot + 1) & mask
        raise KeyError(cid)

    def close(self) -> None:
        if isinstance(self._buf, mmap.mmap):
            self._buf.close()


def _table(at_least: int) -> array[int]:
    """An empty table of a power-of-two number of slots (0 is no entry: no section starts at byte 0)."""
    return array("Q", bytes(8 << max(10, at_least.bit_length())))
