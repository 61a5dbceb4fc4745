"""Build a gallery from a folder of people, then name every face of a group photo.

    python examples/gallery_from_folder.py people/ group.jpg [--db people.db]

``people/`` holds one folder per person (``people/Ada_Lovelace/1.jpg`` ...), the LFW layout.
Photos with several faces are enrolled with their largest face; re-running skips nobody twice,
since a person who exists already only gets the photos added.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from facerec import FacerecError, Gallery
from facerec.io.files import is_image_name


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("people", type=Path)
    parser.add_argument("group_photo", type=Path)
    parser.add_argument("--db", type=Path, default=Path("people.db"))
    args = parser.parse_args(argv)
    gallery = Gallery.open(args.db)
    try:
        for folder in sorted(p for p in args.people.iterdir() if p.is_dir()):
            photos = sorted(p for p in folder.iterdir() if is_image_name(p))
            if photos:
                gallery.enroll(folder.name, photos, pick="largest")
                print(f"enrolled {folder.name}: {len(photos)} photo(s)")
        for face in gallery.identify(args.group_photo):
            box = ", ".join(f"{v:.0f}" for v in face.bbox)
            print(f"[{box}] {face.name} {face.similarity:.3f}")
    except FacerecError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    finally:
        gallery.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
