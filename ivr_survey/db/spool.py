"""The answer spool on disk: JSON lines, fsynced, touched by one writer thread only.

Every method here blocks on the disk, so `SurveyStore` runs them on a single-thread executor: a slow disk
stalls no call in progress, and the order in which the event loop hands records over is the order they
reach the file. The thread keeps its own copy of what the spool should hold; once a write fails (disk
full, folder gone or read-only), the records live in memory only, and the next write that succeeds writes
the whole copy anew, so the file never has a gap where the failed records were.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterable
from pathlib import Path

from .writes import RefusedLine, UnreadableLine, Write, decode, encode


def _count_lines(path: Path) -> int:
    try:
        with path.open("rb") as fh:
            return sum(1 for line in fh if line.strip())
    except FileNotFoundError:
        return 0


def _fsynced_append(path: Path, lines: Iterable[str]) -> None:
    with path.open("a", encoding="utf-8") as fh:
        fh.writelines(line + "\n" for line in lines)
        fh.flush()
        os.fsync(fh.fileno())


class SpoolFile:
    """`pending.jsonl` and, beside it, the dead letters: `rejected.jsonl` (records the database will never
    take) and `corrupt.jsonl` (lines no version could read, e.g. the last line of a crash mid-write)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.path = folder / "pending.jsonl"
        self.rejected = folder / "rejected.jsonl"
        self.corrupt = folder / "corrupt.jsonl"
        self._intended: list[Write] = []
        self._in_sync = True

    def load(self) -> tuple[list[Write], list[tuple[int, ValueError]], int]:
        """What a previous run left: its records; the numbers of the lines it could not use, with why (moved to
        the dead letters: unreadable ones to `corrupt.jsonl`, refused ones to `rejected.jsonl`); and how many
        dead letters there are now."""
        self.folder.mkdir(parents=True, exist_ok=True)
        records: list[Write] = []
        unusable: list[tuple[int, ValueError]] = []
        corrupt: list[str] = []
        refused: list[str] = []
        if self.path.exists():
            for number, line in enumerate(self.path.read_text(encoding="utf-8").splitlines(), start=1):
                if not line.strip():
                    continue
                try:
                    records.append(decode(line))
                except UnreadableLine as exc:
                    corrupt.append(line)
                    unusable.append((number, exc))
                except RefusedLine as exc:
                    refused.append(line)
                    unusable.append((number, exc))
        self._intended = list(records)
        if corrupt:
            _fsynced_append(self.corrupt, corrupt)
        if refused:
            _fsynced_append(self.rejected, refused)
        if unusable:
            self._write_all()
        return records, unusable, _count_lines(self.rejected) + _count_lines(self.corrupt)

    def append(self, record: Write) -> None:
        """Add one record, fsynced before this returns; OSError when the disk failed."""
        self._intended.append(record)
        if not self._in_sync:
            self._write_all()
            return
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            with self.path.open("a+", encoding="utf-8") as fh:
                fh.seek(0, os.SEEK_END)
                if fh.tell() > 0:  # a crash mid-line must not glue this record onto the broken one
                    fh.seek(fh.tell() - 1)
                    if fh.read(1) != "\n":
                        fh.write("\n")
                fh.write(encode(record) + "\n")
                fh.flush()
                os.fsync(fh.fileno())
        except OSError:
            self._in_sync = False
            raise

    def replace(self, records: Iterable[Write]) -> None:
        """The spool now holds exactly these records (what is still pending after a replay)."""
        self._intended = list(records)
        self._write_all()

    def set_aside(self, record: Write) -> None:
        _fsynced_append(self.rejected, [encode(record)])

    def in_sync(self) -> bool:
        """Whether the file holds every pending record; if not, it tries to write them all again first."""
        if not self._in_sync:
            try:
                self._write_all()
            except OSError:
                return False
        return True

    def probe(self) -> str | None:
        """Why a record could not be spooled now (None: it could): the folder is checked with a real write,
        because permission bits say nothing to root and nothing of a read-only mount."""
        if not self.in_sync():
            return "pending records are in memory only"
        probe = self.folder / f".probe-{uuid.uuid4().hex}"
        try:
            probe.write_bytes(b"")
            probe.unlink()
        except OSError as exc:
            return exc.strerror or exc.__class__.__name__
        return None

    def _write_all(self) -> None:
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            tmp = self.path.with_suffix(".tmp")
            with tmp.open("w", encoding="utf-8") as fh:
                fh.writelines(encode(r) + "\n" for r in self._intended)
                fh.flush()
                os.fsync(fh.fileno())
            tmp.replace(self.path)
        except OSError:
            self._in_sync = False
            raise
        self._in_sync = True
