#!/bin/bash
# Instructions per operation under callgrind (repeatable on a noisy machine), for one or two
# interpreters with theus installed: benchmarks/instructions/run.sh .venv/bin/python [other/python]
# Each figure is (instructions of N operations - instructions of 0) / N, Python loop included.
# Go's GC, async preemption and string-hash randomisation are turned off so that the count is the same run to run.
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
count() {
  PYTHONHASHSEED=0 GOGC=off GODEBUG=asyncpreemptoff=1 GOMAXPROCS=1 valgrind --tool=callgrind --callgrind-out-file=/dev/null \
    "$1" "$HERE/ops.py" "$2" "$3" 2>&1 | awk '/Collected/{print $4}'
}
printf "%-8s" op; for py in "$@"; do printf " %14s" "$(basename "$(dirname "$(dirname "$py")")")"; done; echo
for op in read attr cas exec begin5; do
  case $op in read|attr) n=200000;; *) n=20000;; esac
  printf "%-8s" "$op"
  for py in "$@"; do
    a=$(cd /tmp && count "$py" "$op" 0); b=$(cd /tmp && count "$py" "$op" "$n")
    printf " %14d" $(( (b - a) / n ))
  done
  echo
done
