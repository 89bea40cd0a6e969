"""The store contract, held by every store: local directory and in-memory (S3 in functional tests)."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sweep_contracts import layout
from sweep_contracts.storage import LocalStore, MemoryStore, ObjectStore


@pytest.fixture(params=["local", "memory"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> ObjectStore:
    return LocalStore(tmp_path) if request.param == "local" else MemoryStore()


def test_put_get_replace_delete(store: ObjectStore) -> None:
    assert store.get("a/b.txt") is None
    store.put("a/b.txt", b"one")
    store.put("a/b.txt", b"two")
    assert store.get("a/b.txt") == b"two"
    assert store.exists("a/b.txt")
    store.delete("a/b.txt")
    store.delete("a/b.txt")  # deleting a missing key is not an error
    assert not store.exists("a/b.txt")


def test_a_prefix_may_end_inside_a_name_or_name_no_directory_issue_11(store: ObjectStore) -> None:
    # GIVEN keys at the top and in a run's directory (status lists a run in blocks of names)
    for key in ["top.txt", "points/run_id=a/shard=00001.parquet", "points/run_id=a/shard=01000.parquet"]:
        store.put(key, b"x")
    # THEN a prefix ending inside a name lists that block, and one without a directory the top too
    assert list(store.list("points/run_id=a/shard=00")) == ["points/run_id=a/shard=00001.parquet"]
    assert list(store.list("to")) == ["top.txt"]
    assert list(store.list("")) == [
        "points/run_id=a/shard=00001.parquet",
        "points/run_id=a/shard=01000.parquet",
        "top.txt",
    ]


def test_put_if_absent_creates_once(store: ObjectStore) -> None:
    assert store.put_if_absent("runs/x/manifest.json", b"first")
    assert not store.put_if_absent("runs/x/manifest.json", b"second")
    assert store.get("runs/x/manifest.json") == b"first"


def test_list_is_sorted_and_prefix_scoped(store: ObjectStore) -> None:
    for key in [
        "points/run_id=b/shard=00001.parquet",
        "points/run_id=a/shard=00000.parquet",
        "points/run_id=ab/shard=00000.parquet",
        "runs/run_id=a/manifest.json",
    ]:
        store.put(key, b"x")
    assert list(store.list(layout.points_prefix("a"))) == ["points/run_id=a/shard=00000.parquet"]
    assert list(store.list("points/")) == [
        "points/run_id=a/shard=00000.parquet",
        "points/run_id=ab/shard=00000.parquet",
        "points/run_id=b/shard=00001.parquet",
    ]
    assert list(store.list("nothing/")) == []


def test_local_store_leaves_no_temporary_files(tmp_path: Path) -> None:
    store = LocalStore(tmp_path)
    store.put("k/v", b"1")
    store.put_if_absent("k/v", b"2")
    store.put_if_absent("k/w", b"3")
    assert sorted(p.name for p in (tmp_path / "k").iterdir()) == ["v", "w"]


def test_local_store_keys_cannot_escape_the_root(tmp_path: Path) -> None:
    store = LocalStore(tmp_path)
    for key in ["/etc/passwd", "../outside", "a/../../b"]:
        with pytest.raises(ValueError, match="stay inside the store"):
            store.put(key, b"x")


def test_layout_keys_parse_back() -> None:
    key = layout.outcome_key("run-1", "failure", 42)
    assert key == "outcomes/run_id=run-1/status=failure/shard=00042.parquet"
    assert layout.parse_outcome_key(key) == ("run-1", "failure", 42)
    assert layout.parse_outcome_key("outcomes/run_id=run-1/status=odd/shard=00042.parquet") is None
    assert layout.parse_manifest_key(layout.manifest_key("run-1")) == "run-1"
    assert layout.points_key("run-1", 3) == "points/run_id=run-1/shard=00003.parquet"


def test_points_keys_carry_their_execution_and_row_counts_issue_11() -> None:
    # GIVEN an execution that wrote 7 ok and 2 error rows of shard 42
    tag = layout.execution_tag("0123456789abcdef", 7, 2)
    key = layout.points_key("run-1", 42, tag)
    # THEN its key names the execution and the counts, and both parse back
    assert key == "points/run_id=run-1/shard=00042-0123456789abcdef-ok7-error2.parquet"
    assert layout.parse_points_key(key) == ("run-1", 42, tag)
    assert layout.tag_counts(tag) == (7, 2)
    # AND keys written before counts were in keys still parse, telling no counts
    bare = layout.points_key("run-1", 42, "0123456789abcdef")
    assert layout.parse_points_key(bare) == ("run-1", 42, "0123456789abcdef")
    assert layout.tag_counts("0123456789abcdef") is None
    assert layout.parse_points_key(layout.points_key("run-1", 42)) == ("run-1", 42, None)
    assert layout.parse_points_key("points/run_id=run-1/shard=00042-0123456789abcdef-ok7.parquet") is None


_TAILS = st.one_of(
    st.builds(
        lambda status, shard, suffix: f"status={status}/shard={shard}{suffix}",
        st.sampled_from(["success", "failure", "succes", ""]),
        st.from_regex(r"\A[0-9]{0,6}\Z") | st.text(max_size=6),
        st.sampled_from([".parquet", ".parque", ""]),
    ),
    st.builds(
        lambda shard, tag, suffix: f"shard={shard}{tag}{suffix}",
        st.from_regex(r"\A[0-9]{4,6}\Z"),
        st.from_regex(r"\A(-[0-9a-fA-F]{15,17}(-ok[0-9]{0,10}-error[0-9]{0,10})?)?\Z") | st.text(max_size=30),
        st.sampled_from([".parquet", ""]),
    ),
    st.text(max_size=60),
)


@pytest.mark.slow
@settings(max_examples=1000, deadline=None)
@given(_TAILS)
def test_the_fast_key_parsers_agree_with_the_layouts_patterns_issue_11(tail: str) -> None:
    # GIVEN a key under a run's outcomes or points prefix: sweep's own shapes, near misses, noise
    outcome, points = layout.outcomes_prefix("run-1") + tail, layout.points_prefix("run-1") + tail
    # WHEN status's string-operation parsers read the part after the run's prefix
    # THEN they answer what the layout's regular expressions answer (digits aside: the patterns'
    # `\d` takes any unicode digit, a key sweep never writes; the fast parsers take ASCII only)
    if tail.isascii():
        parsed = layout.parse_outcome_key(outcome)
        assert layout.outcome_in_run(tail) == (parsed[1:] if parsed else None)
        listed = layout.parse_points_key(points)
        assert layout.points_in_run(tail) == (listed[1:] if listed else None)
    # AND every tag they accept reads back to its counts, which rebuild the tag
    if (found := layout.points_in_run(tail)) is not None and found[1] is not None:
        counts = layout.tag_counts(found[1])
        assert found[1] == (layout.execution_tag(found[1][:16], *counts) if counts else found[1][:16])
