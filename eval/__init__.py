"""The offline eval harness: tasks, a runner and report writers.

`medassist eval run TASK...` builds the Assistant (or only what a task needs), runs each task's
examples one by one, streams per-sample rows to JSONL as it goes (so `--resume` continues after a
crash), then writes `results_<time>.json`, a markdown report and PNG plots. See docs/eval.md.
"""
