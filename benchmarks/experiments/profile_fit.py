"""cProfile one default `neep fit` (the README's main job) and print where the time goes.

    PYTHONPATH=$PWD/.src python benchmarks/experiments/profile_fit.py /work/research-data/beads.npy /tmp/run_prof
"""

import cProfile
import pstats
import shutil
import sys
import time

from neep.cli.main import cli

data, out = sys.argv[1], sys.argv[2]
shutil.rmtree(out, ignore_errors=True)
prof = cProfile.Profile()
t0 = time.perf_counter()
prof.enable()
try:
    cli.main(["fit", data, "-o", out], standalone_mode=False)
finally:
    prof.disable()
print(f"total {time.perf_counter() - t0:.1f} s", file=sys.stderr)
prof.dump_stats(out.rstrip("/") + ".prof")
stats = pstats.Stats(prof, stream=sys.stdout).sort_stats("cumulative")
stats.print_stats(r"neep/(estimators|cli)/", 60)
