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


# --- which llama.cpp CPU kernels run (a build with one library per instruction set, as the installers carry)

from pathlib import Path  # noqa: E402

from notellm.engine import cpu_kernels  # noqa: E402

THIS_CPU = cpu_kernels.os_enabled_features()
# ggml's CPUID scores (1 + a weight per instruction set) on a CPU that has everything up to AMX.
SAPPHIRE_RAPIDS_SCORES = {"x64": 1, "sse42": 5, "haswell": 64, "skylakex": 192, "icelake": 1472, "sapphirerapids": 4032}


def test_the_kernels_chosen_are_the_best_the_cpu_reports_and_the_os_enables_short_of_amx():
    # A Sapphire Rapids VM listed AMX in /proc/cpuinfo and faulted on its first AMX instruction: AMX only when forced.
    everything = set().union(*cpu_kernels.X86_VARIANT_NEEDS.values())
    assert cpu_kernels.choose(SAPPHIRE_RAPIDS_SCORES, everything) == "icelake"


def test_amx_the_cpu_reports_but_the_os_never_enabled_falls_back_to_avx512():
    # A VM that passes AMX through in CPUID while the kernel keeps tile state off lists no amx_* flags:
    # ggml's own choice would be the AMX kernels, and their first instruction kills the process.
    without_amx = set().union(*cpu_kernels.X86_VARIANT_NEEDS.values()) - {"amx_tile", "amx_int8"}
    assert cpu_kernels.choose(SAPPHIRE_RAPIDS_SCORES, without_amx) == "icelake"


def test_avx512_the_os_leaves_off_falls_back_to_avx2():
    without_avx512 = {f for f in set().union(*cpu_kernels.X86_VARIANT_NEEDS.values()) if not f.startswith("avx512")}
    assert cpu_kernels.choose(SAPPHIRE_RAPIDS_SCORES, without_avx512) == "haswell"


def test_where_the_os_does_not_say_no_kernels_need_registers_it_may_leave_off():
    assert cpu_kernels.choose(SAPPHIRE_RAPIDS_SCORES, None) == "haswell"


def test_kernels_the_cpu_lacks_or_the_table_does_not_know_are_never_chosen():
    assert cpu_kernels.choose({"x64": 1, "haswell": 0, "tomorrowlake": 9999}, None) == "x64"
    assert cpu_kernels.choose({"haswell": 0}, None) is None


def test_the_os_view_of_the_cpu_is_the_first_flags_line(tmp_path):
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text("processor\t: 0\nflags\t\t: fpu sse4_2 avx avx2\nbugs\t\t: spectre_v1\n\nflags\t\t: other\n")
    assert cpu_kernels.os_enabled_features(cpuinfo) == {"fpu", "sse4_2", "avx", "avx2"}
    assert cpu_kernels.os_enabled_features(tmp_path / "missing") is None


def test_this_machines_llama_cpp_runs_kernels_its_os_enables():
    """The installed build: a linked-in CPU backend (the development install), or a variant the OS allows."""
    from llama_cpp import llama_cpp as bindings

    files = cpu_kernels.variant_files(Path(bindings._base_path))
    kernels = cpu_kernels.load()
    assert cpu_kernels.load() == kernels  # once per process
    if not files:
        assert kernels == cpu_kernels.LINKED_IN
    else:
        assert kernels in files and cpu_kernels.usable(kernels, THIS_CPU if sys.platform.startswith("linux") else None)
