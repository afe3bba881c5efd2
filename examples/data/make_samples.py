#!/usr/bin/env python3
"""Writes the sample inputs of the report examples, deterministically (fixed seeds, stdlib only).

capacity_sample.csv  daily use of five resources over eight months (2026-03-01 to 2026-10-31):
                     a linear trend, a weekly season (weekdays busy, weekends quiet) and noise.
load_trace.csv       requests per second, one point a minute over four days (2026-11-01 to
                     2026-11-04): a daily cycle with a steep morning ramp, 3% growth a day, noise,
                     and on the last day a 25-minute flash crowd at 14:00 that no history shows.

Run from the repository root: python3 examples/data/make_samples.py
"""
import csv
import math
import os
import random
from datetime import datetime, timedelta, timezone

HERE = os.path.dirname(os.path.abspath(__file__))


def capacity_sample():
    rng = random.Random(6)
    start = datetime(2026, 3, 1, tzinfo=timezone.utc)
    days = (datetime(2026, 10, 31, tzinfo=timezone.utc) - start).days + 1
    rows = []
    for d in range(days):
        t = start + timedelta(days=d)
        weekday = t.weekday() < 5
        cpu = (20.0 + 0.035 * d) * (1.10 if weekday else 0.75) + rng.gauss(0, 0.8)
        memory = (120.0 + 0.15 * d) * (1.03 if weekday else 0.95) + rng.gauss(0, 2.0)
        storage = 900.0 + 4.5 * d + rng.gauss(0, 6.0)
        bandwidth = (300.0 + 0.4 * d) * (1.25 if weekday else 0.55) + rng.gauss(0, 12.0)
        requests = (800.0 + 2.0 * d) * (1.30 if weekday else 0.60) + rng.gauss(0, 40.0)
        rows.append([
            t.strftime("%Y-%m-%dT%H:%M:%SZ"),
            f"{cpu:.2f}", f"{memory:.1f}", f"{storage:.1f}", f"{bandwidth:.1f}", f"{requests:.0f}",
        ])
    with open(os.path.join(HERE, "capacity_sample.csv"), "w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["timestamp", "cpu_cores", "memory_gib", "storage_gib", "bandwidth_mbps",
                    "requests_per_s"])
        w.writerows(rows)


def daily_shape(hour):
    """Requests per second over a day, before growth: quiet nights, a steep ramp 07:45-09:15,
    a lunch dip and an evening shoulder."""
    base = 300.0
    morning = 1700.0 / (1.0 + math.exp(-(hour - 8.5) * 4.0))
    evening = -1700.0 / (1.0 + math.exp(-(hour - 21.0) * 1.5))
    lunch = -250.0 * math.exp(-((hour - 12.5) ** 2) / 0.5)
    afternoon = 400.0 * math.exp(-((hour - 16.0) ** 2) / 3.0)
    return max(base + morning + evening + lunch + afternoon, 150.0)


def load_trace():
    rng = random.Random(7)
    start = datetime(2026, 11, 1, tzinfo=timezone.utc)
    rows = []
    for m in range(4 * 24 * 60):
        day, minute = divmod(m, 24 * 60)
        hour = minute / 60.0
        demand = daily_shape(hour) * (1.03 ** day) * (1.0 + rng.gauss(0, 0.04))
        if day == 3 and 14 * 60 <= minute < 14 * 60 + 25:
            demand *= 1.6
        t = start + timedelta(minutes=m)
        rows.append([t.strftime("%Y-%m-%dT%H:%M:%SZ"), f"{max(demand, 0.0):.1f}"])
    with open(os.path.join(HERE, "load_trace.csv"), "w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["timestamp", "requests_per_s"])
        w.writerows(rows)


if __name__ == "__main__":
    capacity_sample()
    load_trace()
