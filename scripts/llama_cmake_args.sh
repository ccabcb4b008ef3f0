# How llama.cpp is built, sourced by scripts/install.sh and packaging/build.sh (one definition each).
# Portable: no -march=native, an AVX2/FMA/F16C baseline (a native build can die on a VM that reports
# AMX it cannot run). Dispatch: as llama.cpp's release binaries, one CPU kernel library per x86
# instruction set, from plain x86-64 to AVX-512 and AMX, of which notellm.engine.cpu_kernels loads the
# best the CPU and the OS allow; the libraries go beside libllama, where the engine looks.
LLAMA_PORTABLE_ARGS="-DGGML_NATIVE=OFF"
LLAMA_DISPATCH_ARGS="-DGGML_NATIVE=OFF -DGGML_BACKEND_DL=ON -DGGML_CPU_ALL_VARIANTS=ON -DCMAKE_INSTALL_BINDIR=llama_cpp/lib"
