#!/bin/bash
# Instructions per operation under callgrind (repeatable on a noisy machine), each theus
# operation beside its plain-Python baseline, for one or two interpreters with theus installed:
#   benchmarks/instructions/run.sh .venv/bin/python [other/python]
# Each figure is (instructions of N operations - instructions of 0) / N, Python loop included.
# Go's GC, async preemption and string-hash randomisation are turned off so that the count is
# the same run to run. OPS="read cas" limits the run to some operations.
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
command -v valgrind >/dev/null || { echo "valgrind is needed (make bench-instructions installs it)"; exit 1; }
pys=()
for py in "$@"; do pys+=("$(cd "$(dirname "$py")" && pwd)/$(basename "$py")"); done # absolute: counts run in /tmp
set -- "${pys[@]}"
count() {
  (cd /tmp && PYTHONHASHSEED=0 GOGC=off GODEBUG=asyncpreemptoff=1 GOMAXPROCS=1 \
    valgrind --tool=callgrind --callgrind-out-file=/dev/null "$1" "$HERE/ops.py" "$2" "$3" 2>&1 |
    awk '/Collected/{print $4}')
}
per_op() { # python op n -> instructions per operation
  local a b
  a=$(count "$1" "$2" 0); b=$(count "$1" "$2" "$3")
  echo $(( (b - a) / $3 ))
}
# op:baseline:N  (the baseline is the plain-Python operation the theus one is compared with)
ALL="read:base_read:200000 attr:base_read:200000 get:base_get:200000 in:base_in:200000
items:base_items:50000 cas:base_cas:20000 exec:base_exec:20000 begin5:base_exec:20000
flux:base_exec:10000 state:base_state:50000 fetch:base_fetch:50000 flux100:exec100:200 fluxtext:exec100:200 branch:base_branch:200 to_dict:base_branch:200 many:base_many:200"
printf "%-8s %-12s" op baseline
for py in "$@"; do
  name="$(basename "$(dirname "$(dirname "$py")")")"
  printf " %14s %14s %7s" "$name" "baseline" "ratio"
done
echo
declare -A seen # baselines already counted, per interpreter
for spec in $ALL; do
  IFS=: read -r op base n <<<"$spec"
  if [ -n "${OPS:-}" ] && [[ " $OPS " != *" $op "* ]]; then continue; fi
  printf "%-8s %-12s" "$op" "$base"
  for py in "$@"; do
    t=$(per_op "$py" "$op" "$n")
    key="$py $base"
    if [ -z "${seen[$key]:-}" ]; then seen[$key]=$(per_op "$py" "$base" "$n"); fi
    b=${seen[$key]}
    printf " %14d %14d %7s" "$t" "$b" "$(awk -v t="$t" -v b="$b" 'BEGIN{printf "%.2fx", t/b}')"
  done
  echo
done
