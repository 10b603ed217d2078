#!/usr/bin/env bash
# Re-pins every lock file. The layer's lock is resolved for the Lambda runtime (Python 3.13 on
# arm64); the development lock is universal (every Python ebb supports) and constrained by the
# layer's pins, so tests run the exact runtime versions the layer ships.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
scripts/venv.sh uv
uv=.venvs/uv/bin/uv
common=(--quiet --no-header --annotation-style line)
"$uv" pip compile "${common[@]}" --python-version 3.13 --python-platform aarch64-manylinux_2_28 \
    layers/ebb/requirements.in -o layers/ebb/requirements.txt
"$uv" pip compile "${common[@]}" --universal --python-version 3.11 pyproject.toml \
    --extra tools --extra dev -c layers/ebb/requirements.txt -o requirements/dev.txt
# mutmut, for `make mutate` only: installed beside the development lock, so constrained by it.
"$uv" pip compile "${common[@]}" --universal --python-version 3.11 requirements/mutate.in \
    -c requirements/dev.txt -o requirements/mutate.txt
for tool in sam checkov; do
    "$uv" pip compile "${common[@]}" --python-version 3.11 "requirements/$tool.in" -o "requirements/$tool.txt"
done
npm install --silent --no-audit --no-fund --package-lock-only
echo "locked: layers/ebb/requirements.txt requirements/*.txt package-lock.json"
