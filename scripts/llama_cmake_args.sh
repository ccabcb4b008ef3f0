# How llama.cpp is built, sourced by scripts/install.sh and packaging/build.sh (one definition each).
# Portable: no -march=native, an AVX2/FMA/F16C baseline (a native build can die on a VM that reports
# AMX it cannot run). Dispatch: as llama.cpp's release binaries, one CPU kernel library per x86
# instruction set, from plain x86-64 to AVX-512 and AMX, of which notellm.engine.cpu_kernels loads the
# best the CPU and the OS allow; the libraries go beside libllama, where the engine looks.
LLAMA_PORTABLE_ARGS="-DGGML_NATIVE=OFF"
# Native: every instruction set this CPU reports but AMX. llama.cpp's AMX kernels serve quantized weights only,
# so they bring the F16 default nothing, and a VM that reports AMX it cannot run dies on them. On such a
# Sapphire Rapids VM this build ran the default at 7.3-7.4 notes/s, against 6.3-6.8 with AMX and 5.2 for the
# portable build (bench/build_speed.py, docs/engine-speed.md).
LLAMA_NATIVE_ARGS="-DGGML_NATIVE=ON"
if [ "$(uname -m)" = x86_64 ]; then
  no_amx="-mno-amx-tile -mno-amx-int8 -mno-amx-bf16"
  LLAMA_NATIVE_ARGS="-DGGML_NATIVE=ON -DCMAKE_C_FLAGS=\"$no_amx\" -DCMAKE_CXX_FLAGS=\"$no_amx\""
fi
LLAMA_DISPATCH_ARGS="-DGGML_NATIVE=OFF -DGGML_BACKEND_DL=ON -DGGML_CPU_ALL_VARIANTS=ON -DCMAKE_INSTALL_BINDIR=llama_cpp/lib"
