"""Results tables: collection from output folders, mean ± std over seeds, markdown and CSV."""
import csv
import io
import json
import os

import pytest

from mvlpt.results import build_table, collect, parse_log, to_csv, to_markdown
from mvlpt.results.cli import main as results_main


def _run(root, rel, best, last=None, meta=None):
    d = os.path.join(root, rel)
    os.makedirs(d, exist_ok=True)
    json.dump(best, open(os.path.join(d, "results_best.json"), "w"))
    json.dump(last if last is not None else best, open(os.path.join(d, "results_last.json"), "w"))
    if meta:
        json.dump(meta, open(os.path.join(d, "run.json"), "w"))
    return d


def test_mean_std_markdown_csv(tmp_path):
    root = str(tmp_path)
    _run(root, "target/CoOp/a/seed1", {"accuracy": 50.0}, {"accuracy": 40.0}, {"datasets": ["a"], "seed": 1, "final_model": "best_val"})
    _run(root, "target/CoOp/a/seed2", {"accuracy": 60.0}, {"accuracy": 44.0}, {"datasets": ["a"], "seed": 2,
                                                                               "final_model": "best_val"})
    _run(root, "target/CoOp/b/seed1", {"accuracy": 70.0}, None, {"datasets": ["b"], "seed": 1, "final_model": "best_val"})
    _run(root, "target/CoOp/b/seed2", {"accuracy": 90.0}, None, {"datasets": ["b"], "seed": 2, "final_model": "best_val"})
    # a grouped multitask run: per-task keys
    _run(root, "target/MCoOp-group/ab/seed1", {"accuracy": 0, "task/a": 55.0, "task/b": 85.0},
         meta={"datasets": ["a", "b"], "seed": 1, "label": "MCoOp-group", "group": "ab",
               "final_model": "best_val"})
    recs = collect(root)
    labels = sorted({r["label"] for r in recs})
    assert labels == ["MCoOp-group", "target/CoOp"]
    t = build_table(recs)
    m, s, n = t.cell("a", "target/CoOp", "best")
    assert (m, n) == (55.0, 2) and s == pytest.approx(7.0710678)
    assert t.cell("a", "target/CoOp", "last")[0] == 42.0
    # Average: per-seed average over tasks (seed1: 60, seed2: 75) -> 67.5 ± 10.61
    m, s, n = t.cell("Average", "target/CoOp", "best")
    assert m == 67.5 and s == pytest.approx(10.6066017) and n == 2
    assert t.cell("b", "MCoOp-group", "best")[:2] == (85.0, 0.0)
    md = to_markdown(t)
    assert "model selection: best_val" in md and "last epoch" in md and "over 2 seeds" in md
    assert "| a | 55.0 ± 0.0 (n=1) | 55.0 ± 7.1 |" in md  # n stated once in the header; differing n per cell
    assert "**Average**" in md
    rows = list(csv.DictReader(io.StringIO(to_csv(t))))
    r = [x for x in rows if x["task"] == "a" and x["label"] == "target/CoOp" and x["which"] == "best"][0]
    assert float(r["mean"]) == 55.0 and r["n"] == "2" and r["seeds"] == "1:50.0000;2:60.0000"
    assert {x["which"] for x in rows} == {"best", "last"}


def test_log_fallback_and_cli(tmp_path, capsys):
    d = tmp_path / "exp" / "VPT" / "seed3"
    d.mkdir(parents=True)
    (d / "log.txt").write_text("Evaluate on the *val* set\n=> result\n* accuracy: 10.0%\n"
                               "Evaluate on the *test* set\n=> result\n* total: 10\n* accuracy: 33.3%\n"
                               "* error: 66.7%\n* task x: 20.00\n* task y: 46.60\n")
    res = parse_log(str(d / "log.txt"))
    assert res["accuracy"] == 33.3 and res["task/x"] == 20.0
    md, cs = tmp_path / "r.md", tmp_path / "r.csv"
    assert results_main([str(tmp_path / "exp"), "--md", str(md), "--csv", str(cs)]) == 0
    assert "46.6 ± 0.0" in md.read_text()
    assert cs.read_text().startswith("task,label,which,mean,std,n,seeds")
    assert results_main([str(tmp_path / "nothing")]) == 1
