"""Finding image files: folders recurse, and folder-per-person datasets (``Name/Name_0001.jpg``)."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Iterable

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff", ".gif", ".ppm", ".pgm"}


def is_image_name(path: Path) -> bool:
    return path.suffix.lower() in IMAGE_SUFFIXES and not path.name.startswith(".")


def expand_paths(paths: Iterable[os.PathLike | str]) -> list[Path]:
    """Files as given, plus every image file under each folder (recursively, sorted)."""
    out: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            out.extend(sorted(f for f in p.rglob("*") if f.is_file() and is_image_name(f)))
        else:
            out.append(p)
    return out


def dataset_items(root: os.PathLike | str) -> list[tuple[Path, str]]:
    """``(image path, person)`` for every image of a folder-per-person dataset, sorted."""
    root = Path(root)
    items: list[tuple[Path, str]] = []
    for person in sorted(d for d in root.iterdir() if d.is_dir() and not d.name.startswith(".")):
        items.extend((f, person.name) for f in sorted(person.rglob("*")) if f.is_file() and is_image_name(f))
    return items
