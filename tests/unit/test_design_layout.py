"""docs/design.md says what the code does (issue 24, item 4): its storage layout block is exactly
the keys `sweep_contracts.layout` builds, its column lists are `sweep_contracts.schema`'s tables,
every Lambda handler the stack deploys is among its entry points, and the imports it forbids do
not happen."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from sweep_contracts import layout, schema
from sweep_experiments.llm import remote
from sweep_infra import stack

ROOT = Path(__file__).resolve().parents[2]
DESIGN = ROOT / "docs" / "design.md"

RUN, SHARD, EXECUTION, OK, ERROR = "study-1", 42, "0123456789abcdef", 3, 1
DIGEST = "feed" * 4  # a digest-shaped stand-in (16 hex digits), low entropy for the secret scan
PLACEHOLDERS = {
    "<digest>": DIGEST,
    "<id>": RUN,
    "<00000>": f"{SHARD:05d}",
    "<execution>": EXECUTION,
    "<n>": str(OK),
    "<m>": str(ERROR),
}
KEY_BUILDERS = {
    "manifest_key": lambda: [layout.manifest_key(RUN)],
    "dispatch_key": lambda: [layout.dispatch_key(RUN)],
    "search_key": lambda: [layout.search_key(RUN)],
    "points_key": lambda: [layout.points_key(RUN, SHARD, layout.execution_tag(EXECUTION, OK, ERROR))],
    "outcome_key": lambda: [layout.outcome_key(RUN, status, SHARD) for status in ("success", "failure")],
    "started_key": lambda: [layout.started_key(RUN, SHARD, EXECUTION)],
    "cache_key": lambda: [layout.cache_key(RUN, table, DIGEST) for table in ("points", "outcomes")],
}
"""Every function of layout.py that builds a whole key, and the keys it builds for the sample."""


def section(text: str, heading: str) -> str:
    """The body of the `## heading` section of a markdown text."""
    body = text.split(f"\n## {heading}\n", 1)[1]
    return body.split("\n## ", 1)[0]


def layout_block(text: str) -> list[str]:
    """The key templates of the first code block of `## Storage layout`: each line's first word."""
    block = section(text, "Storage layout").split("```\n", 2)[1]
    return [line.split()[0] for line in block.splitlines() if line.strip()]


def documented_keys(text: str) -> set[str]:
    """The block's templates with the sample's values put in, `<a|b>` expanded to both keys."""
    keys: set[str] = set()
    for template in layout_block(text):
        key = template
        for name, value in PLACEHOLDERS.items():
            key = key.replace(name, value)
        choice = re.search(r"<([a-z]+(?:\|[a-z]+)+)>", key)
        options = choice[1].split("|") if choice else [""]
        for option in options:
            keys.add(key.replace(choice[0], option) if choice else key)
    return keys


def built_keys() -> set[str]:
    return {key for build in KEY_BUILDERS.values() for key in build()}


def documented_columns(text: str, table: str) -> list[str]:
    """The backquoted column list after `- `table`:` in `## Storage layout`."""
    match = re.search(rf"^- `{table}`: `([^`]*)`", section(text, "Storage layout"), re.MULTILINE)
    assert match is not None, f"design.md lists no columns for `{table}`"
    return [name.strip() for name in match[1].split(",")]


def test_the_design_layout_block_is_exactly_the_keys_layout_py_builds() -> None:
    # GIVEN the design page and the sample run's keys as layout.py builds them
    text = DESIGN.read_text()
    # THEN each documented key is one layout.py builds, and each one it builds is documented
    assert documented_keys(text) == built_keys()


def test_every_key_builder_of_layout_py_is_compared() -> None:
    # a new `*_key` function is a new kind of object: design.md and KEY_BUILDERS must name it
    builders = {name for name in vars(layout) if name.endswith("_key") and not name.startswith(("parse_", "_"))}
    assert builders == set(KEY_BUILDERS)


def test_the_design_columns_are_the_schemas_tables() -> None:
    text = DESIGN.read_text()
    assert documented_columns(text, "points") == list(schema.POINTS_TABLE.column_names)
    assert documented_columns(text, "outcomes") == list(schema.OUTCOMES_TABLE.column_names)


def test_the_prefix_sweep_only_reads_is_the_one_the_code_and_the_roles_use() -> None:
    storage = section(DESIGN.read_text(), "Storage layout")
    assert f"`{remote.TASKSETS_PREFIX}<name>.jsonl`" in storage


def test_every_lambda_handler_the_stack_deploys_is_a_listed_entry_point() -> None:
    handlers = {value for name, value in vars(stack).items() if name.endswith("_HANDLER") and isinstance(value, str)}
    listed = section(DESIGN.read_text(), "Entry points")
    assert len(handlers) == 4
    assert sorted(h for h in handlers if f"`{h}`" not in listed) == []


def _imports(package: Path) -> set[str]:
    found: set[str] = set()
    for source in package.rglob("*.py"):
        for node in ast.walk(ast.parse(source.read_text())):
            if isinstance(node, ast.Import):
                found.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                found.add(node.module.split(".")[0])
    return found


@pytest.mark.parametrize(
    ("package", "allowed", "forbidden"),
    [
        ("libs/sweep_contracts/src/sweep_contracts", {"sweep_contracts"}, {"boto3", "botocore", "pyarrow"}),
        ("libs/sweep_experiments/src/sweep_experiments", {"sweep_contracts", "sweep_experiments"}, set()),
        ("libs/sweep_aws/src/sweep_aws", {"sweep_contracts", "sweep_aws"}, set()),
        (
            "services/orchestrator/src/sweep_orchestrator",
            {"sweep_contracts", "sweep_aws", "sweep_orchestrator"},
            {"pyarrow"},
        ),
        ("services/worker/src/sweep_worker", {"sweep_contracts", "sweep_aws", "sweep_worker"}, set()),
        ("pulumi/src/sweep_infra", {"sweep_contracts", "sweep_infra"}, set()),
    ],
)
def test_each_package_imports_only_what_the_module_map_draws(
    package: str, allowed: set[str], forbidden: set[str]
) -> None:
    imported = _imports(ROOT / package)
    ours = {name for name in imported if name == "sweep" or name.startswith("sweep_")}
    assert sorted(ours - allowed) == []
    assert sorted(imported & forbidden) == []


def test_the_check_sees_a_drifted_key_and_a_missing_one() -> None:
    # GIVEN the design's block with the points key spelled as the old README had it, and no marker
    text = DESIGN.read_text()
    drifted = text.replace("-<execution>-ok<n>-error<m>.parquet", "-<execution>.parquet", 1)
    drifted = re.sub(r"\nstarted/run_id=<id>/shard=<00000>/<execution>\.json[^\n]*", "", drifted, count=1)
    # THEN the comparison names both
    assert drifted != text
    assert built_keys() - documented_keys(drifted) == {
        layout.points_key(RUN, SHARD, layout.execution_tag(EXECUTION, OK, ERROR)),
        layout.started_key(RUN, SHARD, EXECUTION),
    }
    assert documented_keys(drifted) - built_keys() == {layout.points_key(RUN, SHARD, EXECUTION)}
