"""Gallery benchmark: the LFW 158-person identify check through the CLI, enroll throughput, and the
search indexes at 20k, 100k and 1M faces that set ``facerec.gallery.index`` (EXACT_UP_TO, the PQ scan, SHORTLIST).

Usage: flock /tmp/facerec-cpu.lock python bench/bench_gallery.py [--skip-lfw] [--skip-index] [--sizes ...]
Part 1, on each gallery backend (SQLite + FAISS and Milvus Lite), enrolls the first image of each LFW
person with at least 10 images with
``facerec gallery enroll-dataset --pick center`` (a temporary folder of symlinks), then runs
``facerec gallery identify --json`` on their second images. The LFW subject is the face
nearest the image centre (LFW images are centred on their subject), both when enrolling and
when reading the answer.
Part 2 builds flat, the gallery's own FaceIndex (PQ fast-scan + exact re-rank), IVF-Flat, IVF-SQ8 / IVF-PQ with
exact re-ranking and HNSW over the LFW vectors of the default pipeline (``--lfw-vectors``) plus Gaussian distractors fitted to them, and
times single queries on one thread (memory peaks near two copies of the largest gallery: about 6 GB at 1M).
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from _gallery_lfw import lfw_people, write_results  # noqa: E402


def centre_face(faces: list[dict], size: tuple[int, int] = (250, 250)) -> dict | None:
    """The face nearest the centre of a ``size`` (width, height) LFW image: the library's ``--pick center``."""
    from facerec.detection.selection import pick_index

    if not faces:
        return None
    return faces[pick_index(np.array([f["bbox"] for f in faces]), (size[1], size[0]), "center")]


def lfw_once(people: dict[str, list[Path]], root: Path, db: str, workers: int) -> tuple[list, float, float]:
    """Enroll every person's first image into ``db`` with the CLI, identify their second: (results, enroll s, identify s)."""
    t = time.perf_counter()
    enroll = subprocess.run(["facerec", "gallery", "--db", db, "enroll-dataset", str(root), "--workers",
                             str(workers), "--pick", "center"], capture_output=True, text=True)
    t_enroll = time.perf_counter() - t
    if enroll.returncode != 0:
        raise SystemExit(enroll.stderr)
    queries = [files[1] for files in people.values()]
    t = time.perf_counter()
    ident = subprocess.run(["facerec", "gallery", "--db", db, "identify", *map(str, queries), "--json"],
                           capture_output=True, text=True)
    t_ident = time.perf_counter() - t
    if ident.returncode != 0:
        raise SystemExit(ident.stderr)
    return json.loads(ident.stdout), t_enroll, t_ident


def lfw_check(workers: int, backends: list[str]) -> tuple[list[str], dict]:
    """The one-shot LFW identification on each gallery backend (SQLite + FAISS, Milvus Lite)."""
    people = lfw_people(10)
    n = len(people)
    lines = ["## LFW: enroll the first image, identify the second (people with at least 10 images)", "",
             "| backend (--db) | people | right (centre face) | rate | right (largest face) | enroll-dataset wall (s) "
             "| identify wall (s) |", "|---|---|---|---|---|---|---|"]
    notes, rates = [], {}
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "enroll"
        for name, files in people.items():
            (root / name).mkdir(parents=True)
            (root / name / files[0].name).symlink_to(files[0].resolve())
        for backend in backends:
            db = str(Path(tmp) / "lfw158.db") if backend == "sqlite" else f"milvus://{Path(tmp) / 'lfw158_milvus.db'}"
            results, t_enroll, t_ident = lfw_once(people, root, db, workers)
            right, largest_right, wrong = 0, 0, []
            for name, res in zip(people, results):
                face = centre_face(res["faces"])
                got = face["name"] if face else "(no face)"
                if got == name:
                    right += 1
                else:
                    wrong.append(f"{name} -> {got} ({face['similarity']:.3f})" if face else f"{name} -> no face")
                largest_right += bool(res["faces"]) and res["faces"][0]["name"] == name
            shown = "PATH.db" if backend == "sqlite" else "milvus:///PATH.db"
            lines.append(f"| {backend} (`{shown}`) | {n} | {right} | {right / n:.4f} | {largest_right} | {t_enroll:.1f} "
                         f"| {t_ident:.1f} |")
            if wrong:
                notes.append(f"Misses ({backend}): " + "; ".join(wrong))
            rates[backend] = right / n
    lines += [""] + [f"{m}\n" for m in notes]
    lines += [f"Wall times include starting the CLI and loading the models (and starting Milvus Lite); enroll-dataset "
              f"used {workers} worker processes, identify one process.", ""]
    print("\n".join(lines), flush=True)
    return lines, rates


# -- search index at scale: LFW faces among Gaussian distractors ---------------------------------------
K = 16  # neighbours identify asks the index for (Gallery.search: max(16, 8 k))


def rss_gb() -> float:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 1e9


def lfw_split(npz: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(all LFW vectors, gallery vectors, query vectors, gallery row of each query's answer).

    Queries are the second image of every person with two or more; the answer is their first
    image. The gallery is every LFW vector but the queries.
    """
    from facerec.io.embeddings import load_embeddings

    table = load_embeddings(npz)
    rows: dict[str, list[tuple[str, int]]] = {}
    for i, path in enumerate(table.paths):
        rows.setdefault(Path(path).parent.name, []).append((path, i))
    queries, answers = [], []
    for person in rows.values():
        person.sort()
        if len(person) >= 2:
            queries.append(person[1][1])
            answers.append(person[0][1])
    keep = np.setdiff1d(np.arange(len(table.paths)), queries)
    position = {int(r): j for j, r in enumerate(keep)}
    vecs = table.vectors.astype(np.float32)
    return vecs, vecs[keep], vecs[queries], np.array([position[a] for a in answers], np.int64)


def with_distractors(lfw: np.ndarray, gallery: np.ndarray, n: int, seed: int = 0) -> np.ndarray:
    """``gallery`` followed by Gaussian draws (mean and covariance of ``lfw``, L2-normalised) up to ``n`` rows."""
    out = np.empty((n, lfw.shape[1]), np.float32)
    out[:len(gallery)] = gallery
    mean = lfw.mean(axis=0)
    chol = np.linalg.cholesky(np.cov(lfw, rowvar=False) + 1e-6 * np.eye(lfw.shape[1])).astype(np.float32)
    rng = np.random.default_rng(seed)
    for start in range(len(gallery), n, 100_000):
        stop = min(n, start + 100_000)
        z = rng.standard_normal((stop - start, lfw.shape[1]), dtype=np.float32) @ chol.T + mean
        out[start:stop] = z / np.linalg.norm(z, axis=1, keepdims=True)
    return out


def exact_top1(base: np.ndarray, queries: np.ndarray) -> np.ndarray:
    best = np.full(len(queries), -np.inf, np.float32)
    arg = np.zeros(len(queries), np.int64)
    for start in range(0, len(base), 50_000):
        sims = queries @ base[start:start + 50_000].T
        j = sims.argmax(axis=1)
        s = sims[np.arange(len(queries)), j]
        better = s > best
        best[better], arg[better] = s[better], j[better] + start
    return arg


def time_queries(search, queries: np.ndarray, limit: int) -> tuple[np.ndarray, np.ndarray]:
    """(top-1 row per query, per-query milliseconds), one query at a time."""
    top, ms = [], []
    for q in queries[:limit]:
        t = time.perf_counter()
        ids = search(q[None])
        ms.append((time.perf_counter() - t) * 1000)
        top.append(int(ids[0]))
    return np.array(top, np.int64), np.array(ms)


def reranked(index, base: np.ndarray, shortlist: int):
    """Search ``index`` for a shortlist, then order it by exact inner product with the stored vectors."""
    def search(q: np.ndarray) -> np.ndarray:
        _, cand = index.search(q, shortlist)
        cand = cand[0][cand[0] >= 0]
        sims = base[cand] @ q[0]
        return cand[np.argsort(-sims)[:K]]
    return search


def plain(index):
    def search(q: np.ndarray) -> np.ndarray:
        return index.search(q, K)[1][0]
    return search


INDEX_KINDS = ("flat", "pq", "ivf", "hnsw")
"""The row groups of the index benchmark (``--indexes``)."""


def index_benchmark(npz: Path, sizes: list[int], hnsw_up_to: int, compressed_up_to: int,
                    max_queries: int = 100_000, kinds: tuple[str, ...] = INDEX_KINDS,
                    hnsw_threads: int = 1) -> list[str]:
    """Flat, IVF-Flat, IVF-SQ8 / IVF-PQ + re-rank, the gallery's PQ scan + re-rank and HNSW: build, RAM, latency, recall."""
    import faiss

    from facerec.gallery.index import SHORTLIST, TRAIN_SIZE, FaceIndex, pq_subquantizers

    lfw, gallery, queries, answers = lfw_split(npz)
    queries, answers = queries[:max_queries], answers[:max_queries]
    dim = lfw.shape[1]
    m = pq_subquantizers(dim)
    lines = [f"## Search index at scale: {len(lfw):,} LFW faces among Gaussian distractors ({dim}-D, one query thread)", "",
             f"The gallery holds the {len(gallery):,} LFW vectors of `{npz.name}` that are not queries, then distractors "
             "drawn from a Gaussian with the LFW vectors' mean and covariance (L2-normalised). Queries: the second "
             f"image of each of the {len(queries):,} people with two or more images; the right answer is their first image. "
             f"Each query asks for {K} neighbours (as identify does), one at a time on one thread "
             "(`faiss.omp_set_num_threads(1)`); builds run on one thread too (OpenMP on two busy cores stalls). Recall@1: the top hit equals exact search's. "
             "`+ re-rank S`: the index proposes S candidates, ordered again by exact inner product with the stored "
             "vectors (included in the latency; not in the RAM column: the gallery reads them from SQLite). "
             "RAM: resident memory the index added. At 1M faces the exact rows time 20 queries and the IVF rows the first 500. "
             "The gallery's index above `EXACT_UP_TO` is the `IVF1,PQ..x4fs` row "
             "marked (gallery): one cell, so every face's 4-bit codes are scanned (FAISS fast-scan).", "",
             "| faces | index | build (s) | RAM (GB) | p50 (ms) | p95 (ms) | recall@1 vs exact | top-1 = answer |",
             "|---|---|---|---|---|---|---|---|"]

    def row(n: int, name: str, build: float, ram: float, top: np.ndarray, ms: np.ndarray, truth: np.ndarray) -> None:
        k = len(top)
        line = (f"| {n:,} | {name} | {build:.1f} | {ram:.2f} | {np.percentile(ms, 50):.2f} | {np.percentile(ms, 95):.2f} "
                f"| {np.mean(top == truth[:k]):.4f} | {np.mean(top == answers[:k]):.4f} |")
        lines.append(line)
        print(line, flush=True)

    def build(make, base: np.ndarray, sample: np.ndarray, ids: np.ndarray):
        faiss.omp_set_num_threads(1)
        r0, t = rss_gb(), time.perf_counter()
        index = make()
        index.train(sample)
        for start in range(0, len(base), 100_000):
            index.add_with_ids(base[start:start + 100_000], ids[start:start + 100_000])
        out = index, time.perf_counter() - t, rss_gb() - r0
        faiss.omp_set_num_threads(1)
        return out

    def pq_rows(n: int, base: np.ndarray, sample: np.ndarray, ids: np.ndarray, truth: np.ndarray) -> None:
        """The gallery's index (every face's PQ codes scanned, shortlist re-ranked exactly) and a half-size code."""
        r0, t = rss_gb(), time.perf_counter()
        faiss.omp_set_num_threads(1)
        pq = FaceIndex(dim, kind="pq")
        pq.train(sample, gallery_size=n)
        for start in range(0, n, 100_000):
            pq.add(ids[start:start + 100_000], base[start:start + 100_000])
        secs, ram = time.perf_counter() - t, rss_gb() - r0
        faiss.omp_set_num_threads(1)
        for shortlist in (64, SHORTLIST):
            top, ms = time_queries(reranked(pq._index, base, shortlist), queries, limit=len(queries))
            mark = " (gallery)" if shortlist == SHORTLIST else ""
            row(n, f"IVF1,PQ{m}x4fs + re-rank {shortlist}{mark}", secs, ram, top, ms, truth)
        del pq
        half, secs, ram = build(lambda: faiss.index_factory(dim, f"IVF1,PQ{m // 2}x4fs", faiss.METRIC_INNER_PRODUCT),
                                base, sample, ids)
        top, ms = time_queries(reranked(half, base, SHORTLIST), queries, limit=len(queries))
        row(n, f"IVF1,PQ{m // 2}x4fs + re-rank {SHORTLIST}", secs, ram, top, ms, truth)

    def ivf_rows(n: int, base: np.ndarray, sample: np.ndarray, ids: np.ndarray, truth: np.ndarray) -> None:
        """Inverted lists: about sqrt(n) cells, probing up to a quarter of them."""
        nlist = 2 ** round(np.log2(np.sqrt(n)))
        variants = [("Flat", lambda: faiss.index_factory(dim, f"IVF{nlist},Flat", faiss.METRIC_INNER_PRODUCT), 0)]
        if n <= compressed_up_to:
            variants += [("SQ8", lambda: faiss.index_factory(dim, f"IVF{nlist},SQ8", faiss.METRIC_INNER_PRODUCT), SHORTLIST),
                         (f"PQ{m}x4fs", lambda: faiss.index_factory(dim, f"IVF{nlist},PQ{m}x4fs", faiss.METRIC_INNER_PRODUCT),
                          SHORTLIST)]
        for code, make, shortlist in variants:
            ivf, secs, ram = build(make, base, sample, ids)
            for nprobe in (nlist // 64, nlist // 16, nlist // 4):
                faiss.extract_index_ivf(ivf).nprobe = max(1, nprobe)
                search = reranked(ivf, base, shortlist) if shortlist else plain(ivf)
                top, ms = time_queries(search, queries, limit=len(queries) if n < 500_000 else 500)
                rerank = f" + re-rank {shortlist}" if shortlist else ""
                row(n, f"IVF{nlist},{code} nprobe={max(1, nprobe)}{rerank}", secs, ram, top, ms, truth)
            del ivf

    def hnsw_row(n: int, base: np.ndarray, truth: np.ndarray) -> None:
        """HNSW (the index the PQ scan replaced: M=32, efConstruction=80, efSearch=128); built on
        ``hnsw_threads`` threads, queried on one."""
        faiss.omp_set_num_threads(hnsw_threads)
        r0, t = rss_gb(), time.perf_counter()
        hnsw = faiss.IndexHNSWFlat(dim, 32, faiss.METRIC_INNER_PRODUCT)
        hnsw.hnsw.efConstruction = 80
        hnsw.add(base)
        secs, ram = time.perf_counter() - t, rss_gb() - r0
        hnsw.hnsw.efSearch = 128
        faiss.omp_set_num_threads(1)
        top, ms = time_queries(plain(hnsw), queries, limit=len(queries) if n < 500_000 else 500)
        built = f", built on {hnsw_threads} threads" if hnsw_threads > 1 else ""
        row(n, f"HNSW32 efSearch=128{built}", secs, ram, top, ms, truth)

    for n in sizes:
        base = with_distractors(lfw, gallery, n)
        ids = np.arange(n, dtype=np.int64)
        sample = base[np.sort(np.random.default_rng(1).choice(n, min(n, TRAIN_SIZE), replace=False))]
        faiss.omp_set_num_threads(1)
        truth = exact_top1(base, queries)
        if "flat" in kinds:
            flat, secs, ram = build(lambda: faiss.IndexIDMap(faiss.IndexFlatIP(dim)), base, sample, ids)
            top, ms = time_queries(plain(flat), queries, limit=max(20, int(2e7 / n)))
            row(n, "flat (exact)", secs, ram, top, ms, truth)
            del flat
        if "pq" in kinds:
            pq_rows(n, base, sample, ids, truth)
        if "ivf" in kinds:
            ivf_rows(n, base, sample, ids, truth)
        if "hnsw" in kinds and n <= hnsw_up_to:
            hnsw_row(n, base, truth)
        del base, sample
    lines.append("")
    return lines


def keep_sections(path: Path, headings: list[str]) -> list[str]:
    """The ``## `` sections of an existing results file whose heading starts with one of ``headings``."""
    if not path.is_file():
        return []
    out, keep = [], False
    for line in path.read_text().splitlines():
        if line.startswith("## "):
            keep = any(line[3:].startswith(h) for h in headings)
        if keep:
            out.append(line)
    return out + [""] if out else []


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--sizes", default="20000,100000,1000000")
    ap.add_argument("--lfw-vectors", type=Path, default=Path("/work/cache/lfw_default.npz"),
                    help="every LFW image embedded by the default pipeline (facerec embed LFW --out FILE)")
    ap.add_argument("--hnsw-up-to", type=int, default=100_000, help="largest gallery to build HNSW for")
    ap.add_argument("--compressed-up-to", type=int, default=100_000,
                    help="largest gallery to build the IVF-SQ8 / IVF-PQ rows for")
    ap.add_argument("--queries", type=int, default=100_000, help="use only the first N queries (a busy machine)")
    ap.add_argument("--skip-lfw", action="store_true", help="keep the LFW identification section of --out as it is")
    ap.add_argument("--backends", default="sqlite,milvus", help="gallery backends of the LFW identification")
    ap.add_argument("--skip-index", action="store_true")
    ap.add_argument("--indexes", default=",".join(INDEX_KINDS), help=f"row groups to run, of: {', '.join(INDEX_KINDS)}")
    ap.add_argument("--hnsw-threads", type=int, default=1, help="threads that build HNSW (queries use one)")
    ap.add_argument("--out", type=Path, default=Path("results/gallery.md"))
    args = ap.parse_args()
    lfw_title = "LFW: enroll the first image"
    lines = keep_sections(args.out, [lfw_title]) if args.skip_lfw else lfw_check(args.workers, args.backends.split(","))[0]
    if not args.skip_index:
        lines += index_benchmark(args.lfw_vectors, [int(s) for s in args.sizes.split(",")], args.hnsw_up_to,
                                 args.compressed_up_to, args.queries, tuple(args.indexes.split(",")), args.hnsw_threads)
    else:
        lines += keep_sections(args.out, ["Search index at scale"])
    from facerec.gallery.index import EXACT_UP_TO

    lines.append(f"`EXACT_UP_TO` in src/facerec/gallery/index.py is {EXACT_UP_TO:,} faces: up to it the exact index "
                 "is used, above it the PQ fast-scan with an exact re-rank of the shortlist (`SHORTLIST`).")
    cmd = "flock /tmp/facerec-cpu.lock python bench/bench_gallery.py" + "".join(f" {a}" for a in sys.argv[1:])
    write_results(args.out, "Gallery: LFW identification, enrolment and search index", cmd, "\n".join(lines))


if __name__ == "__main__":
    main()
