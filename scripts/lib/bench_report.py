"""The table of scripts/bench: medians over rounds of every figure, per broker, the
plugmq/mosquitto ratio and the issue's target for it; also written as JSON. Run by
scripts/bench; reads the per-run JSON files the load generator left in --results. With a
baseline (scripts/bench --baseline), the table adds its median and plugmq/baseline, and the
run-by-run lines add plugmq/baseline for every figure with a target."""

import argparse
import glob
import json
import statistics
import sys

BROKERS = ("mosquitto", "plugmq", "baseline")

# (run, figure, label, target as (kind, bound)): "min" = plugmq/mosquitto at least bound,
# "max" = at most bound; None = shown, no target.
ROWS = [
    ("fan-in", "delivered_per_s", "delivered msgs/s", ("min", 1.0)),
    ("fan-in", "latency_p50_us", "latency p50 us", None),
    ("fan-in", "latency_p99_us", "latency p99 us", None),
    ("fan-in", "broker_cpu_us_per_delivery", "broker CPU us/delivery", None),
    ("fan-out", "delivered_per_s", "delivered msgs/s", ("min", 1.0)),
    ("fan-out", "latency_p50_us", "latency p50 us", None),
    ("fan-out", "latency_p99_us", "latency p99 us", None),
    ("fan-out", "broker_cpu_us_per_delivery", "broker CPU us/delivery", None),
    ("pairs", "delivered_per_s", "delivered msgs/s", ("min", 1.0)),
    ("pairs", "latency_p50_us", "latency p50 us", None),
    ("pairs", "latency_p99_us", "latency p99 us", None),
    ("pairs", "broker_cpu_us_per_delivery", "broker CPU us/delivery", None),
    ("rate", "delivered_per_s", "delivered msgs/s", None),
    ("rate", "latency_p50_us", "latency p50 us", None),
    ("rate", "latency_p99_us", "latency p99 us", ("max", 2.0)),
    ("rate", "latency_max_us", "latency max us", None),
    ("rate", "broker_cpu_us_per_delivery", "broker CPU us/delivery", None),
    ("fan-in-qos1", "delivered_per_s", "delivered msgs/s", ("min", 2.0)),
    ("fan-in-qos1", "latency_p50_us", "latency p50 us", None),
    ("fan-in-qos1", "latency_p99_us", "latency p99 us", None),
    ("fan-in-qos1", "broker_cpu_us_per_delivery", "broker CPU us/delivery", None),
    ("fan-in-qos1", "stored_pct", "messages stored %", None),
    ("pairs-qos1", "delivered_per_s", "delivered msgs/s", ("min", 2.0)),
    ("pairs-qos1", "latency_p50_us", "latency p50 us", None),
    ("pairs-qos1", "latency_p99_us", "latency p99 us", None),
    ("pairs-qos1", "broker_cpu_us_per_delivery", "broker CPU us/delivery", None),
    ("pairs-qos1", "stored_pct", "messages stored %", None),
    ("idle", "rss_per_conn_bytes", "RSS bytes/connection", ("max", 1.0)),
    ("idle", "rss_after_kb", "RSS kB, all connected", None),
    ("idle", "connect_s", "seconds to log in all", None),
]


def fmt(v):
    if v is None:
        return "-"
    if isinstance(v, float) and abs(v) < 100:
        return f"{v:,.1f}"
    return f"{round(v):,}"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--results", required=True)
    ap.add_argument("--store", required=True)
    ap.add_argument("--store-source", default="")
    ap.add_argument("--out", required=True)
    ap.add_argument("--meta", nargs="*", default=[])
    a = ap.parse_args()

    meta = dict(m.split("=", 1) for m in a.meta)
    runs = []
    for path in sorted(glob.glob(f"{a.results}/*.json")):
        with open(path) as f:
            runs.append(json.load(f))

    def values(run, broker, figure):
        return [r[figure] for r in runs
                if r["run"] == run and r["broker"] == broker and "error" not in r
                and r.get(figure) is not None]

    medians = {}
    for run in sorted({r["run"] for r in runs}):
        medians[run] = {}
        figures = sorted({k for r in runs if r["run"] == run for k, v in r.items()
                          if isinstance(v, (int, float)) and not isinstance(v, bool)
                          and k != "round"})
        for b in BROKERS:
            medians[run][b] = {f: statistics.median(values(run, b, f))
                               for f in figures if values(run, b, f)}

    def desc(run):
        c, rs = meta.get("clients", "?"), meta.get("rate_scenario", "fan-in")
        return {
            "fan-in": f"fan-in, {c} pubs -> 1 sub",
            "fan-out": f"fan-out, 1 pub -> {c} subs",
            "pairs": f"pairs, {c} x (1 pub -> 1 sub)",
            "fan-in-qos1": f"QoS 1 fan-in, {c} pubs -> 1 sub",
            "pairs-qos1": f"QoS 1 pairs, {c} x (1 -> 1)",
            "rate": f"{rs}, {c} clients, {int(float(meta.get('rate', 0))):,}/s",
            "idle": f"idle, {int(meta.get('idle', 0)):,} connections",
        }[run]

    with_baseline = any(r["broker"] == "baseline" for r in runs)
    table = []
    lines = []
    head = f"{'scenario':<34}{'figure':<24}{'mosquitto':>12}{'plugmq':>12}{'plugmq/mosq':>13}"
    if with_baseline:
        head += f"{'baseline':>12}{'plugmq/base':>13}"
    head += "  target"
    lines.append(head)
    lines.append("-" * len(head))
    last_run = None
    for run, figure, label, target in ROWS:
        if run not in medians:
            continue
        m = medians[run]["mosquitto"].get(figure)
        p = medians[run]["plugmq"].get(figure)
        b = medians[run]["baseline"].get(figure)
        ratio = (p / m) if (m not in (None, 0) and p is not None) else None
        vs_base = (p / b) if (b not in (None, 0) and p is not None) else None
        verdict = ""
        if target and ratio is not None:
            kind, bound = target
            ok = ratio >= bound if kind == "min" else ratio <= bound
            verdict = f"{'>=' if kind == 'min' else '<='} {bound:.1f}x {'met' if ok else 'MISSED'}"
        row = {"run": run, "figure": figure, "mosquitto": m, "plugmq": p,
               "ratio": None if ratio is None else round(ratio, 3), "target": verdict}
        name = desc(run) if run != last_run else ""
        last_run = run
        rtext = "-" if ratio is None else f"{ratio:.2f}x"
        line = f"{name:<34}{label:<24}{fmt(m):>12}{fmt(p):>12}{rtext:>13}"
        if with_baseline:
            row.update({"baseline": b, "vs_baseline": None if vs_base is None else round(vs_base, 3)})
            btext = "-" if vs_base is None else f"{vs_base:.2f}x"
            line += f"{fmt(b):>12}{btext:>13}"
        table.append(row)
        lines.append(f"{line}  {verdict}")

    # A median of a few rounds can pass on one broker's bad luck: the targets' figures round by
    # round show whether the verdict holds in each.
    per_round = {}
    lines.append("")
    lines.append("targets run by run (plugmq/mosquitto, each pair of runs of a round):")
    for run, figure, label, target in ROWS:
        if not target or run not in medians:
            continue
        kind, bound = target
        by_round = {}
        for r in runs:
            if r["run"] == run and "error" not in r and r.get(figure) is not None:
                key = (r.get("round"), r.get("sample", 0))
                by_round.setdefault(key, {})[r["broker"]] = r[figure]
        def ratios_to(other):
            out = []
            for rnd in sorted(k for k in by_round if k[0] is not None):
                pair = by_round[rnd]
                if pair.get(other) and pair.get("plugmq") is not None:
                    out.append(pair["plugmq"] / pair[other])
            return out

        ratios = ratios_to("mosquitto")
        held = sum(1 for x in ratios if (x >= bound if kind == "min" else x <= bound))
        per_round[f"{run}.{figure}"] = [round(x, 3) for x in ratios]
        lines.append(f"  {desc(run) + ', ' + label:<52}"
                     f"{' '.join(f'{x:.2f}x' for x in ratios):<30} "
                     f"within target in {held} of {len(ratios)}")
        if with_baseline:
            vs = ratios_to("baseline")
            per_round[f"{run}.{figure}.vs_baseline"] = [round(x, 3) for x in vs]
            lines.append(f"  {'  plugmq/baseline':<52}{' '.join(f'{x:.2f}x' for x in vs)}")

    # Loss, disconnects and failures over every run: a broker that drops is not faster.
    lines.append("")
    for b in BROKERS:
        mine = [r for r in runs if r["broker"] == b]
        if not mine:
            continue
        loss = sum(r.get("loss", 0) for r in mine if "error" not in r)
        exp = sum(r.get("expected", 0) for r in mine if "error" not in r)
        disc = sum(r.get("disconnects", 0) for r in mine if "error" not in r)
        fails = sum(r.get("connect_failures", 0) for r in mine if "error" not in r)
        errors = [f"{r['run']} round {r['round']}: {r['error']}" for r in mine if "error" in r]
        lines.append(f"{b:<10} all runs: loss {loss:,} of {exp:,} deliveries, "
                     f"{disc} disconnects, {fails} connect failures, {len(errors)} failed runs")
        for e in errors:
            lines.append(f"           {e}")

    with open(a.store) as f:
        text = f.read().strip()
    store = json.loads(text) if text else {}
    if store:
        lines.append("")
        lines.append(f"store figures ({a.store_source}):")
        lines.append(f"  ingest {store.get('records', 0):,} records: "
                     f"{store.get('insert_per_s', 0):,} records/s; history load "
                     f"{store.get('history_records', 0):,}: {store.get('history_load_per_s', 0):,}"
                     f" records/s, {store.get('bytes_per_record')} bytes/record")
        lines.append(f"  last 100 of a channel: exact mask + of median "
                     f"{store.get('exact_of_median_us')} us p99 {store.get('exact_of_p99_us')} us;"
                     f" '+' mask any device median {store.get('plus_any_median_us')} us")
        lines.append(f"  delete_expired: {store.get('sweep_per_s', 0):,} records/s")

    lines.insert(0, "")
    lines.insert(1, f"plugmq {meta.get('plugmq', '?')} vs mosquitto {meta.get('mosquitto', '?')}"
                    + (f" and baseline plugmq {meta['baseline']}" if "baseline" in meta else "")
                    + ": "
                    f"medians of {meta.get('rounds')} round(s); payload {meta.get('payload')} B, "
                    f"QoS 0 (QoS 1 rows: QoS 1 publishers and subscriptions), "
                    f"{meta.get('duration_s')} s windows after {meta.get('warmup_s')} s "
                    f"warmup, closed loop {meta.get('inflight')} in flight per publisher; "
                    f"fixed rate: {meta.get('rate_runs', 1)} run(s) per round of "
                    f"{meta.get('rate_duration_s', meta.get('duration_s'))} s; "
                    f"{meta.get('cores')} cores, load average {meta.get('loadavg_start')} at "
                    f"start, {meta.get('loadavg_end')} at end")
    lines.insert(2, "")
    print("\n".join(lines))

    result = {"meta": meta, "table": table, "medians": medians, "per_round": per_round,
              "store": store,
              "store_source": a.store_source, "runs": runs}
    with open(a.out, "w") as f:
        json.dump(result, f, indent=1)
        f.write("\n")
    print(f"\nresults as JSON: {a.out}")


if __name__ == "__main__":
    sys.exit(main())
