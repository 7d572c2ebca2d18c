#!/usr/bin/env python3
"""Holdout check of the prediction models on the CDNOW sample (tests/data/).

The CDNOW sample covers 78 weeks (1997-01-01 to 1998-06-30). As in Fader,
Hardie & Lee (2005), BG/NBD is fitted on the first half (the calibration period,
to 1997-09-30) and predicts each customer's repeat purchases of the second half
(the holdout period, 273 days), compared with what they did. The summary is made
as the nightly engine makes it (models/engines/prediction.py): purchase days,
in days; repeat purchases are the purchase days after the first.

    python3 tools/prediction_holdout.py [--plot docs/prediction/calibration.png]

prints the tables of docs/prediction.md; ``--plot`` draws the calibration plot
(needs matplotlib). No database: the models are the addon's own functions.

With ``--demo DATABASE --config FILE`` (a database with the addon installed;
``bash tools/harness.sh prediction-holdout`` makes one and runs this), the same
check runs on the history of the demo generator (``housekeeping.demo``, fixed
seed, ``--customers`` customers, three years up to ``--today``), generated
inside a transaction that is rolled back: the engine's own summary statement
(``_prediction_summary``, local days) with the cut-off in the middle of the
history, BG/NBD fitted on the first half, each customer's repeat visit days of
the second half predicted and compared with the generated ones.
"""

import argparse
import importlib.util
import sys
from datetime import date, timedelta
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "tests" / "data" / "CDNOW_sample.txt"
START, CUTOFF, END = date(1997, 1, 1), date(1997, 9, 30), date(1998, 6, 30)


def load_models():
    """The addon's models/housekeeping_prediction.py, loaded by its path (the
    checkout's folder is not named after the addon), under the module name Odoo
    expects of an addon's file."""
    name = "odoo.addons.housekeeping_membership.models.housekeeping_prediction"
    spec = importlib.util.spec_from_file_location(
        name, ROOT / "models" / "housekeeping_prediction.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def load_days():
    """Customer index and day (days since START) of every purchase day, and the
    amount of each purchase day."""
    raw = np.loadtxt(DATA, dtype=str)
    customer = raw[:, 1].astype(int)
    dates = raw[:, 2]
    days = np.array([f"{d[:4]}-{d[4:6]}-{d[6:]}" for d in dates], dtype="datetime64[D]").astype(
        int
    ) - np.datetime64(START, "D").astype(int)
    amount = raw[:, 4].astype(float)
    # one purchase occasion per customer and day (the amounts of a day summed)
    keys, inverse = np.unique(np.column_stack([customer, days]), axis=0, return_inverse=True)
    day_amount = np.bincount(inverse.ravel(), weights=amount)
    return keys[:, 0], keys[:, 1], day_amount


def summary(customer, day, cutoff):
    """Per customer (0-based index): repeat purchase days up to ``cutoff``,
    recency and age at ``cutoff`` (days), and purchase days after it."""
    ids = customer - customer.min()
    n = ids.max() + 1
    first = np.full(n, np.iinfo(np.int64).max)
    np.minimum.at(first, ids, day)
    calibration = day <= cutoff
    x = np.bincount(ids[calibration], minlength=n) - 1
    last = np.full(n, -1)
    np.maximum.at(last, ids[calibration], day[calibration])
    holdout = np.bincount(ids[~calibration], minlength=n)
    return x.astype(float), (last - first).astype(float), (cutoff - first).astype(float), holdout


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--plot", help="write the calibration plot (PNG) there")
    parser.add_argument("--demo", metavar="DATABASE", help="the demo generator's history")
    parser.add_argument("--config", help="the Odoo configuration file (with --demo)")
    parser.add_argument("--customers", type=int, default=2000, help="demo customers")
    parser.add_argument("--today", default="2026-12-01", help="the demo's today (with --demo)")
    args = parser.parse_args(argv)
    if args.demo:
        return demo(args)
    models = load_models()
    customer, day, _amount = load_days()
    cutoff = (CUTOFF - START).days
    horizon = (END - CUTOFF).days
    x, t_x, age, actual = summary(customer, day, cutoff)
    fit = models.fit_bgnbd_arrays(x, t_x, age)
    params = (fit["r"], fit["alpha"], fit["a"], fit["b"])
    predicted = models.bgnbd_expected_visits(params, horizon, x, t_x, age)
    alive = models.bgnbd_probability_alive(params, x, t_x, age)

    print(f"Customers: {len(x)}; calibration to {CUTOFF} ({cutoff} days), ")
    print(f"holdout to {END} ({horizon} days).\n")
    print("| parameter | fitted (days) | in weeks | paper (weeks) |")
    print("| --- | --- | --- | --- |")
    published = {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}
    for key, value in zip(("r", "alpha", "a", "b"), params, strict=True):
        weeks = value / 7 if key == "alpha" else value
        print(f"| {key} | {value:.4f} | {weeks:.3f} | {published[key]} |")
    print(f"| log-likelihood | {fit['log_likelihood']:.1f} | | -9582.4 (in weeks) |\n")

    print(
        "| repeat purchase days in calibration | customers | actual in holdout (mean) "
        "| predicted (mean) | P(alive) (mean) |"
    )
    print("| --- | --- | --- | --- | --- |")
    groups = np.minimum(x, 7).astype(int)
    rows = []
    for group in range(8):
        members = groups == group
        label = f"{group}+" if group == 7 else str(group)
        rows.append((label, actual[members].mean(), predicted[members].mean()))
        print(
            f"| {label} | {members.sum()} | {actual[members].mean():.3f} "
            f"| {predicted[members].mean():.3f} | {alive[members].mean():.3f} |"
        )
    total_actual, total_predicted = int(actual.sum()), float(predicted.sum())
    print(
        f"| all | {len(x)} | {actual.mean():.3f} | {predicted.mean():.3f} | {alive.mean():.3f} |\n"
    )
    print(
        f"Holdout total: {total_predicted:.1f} repeat purchase days predicted, "
        f"{total_actual} actual ({100 * (total_predicted - total_actual) / total_actual:+.1f} %); "
        f"mean absolute error per customer {np.abs(predicted - actual).mean():.3f}."
    )
    if args.plot:
        plot(rows, args.plot)
    return 0


# repeat visit days in the calibration period: the demo's weekly customers have
# dozens, its monthly ones a dozen or so
DEMO_GROUPS = ((0, 0), (1, 1), (2, 2), (3, 5), (6, 10), (11, 20), (21, 40), (41, None))


def demo(args):
    """The holdout check on the demo generator's history (see the module's
    docstring); prints the table of docs/prediction.md."""
    from freezegun import freeze_time  # noqa: PLC0415

    import odoo  # noqa: PLC0415
    from odoo.modules.registry import Registry  # noqa: PLC0415

    odoo.tools.config.parse_config(["-c", args.config, "-d", args.demo, "--log-level=warn"])
    registry = Registry(args.demo)
    with registry.cursor() as cr, freeze_time(f"{args.today} 12:00:00"):
        env = odoo.api.Environment(cr, odoo.SUPERUSER_ID, {"tz": "Asia/Shanghai"})
        try:
            return demo_check(env, args)
        finally:
            cr.rollback()


def demo_check(env, args):
    from odoo.addons.housekeeping_membership.models.housekeeping_prediction import (  # noqa: PLC0415
        bgnbd_expected_visits,
        bgnbd_probability_alive,
        fit_bgnbd_arrays,
    )

    partners = env["housekeeping.demo"]._generate_demo_data(customers=args.customers)
    company = partners.company_id
    env.flush_all()
    env.cr.execute(
        """SELECT min(v.date), max(v.date) FROM housekeeping_visit v
            WHERE v.state = 'done' AND v.partner_id = ANY(%s)""",
        [partners.ids],
    )
    first, last = env.cr.fetchone()
    today = date.fromisoformat(args.today)
    # the cut-off in the middle of the history: the holdout is its second half
    holdout_days = (today - first.date()).days // 2
    summary = env["housekeeping.engine.prediction"]._prediction_summary(holdout_days)[company.id]
    calibration = summary[(summary["age_cal"] >= 0) & (summary["x_cal"] >= 0)]
    x = calibration["x_cal"].astype(float)
    t_x = calibration["t_x_cal"].astype(float)
    age = calibration["age_cal"].astype(float)
    actual = calibration["x_holdout"].astype(float)
    fit = fit_bgnbd_arrays(x, t_x, age)
    params = (fit["r"], fit["alpha"], fit["a"], fit["b"])
    predicted = bgnbd_expected_visits(params, holdout_days, x, t_x, age)
    alive = bgnbd_probability_alive(params, x, t_x, age)
    cutoff = today - timedelta(days=holdout_days)
    print(
        f"Demo generator: {args.customers} customers, {len(summary)} with done visits "
        f"({first.date()} to {last.date()}); calibration to {cutoff}, holdout "
        f"{holdout_days} days to {today}; {len(x)} customers whose first visit came by the "
        f"cut-off.\n"
    )
    print(
        f"BG/NBD on the calibration period (days): r {fit['r']:.4f}, α {fit['alpha']:.3f}, "
        f"a {fit['a']:.4f}, b {fit['b']:.4f}, log-likelihood {fit['log_likelihood']:.1f}.\n"
    )
    print(
        "| repeat visit days in calibration | customers | actual in holdout (mean) "
        "| predicted (mean) | P(alive) (mean) |"
    )
    print("| --- | --- | --- | --- | --- |")
    rows = []
    for low, high in DEMO_GROUPS:
        members = (x >= low) & (x <= high if high is not None else True)
        if not members.any():
            continue
        label = str(low) if low == high else f"{low}+" if high is None else f"{low}–{high}"
        rows.append((label, actual[members].mean(), predicted[members].mean()))
        print(
            f"| {label} | {members.sum()} | {actual[members].mean():.2f} "
            f"| {predicted[members].mean():.2f} | {alive[members].mean():.3f} |"
        )
    total_actual, total_predicted = int(actual.sum()), float(predicted.sum())
    print(
        f"| all | {len(x)} | {actual.mean():.2f} | {predicted.mean():.2f} | {alive.mean():.3f} |\n"
    )
    print(
        f"Holdout total: {total_predicted:.0f} repeat visit days predicted, {total_actual} "
        f"actual ({100 * (total_predicted - total_actual) / total_actual:+.1f} %); mean "
        f"absolute error per customer {np.abs(predicted - actual).mean():.2f}."
    )
    if args.plot:
        plot(
            rows,
            args.plot,
            xlabel=f"repeat visit days in the calibration period ({holdout_days} days)",
            ylabel=f"mean visit days in the holdout ({holdout_days} days)",
            title=f"Demo generator ({args.customers} customers): holdout check",
        )
    return 0


def plot(rows, path, xlabel=None, ylabel=None, title=None):
    import matplotlib  # noqa: PLC0415

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # noqa: PLC0415

    labels = [row[0] for row in rows]
    figure, axis = plt.subplots(figsize=(7, 4.2))
    axis.plot(labels, [row[1] for row in rows], "o-", label="actual", color="#333333")
    axis.plot(labels, [row[2] for row in rows], "s--", label="BG/NBD prediction", color="#d1495b")
    axis.set_xlabel(xlabel or "repeat purchase days in the calibration period (39 weeks)")
    axis.set_ylabel(ylabel or "mean purchase days in the holdout (39 weeks)")
    axis.set_title(title or "CDNOW sample: conditional expectations, holdout check")
    axis.grid(alpha=0.3)
    axis.legend()
    figure.tight_layout()
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=110)
    print(f"\nplot written to {path}")


if __name__ == "__main__":
    sys.exit(main())
