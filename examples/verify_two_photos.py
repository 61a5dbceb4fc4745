"""Are two photos the same person?  python examples/verify_two_photos.py a.jpg b.jpg

Prints the similarity, the calibrated threshold and the answer; a photo without a face, or a file
that is not an image, ends with one line on stderr and exit code 2.
"""
from __future__ import annotations

import sys

from facerec import FaceAnalyzer, FacerecError


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print("usage: verify_two_photos.py A.jpg B.jpg", file=sys.stderr)
        return 2
    analyzer = FaceAnalyzer()  # default detector + embedder; models pulled on first use
    try:
        result = analyzer.verify(argv[0], argv[1])
    except FacerecError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    verdict = "same person" if result.same else "different people"
    print(f"{verdict}: similarity {result.similarity:.3f} (threshold {result.threshold:.3f}, {result.model})")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
