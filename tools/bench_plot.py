#!/usr/bin/env python3
"""`make bench-plot`: run time versus population for each engine, from the JSON
results that `make bench SCALE=…` leaves in .cache/ (copied to docs/benchmarks/).

Draws docs/benchmarks/growth.png on log–log axes with a dotted line of slope 1
(linear growth) through each engine's smallest run, so that linear or better
growth is visible at a glance. Needs matplotlib (installed by the harness).
"""

import glob
import json
import os
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

ENGINES = (
    ("stats", "visit statistics"),
    ("lifecycle", "lifecycle, first run"),
    ("lifecycle_rerun", "lifecycle, rerun"),
    ("tiers", "tiers, first run"),
    ("tiers_rerun", "tiers, rerun"),
    ("rfm", "RFM"),
    ("recommendations", "recommendations"),
    ("expiry", "points expiry"),
)


def main(folder):
    runs = []
    for path in glob.glob(os.path.join(folder, "*.json")):
        with open(path) as fh:
            runs.append(json.load(fh))
    runs.sort(key=lambda r: r["customers"])
    if len(runs) < 2:
        print(f"need at least two scales in {folder}", file=sys.stderr)
        return 1
    fig, ax = plt.subplots(figsize=(9, 6), dpi=110)
    for key, label in ENGINES:
        points = [
            (run["customers"], row["seconds"])
            for run in runs
            for row in run["rows"]
            if row["key"] == key
        ]
        if len(points) < 2:
            continue
        xs, ys = zip(*points, strict=True)
        (line,) = ax.plot(xs, ys, marker="o", label=label)
        ax.plot(
            [xs[0], xs[-1]],
            [ys[0], ys[0] * xs[-1] / xs[0]],
            linestyle=":",
            color=line.get_color(),
            linewidth=1,
        )
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("customers")
    ax.set_ylabel("run time (s)")
    ax.set_title("Engine run time versus population (dotted: linear growth)")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    out = os.path.join(folder, "growth.png")
    fig.tight_layout()
    fig.savefig(out)
    print(out)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "docs/benchmarks"))
