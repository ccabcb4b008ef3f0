"""Thread count and priority for llama.cpp: physical cores, and a nicer indexing thread."""

from __future__ import annotations

import os
import sys
import threading

from notellm.engine.cpu import lower_this_thread_priority, physical_cores


def write_topology(root, cores: dict[int, tuple[int, int]]):
    for cpu, (package, core) in cores.items():
        folder = root / f"cpu{cpu}" / "topology"
        folder.mkdir(parents=True)
        (folder / "physical_package_id").write_text(f"{package}\n")
        (folder / "core_id").write_text(f"{core}\n")
    return root


def test_hyperthread_siblings_count_as_one_core(tmp_path):
    topology = write_topology(tmp_path, {0: (0, 0), 1: (0, 1), 2: (0, 0), 3: (0, 1), 4: (1, 0)})
    assert physical_cores({0, 1, 2, 3, 4}, topology) == 3
    assert physical_cores({0, 2}, topology) == 1  # only the CPUs this process may use count


def test_an_unreadable_topology_counts_logical_cpus(tmp_path):
    assert physical_cores({0, 1, 2}, tmp_path) == 3


def test_this_machine_has_at_least_one_core():
    assert 1 <= physical_cores() <= (os.cpu_count() or 1)


def test_only_the_calling_thread_gets_nicer():
    if not sys.platform.startswith("linux"):  # elsewhere the call would lower the whole process: it declines
        assert lower_this_thread_priority() is False
        return
    before = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
    seen = {}

    def indexing_thread():
        seen["lowered"] = lower_this_thread_priority(before + 5)
        seen["niceness"] = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())

    thread = threading.Thread(target=indexing_thread)
    thread.start()
    thread.join()
    assert seen == {"lowered": True, "niceness": before + 5}
    assert os.getpriority(os.PRIO_PROCESS, threading.get_native_id()) == before
