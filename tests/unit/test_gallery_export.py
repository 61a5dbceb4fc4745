"""Gallery exports from outside: any header, face list or array is read in full or refused with one
FacerecError, before anything is written (property-based, from a real export)."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

pytest.importorskip("faiss", reason="the gallery needs faiss-cpu (pip install 'facerec[gallery]')")

from facerec.errors import FacerecError  # noqa: E402
from facerec.gallery import Gallery  # noqa: E402
from facerec.gallery.export import read_export  # noqa: E402

JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=8),
                    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
                    max_leaves=12)


@pytest.fixture(scope="module")
def real_export(tmp_path_factory, analyzer, grace_bgr, astronaut_bgr) -> dict:
    folder = tmp_path_factory.mktemp("export")
    with Gallery(folder / "a.db", analyzer) as g:
        g.enroll("Grace Hopper", [grace_bgr])
        g.enroll("Eileen Collins", [astronaut_bgr])
        g.export(folder / "e.npz")
    with np.load(folder / "e.npz") as data:
        return {k: data[k] for k in data.files}


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                  HealthCheck.too_slow])
@given(field=st.sampled_from(["format", "embedder_id", "dim", "threshold", "persons", "extra"]), value=JSON,
       face_field=st.sampled_from(["image_sha256", "image_path", "bbox", "det_score", None]), face_value=JSON)
def test_mutated_exports_are_read_or_refused(real_export: dict, tmp_path: Path, field: str, value,
                                             face_field, face_value) -> None:
    header = json.loads(str(real_export["header"]))
    header[field] = value
    faces = json.loads(str(real_export["faces"]))
    if face_field is not None:
        faces[0][face_field] = face_value
    path = tmp_path / "m.npz"
    np.savez(path, **{**real_export, "header": np.array(json.dumps(header)), "faces": np.array(json.dumps(faces))})
    try:
        data = read_export(path)
    except FacerecError as exc:
        assert "\n" not in str(exc)
        return
    assert data.dim == len(data.faces[0][1].vector) and len(data.faces) == 2


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(names=st.lists(st.text(max_size=6), min_size=2, max_size=2), rows=st.integers(0, 3), cols=st.integers(0, 700),
       kind=st.sampled_from(["f4", "f8", "i4", "U3"]))
def test_mutated_export_arrays_are_read_or_refused(real_export: dict, tmp_path: Path, names, rows, cols, kind) -> None:
    path = tmp_path / "a.npz"
    vectors = np.ones((rows, cols), dtype=kind) if kind != "U3" else np.full((rows, cols), "x", dtype=kind)
    np.savez(path, **{**real_export, "names": np.array(names, dtype=str), "vectors": vectors})
    import uuid

    with Gallery.open(tmp_path / f"{uuid.uuid4().hex}.db", load_models=False) as g:
        try:
            g.import_(path)
        except FacerecError:
            assert g.persons() == [] and g.embedder_id is None  # refused before anything was written
