"""The project store on a real PostgreSQL server: same schema, same migrations, safe writers."""

from __future__ import annotations

import multiprocessing
from collections.abc import Iterator

import numpy as np
import pytest
from sqlalchemy import create_engine, text

from annotator.core.errors import StoreError
from annotator.core.masks import decode, encode
from annotator.core.project import StoredMask
from annotator.core.types import Provenance, Source
from annotator.store import SCHEMA_VERSION, open_project
from annotator.store.repository import BatchRun
from tests.store.pg import PgServer, postgres_server


@pytest.fixture(scope="module")
def pg() -> Iterator[PgServer]:
    with postgres_server() as server:
        yield server


def _mask(seed: int, source: Source = Source.PROPAGATED) -> StoredMask:
    rng = np.random.default_rng(seed)
    return StoredMask(encode(rng.random((24, 32)) > 0.5), Provenance(source, "test", "1", 0.5))


def test_roundtrip_and_upsert_on_postgres(pg: PgServer) -> None:
    url = pg.new_database()
    with open_project(url) as store:
        video = store.add_video("/v.mp4", "v", "abc", 10, 25.0, 32, 24)
        obj = store.add_object(video.id, "cat")
        store.put_mask(video.id, obj.id, 3, _mask(1))
        store.put_mask(video.id, obj.id, 3, _mask(2))  # upsert: replaces, never duplicates
        store.add_prompt(video.id, obj.id, 3, "prompts", {"box": [1, 2, 3, 4]})
        (rec,) = store.masks(video.id)
        assert np.array_equal(decode(rec.mask.rle), decode(_mask(2).rle))
        assert store.prompts(video.id)[0].payload == {"box": [1, 2, 3, 4]}
    with open_project(url, create=False) as store:  # reopen: the schema is recognised
        assert store.count_masks() == 1
        assert store.objects(video.id)[0].label == "cat"
    engine = create_engine(url)
    with engine.connect() as conn:
        version = conn.execute(text("SELECT value FROM meta WHERE key='schema_version'")).scalar()
    engine.dispose()
    assert int(version) == SCHEMA_VERSION


def test_object_with_explicit_id_keeps_the_sequence_ahead(pg: PgServer) -> None:
    with open_project(pg.new_database()) as store:
        video = store.add_video("/v.mp4", "v", "abc", 10, 25.0, 32, 24)
        first = store.add_object(video.id)
        store.delete_object(first.id)
        store.add_object(video.id, object_id=7)  # undo of a deletion re-creates an id
        assert store.add_object(video.id).id == 8


def test_commit_run_never_replaces_a_manual_mask(pg: PgServer) -> None:
    with open_project(pg.new_database()) as store:
        video = store.add_video("/v.mp4", "v", "abc", 10, 25.0, 32, 24)
        obj = store.add_object(video.id)
        store.put_mask(video.id, obj.id, 2, _mask(1, Source.MANUAL))
        run = BatchRun(video.id, "f" * 64, "test", "1", False, 0, 9, 2)
        written = store.commit_run(run, [(video.id, obj.id, 2, _mask(5)),
                                         (video.id, obj.id, 1, _mask(6))])
        assert written == 2
        assert store.mask(obj.id, 2).provenance.source == Source.MANUAL
        assert store.mask(obj.id, 1).provenance.source == Source.PROPAGATED
        store.commit_run(BatchRun(video.id, "f" * 64, "test", "1", False, 0, 9, 9), [])
        (saved,) = store.batch_runs(video.id)
        assert saved.reached == 9 and saved.finished


def _writer(url: str, jobs: list[tuple[int, int, range]]) -> None:
    """Interleave per-frame commits into several videos, like batch workers do."""
    with open_project(url) as store:
        for step in range(max(len(r) for _, _, r in jobs)):
            for video_id, object_id, frames in jobs:
                if step < len(frames):
                    f = frames[step]
                    run = BatchRun(video_id, f"run{video_id}", "test", "1", False, 0, 59, f)
                    store.commit_run(run, [(video_id, object_id, f, _mask(f))])


@pytest.mark.slow  # the batch test below also has two processes writing at once
def test_concurrent_writers_lose_and_duplicate_nothing(pg: PgServer) -> None:
    url = pg.new_database()
    with open_project(url) as store:
        ids = []
        for k in range(2):
            video = store.add_video(f"/v{k}.mp4", f"v{k}", f"h{k}", 60, 25.0, 32, 24)
            ids.append((video.id, store.add_object(video.id).id))
    ctx = multiprocessing.get_context("spawn")
    (v0, o0), (v1, o1) = ids
    jobs = [[(v0, o0, range(60)), (v1, o1, range(30, 60))],
            [(v1, o1, range(60)), (v0, o0, range(30, 60))]]
    procs = [ctx.Process(target=_writer, args=(url, job)) for job in jobs]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
        assert p.exitcode == 0
    with open_project(url) as store:
        for video_id, object_id in ids:
            records = store.masks(video_id)
            assert [r.frame for r in records] == list(range(60))
            assert all(r.object_id == object_id for r in records)
            assert store.batch_runs(video_id)[0].reached == 59


def test_batch_into_postgres_and_sqlite_gives_identical_exports(pg: PgServer, tmp_path) -> None:
    """Two worker processes write different videos into one PostgreSQL project at once."""
    from tests.tools.test_batch import drain, export_doc, make_project

    url, sqlite = pg.new_database(), tmp_path / "p.annotator"
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    make_project(url, tmp_path / "a", count=5, bad=True)
    make_project(sqlite, tmp_path / "b", count=5, bad=True)
    results = drain(url, engine="local", workers=2)
    drain(sqlite, engine="inline")
    assert sorted(r.name for r in results if r.error) == ["broken"]
    with open_project(url) as a, open_project(sqlite) as b:
        doc = export_doc(a, tmp_path / "xa")
        assert doc == export_doc(b, tmp_path / "xb")
        # every frame of the 5 good videos, plus the broken video's keyframe
        assert len(doc["annotations"]) == sum(v.frame_count for v in a.videos()[:5]) + 1
    assert all(r.skipped for r in drain(url, engine="inline") if r.name != "broken")


@pytest.mark.parametrize("dialect", ["sqlite", "postgresql"])
def test_version_1_project_is_upgraded(pg: PgServer, tmp_path, dialect: str) -> None:
    """The 1 -> 2 -> 3 steps run the same on both databases and keep the data."""
    url = pg.new_database() if dialect == "postgresql" else str(tmp_path / "old.annotator")
    with open_project(url) as store:
        video = store.add_video("/v.mp4", "v", "abc", 10, 25.0, 32, 24)
        store.put_mask(video.id, store.add_object(video.id).id, 1, _mask(1))
    engine = create_engine(url if "://" in url else f"sqlite:///{url}")
    with engine.begin() as conn:  # what a schema-1 file looks like
        conn.execute(text("DROP TABLE batch_runs"))
        conn.execute(text("DROP TABLE sensor_streams"))
        conn.execute(text("UPDATE meta SET value = '1' WHERE key = 'schema_version'"))
    with open_project(url) as store:
        assert store.batch_runs(video.id) == [] and store.count_masks() == 1
        assert store.sensor_streams(video.id) == []
    with engine.connect() as conn:
        version = conn.execute(text("SELECT value FROM meta WHERE key='schema_version'")).scalar()
    engine.dispose()
    assert int(version) == SCHEMA_VERSION == 3


def test_plain_postgresql_url_and_a_clear_error(pg: PgServer) -> None:
    url = pg.new_database().replace("postgresql+psycopg://", "postgresql://")
    with open_project(url) as store:
        assert store.videos() == []
    with pytest.raises(StoreError, match=r"bob:\*\*\*@127.0.0.1:1/x .*is the server running"):
        open_project("postgresql://bob:secret@127.0.0.1:1/x")
