#!/usr/bin/env bash
# facerec in two minutes: pulls the default models, then verifies real photos shipped by
# matplotlib (Grace Hopper) and scikit-image (the astronaut Eileen Collins).
set -euo pipefail
dir=$(mktemp -d)
python - "$dir" <<'PY'
import sys
from pathlib import Path

import cv2
import matplotlib.cbook as cbook
import skimage.data

out = Path(sys.argv[1])
grace = cv2.imread(cbook.get_sample_data("grace_hopper.jpg", asfileobj=False))
cv2.imwrite(str(out / "grace.jpg"), grace)
# The same person again: mirrored, half size, darker, re-encoded at JPEG quality 40.
other = cv2.resize(grace[:, ::-1], None, fx=0.5, fy=0.5) * 0.7
cv2.imwrite(str(out / "grace_2.jpg"), other.astype("uint8"), [cv2.IMWRITE_JPEG_QUALITY, 40])
cv2.imwrite(str(out / "astronaut.jpg"), skimage.data.astronaut()[..., ::-1])
PY
echo "== facerec models pull (default detector and embedder)"
facerec models pull --default
echo "== facerec verify grace.jpg grace_2.jpg"
facerec verify "$dir/grace.jpg" "$dir/grace_2.jpg"
echo "== facerec verify grace.jpg astronaut.jpg --json"
facerec verify "$dir/grace.jpg" "$dir/astronaut.jpg" --json
echo "== facerec detect astronaut.jpg"
facerec detect "$dir/astronaut.jpg"
rm -rf "$dir"
