"""CPU seconds next to wall seconds, so a benchmark on a shared machine measures its code, not the load.

On a machine whose cores other work shares, a stage and the floor it is compared with run minutes apart
under different loads, and their wall-clock ratio moves with the load (bench/e2e.py's core floor alone
went from 257 s to 150 s between two runs of the same code). The CPU time each side spends barely
moves: it is the work done, wherever the scheduler put it. Two parts are counted:

- server: the CPU time (utime + stime from /proc/<pid>/stat) of every backend of the benchmark's own
  database, parallel workers included. A thread samples pg_stat_activity and /proc every `INTERVAL`
  seconds and keeps each backend's last reading, so a backend that exits between two samples loses at
  most its last interval, and one that lives shorter than an interval is missed; `backends` says how
  many were seen. Needs a local server on Linux (`server` is None otherwise).
- client: the benchmark process's own CPU (getrusage; `client_thread` for the calling thread only, so
  the sampling thread is not counted).

The server's CPU is also attributed to what each backend was running (`by_query`, keyed by the first
line of the statement text pg_stat_activity shows): the CPU a backend spent between two samples goes to
the statement it runs at the second, so a statement is known to within one interval. bench/e2e.py splits
the core build's CPU by step this way (each step file starts with its own comment line).

`span` times a block with all three when a meter is active (`ACTIVE`), wall time alone otherwise.
"""

from __future__ import annotations

import os
import resource
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from smarketing.warehouse.connection import connect

INTERVAL = 0.02
HEAD = 100  # characters of a statement's first line kept as its key
ACTIVE: Meter | None = None


class Meter:
    """Cumulative CPU seconds of the server backends of one database (see the module's docstring)."""

    def __init__(self, dsn: str) -> None:
        self.dsn = dsn
        self.seen: dict[tuple[int, str], float] = {}  # (pid, backend_start): CPU seconds at its last sample
        self.by_query: dict[str, float] = {}  # a statement's first line: CPU seconds spent while it ran
        self.readable = True
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._conn = connect(dsn, autocommit=True)
        self._tick = os.sysconf("SC_CLK_TCK")

    def __enter__(self) -> Meter:
        global ACTIVE
        self._thread.start()
        ACTIVE = self
        return self

    def __exit__(self, *exc: object) -> None:
        global ACTIVE
        ACTIVE = None
        self._stop.set()
        self._thread.join()
        self._conn.close()

    def server(self) -> float | None:
        """CPU seconds the database's backends have spent so far (sampled now)."""
        self._sample()
        return round(sum(self.seen.values()), 3) if self.readable else None

    def backends(self) -> int:
        return len(self.seen)

    def _run(self) -> None:
        while not self._stop.wait(INTERVAL):
            self._sample()

    def _sample(self) -> None:
        with self._lock:
            rows = self._conn.execute(
                "SELECT pid, backend_start::text, split_part(ltrim(query), E'\\n', 1) FROM pg_stat_activity"
                " WHERE datname = current_database() AND pid <> pg_backend_pid()"
            ).fetchall()
            for pid, started, head in rows:
                try:
                    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
                except OSError:  # exited since the query, or a server on another machine
                    self.readable = self.readable and os.path.isdir(f"/proc/{os.getpid()}")
                    continue
                spent = (int(fields[11]) + int(fields[12])) / self._tick
                head = head[:HEAD]
                self.by_query[head] = (
                    self.by_query.get(head, 0.0) + spent - self.seen.get((pid, started), 0.0)
                )
                self.seen[(pid, started)] = spent

    def queries(self) -> dict[str, float]:
        """A copy of `by_query` (sampled now), to subtract from a later one."""
        self.server()
        with self._lock:
            return dict(self.by_query)


def available() -> bool:
    """Whether backends' CPU can be read at all (Linux /proc; a remote server reads as None later)."""
    return os.path.isdir("/proc/self")


def client_process() -> float:
    """CPU seconds of this process and its waited-for children."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def client_thread() -> float:
    """CPU seconds of the calling thread (Linux)."""
    usage = resource.getrusage(resource.RUSAGE_THREAD)
    return usage.ru_utime + usage.ru_stime


@contextmanager
def span(out: dict) -> Iterator[None]:
    """Time the block into `out`: `seconds`, and with an active meter `server_cpu_s` and `client_cpu_s`
    (the calling thread's)."""
    meter = ACTIVE
    server = meter.server() if meter else None
    client, started = client_thread(), time.perf_counter()
    yield
    out["seconds"] = round(time.perf_counter() - started, 3)
    if meter:
        after = meter.server()
        out["client_cpu_s"] = round(client_thread() - client, 3)
        out["server_cpu_s"] = round(after - server, 3) if after is not None and server is not None else None


def cpu_of(part: dict) -> float | None:
    """Server + client CPU seconds of one timed part (None when the server's could not be read)."""
    if part.get("server_cpu_s") is None:
        return None
    return round(part["server_cpu_s"] + part.get("client_cpu_s", 0.0), 3)
