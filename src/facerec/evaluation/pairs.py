"""Verification pairs: reading LFW-style pairs files (with line-numbered errors) and generating
matched / mismatched pairs deterministically from a folder-per-person dataset.

Accepted line formats (fields separated by tabs, or by whitespace when there is no tab):

* ``name  i  j``               -- same person, images i and j (``name/name_000i.jpg``)
* ``name1  i  name2  j``       -- different people
* ``path_a  path_b  1|0``      -- any two image files (relative to the dataset root), 1 = same

An optional first line ``folds per_fold`` (``10 300`` in pairs.txt) or ``per_set``
(``1100`` in pairsDevTrain.txt) gives the fold layout: each fold is ``per_fold`` matched then
``per_fold`` mismatched pairs, in file order. Without a header, or with a one-set header (View 1),
pairs are spread over 10 folds round-robin within the matched and within the mismatched pairs.
"""
from __future__ import annotations

import os
import random
from dataclasses import dataclass
from pathlib import Path, PureWindowsPath
from typing import Iterable, Optional, Sequence

from facerec.errors import FacerecError
from facerec.io.files import dataset_items
from facerec.io.safe_read import MAX_TEXT_BYTES, read_or_fail


class PairsError(FacerecError):
    """A pairs file (or a dataset to draw pairs from) that cannot be used."""


@dataclass(frozen=True)
class Pair:
    """Two images (paths relative to the dataset root), whether they show the same person, the fold."""

    a: str
    b: str
    same: bool
    fold: int
    line: int = 0


def lfw_path(name: str, number: int) -> str:
    """LFW's file layout: ``Name/Name_0001.jpg``."""
    return f"{name}/{name}_{number:04d}.jpg"


def _int(tok: str) -> Optional[int]:
    try:
        return int(tok)
    except ValueError:
        return None


def _fields(line: str) -> list[str]:
    return [t for t in line.split("\t")] if "\t" in line else line.split()


def _parse_line(fields: list[str], where: str) -> tuple[str, str, bool]:
    fields = [f.strip() for f in fields if f.strip()]
    n = len(fields)
    # LFW's lines: where the two names and the two image numbers stand, matched 'name i j' or mismatched 'a i b j'
    places = {3: (0, 1, 0, 2), 4: (0, 1, 2, 3)}.get(n)
    if places is not None and _int(fields[places[1]]) is not None and _int(fields[places[3]]) is not None:
        a, i, b, j = (fields[k] for k in places)
        if _int(i) < 1 or _int(j) < 1:  # type: ignore[operator]
            raise PairsError(f"{where}: image numbers start at 1, got {i!r} {j!r}")
        if n == 4 and a == b:
            raise PairsError(f"{where}: a mismatched pair names the same person twice ({a})")
        return lfw_path(a, _int(i)), lfw_path(b, _int(j)), n == 3  # type: ignore[arg-type]
    if n == 3 and fields[2].lower() in ("1", "0", "true", "false", "same", "different"):
        return _portable(fields[0], where), _portable(fields[1], where), fields[2].lower() in ("1", "true", "same")
    shown = "\t".join(fields)
    if len(shown) > 60:
        shown = shown[:57] + "..."
    raise PairsError(f"{where}: expected 'name i j', 'name1 i name2 j' or 'path_a path_b 1|0', got {shown!r}")


def _portable(path: str, where: str) -> str:
    """A dataset-relative path written on Windows (``Ada\\Ada_0001.jpg``) in the form every OS reads
    (``Ada/Ada_0001.jpg``). A drive or UNC path (``C:\\...``, ``\\\\server\\...``) can only be read
    on Windows: elsewhere it is refused with the line that holds it."""
    if "\\" not in path and not (len(path) > 1 and path[1] == ":"):
        return path
    win = PureWindowsPath(path)
    if win.drive and os.name != "nt":
        raise PairsError(f"{where}: {path!r} is a Windows drive path; name images relative to the dataset root")
    return win.as_posix()


def parse_pairs(text: str, source: str = "pairs") -> list[Pair]:
    """Pairs from the text of a pairs file; errors name the file and line."""
    lines = text.splitlines()
    numbered = [(i + 1, ln) for i, ln in enumerate(lines) if ln.strip() and not ln.lstrip().startswith("#")]
    if not numbered:
        raise PairsError(f"{source}: no pairs in the file")
    header: Optional[tuple[int, int]] = None
    first_no, first = numbered[0]
    head = first.split()
    if 1 <= len(head) <= 2 and all(_int(t) is not None for t in head):
        nums = [int(t) for t in head]
        header = (1, nums[0]) if len(nums) == 1 else (nums[0], nums[1])
        if header[0] < 1 or header[1] < 1:
            raise PairsError(f"{source} line {first_no}: header must be 'folds pairs_per_fold' with positive numbers")
        numbered = numbered[1:]
    raw: list[tuple[str, str, bool, int]] = []
    for no, line in numbered:
        a, b, same = _parse_line(_fields(line), f"{source} line {no}")
        raw.append((a, b, same, no))
    if not raw:
        raise PairsError(f"{source}: no pairs after the header")
    if header is not None:
        folds, per = header
        if len(raw) != 2 * folds * per:
            raise PairsError(f"{source} line {first_no}: header announces {folds} fold(s) of {per} matched + "
                             f"{per} mismatched pairs ({2 * folds * per}), the file has {len(raw)}")
        pairs = []
        for idx, (a, b, same, no) in enumerate(raw):
            fold, pos = divmod(idx, 2 * per)
            if same != (pos < per):
                kind = "matched" if pos < per else "mismatched"
                raise PairsError(f"{source} line {no}: expected a {kind} pair here "
                                 f"(fold {fold + 1}: {per} matched then {per} mismatched)")
            pairs.append(Pair(a, b, same, fold, no))
        if folds == 1:  # View 1 files are one set: spread it over folds for cross-validation
            return spread_folds([(p.a, p.b, p.same, p.line) for p in pairs], n_folds=10)
        return pairs
    return spread_folds(raw, n_folds=10)


def spread_folds(raw: Sequence[tuple[str, str, bool, int]], n_folds: int = 10) -> list[Pair]:
    """Assign folds round-robin within each class so each fold gets both kinds of pair
    (``raw``: ``(a, b, same, line)`` in file order)."""
    counts = {True: 0, False: 0}
    out = []
    for a, b, same, no in raw:
        out.append(Pair(a, b, same, counts[same] % n_folds, no))
        counts[same] += 1
    return out


def read_pairs(path: os.PathLike | str) -> list[Pair]:
    """Pairs from a pairs file (see the module docstring for the formats)."""
    p = Path(path)
    data = read_or_fail(p, lambda why: PairsError(f"{p}: {why}"), MAX_TEXT_BYTES, missing="no such pairs file")
    try:
        text = data.decode("utf-8-sig")  # files saved by Windows editors start with a BOM
    except UnicodeDecodeError:
        raise PairsError(f"{p}: not a text file") from None
    return parse_pairs(text, source=p.name)


def write_pairs(path: os.PathLike | str, pairs: Iterable[Pair]) -> None:
    """Save pairs as ``path_a<TAB>path_b<TAB>1|0`` lines (readable by :func:`read_pairs`)."""
    lines = [f"{p.a}\t{p.b}\t{int(p.same)}" for p in pairs]
    Path(path).write_text("\n".join(lines) + "\n", encoding="utf-8")


def generate_pairs(root: os.PathLike | str, per_fold: int = 300, n_folds: int = 10, seed: int = 0) -> list[Pair]:
    """Matched and mismatched pairs from a folder-per-person dataset, deterministic for a seed.

    People are split into ``n_folds`` disjoint groups (as in LFW View 2, nobody appears in two
    folds); each fold gets up to ``per_fold`` matched pairs drawn from its people with two or more
    images and as many mismatched pairs between two of its people. Paths are relative to ``root``.
    """
    root = Path(root)
    if not root.is_dir():
        raise PairsError(f"{root}: not a folder")
    by_person: dict[str, list[str]] = {}
    for path, person in dataset_items(root):
        by_person.setdefault(person, []).append(path.relative_to(root).as_posix())
    people = sorted(by_person)
    multi = [p for p in people if len(by_person[p]) >= 2]
    if len(people) < 2 or not multi:
        raise PairsError(f"{root}: need a folder per person, at least two people and one with two or more images "
                         f"(found {len(people)} people, {len(multi)} with two or more images)")
    n_folds = max(2, min(n_folds, len(multi), len(people) // 2))
    if len(people) < 2 * n_folds or len(multi) < n_folds:
        raise PairsError(f"{root}: too few people to make {n_folds} disjoint folds")
    rng = random.Random(seed)
    # deal people with several images and the others separately so each fold gets some of both
    groups: list[list[str]] = [[] for _ in range(n_folds)]
    multi_set = set(multi)
    for pool in (multi, [p for p in people if p not in multi_set]):
        pool = pool[:]
        rng.shuffle(pool)
        for i, person in enumerate(pool):
            groups[i % n_folds].append(person)
    pairs: list[Pair] = []
    for fold, group in enumerate(groups):
        group = sorted(group)
        matched_pool = [(p, i, j) for p in group if len(by_person[p]) >= 2
                        for i in range(len(by_person[p])) for j in range(i + 1, len(by_person[p]))]
        # draw matched pairs person by person so people with many images don't dominate
        per_person: dict[str, list[tuple[int, int]]] = {}
        for p, i, j in matched_pool:
            per_person.setdefault(p, []).append((i, j))
        for lst in per_person.values():
            rng.shuffle(lst)
        order = sorted(per_person)
        rng.shuffle(order)
        matched: list[tuple[str, str]] = []
        while len(matched) < per_fold and any(per_person.values()):
            for p in order:
                if per_person[p] and len(matched) < per_fold:
                    i, j = per_person[p].pop()
                    matched.append((by_person[p][i], by_person[p][j]))
        seen: set[tuple[str, str]] = set()
        mismatched: list[tuple[str, str]] = []
        tries = 0
        while len(mismatched) < len(matched) and tries < 100 * per_fold:
            tries += 1
            p, q = rng.sample(group, 2)
            a, b = rng.choice(by_person[p]), rng.choice(by_person[q])
            key = (min(a, b), max(a, b))
            if key not in seen:
                seen.add(key)
                mismatched.append((a, b))
        pairs.extend(Pair(a, b, True, fold) for a, b in matched)
        pairs.extend(Pair(a, b, False, fold) for a, b in mismatched)
    return pairs
