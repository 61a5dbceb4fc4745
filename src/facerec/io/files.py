"""Finding image files: folders recurse, and folder-per-person datasets (``Name/Name_0001.jpg``).

Folders reached through a symbolic link are followed (each real folder once, so a link back up
the tree cannot loop); a link to nothing is listed like a file, so the job reports it as failed
instead of skipping it silently.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Iterable, Iterator

from facerec.io.text import safe_text

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff", ".gif", ".ppm", ".pgm"}


def is_image_name(path: Path) -> bool:
    return path.suffix.lower() in IMAGE_SUFFIXES and not path.name.startswith(".")


def _is_candidate(path: Path) -> bool:
    """An image file, or a dangling link with an image name (reported later as a failure)."""
    return is_image_name(path) and (path.is_file() or (path.is_symlink() and not path.exists()))


def _key(path: Path) -> tuple[int, int] | None:
    try:
        st = path.stat()
    except OSError:
        return None
    return st.st_dev, st.st_ino


def walk_images(folder: Path, seen: set[tuple[int, int]] | None = None) -> Iterator[Path]:
    """Every image (and dangling image link) under ``folder``, sorted, following linked folders;
    a folder already in ``seen`` (a loop, or a second link to it) is not entered again."""
    seen = set() if seen is None else seen

    def visit(d: Path, top: bool) -> Iterator[Path]:
        key = _key(d)
        if key is None or (key in seen and not top):
            return
        seen.add(key)
        try:
            entries = sorted(d.iterdir())
        except OSError:
            return
        for e in entries:
            if e.is_dir():
                yield from visit(e, False)
            elif _is_candidate(e):
                yield e

    yield from visit(Path(folder), True)


def expand_paths(paths: Iterable[os.PathLike | str]) -> list[Path]:
    """Files as given, plus every image file under each folder (recursively, sorted)."""
    out: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            out.extend(walk_images(p))
        else:
            out.append(p)
    return out


def person_folders(root: os.PathLike | str) -> list[Path]:
    """The per-person sub-folders of a dataset (linked folders included), sorted."""
    return sorted(d for d in Path(root).iterdir() if d.is_dir() and not d.name.startswith("."))


def dataset_items(root: os.PathLike | str) -> list[tuple[Path, str]]:
    """``(image path, person)`` for every image of a folder-per-person dataset, sorted.

    The person is the folder name as printable text (undecodable bytes shown as ``\\xNN``).
    """
    items: list[tuple[Path, str]] = []
    persons = person_folders(root)
    seen = {k for k in map(_key, [Path(root), *persons]) if k is not None}  # links back to them do not loop
    for person in persons:
        items.extend((f, safe_text(person.name)) for f in walk_images(person, seen))
    return items
