# ebb's two set-up commands (see README): each creates the virtual environments it needs from
# the pinned lock files under requirements/ (scripts/venv.sh), then runs.
.PHONY: demo test lock mutate clean

# ebb's main job on the local default (no AWS account needed).
demo:
	@scripts/venv.sh dev sam runtime
	@PATH="$$(dirname "$$(.venvs/runtime/bin/python -c 'import sys; print(sys._base_executable)')"):$$PATH" \
		EBB_SAM=.venvs/sam/bin/sam .venv/bin/ebb demo

# Every check CI runs: ruff, mypy, import-linter, pytest on both Pythons, the template linters,
# the state machine validators, and the layer build check.
test:
	@scripts/check.sh

# Re-pin every lock file after changing layers/ebb/requirements.in, pyproject.toml or requirements/*.in.
lock:
	@scripts/lock.sh

# Mutation testing of ebb.core, per area (replicas, nodes, top; all three by default), on a
# workstation: too slow for CI, which never runs it. `make mutate AREAS=replicas` runs one area.
mutate:
	@scripts/mutate.sh $(AREAS)

clean:
	rm -rf .venv .venvs node_modules .aws-sam
