#!/usr/bin/env python3
"""analysis/plot.py: gnuplot plots of the runs in an iovsim trace database.

usage: python3 analysis/plot.py DB OUTDIR [--runs N,N,...]

Writes, for the chosen runs (default: all complete runs):
  OUTDIR/buckets.png   simulated cycles by bucket (guest, vmm, device-model,
                       backend, idle), one stacked bar per run
  OUTDIR/exits.png     VM exits by basic exit reason, count and mean cycles
and beside each its gnuplot script (.gp) and data (.dat), so a plot can be
restyled and redrawn with gnuplot alone.  Reads the database read-only
with the standard library's sqlite3 (the schema: docs/trace-schema.md).
Exit status: 0 done, 2 usage or database error, 3 gnuplot failed.
"""

import os
import sqlite3
import subprocess
import sys

BUCKETS = ["guest", "vmm", "device-model", "backend", "idle"]


def die(msg, status=2):
    print(f"plot.py: {msg}", file=sys.stderr)
    sys.exit(status)


def open_db(path):
    if not os.path.exists(path):
        die(f"{path}: no such file")
    try:
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        app = db.execute("PRAGMA application_id").fetchone()[0]
    except sqlite3.DatabaseError as e:
        die(f"{path}: not an SQLite database ({e})")
    if app != 0x494F5653:
        die(f"{path}: not an iovsim trace database")
    return db


def run_labels(db, runs):
    labels = {}
    for run, name in db.execute("SELECT id, name FROM runs"):
        if run in runs:
            labels[run] = f"{run}: {name}"
    return labels


def plot_buckets(db, runs, labels, out):
    rows = []
    for run in runs:
        cycles = dict.fromkeys(BUCKETS, 0)
        for bucket, c in db.execute(
                "SELECT bucket, SUM(cycles) FROM counters WHERE run = ? "
                "GROUP BY bucket", (run,)):
            if bucket in cycles:
                cycles[bucket] = c
        rows.append([labels[run]] + [cycles[b] / 1e6 for b in BUCKETS])
    dat = os.path.join(out, "buckets.dat")
    with open(dat, "w") as f:
        f.write("# run " + " ".join(BUCKETS) + "  (millions of cycles)\n")
        for r in rows:
            f.write('"%s" %s\n' % (r[0], " ".join("%.6f" % v for v in r[1:])))
    using = " ".join(
        f"'{dat}' using {i + 2}{':xtic(1)' if i == 0 else ''} "
        f"title '{b}'{',' if i < len(BUCKETS) - 1 else ''}"
        for i, b in enumerate(BUCKETS))
    return f"""set terminal pngcairo size 900,540 noenhanced
set output '{os.path.join(out, 'buckets.png')}'
set title 'Simulated cycles by bucket'
set ylabel 'millions of cycles'
set style data histograms
set style histogram rowstacked
set style fill solid 0.8 border -1
set boxwidth 0.6
set key outside right
set xtics rotate by -20
plot {using}
"""


def plot_exits(db, runs, labels, out):
    reasons = {}
    for run in runs:
        for name, count, cycles in db.execute(
                "SELECT substr(bucket, 6), count, cycles FROM counters "
                "WHERE run = ? AND bucket LIKE 'exit:%'", (run,)):
            reasons.setdefault(name, {})[run] = (count, cycles)
    if not reasons:
        return None
    dat = os.path.join(out, "exits.dat")
    with open(dat, "w") as f:
        f.write("# reason " + " ".join(
            f"count_run{r} meancycles_run{r}" for r in runs) + "\n")
        for name in sorted(reasons):
            vals = []
            for r in runs:
                count, cycles = reasons[name].get(r, (0, 0))
                vals += [count, cycles / count if count else 0]
            f.write(f'"{name}" ' + " ".join(str(v) for v in vals) + "\n")
    cols = ", ".join(
        f"'{dat}' using {2 + 2 * i}{':xtic(1)' if i == 0 else ''} "
        f"title '{labels[r]}'" for i, r in enumerate(runs))
    means = ", ".join(
        f"'{dat}' using {3 + 2 * i}{':xtic(1)' if i == 0 else ''} "
        f"title '{labels[r]}'" for i, r in enumerate(runs))
    return f"""set terminal pngcairo size 900,900 noenhanced
set output '{os.path.join(out, 'exits.png')}'
set multiplot layout 2,1 title 'VM exits by basic exit reason'
set style data histograms
set style histogram clustered
set style fill solid 0.8 border -1
set key outside right
set logscale y
set ylabel 'exits'
plot {cols}
unset logscale y
set ylabel 'mean cycles per exit'
plot {means}
unset multiplot
"""


def main(argv):
    args = [a for a in argv[1:] if not a.startswith("--runs")]
    runs_arg = [a for a in argv[1:] if a.startswith("--runs")]
    if len(args) != 2 or "-h" in argv or "--help" in argv:
        print(__doc__, file=sys.stderr)
        return 2
    db = open_db(args[0])
    out = args[1]
    os.makedirs(out, exist_ok=True)
    if runs_arg:
        try:
            runs = [int(x) for x in runs_arg[0].split("=", 1)[1].split(",")]
        except (IndexError, ValueError):
            die("--runs=N,N,... expects run ids")
    else:
        runs = [r for (r,) in db.execute(
            "SELECT id FROM runs WHERE complete = 1 ORDER BY id")]
    labels = run_labels(db, runs)
    missing = [r for r in runs if r not in labels]
    if missing or not runs:
        die(f"{args[0]}: no such run(s): {missing or 'none complete'}")
    scripts = [("buckets", plot_buckets(db, runs, labels, out)),
               ("exits", plot_exits(db, runs, labels, out))]
    for name, script in scripts:
        if script is None:
            continue
        gp = os.path.join(out, name + ".gp")
        with open(gp, "w") as f:
            f.write(script)
        r = subprocess.run(["gnuplot", gp], capture_output=True, text=True)
        if r.returncode != 0:
            die(f"gnuplot {gp}: {r.stderr.strip()}", 3)
        print(f"plot: {os.path.join(out, name + '.png')}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
