#!/usr/bin/env bash
# `npm test` after the build and proto check: the unit specs on two workers (in-process, CPU-bound:
# twice as fast on two cores), then the e2e specs one at a time (each starts its own apps, which use
# both cores, and several measure timing). Both always run; the exit code is non-zero if either failed.
set -uo pipefail
cd "$(dirname "$0")/.."
npx jest --selectProjects unit --maxWorkers=2 "$@"
unit=$?
npx jest --selectProjects e2e --runInBand "$@"
e2e=$?
[ "$unit" -eq 0 ] && [ "$e2e" -eq 0 ]
