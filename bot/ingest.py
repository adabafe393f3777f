"""Streams an intake file through validation into the store, batch by batch.

Bad rows never stop the good ones: each is reported with its line, field and reason and
kept in the quarantine; the good rows of the same batch commit together. A file that
cannot be read at all is refused before anything is written; a run that fails after
some batches are stored says so (:class:`IngestStopped`), never "nothing changed". A big file is
parsed, hashed and routed in a worker process (``bot.batches``) while this process
stores the batch before, so the two halves of ingest run on two cores.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import os
import pickle
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Protocol

from bot.batches import HEADER, Batch, HashingReader, Job, decode_batch, parse_batches
from bot.errors import BotError
from bot.files import DEFAULT_BATCH, DEFAULT_SOURCE, check_readable, detect_format
from domain.policy import LoadedPolicy, parse_policy
from domain.ports import Clock
from domain.usecases.intake import IngestResult, Intake


@dataclass(frozen=True, slots=True, kw_only=True)
class IngestRun:
    """What one ``recon-bot ingest`` did."""

    run_id: int
    result: IngestResult
    sha256: str


@contextlib.contextmanager
def batch_gc() -> Iterator[None]:
    """Collects garbage less often while a batch job runs, then restores the settings.

    Ingest allocates about a hundred short-lived, acyclic objects per row, which
    reference counting frees; the default threshold (a collection every 700 net
    allocations) spent about a tenth of ingest time traversing them. Cycles still get
    collected, every 10,000 allocations instead.
    """
    before = gc.get_threshold()
    gc.set_threshold(10_000, 50, 1_000)
    try:
        yield
    finally:
        gc.set_threshold(*before)


#: Files at least this large are parsed in a worker process when there is a spare core:
#: below it (about 30,000 rows), starting the worker costs more than it saves.
PARALLEL_MIN_BYTES = 4_000_000
#: Unread frames the writer lets the worker queue up, in bytes (about 70 batches).
_WORKER_BUFFER = 16 * 1024 * 1024


class BatchSource(Protocol):
    """Batches of one file, in order; ``sha256`` of the whole file once exhausted."""

    sha256: str

    async def next_batch(self) -> Batch | None: ...


class LocalBatches:
    """Parses in this process, between the writes (the only way with one core)."""

    def __init__(self, job: Job, loaded: LoadedPolicy, stream: IO[bytes]) -> None:
        self._reader = HashingReader(stream)
        self._batches = parse_batches(self._reader, job, loaded)
        self.sha256 = ""

    async def next_batch(self) -> Batch | None:
        batch = next(self._batches, None)
        if batch is None:
            self.sha256 = self._reader.sha256.hexdigest()
        return batch


class ParserDied(BotError, RuntimeError):
    """The parsing process stopped without finishing the file."""


class IngestStopped(BotError):
    """A run failed after some of its batches were stored: those stay, the rest was not.

    Attributes:
        run_id: the run, left unfinished (``ingest --rejected`` says so).
        stored: the counts of the batches stored.
        line: the last line of the file whose batch was stored (0: none known to be).
        cause: what stopped it (``asyncio.CancelledError`` when interrupted).
    """

    def __init__(
        self, *, run_id: int, stored: IngestResult, line: int, cause: BaseException
    ) -> None:
        where = (
            f"stopped after line {line}: the rows up to it are stored (rejected ones in "
            "its quarantine), later ones may not be"
            if line
            else "was interrupted while storing its first batch, which may or may not be stored"
        )
        super().__init__(
            f"ingest run {run_id} {where}; running the same ingest again stores what is "
            "missing and leaves the stored rows unchanged"
        )
        self.run_id = run_id
        self.stored = stored
        self.line = line
        self.cause = cause


class WorkerBatches:
    """Reads the batches a ``python -m bot.batches`` process parses ahead of the writer."""

    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self._proc = proc
        self.sha256 = ""
        # Drained all along, so a chatty worker never blocks on a full stderr pipe; the
        # last few KB are kept to say why it stopped.
        self._stderr = b""
        self._drain = asyncio.create_task(self._collect_stderr())

    async def _collect_stderr(self) -> None:
        assert self._proc.stderr is not None
        while chunk := await self._proc.stderr.read(65536):
            self._stderr = (self._stderr + chunk)[-4096:]

    @classmethod
    async def spawn(cls) -> WorkerBatches:
        """Starts the process, which imports its modules and then waits for :meth:`send`.

        Spawned before this process opens the store, its start-up (about 0.4 s, a
        fiftieth of a 100,000-row ingest) overlaps this one's instead of delaying the
        first batch.
        """
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bot.batches",
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            limit=_WORKER_BUFFER,
        )
        return cls(proc)

    async def send(self, job: Job) -> None:
        """Gives the process its job; it starts parsing."""
        assert self._proc.stdin is not None
        self._proc.stdin.write(job.to_json())
        await self._proc.stdin.drain()
        self._proc.stdin.close()

    async def next_batch(self) -> Batch | None:
        assert self._proc.stdout is not None
        try:
            header = await self._proc.stdout.readexactly(HEADER.size)
            (size,) = HEADER.unpack(header)
            frame = pickle.loads(await self._proc.stdout.readexactly(size))
        except asyncio.IncompleteReadError:
            raise ParserDied(await self._died()) from None
        if frame[0] == "batch":
            return decode_batch(frame)
        if frame[0] == "done":
            self.sha256 = frame[1]
            return None
        _, kind, message = frame
        raise (OSError if kind == "os" else ValueError)(message)

    async def _died(self) -> str:
        code = await self._proc.wait()
        await self._drain
        lines = self._stderr.decode(errors="replace").splitlines()
        last = next((line.strip() for line in reversed(lines) if line.strip()), "no output")
        return f"the parsing process stopped (exit {code}: {last})"

    async def close(self) -> None:
        """Stops the process if it still runs (safe to call again)."""
        if self._proc.returncode is None:
            self._proc.kill()
        await self._proc.wait()
        await self._drain


def use_worker(path: Path, parallel: bool | None) -> bool:
    """Whether to parse in a worker: as asked, else for big files with a spare core."""
    if parallel is not None:
        return parallel
    return path.stat().st_size >= PARALLEL_MIN_BYTES and (os.cpu_count() or 1) > 1


async def ingest_file(
    *,
    path: Path,
    source: str | None,
    intake: Intake,
    clock: Clock,
    policy_text: str,
    batch_size: int = DEFAULT_BATCH,
    on_progress: Callable[[int], None] | None = None,
    parallel: bool | None = None,
    worker: WorkerBatches | None = None,
) -> IngestRun:
    """Ingests one file, one transaction per batch stamped with the clock at its commit.

    ``parallel`` parses in a worker process (None: when :func:`use_worker` says so);
    ``worker`` is one already spawned (:meth:`WorkerBatches.spawn`) to use instead,
    which this closes when done. Aging from ``booked_on`` counts to the date the run
    started (UTC).

    Nothing is written until the first batch is parsed, so a file refused by
    :func:`bot.files.check_readable` or a parser that fails on the first batch leaves
    no run behind.

    Raises:
        ValueError: unsupported file type, or a file that is not UTF-8 text
            (:class:`bot.files.UnreadableFile`); nothing was written.
        OSError: the file cannot be read; nothing was written.
        ParserDied: the parsing process stopped before its first batch.
        IngestStopped: a failure after some batches were stored (its ``__cause__``).
    """
    fmt = detect_format(path)
    check_readable(path, fmt)
    default_source = source or DEFAULT_SOURCE
    started = clock.now()
    job = Job(
        path=str(path),  # the worker runs in this working directory
        fmt=fmt,
        default_source=default_source,
        today=started.date().isoformat(),
        batch_size=batch_size,
        policy_text=policy_text,
    )
    async with contextlib.AsyncExitStack() as stack:
        batches: BatchSource
        if worker is None and use_worker(path, parallel):
            worker = await WorkerBatches.spawn()
        if worker is not None:
            stack.push_async_callback(worker.close)
            await worker.send(job)
            batches = worker
        else:
            loaded = parse_policy(policy_text)  # the worker parses its own copy
            batches = LocalBatches(job, loaded, stack.enter_context(path.open("rb")))
        total = IngestResult()
        run_id: int | None = None
        line = 0  # the last line stored
        storing = False  # a batch was given to the store
        try:
            while (batch := await batches.next_batch()) is not None:
                if run_id is None:
                    run_id = await intake.start_ingest(
                        source=default_source,
                        file_name=path.name,
                        policy_text=policy_text,
                        now=started,
                    )
                storing = True
                total.add(
                    await intake.ingest(
                        batch.good, now=clock.now(), rejected=batch.bad, run_id=run_id
                    )
                )
                line = _last_line(batch)
                if on_progress is not None:
                    on_progress(batch.position)
            if run_id is None:  # an empty file is a run too
                run_id = await intake.start_ingest(
                    source=default_source, file_name=path.name, policy_text=policy_text, now=started
                )
            digest = batches.sha256
            await intake.finish_ingest(
                run_id=run_id,
                result=total,
                file_sha256=digest,
                file_name=path.name,
                now=clock.now(),
            )
        except (Exception, asyncio.CancelledError) as exc:
            # CancelledError: Ctrl-C (asyncio.run cancels the task); it ends the run all
            # the same, reported as stopped instead of "Aborted!" with exit 1. It may
            # land after a batch's commit and before ingest returns: that batch may be
            # stored. An exception from the store rolls its batch back.
            interrupted = storing and isinstance(exc, asyncio.CancelledError)
            if run_id is None or not (line or interrupted):
                raise  # no batch stored: nothing changed
            raise IngestStopped(run_id=run_id, stored=total, line=line, cause=exc) from exc
    return IngestRun(run_id=run_id, result=total, sha256=digest)


def _last_line(batch: Batch) -> int:
    """The last line of the file in ``batch`` (its rows keep the file's order)."""
    good = batch.good[-1].line if batch.good else 0
    bad = batch.bad[-1][0].line if batch.bad else 0
    return max(good, bad)
