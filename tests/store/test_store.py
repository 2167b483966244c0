import sqlite3

import numpy as np
import pytest

from annotator.core.errors import StoreError
from annotator.core.masks import decode, encode
from annotator.core.project import StoredMask
from annotator.core.types import Provenance, Source
from annotator.store import SCHEMA_VERSION, open_project


def _stored(m: np.ndarray, source: Source = Source.PROPAGATED, score: float | None = 0.5):
    return StoredMask(encode(m), Provenance(source, "classical", "1", score))


def test_project_round_trip_after_reopen(tmp_path):
    path = tmp_path / "p.annotator"
    with open_project(path) as store:
        v = store.add_video("/x/a.mp4", "a", "hash-a", 30, 25.0, 64, 48)
        o1 = store.add_object(v.id, "cat")
        o2 = store.add_object(v.id)
        m = np.zeros((48, 64), bool)
        m[3:9, 4:30] = True
        store.put_mask(v.id, o1.id, 5, _stored(m, Source.MANUAL, 0.9))
        store.put_mask(v.id, o2.id, 5, _stored(~m))
        store.add_prompt(v.id, o1.id, 5, "prompts", {"box": [1, 2, 3, 4]})
    with open_project(path, create=False) as store:
        (video,) = store.videos()
        assert (video.frame_count, video.fps, video.width, video.height) == (30, 25.0, 64, 48)
        objs = store.objects(video.id)
        assert [o.label for o in objs] == ["cat", None]
        recs = store.masks(video.id, frame=5)
        assert [r.object_id for r in recs] == [o1.id, o2.id]
        assert (decode(recs[0].mask.rle) == m).all()
        assert recs[0].mask.provenance.source == Source.MANUAL
        assert recs[0].mask.provenance.score == pytest.approx(0.9)
        assert store.prompts(video.id)[0].payload == {"box": [1, 2, 3, 4]}
        assert store.mask_frames(video.id) == {o1.id: {5: ("manual", 0.9)},
                                               o2.id: {5: ("propagated", 0.5)}}


def test_upsert_delete_and_cascade(tmp_path):
    store = open_project(tmp_path / "p.annotator")
    v = store.add_video("a.mp4", "a", "h", 10, 10.0, 8, 8)
    o = store.add_object(v.id)
    m = np.ones((8, 8), bool)
    store.put_mask(v.id, o.id, 1, _stored(m))
    store.put_mask(v.id, o.id, 1, _stored(~m))  # replaces, never duplicates
    assert store.count_masks() == 1
    assert decode(store.mask(o.id, 1).rle).sum() == 0
    store.put_mask(v.id, o.id, 1, None)
    assert store.count_masks() == 0
    store.put_mask(v.id, o.id, 2, _stored(m))
    store.delete_object(o.id)  # foreign keys on: its masks go too
    assert store.count_masks() == 0


def test_same_video_is_added_once(tmp_path):
    store = open_project(tmp_path / "p.annotator")
    a = store.add_video("/old/a.mp4", "a", "h", 10, 10.0, 8, 8)
    b = store.add_video("/new/a.mp4", "a", "h", 10, 10.0, 8, 8)
    assert a.id == b.id
    assert store.video(a.id).path == "/new/a.mp4"


def test_wal_and_foreign_keys_are_on(tmp_path):
    path = tmp_path / "p.annotator"
    open_project(path).close()
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_newer_schema_is_refused_naming_both_versions(tmp_path):
    path = tmp_path / "p.annotator"
    open_project(path).close()
    conn = sqlite3.connect(path)
    conn.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'",
                 (str(SCHEMA_VERSION + 3),))
    conn.commit()
    conn.close()
    before = path.read_bytes()
    with pytest.raises(StoreError, match=rf"schema {SCHEMA_VERSION + 3}.*up to {SCHEMA_VERSION}"):
        open_project(path)
    assert path.read_bytes() == before


def test_not_a_project_and_missing_folder(tmp_path):
    bad = tmp_path / "notes.annotator"
    bad.write_text("just some text, not SQLite\n" * 20)
    with pytest.raises(StoreError, match="cannot open project"):
        open_project(bad)
    assert bad.read_text().startswith("just some text")
    with pytest.raises(StoreError, match="does not exist"):
        open_project(tmp_path / "nope" / "p.annotator")
    with pytest.raises(StoreError, match="does not exist"):
        open_project(tmp_path / "absent.annotator", create=False)


def test_migration_hook_runs_steps(tmp_path, monkeypatch):
    from annotator.store import migrations, schema

    path = tmp_path / "p.annotator"
    open_project(path).close()
    ran = []
    monkeypatch.setattr(migrations, "SCHEMA_VERSION", schema.SCHEMA_VERSION + 1)
    monkeypatch.setitem(migrations.MIGRATIONS, schema.SCHEMA_VERSION,
                        lambda conn: ran.append(conn.dialect.name))
    open_project(path).close()
    assert ran == ["sqlite"]
    conn = sqlite3.connect(path)
    version = conn.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()[0]
    assert int(version) == schema.SCHEMA_VERSION + 1
