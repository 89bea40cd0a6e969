"""`sweep run` sizes local shards from the measured cost of a point when nothing sets `shard_size`
(issue 13): fast points get large shards, slow ones small; a request's or settings file's
`shard_size` wins; the plan and how it was chosen are in the manifest."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from sweep_cli.local.backend import LocalBackend
from sweep_cli.local.sizing import SHARDS_PER_WORKER, TARGET_SHARD_S, local_shard_size, sized
from sweep_cli.main import app
from sweep_contracts import layout
from sweep_contracts.manifest import RunManifest
from sweep_contracts.planning import derive_shard_size
from sweep_contracts.settings import SystemSettings
from sweep_contracts.storage import LocalStore
from sweep_orchestrator.status import run_status
from sweep_orchestrator.submit import validate

runner = CliRunner()
DEFAULT_SHARD_SIZE = SystemSettings.resolve({}, source="default").shard_size


def sweep(tmp_path: Path, run_id: str, extra: str = "", repeats: int = 400, config: str = "{y: 0.5}") -> str:
    path = tmp_path / f"{run_id}.yaml"
    grid = ", ".join(str(i / 10) for i in range(10))
    path.write_text(
        f"experiment: synthetic\nrun_id: {run_id}\nconfig: {config}\ngrid: {{x: [{grid}]}}\nrepeats: {repeats}\n{extra}"
    )
    return str(path)


def run(*args: str) -> RunManifest:
    result = runner.invoke(app, ["run", *args, "-q", "-w", "2"])
    assert result.exit_code == 0, result.output
    out, run_id = Path(args[args.index("--out") + 1]), Path(args[0]).stem
    assert run_status(LocalStore(out), run_id).state == "succeeded"
    return RunManifest.from_json((out / layout.manifest_key(run_id)).read_bytes())


def test_fast_points_get_shards_larger_than_the_stage_default(tmp_path: Path) -> None:
    # GIVEN 4,000 near-zero-cost points and no shard_size anywhere
    manifest = run(sweep(tmp_path, "fast"), "--out", str(tmp_path / "out"))
    # THEN shards hold more points than the Lambda-sized default (here: min_shards bounds them,
    # SHARDS_PER_WORKER per pool process rather than the stage's 32)
    assert manifest.plan.shard_size > DEFAULT_SHARD_SIZE
    assert manifest.plan.shard_count == SHARDS_PER_WORKER * 2
    assert manifest.settings["min_shards"]["note"] == f"the local engine: {SHARDS_PER_WORKER} per pool process"
    # AND the manifest says the setting was measured, and how
    record = manifest.settings["shard_size"]
    assert record["source"] == "default"
    assert record["note"].startswith("measured by the local engine: ")
    assert record["value"] > DEFAULT_SHARD_SIZE


def test_slow_points_get_small_shards(tmp_path: Path) -> None:
    # GIVEN 4,000 points that sleep 100 ms each: the default 100-point shards would take 10 s each
    payload = yaml.safe_load(Path(sweep(tmp_path, "slow", config="{y: 0.5, sleep_ms: 100}")).read_text())
    default = SystemSettings.resolve({}, source="default")
    with LocalBackend(tmp_path / "out", workers=1) as backend:
        # WHEN the local engine times them before planning (timing, not running the sweep)
        runtime = backend._runtime(default)
        settings = backend._sized(validate(payload, runtime), runtime, default)
    # THEN a shard holds about a second of points
    assert 1 <= settings.shard_size <= 10 < derive_shard_size(4000, default)
    assert "measured" in (settings.provenance["shard_size"].note or "")


@pytest.mark.slow
def test_a_shard_size_that_is_set_is_kept(tmp_path: Path) -> None:
    out = str(tmp_path / "out")
    # GIVEN shard_size in the request
    manifest = run(sweep(tmp_path, "requested", "shard_size: 7\n"), "--out", out)
    assert (manifest.plan.shard_size, manifest.plan.shard_size_source) == (7, "request")
    # GIVEN shard_size in a settings file
    settings = tmp_path / "settings.yaml"
    settings.write_text("shard_size: 50\n")
    manifest = run(sweep(tmp_path, "filed"), "--out", out, "--settings", str(settings))
    assert manifest.plan.shard_size == 50
    assert manifest.settings["shard_size"] == {"value": 50, "source": "file"}


def test_resubmitting_keeps_the_recorded_plan(tmp_path: Path) -> None:
    out = str(tmp_path / "out")
    first = run(sweep(tmp_path, "again"), "--out", out)
    # WHEN the same request is run again
    result = runner.invoke(app, ["run", sweep(tmp_path, "again"), "--out", out, "-q"])
    # THEN it is the same run with the same plan, whatever a new measurement would say
    assert result.exit_code == 0, result.output
    assert "already exists" in result.output
    again = RunManifest.from_json((Path(out) / layout.manifest_key("again")).read_bytes())
    assert again.plan == first.plan


def test_the_size_makes_a_shard_last_the_target_time() -> None:
    assert local_shard_size(TARGET_SHARD_S / 1000) == 1000
    assert local_shard_size(10 * TARGET_SHARD_S) == 1  # never empty
    assert local_shard_size(0.0) == 10_000_000  # the setting's bound
    settings = sized(SystemSettings.resolve({}, source="default"), 0.0005)
    assert settings.shard_size == int(TARGET_SHARD_S / 0.0005)
    assert json.dumps(settings.records()["shard_size"]["note"], ensure_ascii=False).count("500.0 µs per point") == 1
    # AND min_shards follows the pool's size, unless something set it
    assert sized(SystemSettings.resolve({}, source="default"), 0.0005, workers=3).min_shards == 3 * SHARDS_PER_WORKER
    filed = SystemSettings.resolve({"min_shards": 32}, source="file")
    assert sized(filed, 0.0005, workers=3).min_shards == 32
