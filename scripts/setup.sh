#!/usr/bin/env bash
# One-time set-up, safe to repeat: the fonts and tools print needs (Debian packages) and a virtual
# environment with stmtprod installed in it. Used by scripts/run-samples and .ci/run.
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
[ -f /usr/share/fonts/opentype/ipaexfont-gothic/ipaexg.ttf ] || need_apt+=(fonts-ipaexfont-gothic)
[ -f /usr/share/fonts/truetype/arphic/uming.ttc ] || need_apt+=(fonts-arphic-uming)
[ -f /usr/share/fonts/truetype/bizud-gothic/BIZUDPGothic-Bold.ttf ] || need_apt+=(fonts-morisawa-bizud-gothic)
[ -f /usr/share/fonts/truetype/cwtex/cwheib.ttf ] || need_apt+=(fonts-cwtex-heib)
[ -f /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf ] || need_apt+=(fonts-dejavu-core)
command -v pdftotext >/dev/null || need_apt+=(poppler-utils)
command -v gs >/dev/null || need_apt+=(ghostscript)
# The compiled content scan (stmtprod/barcode/_scan.c) is built from source by pip install below.
command -v gcc >/dev/null || need_apt+=(gcc)
"${PYTHON:-python3}" -c 'import os, sys, sysconfig; sys.exit(not os.path.exists(os.path.join(sysconfig.get_paths()["include"], "Python.h")))' \
  || need_apt+=(python3-dev)  # BWIPP (treepoem): the tests' independent postal encoder
if [ ${#need_apt[@]} -gt 0 ]; then
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  echo "setup: installing ${need_apt[*]}" >&2
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi

PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
.venv/bin/python -m pip install -q --disable-pip-version-check -e ".[test]"
# Bytecode for stmtprod's own modules, as a regular (non-editable) install compiles it: every run,
# and every test, would otherwise compile them again (about a quarter CPU-second of each start) on a
# machine with PYTHONDONTWRITEBYTECODE set. A module edited later is compiled afresh when imported.
.venv/bin/python -m compileall -q stmtprod >/dev/null
