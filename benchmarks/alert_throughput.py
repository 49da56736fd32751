"""Benchmark: the alert stage's fused steps/s beside a raw aiokafka consumer, same run.

A thin wrapper of ``gridbrain benchmark alert-stage`` (gridbrain.cli.bench_alert); see
``--help`` for the options.

Usage: .venv/bin/python benchmarks/alert_throughput.py [--sites 4] [--csv PATH]
"""

from gridbrain.cli.bench_alert import alert_stage

if __name__ == "__main__":
    alert_stage()
