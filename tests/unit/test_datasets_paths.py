"""One lookup of the dataset folder: $FACEREC_DATA, ./data, ../shared/data; protocol files in each layout."""
from __future__ import annotations

from pathlib import Path

import pytest

from facerec.datasets import default_data_dir, lfw_dir, lfw_protocol_file
from facerec.errors import FacerecError


def test_environment_variable_wins(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("FACEREC_DATA", str(tmp_path / "elsewhere"))
    assert default_data_dir() == tmp_path / "elsewhere"
    assert lfw_dir() == tmp_path / "elsewhere" / "lfw"


def test_first_folder_holding_lfw(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.delenv("FACEREC_DATA", raising=False)
    work = tmp_path / "repo"
    work.mkdir()
    monkeypatch.chdir(work)
    (tmp_path / "shared/data/lfw").mkdir(parents=True)
    assert default_data_dir() == Path("../shared/data")  # beside the checkout, as on the project machine
    (work / "data/lfw").mkdir(parents=True)
    assert default_data_dir() == Path("data")  # where 'facerec datasets download lfw' puts it


@pytest.mark.parametrize("layout", ["next to the images", "beside them", "lfw_protocol"])
def test_protocol_file_in_every_layout(tmp_path: Path, layout: str) -> None:
    lfw = tmp_path / "lfw"
    lfw.mkdir()
    where = {"next to the images": lfw, "beside them": tmp_path, "lfw_protocol": tmp_path / "lfw_protocol"}[layout]
    where.mkdir(exist_ok=True)
    (where / "pairsDevTest.txt").write_text("1\t1\nA\t1\t2\nA\t1\tB\t1\n")
    assert lfw_protocol_file("pairsDevTest.txt", lfw) == where / "pairsDevTest.txt"
    with pytest.raises(FacerecError, match="no pairs.txt next to"):
        lfw_protocol_file("pairs.txt", lfw)
    assert lfw_protocol_file("pairs.txt", lfw, must_exist=False) == tmp_path / "lfw_protocol" / "pairs.txt"
