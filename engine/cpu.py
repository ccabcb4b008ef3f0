"""How many threads llama.cpp gets, and how politely they run.

llama.cpp's worker threads spin while they wait for each other, so a thread on a hyperthread sibling or
on a core this process may not use costs more than it brings: one thread per physical core this process
may run on (bench/scale.py measures it). Indexing also runs while the user works, so the app's engine
thread runs at a lower priority; the threads llama.cpp starts from it inherit that.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
from pathlib import Path

log = logging.getLogger(__name__)

INDEXING_NICENESS = 10
_TOPOLOGY = Path("/sys/devices/system/cpu")


def usable_cpus() -> set[int]:
    if hasattr(os, "sched_getaffinity"):
        return set(os.sched_getaffinity(0))
    return set(range(os.cpu_count() or 1))


def physical_cores(cpus: set[int] | None = None, topology: Path = _TOPOLOGY) -> int:
    """Physical cores among `cpus` (default: those this process may use); logical CPUs where the OS does not say."""
    cpus = usable_cpus() if cpus is None else cpus
    cores = set()
    for cpu in cpus:
        folder = topology / f"cpu{cpu}" / "topology"
        try:
            cores.add((folder / "physical_package_id").read_text().strip() + ":" + (folder / "core_id").read_text().strip())
        except OSError:  # not Linux, or a kernel that hides the topology: count logical CPUs
            return max(1, len(cpus))
    return max(1, len(cores))


def lower_this_thread_priority(niceness: int = INDEXING_NICENESS) -> bool:
    """Lower the calling thread's scheduling priority (Linux: per thread); False where the OS offers no such call."""
    if not sys.platform.startswith("linux"):
        return False  # elsewhere setpriority would lower the whole process, the window included
    thread = threading.get_native_id()
    try:
        # Nice values are absolute: never go back up from a thread that already runs nicer.
        os.setpriority(os.PRIO_PROCESS, thread, max(niceness, os.getpriority(os.PRIO_PROCESS, thread)))
    except OSError as error:
        log.info("could not lower the indexing thread's priority: %s", error)
        return False
    return True
