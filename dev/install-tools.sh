#!/usr/bin/env bash
# Installs the command-line tools the project needs, only when missing. Usage:
#   dev/install-tools.sh cargo-lambda | sam | all
set -euo pipefail

have() { command -v "$1" >/dev/null 2>&1; }
pip_install() {
  python3 -m pip install --quiet --disable-pip-version-check "$@" 2>&1 | grep -v "Running pip as the 'root' user" || true
}

for tool in "$@"; do
  case "$tool" in
    cargo-lambda) cargo lambda --version >/dev/null 2>&1 || pip_install cargo-lambda ;;
    sam) have sam || pip_install aws-sam-cli; have cfn-lint || pip_install cfn-lint ;;
    all) "$0" cargo-lambda sam ;;
    *) echo "unknown tool $tool" >&2; exit 2 ;;
  esac
done
