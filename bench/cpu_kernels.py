"""llama.cpp's CPU kernel sets in a build with one per instruction set (the installers' build): what
ggml's CPUID check and the OS say of each, which one NoteLLM loads here, and the notes/s of each set
this CPU has, every one in its own child process (`bench/build_speed.py` with NOTELLM_CPU_KERNELS).

    packaging/build.sh && build/bundle-venv/bin/python bench/cpu_kernels.py --compare .venv/bin/python

`--compare` adds another Python's llama.cpp (the development install's linked-in build) to each round.
`--lacking` also forces one set this CPU lacks, to show what a wrong choice does (it dies with SIGILL).
Not a test: run it on a quiet machine.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
from pathlib import Path

from llama_cpp import llama_cpp as bindings

from notellm.engine import cpu_kernels

SPEED = Path(__file__).with_name("build_speed.py")


def run(python: str, label: str, kernels: str | None) -> str:
    env = dict(os.environ)
    env.pop(cpu_kernels.FORCE_VARIABLE, None)
    if kernels:
        env[cpu_kernels.FORCE_VARIABLE] = kernels
    child = subprocess.run([python, str(SPEED), label], env=env, capture_output=True, text=True)
    if child.returncode < 0:
        return f"{label}: killed by {signal.Signals(-child.returncode).name}"
    return child.stdout.strip() or f"{label}: exit {child.returncode}: {child.stderr.strip().splitlines()[-1:]}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--compare", help="another Python whose llama.cpp to time in each round")
    parser.add_argument("--lacking", action="store_true", help="also force a kernel set this CPU lacks")
    parser.add_argument("--only", help="comma-separated kernel sets to time (default: every one this CPU has)")
    args = parser.parse_args()
    files = cpu_kernels.variant_files(Path(bindings._base_path))
    if not files:
        sys.exit("this Python's llama.cpp has its CPU kernels linked in: run it with the bundle's venv")
    enabled = cpu_kernels.os_enabled_features() if sys.platform.startswith("linux") else None
    scores = {variant: cpu_kernels.score(path) for variant, path in files.items()}
    print("| kernels | ggml's CPUID score | the OS enables what it needs |\n|---|---|---|")
    for variant, score in sorted(scores.items(), key=lambda pair: pair[1]):
        print(f"| {variant} | {score} | {'yes' if cpu_kernels.usable(variant, enabled) else 'no'} |")
    print(f"\nNoteLLM loads: {cpu_kernels.choose(scores, enabled)}\n")
    runnable = sorted((v for v, s in scores.items() if s > 0 and (not args.only or v in args.only.split(","))), key=scores.get)
    lacking = [v for v, s in scores.items() if s == 0][:1] if args.lacking else []
    for round_ in range(args.rounds):
        for variant in runnable + lacking:
            print(run(sys.executable, variant, variant), flush=True)
        if args.compare:
            print(run(args.compare, "compared build", None), flush=True)


if __name__ == "__main__":
    main()
