#!/usr/bin/env bash
# Creates or refreshes ebb's virtual environments from the pinned lock files, idempotently:
# an environment is rebuilt only when its lock file changed. Every tool gets its own environment
# because aws-sam-cli and checkov pin boto3 and pydantic versions that conflict with ebb's.
#
#   scripts/venv.sh dev      .venv            ebb + tools + dev tools, on the machine's Python
#   scripts/venv.sh runtime  .venvs/runtime   the same, on the Lambda runtime's Python (3.13)
#   scripts/venv.sh sam      .venvs/sam       aws-sam-cli (and the cfn-lint it carries)
#   scripts/venv.sh checkov  .venvs/checkov   checkov
#   scripts/venv.sh node     node_modules     asl-validator (npm)
#   scripts/venv.sh uv       .venvs/uv        uv, which builds all the others
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
export UV_PYTHON_DOWNLOADS=never UV_NO_PROGRESS=1

# The Lambda runtime's Python, as template.yaml declares it.
runtime_version() { sed -n 's/^ *Runtime: python\([0-9.]*\).*/\1/p' template.yaml | head -n 1; }

find_python() {  # find_python 3.13 -> path of an interpreter of that minor version
    local want=$1 candidate
    for candidate in "python$want" \
        "$(ls -d "${PYENV_ROOT:-$HOME/.pyenv}"/versions/"$want".*/bin/python"$want" 2>/dev/null | sort -V | tail -n 1)"; do
        [ -n "$candidate" ] || continue
        if command -v "$candidate" >/dev/null 2>&1 && "$candidate" -c 'import sys' >/dev/null 2>&1; then
            command -v "$candidate"; return 0
        fi
    done
    echo "no Python $want found (tried python$want on PATH and pyenv's versions)" >&2
    return 1
}

uv_bin() {
    local dir=.venvs/uv
    if [ ! -x "$dir/bin/uv" ] || ! cmp -s requirements/uv.txt "$dir/.lock"; then
        rm -rf "$dir"
        python3 -m venv "$dir"
        "$dir/bin/pip" install --quiet --disable-pip-version-check -r requirements/uv.txt
        cp requirements/uv.txt "$dir/.lock"
    fi
    echo "$root/$dir/bin/uv"
}

# make_env DIR PYTHON LOCK [EDITABLE]: (re)create DIR from LOCK unless it is already up to date.
make_env() {
    local dir=$1 python=$2 lock=$3 editable=${4:-} uv stamp
    uv=$(uv_bin)
    stamp=$(cat "$lock" pyproject.toml 2>/dev/null | sha256sum | cut -c1-16)-$("$python" -c 'import sys; print(sys.version.split()[0])')
    if [ -f "$dir/.stamp" ] && [ "$(cat "$dir/.stamp")" = "$stamp" ]; then
        return 0
    fi
    echo "setting up $dir ($("$python" --version), from $lock)" >&2
    rm -rf "$dir"
    "$uv" venv --quiet --python "$python" "$dir"
    VIRTUAL_ENV="$root/$dir" "$uv" pip sync --quiet "$lock"
    if [ -n "$editable" ]; then
        VIRTUAL_ENV="$root/$dir" "$uv" pip install --quiet --no-deps -e .
    fi
    echo "$stamp" > "$dir/.stamp"
}

for target in "$@"; do
    case "$target" in
        uv) uv_bin >/dev/null ;;
        dev) make_env .venv "$(find_python 3.11 || command -v python3)" requirements/dev.txt editable ;;
        runtime) make_env .venvs/runtime "$(find_python "$(runtime_version)")" requirements/dev.txt editable ;;
        sam) make_env .venvs/sam "$(find_python 3.11 || command -v python3)" requirements/sam.txt ;;
        checkov) make_env .venvs/checkov "$(find_python 3.11 || command -v python3)" requirements/checkov.txt ;;
        node)
            stamp=$(sha256sum package-lock.json | cut -c1-16)
            if [ ! -f .venvs/node/.stamp ] || [ "$(cat .venvs/node/.stamp)" != "$stamp" ]; then
                echo "setting up .venvs/node (npm ci)" >&2
                rm -rf .venvs/node node_modules
                npm ci --silent --no-audit --no-fund
                mkdir -p .venvs/node && echo "$stamp" > .venvs/node/.stamp
            fi ;;
        *) echo "unknown environment: $target (dev, runtime, sam, checkov, node)" >&2; exit 2 ;;
    esac
done
