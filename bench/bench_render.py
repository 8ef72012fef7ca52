"""Render time of the example reports: PDF (split into HTML templating and WeasyPrint layout), HTML and Markdown.

    .venv/bin/python bench/bench_render.py                       # reports/adult-income-hgb/report.json
    .venv/bin/python bench/bench_render.py path/to/report.json --repeat 5

Prints one line per format with the median and best wall time of ``--repeat`` runs, the median CPU time of
the process (wall time on a shared machine includes waiting for a core; CPU time does not), the output size
and, for the PDF, the page count. Rendering reads report.json only (no check is re-run).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "2")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


CPU: list[float] = []


def _time(fn, repeat: int):  # type: ignore[no-untyped-def]
    """Median and best wall time of ``repeat`` runs; the median CPU time of this process goes to CPU[-1]."""
    times, cpu, out = [], [], None
    for _ in range(repeat):
        t0, c0 = time.perf_counter(), time.process_time()
        out = fn()
        times.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    CPU.append(statistics.median(cpu))
    return statistics.median(times), min(times), out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("report", nargs="?", default=str(ROOT / "reports" / "adult-income-hgb" / "report.json"))
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()

    from trustaudit.api import load_report
    from trustaudit.render import render
    from trustaudit.render.html import render_html

    path = Path(args.report)
    report = load_report(path)
    report_dir = path.parent
    n_metrics = sum(len(c.metrics) for c in report.checks)
    print(f"report: {path} ({len(report.checks)} checks, {n_metrics} metrics, "
          f"{sum(len(c.conditions) for c in report.checks)} conditions)")
    print(f"cpu cores: {os.cpu_count()}, load average: {', '.join(f'{x:.1f}' for x in os.getloadavg())}")

    t0 = time.perf_counter()
    import weasyprint  # noqa: F401

    print(f"import weasyprint: {time.perf_counter() - t0:.2f} s (once per process)")
    render(report, "pdf", report_dir=report_dir)  # warm-up: fonts, CSS parsing caches

    med, best, html = _time(lambda: render_html(report, report_dir=report_dir, mode="pdf"), args.repeat)
    print(f"pdf  templating (HTML for WeasyPrint): median {med:.3f} s, best {best:.3f} s, cpu {CPU[-1]:.3f} s")
    from weasyprint import HTML

    from trustaudit.render.pdf import make_fetcher

    def layout():  # type: ignore[no-untyped-def]
        return HTML(string=html, base_url=report_dir.resolve().as_uri() + "/",
                    url_fetcher=make_fetcher(report_dir)).render()

    med_l, best_l, doc = _time(layout, args.repeat)
    print(f"pdf  WeasyPrint layout:                median {med_l:.3f} s, best {best_l:.3f} s, "
          f"cpu {CPU[-1]:.3f} s, {len(doc.pages)} pages")
    med_w, best_w, _ = _time(doc.write_pdf, args.repeat)
    print(f"pdf  WeasyPrint write:                 median {med_w:.3f} s, best {best_w:.3f} s, cpu {CPU[-1]:.3f} s")
    med_p, best_p, pdf = _time(lambda: render(report, "pdf", report_dir=report_dir), args.repeat)
    print(f"pdf  total:  median {med_p:.3f} s, best {best_p:.3f} s, "
          f"cpu {CPU[-1]:.3f} s, {len(pdf) / 1024:.0f} KiB")
    med_h, best_h, html_out = _time(lambda: render(report, "html", report_dir=report_dir), args.repeat)
    print(f"html total:  median {med_h:.3f} s, best {best_h:.3f} s, "
          f"cpu {CPU[-1]:.3f} s, {len(html_out) / 1024:.0f} KiB")
    med_m, best_m, md = _time(lambda: render(report, "md"), args.repeat)
    print(f"md   total:  median {med_m * 1000:.1f} ms, best {best_m * 1000:.1f} ms, {len(md)} characters")


if __name__ == "__main__":
    main()
