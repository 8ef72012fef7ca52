#!/usr/bin/env bash
# One command from a fresh clone: set up, then audit the sample bundle (report in quickstart-out/).
set -uo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh || exit 2
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-2}
.venv/bin/trustaudit audit sample_models/adult-income-hgb --out quickstart-out
code=$?
echo "exit code $code (0 pass, 1 the rubric failed, 2 bad input); report: quickstart-out/report.json"
# A rubric failure is a finding, not a setup failure: the sample model really is unfair on Adult.
[ "$code" -le 1 ]
