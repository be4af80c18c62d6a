#!/usr/bin/env bash
# Mutation testing (mutmut) of the modules whose numbers learners are graded or
# shown by: io/assemble, imaging/voi, scoring and roi/polygons. Run by hand, not
# in CI: 20 to 30 minutes on two busy cores, one module about 4.
#
#   pip install -e '.[mutation]'
#   scripts/mutation.sh                          # every module in [tool.mutmut]
#   scripts/mutation.sh dicomteach.roi.polygons  # one module (or several)
#
# mutmut copies the package into mutants/, changes one operator, constant or
# call at a time and runs the tests that reach the changed function (the list
# and the modules are [tool.mutmut] in pyproject.toml). A mutant the tests
# still pass with "survived". The script prints, per module, how many mutants
# were killed, survived or timed out, and the survival rate (survivors and
# mutants no selected test reaches, over all mutants checked); the survivors
# are listed in mutants/survivors.txt (`mutmut show NAME` prints one's diff).
#
# PYTHON (default .venv/bin/python, else python) is the interpreter with the
# 'mutation' extra; MUTATION_JOBS (default 2) is the number of mutants run at
# once. The run is niced so that it yields to anything else on the machine.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ -z "${PYTHON:-}" ]; then
    PYTHON=python
    [ -x .venv/bin/python ] && PYTHON=.venv/bin/python
fi
JOBS=${MUTATION_JOBS:-2}
patterns=()
for module in "$@"; do
    patterns+=("${module}.*")
done

# A fresh copy each time: mutmut keeps results between runs and would not
# notice that a test file changed.
rm -rf mutants
mkdir -p mutants
start=$(date +%s)
status=0
nice -n 15 "$PYTHON" -m mutmut run --max-children "$JOBS" "${patterns[@]}" \
    >mutants/run.log 2>&1 || status=$?
elapsed=$(($(date +%s) - start))
if [ "$status" -ne 0 ]; then
    tail -n 40 mutants/run.log
    echo "mutmut run failed (exit $status); the whole log is mutants/run.log" >&2
    exit "$status"
fi
"$PYTHON" -m mutmut results --all true >mutants/results.txt

"$PYTHON" - "$elapsed" "$@" <<'EOF'
import collections
import re
import sys

elapsed, wanted = int(sys.argv[1]), sys.argv[2:]
counts = collections.defaultdict(collections.Counter)
survivors = []
for line in open("mutants/results.txt", encoding="utf-8"):
    match = re.match(r"\s*(\S+?)\.x[_\u01c1]\S*: (.+)$", line)
    if not match:
        continue
    module, status = match.groups()
    if wanted and not any(module == w or module.startswith(w + ".") for w in wanted):
        continue
    counts[module][status] += 1
    if status == "survived":
        survivors.append(line.split(":")[0].strip())

header = f"{'module':32} {'mutants':>7} {'killed':>6} {'timeout':>7} {'survived':>8} {'no tests':>8} {'survival':>8}"
print(header)
print("-" * len(header))
total = collections.Counter()
for module in sorted(counts):
    c = counts[module]
    total.update(c)
    checked = c["killed"] + c["timeout"] + c["survived"] + c["no tests"]
    rate = 100 * (c["survived"] + c["no tests"]) / checked if checked else 0.0
    print(
        f"{module:32} {checked:7} {c['killed']:6} {c['timeout']:7} {c['survived']:8}"
        f" {c['no tests']:8} {rate:7.1f}%"
    )
    others = {k: v for k, v in c.items() if k not in ("killed", "timeout", "survived", "no tests")}
    if others:
        print(f"{'':32} also: {others}")
checked = total["killed"] + total["timeout"] + total["survived"] + total["no tests"]
if checked:
    rate = 100 * (total["survived"] + total["no tests"]) / checked
    print(f"{'all':32} {checked:7} {total['killed']:6} {total['timeout']:7} {total['survived']:8}"
          f" {total['no tests']:8} {rate:7.1f}%")
with open("mutants/survivors.txt", "w", encoding="utf-8") as out:
    out.writelines(name + "\n" for name in survivors)
print(f"\n{len(survivors)} survivors in mutants/survivors.txt; {elapsed} s")
EOF
