#!/usr/bin/env bash
# Mutation testing of ebb.core with mutmut, per area, on a workstation (too slow for CI):
#
#   scripts/mutate.sh [AREA...]     areas: replicas, nodes, top (default: all three)
#
#   replicas  ebb.core.replicas                 killed by tests/unit/core/replicas
#   nodes     ebb.core.nodes                    killed by tests/unit/core/nodes
#   top       ebb.core's top-level modules      killed by both
#
# MUTATE_NAMES='GLOB...' (mutmut's mutant names, e.g. 'ebb.core.nodes.cron.* ebb.core.nodes.taints.*')
# runs and scores only those mutants of the area: a quick look, not the area's figure.
#
# It builds .venvs/mutate (requirements/dev.txt plus requirements/mutate.txt), stages a copy of the
# package and the core's unit tests per area in .mutate/<area> (the layout mutmut expects, see
# [tool.mutmut] in pyproject.toml), runs mutmut there with MUTATE_JOBS workers (default 2), and
# prints the area's kill rate with scripts/mutation_score.py, after setting aside the equivalent
# mutants listed, each with its reason, in tests/unit/core/<area>/equivalent_mutants.toml (top:
# tests/unit/core/equivalent_mutants.toml). Each run starts from scratch, so a figure depends only
# on the committed tree. `.mutate/<area>/mutants` stays for `mutmut show NAME` run in .mutate/<area>.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
export UV_PYTHON_DOWNLOADS=never UV_NO_PROGRESS=1

areas=("$@")
[ ${#areas[@]} -gt 0 ] || areas=(replicas nodes top)
for area in "${areas[@]}"; do
    case "$area" in
        replicas | nodes | top) ;;
        *) echo "unknown area: $area (replicas, nodes, top)" >&2; exit 2 ;;
    esac
done

# The environment: the development lock plus mutmut's, without an editable install of ebb, so the
# tests can only import the mutated copy.
uv=$(scripts/venv.sh uv >/dev/null && echo "$root/.venvs/uv/bin/uv")
env_dir=.venvs/mutate
stamp=$(cat requirements/dev.txt requirements/mutate.txt | sha256sum | cut -c1-16)
if [ ! -f "$env_dir/.stamp" ] || [ "$(cat "$env_dir/.stamp")" != "$stamp" ]; then
    echo "setting up $env_dir (from requirements/dev.txt and requirements/mutate.txt)" >&2
    rm -rf "$env_dir"
    "$uv" venv --quiet --python "$(command -v python3.11 || command -v python3)" "$env_dir"
    VIRTUAL_ENV="$root/$env_dir" "$uv" pip sync --quiet requirements/dev.txt requirements/mutate.txt
    echo "$stamp" > "$env_dir/.stamp"
fi

# Each area runs in its own staged copy, .mutate/<area>: both portions of the namespace package
# merged into src/ebb, the core's unit tests, and pyproject.toml with [tool.mutmut] narrowed to
# the area's modules (only_mutate) and its unit tests (the test selection).
stage() {  # stage AREA ONLY_MUTATE TESTS: write .mutate/AREA
    local work=.mutate/$1
    rm -rf "$work"
    mkdir -p "$work/src/ebb" "$work/tests/unit"
    cp -R layers/ebb/ebb/. "$work/src/ebb/"
    cp -R tools/ebb/. "$work/src/ebb/"
    cp tests/conftest.py "$work/tests/"
    cp -R tests/unit/core "$work/tests/unit/"
    find "$work" -name __pycache__ -prune -exec rm -rf {} +
    sed -e "s|^only_mutate = .*|only_mutate = $2|" \
        -e "s|^pytest_add_cli_args_test_selection = .*|pytest_add_cli_args_test_selection = $3|" \
        pyproject.toml > "$work/pyproject.toml"
}

top_modules=()
for module in layers/ebb/ebb/core/*.py; do top_modules+=("\"src/ebb/core/$(basename "$module")\""); done
top_list="[$(IFS=,; echo "${top_modules[*]}")]"

for area in "${areas[@]}"; do
    case "$area" in
        replicas) stage replicas '["src/ebb/core/replicas/*"]' '["tests/unit/core/replicas"]' ;;
        nodes) stage nodes '["src/ebb/core/nodes/*"]' '["tests/unit/core/nodes"]' ;;
        top) stage top "$top_list" '["tests/unit/core/replicas", "tests/unit/core/nodes"]' ;;
    esac
    echo "mutating $area (log: .mutate/$area/run.log)" >&2
    # MUTATE_NAMES may hold several globs, separated by spaces.
    read -r -a names <<< "${MUTATE_NAMES:-}"
    if ! (cd ".mutate/$area" && "$root/$env_dir/bin/mutmut" run --max-children "${MUTATE_JOBS:-2}" "${names[@]}") \
        > ".mutate/$area/run.log" 2>&1; then
        tail -n 40 ".mutate/$area/run.log" >&2
        echo "mutmut failed for $area; its full output is in .mutate/$area/run.log" >&2
        exit 1
    fi
    (cd ".mutate/$area" && "$root/$env_dir/bin/python" "$root/scripts/mutation_score.py" --root "$root" \
        ${MUTATE_NAMES:+--only "$MUTATE_NAMES"} "$area")
done
