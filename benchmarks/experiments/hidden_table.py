"""The five-data-set table of issue 17 from `neep fit` run folders (summary.json): estimate, interval, covered.

Usage: python benchmarks/experiments/hidden_table.py RUN_DIR [RUN_DIR ...] (each a `neep fit` folder on a
hidden-ratchet file; the limit is the run's own `ep_per_step_target`, the partial-information limit of its
window length). Prints one markdown row per run and the coverage count.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path


def main(folders: list[str]) -> None:
    print("| data | estimate ± se | 95 % interval | limit | vs limit | covered | seeds | flags | fit s |")
    print("|---|---|---|---|---|---|---|---|---|")
    covered = 0
    for folder in folders:
        s = json.loads((Path(folder) / "summary.json").read_text())
        low, high = s["ep_rate_interval"]
        limit = s["ep_per_step_target"]
        hit = low <= limit <= high
        covered += hit
        seeds = ", ".join(f"{r:.5f}" for r in s["ep_rate_per_seed"])
        flags = "; ".join(f.split(":")[0] for f in s["flags"]) or "none"
        print(f"| {s['data']} | {s['ep_rate']:.5f} ± {s['ep_rate_stderr']:.5f} | {low:.5f} .. {high:.5f} | "
              f"{limit:.5f} | {100 * (s['ep_rate'] / limit - 1):+.1f} % | {'yes' if hit else 'no'} | {seeds} | "
              f"{flags} | {s['seconds']:.0f} |")
    print(f"\ncovered: {covered} of {len(folders)}")


if __name__ == "__main__":
    main(sys.argv[1:])
