"""Which of llama.cpp's CPU kernel sets this process runs.

A llama.cpp built as its release binaries are (GGML_BACKEND_DL + GGML_CPU_ALL_VARIANTS, what the
installers carry) has no CPU backend of its own: it ships one library per instruction set
(libggml-cpu-haswell.so, -skylakex, -sapphirerapids, ...) and loads the best one at run time.
llama-cpp-python 0.3.36 never asks it to, and ggml itself would look beside the Python executable and
in the working directory, not in llama_cpp/lib; so `load()` does, before the first model.

ggml ranks the variants by CPUID alone ("FIXME: this does not check for OS support"). A CPU can report
AVX-512 or AMX that the OS (or a VM's hypervisor) has not enabled, and the first decode then dies with
SIGILL. On Linux the kernel lists in /proc/cpuinfo only the features it enabled, so a variant is used
only where every feature it needs is listed there. Other systems get no variant that needs AVX-512 or
AMX, whose register state an OS may leave off: slower there at worst, never a crash.

Even a listed AMX is no proof: a Sapphire Rapids VM listed amx_tile and amx_int8, granted the process AMX
state, and faulted on the first AMX instruction (docs/engine-speed.md). So no AMX variant is chosen on its
own; llama.cpp's AMX kernels serve quantized weights only, and the AVX-512 set runs those too.

A build with its CPU backend linked in (the development install's) needs none of this.

NOTELLM_CPU_KERNELS=<variant> (e.g. `x64`, `haswell`) loads that set unchecked: to work round a choice
that fails on some machine, or to compare the sets (bench/cpu_kernels.py).
"""

from __future__ import annotations

import ctypes
import logging
import os
import platform
import sys
import threading
from pathlib import Path

from .errors import ModelError

log = logging.getLogger(__name__)

LINKED_IN = "built in"  # what `load()` reports for a llama.cpp with one CPU backend linked in
FORCE_VARIABLE = "NOTELLM_CPU_KERNELS"

# What each of ggml's x86 variants needs, as Linux names the features in /proc/cpuinfo (the variants
# and their instruction sets are ggml's: ggml/src/CMakeLists.txt, GGML_CPU_ALL_VARIANTS).
_SSE42 = {"sse4_2"}
_SANDYBRIDGE = _SSE42 | {"avx"}
_IVYBRIDGE = _SANDYBRIDGE | {"f16c"}
_HASWELL = _IVYBRIDGE | {"fma", "avx2", "bmi2"}
_SKYLAKEX = _HASWELL | {"avx512f", "avx512cd", "avx512vl", "avx512dq", "avx512bw"}
_ICELAKE = _SKYLAKEX | {"avx512vbmi", "avx512_vnni"}
X86_VARIANT_NEEDS: dict[str, set[str]] = {
    "x64": set(),
    "sse42": _SSE42,
    "sandybridge": _SANDYBRIDGE,
    "ivybridge": _IVYBRIDGE,
    "piledriver": _IVYBRIDGE | {"fma"},
    "haswell": _HASWELL,
    "skylakex": _SKYLAKEX,
    "cannonlake": _SKYLAKEX | {"avx512vbmi"},
    "cascadelake": _SKYLAKEX | {"avx512_vnni"},
    "icelake": _ICELAKE,
    "cooperlake": _SKYLAKEX | {"avx512_vnni", "avx512_bf16"},
    "zen4": _ICELAKE | {"avx512_bf16"},
    "alderlake": _HASWELL | {"avx_vnni"},
    "sapphirerapids": _ICELAKE | {"avx512_bf16", "amx_tile", "amx_int8"},
}
_NEEDS_OS_STATE = ("avx512", "amx")  # feature-name prefixes whose registers an OS must enable
_NEVER_CHOSEN = ("amx",)  # feature-name prefixes that only NOTELLM_CPU_KERNELS turns on (see the module's docstring)

_lock = threading.Lock()
_loaded: str | None = None


def os_enabled_features(cpuinfo: Path = Path("/proc/cpuinfo")) -> set[str] | None:
    """The CPU features the OS enabled (Linux: the first `flags` line); None where the OS does not say."""
    try:
        with open(cpuinfo, encoding="ascii", errors="replace") as lines:
            for line in lines:
                if line.startswith("flags"):
                    return set(line.partition(":")[2].split())
    except OSError:
        pass
    return None


def usable(variant: str, enabled: set[str] | None) -> bool:
    """Whether the OS lets this process run `variant`'s instructions (ggml has checked the CPU has them)."""
    needs = X86_VARIANT_NEEDS.get(variant)
    if needs is None:
        return False  # a variant this table does not know: its needs cannot be checked
    if enabled is None:
        return not any(feature.startswith(_NEEDS_OS_STATE) for feature in needs)
    return needs <= enabled


def choose(scores: dict[str, int], enabled: set[str] | None) -> str | None:
    """The variant to load: the highest ggml score (0 means the CPU lacks it) among those the OS allows,
    short of AMX."""
    allowed = {variant: score for variant, score in scores.items() if score > 0 and usable(variant, enabled)
               and not any(feature.startswith(_NEVER_CHOSEN) for feature in X86_VARIANT_NEEDS.get(variant, ()))}
    return max(allowed, key=allowed.get) if allowed else None


def variant_files(lib_dir: Path) -> dict[str, Path]:
    """ggml's CPU variant libraries in `lib_dir`, by variant name (empty for a linked-in build)."""
    prefix, suffix = ("ggml-cpu-", ".dll") if sys.platform == "win32" else ("libggml-cpu-", ".so")
    return {p.name[len(prefix) : -len(suffix)]: p for p in sorted(lib_dir.glob(f"{prefix}*{suffix}"))}


def score(library: Path) -> int:
    """ggml's own CPUID score of a variant library (0: this CPU lacks an instruction set it uses)."""
    handle = ctypes.CDLL(str(library))  # ggml's loader opens every variant this way to ask
    try:
        function = handle.ggml_backend_score
        function.restype = ctypes.c_int
        return function()
    except AttributeError:
        return 0
    finally:
        _close(handle)


def _close(handle: ctypes.CDLL) -> None:
    if sys.platform == "win32":
        ctypes.windll.kernel32.FreeLibrary(ctypes.c_void_p(handle._handle))
    else:
        import _ctypes

        _ctypes.dlclose(handle._handle)


def load() -> str:
    """Load the CPU kernels llama.cpp should use here, once per process; returns the variant's name.

    Call before the first model. Raises ModelError where no variant can run.
    """
    global _loaded
    with _lock:
        if _loaded is None:
            _loaded = _load()
        return _loaded


def _load() -> str:
    # libllama's own ggml: ggml's functions looked up through libllama's handle. llama_cpp._ggml opens
    # lib/libggml.so, a copy of the lib/libggml.so.0 that libllama links (a wheel holds no symlinks), so
    # a backend registered there is one libllama never sees ("no backends are loaded").
    from llama_cpp import llama_cpp as bindings

    ggml = bindings._lib
    ggml.ggml_backend_reg_count.restype = ctypes.c_size_t
    lib_dir = Path(bindings._base_path)
    files = variant_files(lib_dir)
    if not files:
        return LINKED_IN
    if ggml.ggml_backend_reg_count() > 0:
        return "loaded before NoteLLM asked"  # a Llama made before load(): ggml looked where it looks
    llama_log = logging.getLogger("llama-cpp-python")
    if llama_log.level == logging.NOTSET:  # as a Llama(verbose=False) leaves it: ggml's notes off stderr
        llama_log.setLevel(logging.ERROR)
    forced = os.environ.get(FORCE_VARIABLE)
    if forced:
        if forced not in files:
            raise ModelError(f"{FORCE_VARIABLE}={forced}: this llama.cpp has no such CPU kernels (it has {', '.join(files)})")
        best = forced
        log.warning("llama.cpp CPU kernels %s, as %s asks, unchecked", forced, FORCE_VARIABLE)
    elif platform.machine().lower() not in ("x86_64", "amd64"):
        ggml.ggml_backend_load_all_from_path.argtypes = [ctypes.c_char_p]
        ggml.ggml_backend_load_all_from_path(str(lib_dir).encode())  # ggml's own choice
        return "chosen by ggml"
    else:
        best = _best(files)
    ggml.ggml_backend_load.argtypes = [ctypes.c_char_p]
    ggml.ggml_backend_load.restype = ctypes.c_void_p
    if not ggml.ggml_backend_load(str(files[best]).encode()):
        raise ModelError(f"llama.cpp could not load its CPU kernels {files[best].name}")
    log.info("llama.cpp CPU kernels: %s", best)
    return best


def _best(files: dict[str, Path]) -> str:
    scores = {variant: score(path) for variant, path in files.items()}
    enabled = os_enabled_features() if sys.platform.startswith("linux") else None
    best = choose(scores, enabled)
    if best is None:
        raise ModelError(f"none of llama.cpp's CPU kernel sets can run here (scores {scores})")
    vetoed = [v for v, s in scores.items() if s > scores[best] and not usable(v, enabled)]
    if vetoed:
        log.info("the CPU reports %s but the OS has not enabled all it needs: using %s", ", ".join(vetoed), best)
    return best
