"""A capacity probe on the real model: the format axis on the card, and a probe cut short by a dead
server continues where it stopped."""

import json

from cli_runner import logged_calls, sent_requests, small_task


def test_a_probe_stopped_by_a_dead_server_resumes_and_writes_the_card(smolopt_cli, fault_proxy, tmp_path):
    task = small_task("sentiment", tmp_path / "sentiment_small", 8)
    start = len(fault_proxy.bodies)
    fault_proxy.faults = lambda n: "500" if n - start > 25 else None
    done = smolopt_cli("probe", "--model", "flaky", "--task", str(task), "--examples", "2")
    assert done.returncode == 2 and "Traceback" not in done.stderr, done.stderr
    run_dir = next((tmp_path / "runs").glob("*-probe-sentiment_small"))
    assert f"continue with: smolopt probe --resume {run_dir}" in done.stderr.strip().splitlines()[-1]

    fault_proxy.faults = lambda n: None
    resumed = smolopt_cli("probe", "--resume", str(run_dir))
    assert resumed.returncode == 0, resumed.stderr
    card = (run_dir / "card.md").read_text()
    assert "### Format axis (how RawTextAdapter asks)" in card and "| completion score calibrated |" in card
    calls = logged_calls(run_dir)
    made = sent_requests(calls)
    assert len(made) == len(set(made)) and sum(c["cached"] for c in calls) >= 25  # the first 25 came from the cache
    probe = json.loads((run_dir / "probe.json").read_text())["probes"][0]
    assert {m["name"] for m in probe["measurements"] if m["group"] == "ask"} >= {"ask completion score calibrated"}
