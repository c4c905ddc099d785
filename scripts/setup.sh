#!/usr/bin/env bash
# Sets up everything convc and its tests need: Debian toolchains (when missing) and a
# virtual environment in .venv with convc installed in editable mode.
set -euo pipefail
cd "$(dirname "$0")/.."

# Debian packages the targets and tests use.
APT_PACKAGES=(gcc g++ make  # g++: the fpga target's HLS C is also built as C++
    # ARM Linux targets (arm, armv7): cross compilers + sysroots, QEMU user mode
    gcc-aarch64-linux-gnu g++-aarch64-linux-gnu gcc-arm-linux-gnueabihf g++-arm-linux-gnueabihf qemu-user
    # Cortex-M targets: bare-metal cross compiler, newlib, QEMU system emulation
    gcc-arm-none-eabi libnewlib-arm-none-eabi qemu-system-arm)

missing=()
for p in "${APT_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    if [ "$(id -u)" -eq 0 ]; then SUDO=""; elif command -v sudo >/dev/null; then SUDO="sudo"; else
        echo "error: missing Debian packages: ${missing[*]}" >&2
        echo "run: apt-get update && apt-get install -y ${missing[*]}" >&2
        exit 1
    fi
    echo "setup: installing Debian packages: ${missing[*]}"
    $SUDO apt-get update -q
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends \
        -o DPkg::Lock::Timeout=600 "${missing[@]}"
fi

PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
    echo "setup: creating .venv"
    "$PY" -m venv .venv
fi
stamp=.venv/.convc-setup
want=$(sha256sum pyproject.toml | cut -d' ' -f1)
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
    echo "setup: installing convc and its Python dependencies into .venv"
    .venv/bin/python -m pip install -q --disable-pip-version-check -e ".[dev]"
    echo "$want" > "$stamp"
fi
