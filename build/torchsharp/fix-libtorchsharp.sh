#!/usr/bin/env bash
# TorchSharp 0.107's libLibTorchSharp.so is linked against GCC 13's libstdc++ and asks for
# GLIBCXX_3.4.32 for one symbol, std::ios_base_library_init(). Debian 12 ships GLIBCXX_3.4.30, so
# the library does not load. Where that is the case, this gives the library a tiny shim that
# defines the symbol, drops the symbol's version, and marks the version requirement weak.
# Usage: fix-libtorchsharp.sh NATIVE_DIR   (the folder holding libLibTorchSharp.so)
set -euo pipefail
dir="$1"
lib="$dir/libLibTorchSharp.so"
here="$(cd "$(dirname "$0")" && pwd)"
[ -f "$lib" ] || exit 0

libstdcxx="$(ldconfig -p 2>/dev/null | awk '/libstdc\+\+\.so\.6 .*x86-64/ {print $NF; exit}')"
if [ -n "$libstdcxx" ] && grep -q GLIBCXX_3.4.32 "$libstdcxx"; then
  exit 0 # a libstdc++ new enough: nothing to do
fi

if readelf -d "$lib" | grep -q libios_shim.so; then
  exit 0 # already fixed
fi

for tool in patchelf g++ python3 readelf; do
  command -v "$tool" >/dev/null || { echo "fix-libtorchsharp: $tool is needed (apt-get install -y patchelf g++ python3 binutils)" >&2; exit 1; }
done

g++ -shared -fPIC -O2 -o "$dir/libios_shim.so" "$here/ios_shim.cpp"
patchelf --clear-symbol-version _ZSt21ios_base_library_initv "$lib"
python3 "$here/weaken_version.py" "$lib" GLIBCXX_3.4.32 >/dev/null
patchelf --add-needed libios_shim.so "$lib"
