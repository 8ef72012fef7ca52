"""Regenerate the example reports of the sample bundles: audit each bundle, then render HTML, PDF and Markdown.

    .venv/bin/python reports/build.py                    # the example bundles (audit + render)
    .venv/bin/python reports/build.py german-credit      # one bundle
    .venv/bin/python reports/build.py --render-only      # re-render the committed report.json files

Each bundle gets a folder ``reports/<bundle>/`` with report.json (and any artefacts the checks write), and
report.html, report.pdf, report.md rendered from it. The audit uses the bundle's rubric (the packaged default
unless the manifest names one) and seed 0.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "2")
os.environ.setdefault("MPLBACKEND", "Agg")
HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))
# The committed examples: a tree model with every check family, a predictions-only bundle (model checks
# skipped), a small dataset (groups too small to judge), a regressor and a multiclass classifier (issue 17). Any
# other sample bundle can be named.
BUNDLES = ("adult-income-hgb", "adult-income-predictions", "german-credit", "adult-hours-regressor", "adult-hours-band")


def main() -> int:
    ap = argparse.ArgumentParser(description="Regenerate the example reports in reports/.")
    ap.add_argument("bundles", nargs="*", default=list(BUNDLES), help="sample bundle names (default: the examples)")
    ap.add_argument("--render-only", action="store_true", help="re-render existing report.json, no audit")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--formats", default="html,pdf,md")
    args = ap.parse_args()

    os.chdir(ROOT)
    from trustaudit.api import audit, load_report, write_report
    from trustaudit.render import render_to_dir

    for name in args.bundles:
        out = HERE / name
        t0 = time.perf_counter()
        if args.render_only:
            report = load_report(out / "report.json")
        else:
            bundle = Path("sample_models") / name  # relative, so report.json names no local path
            if not (ROOT / bundle).is_dir():
                print(f"error: no sample bundle {bundle}", file=sys.stderr)
                return 2
            for stale in out.glob("**/*"):
                if stale.is_file():
                    stale.unlink()
            report = audit(bundle, seed=args.seed, out_dir=out)
            write_report(report, out)
        t_audit = time.perf_counter() - t0
        rendered = []
        for fmt in args.formats.split(","):
            t1 = time.perf_counter()
            path = render_to_dir(report, fmt, out)
            rendered.append(f"{path.name} {time.perf_counter() - t1:.1f}s")
        print(f"{name}: {report.verdict.value} ({', '.join(f'{k} {v}' for k, v in report.counts.items() if v)}); "
              f"{'loaded' if args.render_only else 'audited'} in {t_audit:.1f}s; {'; '.join(rendered)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
