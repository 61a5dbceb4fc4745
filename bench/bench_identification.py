"""Open-set identification (1:N) on LFW, as NIST FRTE reports it: FNIR at fixed FPIR for a stated gallery size.

Usage:
  nice -n 5 facerec embed $LFW --out /tmp/lfw_default.npz -j 2         # once, the default pipeline
  python bench/bench_identification.py --vectors /tmp/lfw_default.npz   # tables, DET plot, results/identification.md
  python bench/bench_identification.py --vectors /tmp/lfw_default.npz --calibrate   # also rewrites
      src/facerec/openset/calibration.py (impostor tails from LFW View 1)
  python bench/bench_identification.py --make-dirs /tmp/idset           # symlink folders for the CLI check
  python bench/bench_identification.py --cli-answers answers.json       # FPIR/FNIR of 'gallery identify --json'

Protocol (issue 24): the people with at least 2 images, sorted by name (1,680); every other one
(index 0, 2, ...: 840) is *known*: image 1 enrolled, image 2 probed; the other 840 are *strangers*:
image 2 probed, never enrolled; the 4,069 people with one image are *distractors*, enrolled. The
default vector is [sqrt(0.519) arcface, sqrt(0.481) sface] of two unit vectors, so each model's
vector and any other ensemble weight come from it without embedding again. A probe without a face
counts as a miss (known) or as not named (stranger).
"""
from __future__ import annotations

import argparse
import json
import math
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from lfw_common import DEV_TEST, DEV_TRAIN, LFW, ROOT, log, write_keeping_notes  # noqa: E402

from facerec.openset import (DEFAULT_FPIR, ImpostorTail, comparison_rate, fit_tail,  # noqa: E402
                                     identification_rate)

W_ARC = 0.519
DEFAULT_THRESHOLD = 0.2907
FPIRS = (0.10, 0.01, 0.001)


# -- data -------------------------------------------------------------------------------------------
def load_vectors(path: Path) -> dict[str, np.ndarray]:
    """``Name/Name_0001.jpg`` -> default 640-d vector."""
    from facerec.io.embeddings import load_embeddings

    table = load_embeddings(path)
    return {"/".join(Path(p).parts[-2:]): v for p, v in zip(table.paths, table.vectors)}


def reweight(v: np.ndarray, w_arc: float) -> np.ndarray:
    """The ensemble vector with ArcFace weight ``w_arc`` (1: ArcFace alone, 0: SFace alone) from default vectors."""
    arc = v[..., :512] / math.sqrt(W_ARC)
    sf = v[..., 512:] / math.sqrt(1 - W_ARC)
    if w_arc >= 1:
        return arc
    if w_arc <= 0:
        return sf
    return np.concatenate([math.sqrt(w_arc) * arc, math.sqrt(1 - w_arc) * sf], axis=-1)


@dataclass
class Protocol:
    known: list[str]
    strangers: list[str]
    distractors: list[str]
    files: dict[str, list[str]]

    def gallery(self, n_distractors: int, seed: int = 0) -> list[str]:
        pick = self.distractors
        if n_distractors < len(pick):
            idx = np.sort(np.random.default_rng(seed).choice(len(pick), n_distractors, replace=False))
            pick = [pick[i] for i in idx]
        return self.known + list(pick)


def protocol() -> Protocol:
    files = {d.name: [f"{d.name}/{f.name}" for f in sorted(d.glob("*.jpg"))]
             for d in sorted(p for p in LFW.iterdir() if p.is_dir())}
    multi = [n for n in sorted(files) if len(files[n]) >= 2]
    return Protocol(known=multi[0::2], strangers=multi[1::2],
                    distractors=[n for n in sorted(files) if len(files[n]) == 1], files=files)


# -- scoring ----------------------------------------------------------------------------------------
@dataclass
class Scores:
    """Per probe: the decision score, the top candidate, whether the probe is mated (and its mate)."""

    score: np.ndarray
    top: np.ndarray
    truth: np.ndarray
    """Gallery index of the probe's mate, -1 for a stranger."""


def rates(s: Scores, thr: float) -> tuple[float, float]:
    """(FPIR, FNIR) at threshold ``thr``."""
    mated = s.truth >= 0
    named = s.score >= thr
    fpir = float(np.mean(named[~mated]))
    fnir = float(np.mean(~(named[mated] & (s.top[mated] == s.truth[mated]))))
    return fpir, fnir


def threshold_at(s: Scores, fpir: float) -> float:
    """The lowest threshold with measured FPIR <= ``fpir``."""
    imp = np.sort(s.score[s.truth < 0])[::-1]
    k = int(math.floor(fpir * len(imp) + 1e-9))
    return float(np.nextafter(imp[k], np.inf)) if k < len(imp) else float(imp[-1])


def fnir_at(s: Scores, fpir: float) -> float:
    return rates(s, threshold_at(s, fpir))[1]


def rank1(s: Scores) -> float:
    mated = s.truth >= 0
    return float(np.mean(s.top[mated] == s.truth[mated]))


def det(s: Scores) -> tuple[np.ndarray, np.ndarray]:
    thr = np.unique(s.score[np.isfinite(s.score)])
    pts = np.array([rates(s, t) for t in thr[:: max(1, len(thr) // 400)]])
    return pts[:, 0], pts[:, 1]


class Experiment:
    """The protocol's probes against a gallery of a given set of persons, for any vector transform."""

    def __init__(self, vecs: dict[str, np.ndarray], proto: Protocol) -> None:
        self.vecs, self.p = vecs, proto
        self.dim = len(next(iter(vecs.values())))

    def vec(self, key: str) -> tuple[np.ndarray, bool]:
        v = self.vecs.get(key)
        return (np.zeros(self.dim, np.float32), False) if v is None else (v, True)

    def arrays(self, persons: list[str], enrol: Callable[[str], list[str]], probes: list[tuple[str, str]],
               w_arc: float = W_ARC, template: str = "best") -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(gallery vectors, their person index, probe vectors, probe ok, probe truth person index)."""
        g, owner = [], []
        for i, name in enumerate(persons):
            faces = [self.vecs[k] for k in enrol(name) if k in self.vecs]
            if not faces:
                continue
            faces = [reweight(f, w_arc) for f in faces]
            if template == "mean":
                m = np.mean(faces, axis=0)
                faces = [m / np.linalg.norm(m)]
            g.extend(faces)
            owner.extend([i] * len(faces))
        index = {n: i for i, n in enumerate(persons)}
        pv, ok, truth = [], [], []
        for name, key in probes:
            v, good = self.vec(key)
            pv.append(reweight(v, w_arc) if good else np.zeros(len(g[0]), np.float32))
            ok.append(good)
            truth.append(index.get(name, -1))
        return (np.asarray(g, np.float32), np.asarray(owner), np.asarray(pv, np.float32), np.asarray(ok),
                np.asarray(truth))

    def run(self, persons: list[str], w_arc: float = W_ARC, method: str = "top1", template: str = "best",
            enrol: Optional[Callable[[str], list[str]]] = None,
            probes: Optional[list[tuple[str, str]]] = None) -> Scores:
        enrol = enrol or (lambda n: self.p.files[n][:1])
        probes = probes or [(n, self.p.files[n][1]) for n in self.p.known + self.p.strangers]
        gal, owner, pv, ok, truth = self.arrays(persons, enrol, probes, w_arc, template)
        sims = pv @ gal.T
        # best face per person: max over a person's faces (the gallery's search)
        n_p = len(persons)
        per = np.full((len(pv), n_p), -2.0, np.float32)
        if len(np.unique(owner)) == len(owner):
            per[:, owner] = sims
        else:
            np.maximum.at(per.T, owner, sims.T)
        per[~ok] = -2.0
        top = np.argmax(per, axis=1)
        score = normalised(per, top, method, gal_stats=self.gallery_stats(gal, owner, n_p) if method == "snorm" else None)
        return Scores(np.where(ok, score, -np.inf), top, truth)

    @staticmethod
    def gallery_stats(gal: np.ndarray, owner: np.ndarray, n_p: int, k: int = 100) -> tuple[np.ndarray, np.ndarray]:
        """Per person: mean and std of their face's top-k similarities to other persons' faces (s-norm's gallery side)."""
        mu, sd = np.zeros(n_p), np.ones(n_p)
        for start in range(0, len(gal), 2048):
            s = gal[start:start + 2048] @ gal.T
            rows = np.arange(start, min(start + 2048, len(gal)))
            s[np.arange(len(rows)), rows] = -2
            s[owner[rows][:, None] == owner[None, :]] = -2
            part = -np.partition(-s, k, axis=1)[:, :k]
            mu[owner[rows]] = part.mean(1)
            sd[owner[rows]] = part.std(1) + 1e-6
        return mu, sd


def normalised(per: np.ndarray, top: np.ndarray, method: str, k: int = 100, gal_stats=None) -> np.ndarray:
    """The decision score of each probe's top candidate under ``method``."""
    rows = np.arange(len(per))
    s1 = per[rows, top]
    if method == "top1":
        return s1
    ranked = -np.partition(-per, k + 1, axis=1)[:, : k + 1]
    ranked = -np.sort(-ranked, axis=1)
    rest = ranked[:, 1:]
    if method == "margin":
        return s1 - rest[:, 0]
    if method == "top1+margin":
        return s1 + (s1 - rest[:, 0])
    if method == "zscore":
        return (s1 - rest.mean(1)) / (rest.std(1) + 1e-6)
    if method == "snorm":
        mu_p, sd_p = rest.mean(1), rest.std(1) + 1e-6
        mu_g, sd_g = gal_stats[0][top], gal_stats[1][top]
        return 0.5 * ((s1 - mu_p) / sd_p + (s1 - mu_g) / sd_g)
    if method == "top1-mean":
        return s1 - rest.mean(1)
    raise ValueError(method)


# -- calibration ------------------------------------------------------------------------------------
def view1_images() -> list[str]:
    keys = set()
    for f in (DEV_TRAIN, DEV_TEST):
        for line in Path(f).read_text().splitlines()[1:]:
            t = line.split()
            if len(t) == 3:
                keys |= {f"{t[0]}/{t[0]}_{int(t[1]):04d}.jpg", f"{t[0]}/{t[0]}_{int(t[2]):04d}.jpg"}
            elif len(t) == 4:
                keys |= {f"{t[0]}/{t[0]}_{int(t[1]):04d}.jpg", f"{t[2]}/{t[2]}_{int(t[3]):04d}.jpg"}
    return sorted(keys)


def view1_scores(vecs: dict[str, np.ndarray], w_arc: float) -> tuple[np.ndarray, np.ndarray, int]:
    """(impostor scores: every cross-person pair of View 1 images, genuine: every same-person pair, images)."""
    keys = [k for k in view1_images() if k in vecs]
    x = reweight(np.stack([vecs[k] for k in keys]), w_arc).astype(np.float32)
    who = np.array([k.split("/")[0] for k in keys])
    iu = np.triu_indices(len(keys), 1)
    sims = (x @ x.T)[iu]
    same = who[iu[0]] == who[iu[1]]
    return sims[~same], sims[same], len(keys)


CALIBRATED = {"arcface_mbf:0.519+sface:0.481": W_ARC, "arcface_mbf": 1.0, "sface": 0.0}


def write_calibration(vecs: dict[str, np.ndarray]) -> dict[str, ImpostorTail]:
    out = ROOT / "src/facerec/openset/calibration.py"
    tails = {}
    lines = ['"""Impostor-score tails per embedder, for open-set thresholds (:mod:`facerec.openset`).',
             "",
             "Written by ``bench/bench_identification.py --calibrate`` from LFW View 1 (every image of",
             "pairsDevTrain.txt and pairsDevTest.txt, embedded by ``facerec embed`` with the default pipeline,",
             "SCRFD-500M at 320 px; each member's vector recovered from the ensemble vector): every pair of",
             "images of different persons is an impostor score, every pair of the same person a genuine one.",
             "Do not edit by hand.", '"""', "from facerec.openset.thresholds import ImpostorTail", "", "TAILS: dict[str, ImpostorTail] = {"]
    for eid, w in CALIBRATED.items():
        imp, gen, n_img = view1_scores(vecs, w)
        src = (f"LFW View 1 (pairsDevTrain + pairsDevTest images: {n_img}), {len(imp):,} impostor and {len(gen):,} "
               f"genuine pairs, default detector (scrfd:320); table to the top 50 scores, then exponential with the slope of the last decade")
        tail = fit_tail(imp, gen, src)
        tails[eid] = tail
        lines.append(f"    {eid!r}: ImpostorTail(")
        for f in ("scores", "log10_sf", "beta", "genuine_q", "genuine", "source"):
            lines.append(f"        {f}={getattr(tail, f)!r},")
        lines.append("    ),")
        log(f"calibrated {eid}: {len(imp):,} impostor pairs; thr(p=1e-6)={tail.threshold(1e-6):.4f}")
    lines.append("}")
    out.write_text("\n".join(lines) + "\n")
    return tails


# -- report -----------------------------------------------------------------------------------------
def pct(x: float) -> str:
    return f"{100 * x:.1f}%"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--vectors", type=Path, help="facerec embed output of all of LFW (default pipeline)")
    ap.add_argument("--calibrate", action="store_true", help="rewrite src/facerec/openset/calibration.py")
    ap.add_argument("--make-dirs", type=Path, help="write symlink folders gallery/ and probes/ here and stop")
    ap.add_argument("--cli-answers", type=Path, help="score a 'gallery identify --json' answer file and stop")
    ap.add_argument("--out", type=Path, default=ROOT / "results" / "identification.md")
    args = ap.parse_args()
    proto = protocol()
    if args.make_dirs:
        make_dirs(proto, args.make_dirs)
        return
    if args.cli_answers:
        print(json.dumps(score_cli(proto, args.cli_answers), indent=1))
        return
    if not args.vectors:
        ap.error("--vectors is required")
    vecs = load_vectors(args.vectors)
    log(f"{len(vecs)} vectors; known {len(proto.known)}, strangers {len(proto.strangers)}, "
        f"distractors {len(proto.distractors)}")
    if args.calibrate:
        tails = write_calibration(vecs)
    else:
        from facerec.openset.calibration import TAILS as tails
    report(vecs, proto, tails, args.out)


def report(vecs, proto: Protocol, tails: dict[str, ImpostorTail], out: Path) -> None:
    ex = Experiment(vecs, proto)
    tail = tails["arcface_mbf:0.519+sface:0.481"]
    sizes = [0, 1000, len(proto.distractors)]
    md = ["# Open-set identification (1:N) on LFW", "",
          "`bench/bench_identification.py` (issue 24's protocol): people with >= 2 images sorted by name; every other "
          "one (840) *known* (image 1 enrolled, image 2 probed), the other 840 *strangers* (image 2 probed, never "
          "enrolled); the 4,069 people with one image are enrolled distractors (a seeded random 1,000 of them for "
          "the 1,840-person gallery). FPIR: strangers given any name; FNIR: known probes not given their own name. "
          "Vectors: `facerec embed` of all LFW with the default pipeline (arcface_mbf:0.519+sface:0.481, scrfd:320). "
          "Every figure names its gallery size (enrolled persons).", ""]
    md += ["## By gallery size: the 1:1 threshold, and thresholds for a target FPIR", "",
           "| enrolled persons | FPIR @ 1:1 thr 0.2907 | FNIR @ 0.2907 | rank-1 (closed set) | FNIR @ FPIR 10% | "
           "FNIR @ FPIR 1% | FNIR @ FPIR 0.1% | --fpir 0.01 threshold | its FPIR | its FNIR |", "|" + "---|" * 10]
    dets = {}
    for nd in sizes:
        persons = proto.gallery(nd)
        s = ex.run(persons)
        fp, fn = rates(s, DEFAULT_THRESHOLD)
        thr = tail.threshold(comparison_rate(DEFAULT_FPIR, len(persons)))
        fp2, fn2 = rates(s, thr)
        md.append(f"| {len(persons):,} | {pct(fp)} | {pct(fn)} | {pct(rank1(s))} | "
                  + " | ".join(pct(fnir_at(s, f)) for f in FPIRS) + f" | {thr:.4f} | {pct(fp2)} | {pct(fn2)} |")
        dets[len(persons)] = det(s)
        log(md[-1])
    md += ["", "FNIR @ FPIR x: the lowest threshold at which at most x of the 840 strangers are named (so 0.1% "
           "means none of them). The `--fpir 0.01` threshold is what the gallery now uses by default: from the "
           "View 1 impostor tail shipped in `facerec.openset.calibration`, p = 1-(1-0.01)^(1/N).", ""]
    plot_det(dets, out.with_name("identification_det.png"))
    md += ["![DET](identification_det.png)", ""]
    # extrapolation
    s_all = ex.run(proto.gallery(len(proto.distractors)))
    gal, owner, pv, ok, truth = ex.arrays(proto.gallery(len(proto.distractors)), lambda n: proto.files[n][:1],
                                          [(n, proto.files[n][1]) for n in proto.strangers])
    imp = (pv[ok] @ gal.T).ravel()
    gen_tail = fit_tail(imp, np.array([0.0, 1.0]), "protocol strangers x 4,909 gallery")
    mated = s_all.truth >= 0
    mated_scores = s_all.score[mated]
    md += ["## Extrapolation to larger galleries", "",
           f"Per-comparison impostor tail: View 1 (shipped calibration) and, to check it, the protocol's "
           f"{ok.sum()} strangers x 4,909 enrolled ({len(imp):,} scores). FNIR from the 840 known probes' mated "
           "scores on the 4,909 gallery (rank errors at that size included; larger galleries add more).", "",
           "| enrolled persons | FPIR @ 0.2907 (View 1 tail) | thr for FPIR 1% (View 1) | thr (protocol tail) | "
           "FNIR there | thr for FPIR 0.1% | FNIR there |", "|---|---|---|---|---|---|---|"]
    for n in (840, 4909, 10_000, 100_000, 1_000_000, 100_000_000):
        t1 = tail.threshold(comparison_rate(0.01, n))
        t1b = gen_tail.threshold(comparison_rate(0.01, n))
        t01 = tail.threshold(comparison_rate(0.001, n))
        fn1 = float(np.mean(~((mated_scores >= t1) & (s_all.top[mated] == s_all.truth[mated]))))
        fn01 = float(np.mean(~((mated_scores >= t01) & (s_all.top[mated] == s_all.truth[mated]))))
        md.append(f"| {n:,} | {pct(identification_rate(tail.sf(DEFAULT_THRESHOLD), n))} | {t1:.4f} | {t1b:.4f} | "
                  f"{pct(fn1)} | {t01:.4f} | {pct(fn01)} |")
    md += [""]
    # methods
    md += methods_table(ex, proto)
    md += enrolment_table(ex, proto, tail)
    text = write_keeping_notes(out, "\n".join(md))
    print(text)


def methods_table(ex: Experiment, proto: Protocol) -> list[str]:
    persons = proto.gallery(len(proto.distractors))
    rows = ["## Scores at the same FPIR (4,909 enrolled persons)", "",
            "| method | ArcFace weight | FNIR @ FPIR 1% | FNIR @ FPIR 0.1% | rank-1 |", "|---|---|---|---|---|"]
    for method in ("top1", "margin", "top1+margin", "top1-mean", "zscore", "snorm"):
        for w in ((W_ARC, 0.8) if method == "top1-mean" else (W_ARC,) if method != "top1"
                  else (W_ARC, 0.0, 0.3, 0.4, 0.6, 0.7, 0.8, 1.0)):
            s = ex.run(persons, w_arc=w, method=method)
            rows.append(f"| {method} | {w:g} | {pct(fnir_at(s, 0.01))} | {pct(fnir_at(s, 0.001))} | {pct(rank1(s))} |")
            log(rows[-1])
    return rows + [""]


def enrolment_table(ex: Experiment, proto: Protocol, tail: ImpostorTail) -> list[str]:
    six = [n for n in sorted(proto.files) if len(proto.files[n]) >= 6]
    strangers = [n for n in proto.strangers if len(proto.files[n]) < 6]
    persons = six + proto.distractors
    probes = [(n, proto.files[n][5]) for n in six] + [(n, proto.files[n][1]) for n in strangers]
    rows = [f"## How many photos to enrol ({len(six)} people with >= 6 images + 4,069 distractors = "
            f"{len(persons):,} enrolled persons)", "",
            f"Enrol images 1..k of each, probe with image 6; strangers: the protocol's {len(strangers)} strangers "
            "with fewer than 6 images (image 2).", "",
            "| photos enrolled | template | FNIR @ FPIR 1% | FNIR @ FPIR 0.1% | rank-1 | --fpir 0.01 rule, N = persons: "
            "FPIR / FNIR | N = faces: FPIR / FNIR |", "|---|---|---|---|---|---|---|"]
    n_faces = {k: sum(min(k, len(proto.files[n])) for n in persons) for k in (1, 3, 5)}
    for k in (1, 3, 5):
        for template in (("best",) if k == 1 else ("best", "mean")):
            s = ex.run(persons, template=template, enrol=lambda n, k=k: proto.files[n][:k], probes=probes)
            by_p = rates(s, tail.threshold(comparison_rate(DEFAULT_FPIR, len(persons))))
            by_f = rates(s, tail.threshold(comparison_rate(DEFAULT_FPIR, n_faces[k])))
            rows.append(f"| {k} | {'best face' if template == 'best' else 'mean template'} | {pct(fnir_at(s, 0.01))} | "
                        f"{pct(fnir_at(s, 0.001))} | {pct(rank1(s))} | {pct(by_p[0])} / {pct(by_p[1])} | "
                        f"{pct(by_f[0])} / {pct(by_f[1])} |")
            log(rows[-1])
    return rows + [""]


def plot_det(dets: dict[int, tuple[np.ndarray, np.ndarray]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4.5))
    for n, (fp, fn) in dets.items():
        keep = fp > 0
        ax.plot(fp[keep], fn[keep], label=f"{n:,} enrolled persons")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("FPIR (strangers named)")
    ax.set_ylabel("FNIR (known not named right)")
    ax.set_title("LFW open-set DET, default pipeline, top-1 score")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)


# -- the CLI check ----------------------------------------------------------------------------------
def make_dirs(proto: Protocol, root: Path) -> None:
    """root/gallery/NAME/NAME_0001.jpg (known + distractors), root/probes/NAME_0002.jpg (known + strangers)."""
    for name in proto.gallery(len(proto.distractors)):
        d = root / "gallery" / name
        d.mkdir(parents=True, exist_ok=True)
        src = LFW.resolve() / proto.files[name][0]
        (d / src.name).unlink(missing_ok=True)
        (d / src.name).symlink_to(src)
    (root / "probes").mkdir(parents=True, exist_ok=True)
    for name in proto.known + proto.strangers:
        src = LFW.resolve() / proto.files[name][1]
        (root / "probes" / src.name).unlink(missing_ok=True)
        (root / "probes" / src.name).symlink_to(src)
    log(f"wrote {root}/gallery ({len(proto.gallery(len(proto.distractors)))} persons) and {root}/probes")


def score_cli(proto: Protocol, answers: Path) -> dict:
    """FPIR / FNIR of ``gallery identify --json`` on the probes (each image's face nearest the centre), as
    answered, and of a plain threshold on the same answers' top candidate (FNIR at FPIR 1%)."""
    from facerec.detection.selection import pick_index

    known = set(proto.known)
    fp = fn = 0
    thresholds = set()
    top_sim, top_ok, mated = [], [], []
    for item in json.loads(answers.read_text()):
        name = Path(item["image"]).stem.rsplit("_", 1)[0]
        faces = item["faces"]
        face = faces[pick_index(np.array([f["bbox"] for f in faces]), (250, 250), "center")] if faces else None
        if face is not None:
            thresholds.add(face.get("threshold"))
        got = face["name"] if face else "unknown"
        cand = face["candidates"][0] if face and face["candidates"] else None
        top_sim.append(cand["similarity"] if cand else -np.inf)
        top_ok.append(cand is not None and cand["name"] == name)
        mated.append(name in known)
        if name in known:
            fn += got != name
        else:
            fp += got != "unknown"
    m = np.array(mated)
    s = Scores(np.array(top_sim), np.where(np.array(top_ok), 1, 0), np.where(m, 1, -1))
    return {"probes_known": int(m.sum()), "probes_strangers": int((~m).sum()), "FPIR": fp / max(1, (~m).sum()),
            "FNIR": fn / max(1, m.sum()), "thresholds": sorted(t for t in thresholds if t is not None),
            "plain threshold for FPIR 1% on these answers": threshold_at(s, 0.01),
            "its FPIR, FNIR": rates(s, threshold_at(s, 0.01))}


if __name__ == "__main__":
    main()
