#!/usr/bin/env python3
"""The powerbatch-lab example test: simulate on a short trace with --json into the build directory, check the JSON,
run in real time for about a second, and check that an unknown name fails with the list of valid ones."""
import json
import os
import subprocess
import sys

lab, build_dir = sys.argv[1], sys.argv[2]
json_path = os.path.join(build_dir, "lab_simulate.json")
html_path = os.path.join(build_dir, "lab_simulate.html")


def run(args, expect=0):
    proc = subprocess.run([lab] + args, capture_output=True, text=True, timeout=100)
    print("$ powerbatch-lab " + " ".join(args))
    print(proc.stdout + proc.stderr)
    if proc.returncode != expect:
        sys.exit(f"exit status {proc.returncode}, expected {expect}")
    return proc


run(["simulate", "--trace", "bursty:low=50,high=800,mean_low=2s,mean_high=0.5s,duration=30s",
     "--profiles", "max_performance,balanced,power_saver", "--backend", "spin:a=20us,b=200us",
     "--json", json_path, "--html", html_path, "--no-progress"])
with open(json_path) as f:
    report = json.load(f)
results = report["results"]
assert [r["profile"] for r in results] == ["max_performance", "balanced", "power_saver"], results
keys = ["profile", "requests", "p50_ms", "p99_ms", "throughput_rps", "mean_batch", "wakeups_per_request",
        "energy_mj_per_request"]
for r in results:
    missing = [k for k in keys if k not in r]
    assert not missing, f"{r['profile']}: missing {missing}"
    assert r["requests"] > 5000 and r["completed"] == r["requests"], r
    assert 0 < r["p50_ms"] <= r["p99_ms"], r
    assert r["mean_batch"] >= 1 and r["wakeups_per_request"] > 0 and r["energy_mj_per_request"] > 0, r
# The same trace for every set; a longer tolerance batches more and wakes less.
assert len({r["requests"] for r in results}) == 1, results
assert results[2]["mean_batch"] > results[0]["mean_batch"], results
assert results[2]["wakeups_per_request"] < results[0]["wakeups_per_request"], results
with open(html_path) as f:
    assert "power_saver" in f.read()

run(["run", "--trace", "poisson:rate=200,duration=1s", "--profiles", "balanced", "--backend", "digits",
     "--json", os.path.join(build_dir, "lab_run.json"), "--no-html", "--no-progress"])
with open(os.path.join(build_dir, "lab_run.json")) as f:
    r = json.load(f)["results"][0]
assert r["profile"] == "balanced" and r["requests"] > 100 and r["completed"] == r["requests"], r

bad = run(["simulate", "--profiles", "balanced,warp_speed", "--backend", "noop"], expect=2)
assert "unknown profile 'warp_speed'" in bad.stderr and "power_saver" in bad.stderr, bad.stderr
bad = run(["run", "--backend", "gpt5"], expect=2)
assert "unknown backend 'gpt5'" in bad.stderr and "mlp1024" in bad.stderr, bad.stderr
print("powerbatch-lab example: OK")
