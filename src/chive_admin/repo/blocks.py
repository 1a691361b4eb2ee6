"""The blocks of a CAR v1 file: an index of where each block lies, and reads checked against their CID's hash.

atmst's ``ReadOnlyCARBlockStore`` does the same through ``file.read(1)`` per varint byte and a seek per block, which
dominated indexing an export and its block reads (``python -m bench.profile_ingest``). Here the file is one buffer
(bytes when small, a read-only mmap when the export was spooled to disk, so a large one is never copied into memory)
and both are slices. Repository blocks are DAG-CBOR addressed by CIDv1 SHA-256: any other CID is refused, as atmst
does.

A CAR can be read while it is still being written (an export as it downloads): the index covers the sections on
disk so far, and a block not there yet is waited for, so a walk can follow the download instead of starting after it.
"""

from __future__ import annotations

import hashlib
import io
import mmap
from array import array
from collections.abc import Callable, Container
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


class _Cut(BadCar):
    """The bytes so far end inside a section: a fault in a whole CAR, the rest still to come in a growing one."""


#: for a CAR still being written: wait until more of it is on disk, then ``(bytes on disk, whether that is all)``
Grow = Callable[[], tuple[int, bool]]


def _varint(buf: bytes | mmap.mmap, at: int) -> tuple[int, int]:
    value, shift = 0, 0
    for index in range(at, min(at + 9, len(buf))):
        byte = buf[index]
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, index + 1
        shift += 7
    if at + 9 > len(buf):
        raise _Cut(f"a truncated varint at byte {at}")
    raise BadCar(f"an over-long varint at byte {at}")


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

    def __init__(self, file: IO[bytes], *, grow: Grow | None = None, size: int = 0) -> None:
        """``grow``: the file is still being written, ``size`` bytes of it so far; ``grow`` waits for more (the
        file stays open meanwhile: its mapping is renewed as it grows)."""
        self._grow = grow
        self._file = file
        self._complete = grow is None
        #: CIDs someone waits for (:meth:`wait`): those among the sections indexed next are put in ``arrived``
        self.wanted: Container[bytes] = ()
        self.arrived: list[bytes] = []
        self._buf: bytes | mmap.mmap = _buffer(file) if grow is None else b""
        self._remap(size if grow is not None else len(self._buf))
        while (at := self._header()) is None:
            self._more()
        self._scanned = at
        # sized for blocks of 200 bytes (a repository's average is about 350), so an export rarely regrows it, and
        # never past what the cap needs (16 M slots, 128 MB)
        self._table = _table(min(len(self._buf) // 200, MAX_BLOCKS))
        self.count = 0
        self._index()

    def _header(self) -> int | None:
        """Where the first block's section starts, once the header is read; ``None`` while it is still to come."""
        buf = self._buf
        try:
            length, at = _varint(buf, 0)
        except _Cut:
            if self._complete:
                raise
            return None
        # checked before the slice: a slice of a mapping is a copy, and a claimed length could span the whole export
        if length > MAX_HEADER_BYTES:
            raise BadCar(f"a CAR header of {length:,} bytes (the limit is {MAX_HEADER_BYTES:,})")
        if at + length > len(buf):
            if not self._complete:
                return None
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
        return at + length

    def _remap(self, size: int) -> None:
        """Map the first ``size`` bytes of a growing file (a mapping cannot grow; a new one replaces it)."""
        if size >= 1 << 32:
            raise BadCar("a CAR of 4 GiB or more")  # offsets and lengths are packed in 32 bits each
        if self._grow is None or size <= len(self._buf):
            return
        old, self._buf = self._buf, mmap.mmap(self._file.fileno(), size, access=mmap.ACCESS_READ)
        if isinstance(old, mmap.mmap):
            old.close()

    def _more(self) -> None:
        """Wait for more of a growing file and map it (:meth:`wait` indexes it too; the header is read unindexed)."""
        assert self._grow is not None
        size, self._complete = self._grow()
        self._remap(size)

    @property
    def whole(self) -> bool:
        """Every section of the file is indexed (a growing one: it has ended)."""
        return self._complete

    def wait(self) -> None:
        """Wait for more of a growing file and index the sections it completes (see ``wanted``)."""
        self._more()
        self._index()

    def finish(self) -> None:
        """Wait for the rest of a growing file, indexing it: every section of the CAR is then checked as a whole
        one's is when it is opened."""
        while not self._complete:
            self.wait()

    def has(self, cid: bytes) -> bool:
        """Whether the sections indexed so far hold ``cid`` (unchecked: :meth:`get` checks it)."""
        buf, table, mask = self._buf, self._table, self._mask
        slot = hash(cid) & mask
        while entry := table[slot]:
            if buf[entry >> 32 : (entry >> 32) + CID_LENGTH] == cid:
                return True
            slot = (slot + 1) & mask
        return False

    def _index(self) -> None:
        """Index the sections on disk that are not yet: all of a whole CAR (anything cut short is refused), those
        complete so far of a growing one."""
        buf = self._buf
        table = self._table
        mask = len(table) - 1
        room = min(len(table) * 2 // 3, MAX_BLOCKS)
        count = self.count
        at = self._scanned
        end = len(buf)
        complete = self._complete
        wanted, arrived = self.wanted, self.arrived
        while at < end:
            section = at
            # varints of one and two bytes (sections under 16 KiB) inline: a call per block was a quarter of the index
            length = buf[at]
            if length < 0x80:
                start = at + 1
            elif at + 1 < end and buf[at + 1] < 0x80:
                length = length & 0x7F | buf[at + 1] << 7
                start = at + 2
            else:
                try:
                    length, start = _varint(buf, at)
                except _Cut:
                    if complete:
                        raise
                    break
            at = start + length
            if length < CID_LENGTH or at > end:
                if length >= CID_LENGTH and not complete:
                    at = section  # the rest of it is still to come
                    break
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
                if cid in wanted:
                    arrived.append(cid)
                if count > room:
                    if count > MAX_BLOCKS:
                        raise TooManyBlocks(f"the CAR holds more than {MAX_BLOCKS:,} blocks")
                    table = self._regrown(table)
                    mask = len(table) - 1
                    room = min(len(table) * 2 // 3, MAX_BLOCKS)
        self._scanned = at
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
        """The block ``cid`` names, checked against its hash; ``KeyError`` when the CAR does not hold it (a growing
        one: once it is whole)."""
        key = hash(cid)
        while True:
            buf, table, mask = self._buf, self._table, self._mask
            slot = key & mask
            while entry := table[slot]:
                start = entry >> 32
                if buf[start : start + CID_LENGTH] == cid:
                    block = bytes(buf[start + CID_LENGTH : start + (entry & 0xFFFFFFFF)])
                    if hashlib.sha256(block).digest() != cid[4:]:
                        raise BadBlock(f"block {CID(cid).encode()} does not hash to its CID")
                    return block
                slot = (slot + 1) & mask
            if self._complete:
                raise KeyError(cid)
            self.wait()

    def close(self) -> None:
        if isinstance(self._buf, mmap.mmap):
            self._buf.close()


def _table(at_least: int) -> array[int]:
    """An empty table of a power-of-two number of slots (0 is no entry: no section starts at byte 0)."""
    return array("Q", bytes(8 << max(10, at_least.bit_length())))
