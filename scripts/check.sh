#!/usr/bin/env bash
# ebb's whole check, as CI runs it: sets up every environment it needs from the pinned lock
# files, runs each stage, prints how long each took, and fails if any stage failed.
# Stages run to the end even after a failure, so one run shows every problem.
set -uo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"

declare -a names=() seconds=() results=()
failed=0

stage() {  # stage NAME COMMAND...
    local name=$1; shift
    local start end status
    printf '\n\033[1m==> %s\033[0m\n' "$name"
    start=$(date +%s.%N)
    "$@"
    status=$?
    end=$(date +%s.%N)
    names+=("$name"); seconds+=("$(awk -v a="$start" -v b="$end" 'BEGIN { printf "%.1f", b - a }')")
    if [ "$status" -eq 0 ]; then results+=("ok"); else results+=("FAILED ($status)"); failed=1; fi
}

runtime_python_dir() { dirname "$(.venvs/runtime/bin/python -c 'import sys; print(sys._base_executable)')"; }

pytest_suite() {  # pytest_suite VENV: the whole suite, on both cores; exit 5 (no tests) is a failure
    "$1/bin/pytest" -n 2 --dist loadgroup -q
}

sam_build() {
    # `sam build` resolves the runtime's interpreter (python3.13) from PATH.
    # The config layer's build validates and bundles the shipped example (layers/config/Makefile).
    EBB_CONFIG="$root/examples/gpu-inference" EBB="$root/.venv/bin/ebb" \
    PATH="$(runtime_python_dir):$PATH" .venvs/sam/bin/sam build --template-file template.yaml \
        && .venv/bin/ebb build-report --check
}

state_machines() {
    local definitions=(statemachines/*.asl.json)
    if [ ! -e "${definitions[0]}" ]; then echo "no state machine definitions yet"; return 0; fi
    .venv/bin/python scripts/check_state_machines.py "${definitions[@]}"
}

stage "environments" scripts/venv.sh dev runtime sam checkov node
stage "ruff" bash -c '.venv/bin/ruff check . && .venv/bin/ruff format --check .'
stage "mypy" .venv/bin/mypy layers/ebb/ebb tools/ebb bench
stage "import-linter" .venv/bin/lint-imports
stage "pytest (Python $(.venv/bin/python -c 'import platform; print(platform.python_version())'))" pytest_suite .venv
stage "pytest (Python $(.venvs/runtime/bin/python -c 'import platform; print(platform.python_version())'), the Lambda runtime's)" pytest_suite .venvs/runtime
stage "sam validate --lint" .venvs/sam/bin/sam validate --lint --template-file template.yaml
stage "cfn-lint" .venvs/sam/bin/cfn-lint template.yaml
stage "checkov" .venvs/checkov/bin/checkov --quiet --compact --skip-download --framework cloudformation -f template.yaml
stage "state machines (asl-validator, moto's ASL parser)" state_machines
stage "sam build + layer check" sam_build

printf '\n\033[1m%-70s %8s  %s\033[0m\n' "stage" "seconds" "result"
total=0
for i in "${!names[@]}"; do
    printf '%-70s %8s  %s\n' "${names[$i]}" "${seconds[$i]}" "${results[$i]}"
    total=$(awk -v a="$total" -v b="${seconds[$i]}" 'BEGIN { printf "%.1f", a + b }')
done
printf '%-70s %8s\n' "total" "$total"
exit $failed
