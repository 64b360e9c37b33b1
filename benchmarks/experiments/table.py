"""Markdown table of the probe results (one row per fit in probe.jsonl, in order).

    python benchmarks/experiments/table.py /work/research-data/probe.jsonl
"""

import json
import sys

print("| data | setting | rate | 95 % interval | truth | error | covers | time s | kept / stopped at | gain in val. J (paired SE) |")
print("|---|---|---|---|---|---|---|---|---|---|")
with open(sys.argv[1]) as f:
    records = [json.loads(line) for line in f]
for r in records:
    gain = "" if r.get("gain") is None else f"{r['gain']:.2e} ({r['gain_se_paired']:.1e})"
    print(f"| {r['data']} | {r['setting']} | {r['rate']:.4f} | {r['low']:.3f} .. {r['high']:.3f} | "
          f"{r['truth_held_out']:.4f} | {100 * r['error']:+.1f} % | {'yes' if r['covers'] else 'no'} | "
          f"{r['seconds']:.0f} | {r['kept_iteration']} / {r['stopped_at']} | {gain} |")
