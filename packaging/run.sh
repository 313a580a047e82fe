#!/usr/bin/env bash
# One-command set-up for R1-Omni Live on a fresh machine, then launch the app or run the tests.
#
#   bash packaging/run.sh app [main.py args...]   set up .venv, then start the live monitor
#   bash packaging/run.sh test [pytest args...]   set up .venv (+ test and build tools), then run the test suite
#   bash packaging/run.sh build [--if-stale]      set up .venv (+ PyInstaller), then build dist/: the frozen app,
#                                                 a .tar.gz and a .deb, with their sizes and start-up time
#
# Environment:
#   R1OMNI_TORCH=cpu (default) | cuda   which torch build to install (cuda = the PyPI CUDA wheel, several GB)
#   PYTHON=python3.11                   interpreter for the virtual environment
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
MODE=${1:-app}
shift || true
PY=${PYTHON:-python3}
VENV=$ROOT/.venv
TORCH_KIND=${R1OMNI_TORCH:-cpu}

APT_RUNTIME="libportaudio2 libegl1 libgl1 libfontconfig1 libxkbcommon0 libxkbcommon-x11-0 libdbus-1-3 \
libxcb-icccm4 libxcb-keysyms1 libxcb-cursor0 libxcb-shape0 libxcb-randr0 libxcb-render-util0 libxcb-image0 libxcb-xkb1 \
libxcb-xinerama0 fonts-noto-cjk"
APT_TEST="xvfb xauth ffmpeg pulseaudio pulseaudio-utils libasound2-plugins espeak-ng sox chromium fonts-dejavu-core"
# PyInstaller reads binaries with objdump (binutils); the .desktop entry is validated; start-up is timed under
# Xvfb (dpkg-deb, which makes the .deb, comes with every Debian system). The test suite builds the app too.
APT_BUILD="binutils xvfb xauth desktop-file-utils fonts-dejavu-core"

system_packages() {
  local want="$APT_RUNTIME"
  [ "$MODE" = test ] && want="$want $APT_TEST $APT_BUILD"
  [ "$MODE" = build ] && want="$want $APT_BUILD"
  local missing=()
  for p in $want; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
  [ ${#missing[@]} -eq 0 ] && return 0
  if ! command -v apt-get >/dev/null 2>&1; then
    echo "note: not a Debian/Ubuntu system; install the equivalents of: ${missing[*]}" >&2
    return 0
  fi
  if [ "$(id -u)" = 0 ]; then
    echo "Installing system packages: ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  else
    echo "Missing system packages. Run once:" >&2
    echo "  sudo apt-get install -y ${missing[*]}" >&2
    [ "$MODE" = test ] || [ "$MODE" = build ] && exit 1 || true
  fi
}

quiet_pip() {
  # pip -q still prints one warning per unreachable local index folder on some machines; keep real errors.
  local rc
  "$VENV/bin/python" -m pip -q --disable-pip-version-check "$@" 2>&1 | { grep -v "^WARNING: Location " || true; }
  rc=${PIPESTATUS[0]}
  return "$rc"
}

python_env() {
  [ -x "$VENV/bin/python" ] || "$PY" -m venv "$VENV"
  local pip=(quiet_pip)
  # Install torch explicitly first: an unpinned torch pulls a multi-GB CUDA build on a CPU machine.
  if ! "$VENV/bin/python" -c "import torch" >/dev/null 2>&1; then
    if [ "$TORCH_KIND" = cuda ]; then
      "${pip[@]}" install "torch>=2.4"
    elif "${pip[@]}" install --no-index --no-deps "torch==2.13.0" >/dev/null 2>&1; then
      # a CPU wheel provided on this machine (pip's find-links); now its dependencies
      "${pip[@]}" install "torch==2.13.0"
    else
      # PyPI's Linux torch is a CUDA build of several GB: take the CPU build from PyTorch's own index
      "${pip[@]}" install torch --index-url https://download.pytorch.org/whl/cpu || {
        echo "Could not install a CPU build of torch. Install one yourself into $VENV" \
             "(see https://pytorch.org/get-started/locally/), or set R1OMNI_TORCH=cuda for the CUDA build." >&2
        exit 1
      }
    fi
  fi
  # Re-install the project only when its dependency list changed.
  local stamp="$VENV/.r1omni-$MODE.stamp" sum
  sum=$(cat pyproject.toml packaging/run.sh | sha256sum | cut -d' ' -f1)
  if [ "$(cat "$stamp" 2>/dev/null)" != "$sum" ]; then
    local extra=""
    # test: the serve extra (its tests run in CI) and the build extra (the suite builds the frozen app in this venv)
    [ "$MODE" = test ] && extra="[test,serve,build]"
    [ "$MODE" = build ] && extra="[build]"
    "${pip[@]}" install -e ".$extra"
    echo "$sum" > "$stamp"
  fi
}

system_packages
python_env

case "$MODE" in
  app)
    exec "$VENV/bin/python" main.py "$@"
    ;;
  test)
    export QT_QPA_PLATFORM=offscreen HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1
    exec "$VENV/bin/python" -m pytest "$@"
    ;;
  build)
    exec "$VENV/bin/python" packaging/build_app.py "$@"
    ;;
  setup)
    echo "ready: $VENV"
    ;;
  *)
    echo "usage: bash packaging/run.sh app|test|build|setup [args...]" >&2
    exit 2
    ;;
esac
