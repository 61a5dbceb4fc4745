"""Pairs files: LFW formats, headers and folds, line-numbered errors; generated pairs."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from facerec.datasets import lfw_protocol_file
from facerec.evaluation.pairs import PairsError, generate_pairs, parse_pairs, read_pairs, write_pairs

LFW_PROTOCOL = lfw_protocol_file("pairs.txt", must_exist=False).parent

SMALL = """2\t2
Ann\t1\t2
Bob\t1\t3
Ann\t1\tCid\t1
Bob\t2\tDee\t4
Eve\t1\t2
Fay\t2\t3
Eve\t1\tGus\t1
Fay\t2\tHal\t1
"""


def test_lfw_header_gives_folds_in_file_order():
    pairs = parse_pairs(SMALL)
    assert len(pairs) == 8
    assert [p.fold for p in pairs] == [0, 0, 0, 0, 1, 1, 1, 1]
    assert [p.same for p in pairs] == [True, True, False, False] * 2
    assert pairs[0].a == "Ann/Ann_0001.jpg" and pairs[0].b == "Ann/Ann_0002.jpg"
    assert pairs[3].a == "Bob/Bob_0002.jpg" and pairs[3].b == "Dee/Dee_0004.jpg"
    assert pairs[3].line == 5


@pytest.mark.parametrize("line, message", [
    ("Ann\t1", "line 3: expected"),
    ("Ann\tone\ttwo", "line 3: expected"),
    ("Ann\t1\tBob\t2\tx", "line 3: expected"),
    ("Ann\t0\t2", "line 3: image numbers start at 1"),
    ("Ann\t1\tAnn\t2", "line 3: a mismatched pair names the same person"),
])
def test_malformed_line_names_its_number(line: str, message: str):
    lines = SMALL.splitlines()
    lines[2] = line
    with pytest.raises(PairsError, match=message):
        parse_pairs("\n".join(lines), source="pairs.txt")


def test_header_count_and_order_are_checked():
    with pytest.raises(PairsError, match="line 1: header announces 2 fold"):
        parse_pairs("\n".join(SMALL.splitlines()[:-1]))
    swapped = SMALL.splitlines()
    swapped[2], swapped[3] = swapped[3], swapped[2]
    with pytest.raises(PairsError, match="line 3: expected a matched pair"):
        parse_pairs("\n".join(swapped))
    with pytest.raises(PairsError, match="no pairs"):
        parse_pairs("\n\n")


def test_path_pairs_without_header_spread_over_folds(tmp_path: Path):
    text = "\n".join([f"p{i}/a.jpg\tp{i}/b.jpg\t1" for i in range(12)] +
                     [f"p{i}/a.jpg\tq{i}/b.jpg\t0" for i in range(12)])
    pairs = parse_pairs(text)
    assert sum(p.same for p in pairs) == 12
    for k in range(10):  # every fold gets both kinds
        kinds = {p.same for p in pairs if p.fold == k}
        assert kinds == {True, False}
    out = tmp_path / "pairs.tsv"
    write_pairs(out, pairs)
    again = read_pairs(out)
    assert [(p.a, p.b, p.same, p.fold) for p in again] == [(p.a, p.b, p.same, p.fold) for p in pairs]


def test_read_pairs_errors_are_one_line(tmp_path: Path):
    with pytest.raises(PairsError, match="no such pairs file"):
        read_pairs(tmp_path / "missing.txt")
    bad = tmp_path / "bin.txt"
    bad.write_bytes(b"\xff\xfe\x00\x81")
    with pytest.raises(PairsError, match="not a text file"):
        read_pairs(bad)


@pytest.mark.skipif(not (LFW_PROTOCOL / "pairs.txt").is_file(), reason="LFW protocol files not present")
def test_real_lfw_pairs_files():
    v2 = read_pairs(LFW_PROTOCOL / "pairs.txt")
    assert len(v2) == 6000 and sorted({p.fold for p in v2}) == list(range(10))
    assert all(sum(p.same for p in v2 if p.fold == k) == 300 for k in range(10))
    v1 = read_pairs(LFW_PROTOCOL / "pairsDevTrain.txt")
    assert len(v1) == 2200 and sum(p.same for p in v1) == 1100


def _dataset(root: Path, people: int = 30) -> Path:
    for i in range(people):
        d = root / f"Person_{i:02d}"
        d.mkdir(parents=True)
        for j in range(1 + i % 4):  # 1 to 4 images each
            (d / f"img_{j}.jpg").write_bytes(b"x")
    return root


def test_generated_pairs_are_deterministic_and_fold_disjoint(tmp_path: Path):
    root = _dataset(tmp_path / "ds")
    a = generate_pairs(root, per_fold=5, n_folds=5, seed=3)
    b = generate_pairs(root, per_fold=5, n_folds=5, seed=3)
    c = generate_pairs(root, per_fold=5, n_folds=5, seed=4)
    assert a == b and a != c
    people_by_fold = [{x.split("/")[0] for p in a if p.fold == k for x in (p.a, p.b)} for k in range(5)]
    for i in range(5):
        for j in range(i + 1, 5):
            assert not people_by_fold[i] & people_by_fold[j]
    for p in a:
        assert (p.a.split("/")[0] == p.b.split("/")[0]) == p.same and p.a != p.b
        assert (root / p.a).is_file() and (root / p.b).is_file()
    for k in range(5):
        same = sum(p.same for p in a if p.fold == k)
        assert same >= 1 and same == sum(not p.same for p in a if p.fold == k)


def test_generate_refuses_unusable_datasets(tmp_path: Path):
    with pytest.raises(PairsError, match="not a folder"):
        generate_pairs(tmp_path / "nope")
    root = _dataset(tmp_path / "tiny", people=2)
    with pytest.raises(PairsError, match="too few people|need a folder per person"):
        generate_pairs(root)


def test_pairs_files_written_on_windows(tmp_path: Path):
    """Backslash paths, CRLF line ends and a UTF-8 BOM (Notepad) read as on any other system;
    a drive-letter path that cannot be read here names its line."""
    text = "\ufeff1 1\r\nAda\\Ada_0001.jpg\tAda\\Ada_0002.jpg\t1\r\nAda\\Ada_0001.jpg\tBob\\Bob_0001.jpg\t0\r\n"
    path = tmp_path / "pairs_windows.txt"
    path.write_bytes(text.encode("utf-8"))
    pairs = read_pairs(path)
    assert [(p.a, p.b, p.same) for p in pairs] == [("Ada/Ada_0001.jpg", "Ada/Ada_0002.jpg", True),
                                                 ("Ada/Ada_0001.jpg", "Bob/Bob_0001.jpg", False)]
    assert parse_pairs("/data/a.jpg\t/data/b.jpg\t1\n")[0].a == "/data/a.jpg"  # POSIX absolute paths still work
    if os.name != "nt":
        with pytest.raises(PairsError, match=r"line 2: 'C:\\\\data\\\\b.jpg' is a Windows drive path"):
            parse_pairs("a.jpg\tb.jpg\t1\na.jpg\tC:\\data\\b.jpg\t0\n")


# -- property-based: any text is parsed or refused with a PairsError, never anything else -----------
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

_TOKENS = st.one_of(st.sampled_from(["Aaron_Peirsol", "George_W_Bush", "1", "2", "0", "-3", "10", "300", "a/b.jpg",
                                     "../x.jpg", "C:\\img.jpg", "\t", "#", "1e9", "99999999999999999999"]),
                    st.text(max_size=12))


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.lists(_TOKENS, max_size=5).map(" ".join), max_size=8).map("\n".join))
def test_any_pairs_text_parses_or_is_a_pairs_error(text: str) -> None:
    try:
        pairs = parse_pairs(text, source="fuzz")
    except PairsError as exc:
        assert str(exc).startswith("fuzz") and "\n" not in str(exc).strip()
        return
    assert pairs and all(isinstance(p.same, bool) and 0 <= p.fold < 10 for p in pairs)


@settings(max_examples=50, deadline=None)
@given(st.binary(max_size=300))
def test_any_pairs_file_bytes_read_or_refused(tmp_path_factory, data: bytes) -> None:
    path = tmp_path_factory.mktemp("pairs") / "pairs.txt"
    path.write_bytes(data)
    try:
        read_pairs(path)
    except PairsError:
        pass
