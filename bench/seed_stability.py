"""Status of every check of every sample bundle for seeds 0-4 (issue 15: verdicts that do not depend on the seed).

    python bench/seed_stability.py [--seeds 0-4] [--bundles sample_models/*] [--json out.json]

Runs the default audit (default rubric, default parameters) per bundle and seed, prints a table bundle x check with
the statuses across seeds, and the conditions whose status differs between seeds. Exits 1 when any check's status
depends on the seed.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seeds", default="0-4")
    ap.add_argument("--bundles", nargs="*", default=None)
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args()
    lo, _, hi = args.seeds.partition("-")
    seeds = list(range(int(lo), int(hi or lo) + 1))
    bundles = [Path(b) for b in args.bundles] if args.bundles else sorted(
        p for p in (ROOT / "sample_models").iterdir() if (p / "trustaudit.yaml").is_file())

    from trustaudit.api import audit

    table: dict[str, dict[str, list[str]]] = {}
    conds: dict[tuple[str, str, str, str], list[str]] = {}
    for b in bundles:
        for s in seeds:
            t0 = time.perf_counter()
            rep = audit(b, seed=s)
            print(f"{b.name} seed {s}: {rep.verdict.value} in {time.perf_counter() - t0:.1f}s", file=sys.stderr)
            for c in rep.checks:
                table.setdefault(b.name, {}).setdefault(c.check_id, []).append(c.status.value)
                for cond in c.conditions:
                    key = (b.name, c.check_id, cond.condition, cond.subject or "")
                    conds.setdefault(key, []).append(cond.status.value)
    checks = sorted({cid for row in table.values() for cid in row})
    print("| bundle | " + " | ".join(checks) + " |")
    print("|---|" + "---|" * len(checks))
    unstable = 0
    for name, row in table.items():
        cells = []
        for cid in checks:
            st = row.get(cid, [])
            if not st:
                cells.append("")
            elif len(set(st)) == 1:
                cells.append(f"{st[0]} x{len(st)}")
            else:
                unstable += 1
                cells.append("**" + "/".join(st) + "**")
        print(f"| {name} | " + " | ".join(cells) + " |")
    flips = {k: v for k, v in conds.items() if len(set(v)) > 1}
    print(f"\n{unstable} check(s) and {len(flips)} condition(s) change status between seeds {args.seeds}")
    for (b, cid, text, subject), st in sorted(flips.items()):
        print(f"  {b} {cid} {text} [{subject}]: {'/'.join(st)}")
    if args.json:
        args.json.write_text(json.dumps({"table": table, "flips": [list(k) + [v] for k, v in flips.items()]},
                                        indent=1))
    return 1 if unstable else 0


if __name__ == "__main__":
    raise SystemExit(main())
