"""1:N search in a Milvus server: its index types against exact search, at 100k (and 1M) faces.

The same set-up as the local index's rows in results/gallery.md (bench_gallery.py): LFW vectors of
the default pipeline (the first two images of every LFW person with two or more), the second image
of each person as the query and the rest as gallery, topped up with Gaussian distractors fitted to
the LFW vectors (L2-normalised). The vectors go into one collection of a real Milvus server (the
``milvus`` package's standalone server, started on free loopback ports); for each index type the
index is built (timed until Milvus reports every row indexed), the collection loaded, and the
queries sent one at a time asking for 16 neighbours, as identify does, at ``Session`` consistency
(the level facerec's searches use). Recall@1: the top hit equals exact (numpy) search's.

    flock /tmp/facerec-cpu.lock python bench/bench_milvus_search.py --sizes 1000000 --indexes flat,hnsw

Writes its section of results/scale.md (``--out``): this run's rows replace those of the same size,
the other sizes' rows (an earlier run's) and the notes under the table are kept.
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "bench"))

from bench_gallery import K, exact_top1, with_distractors  # noqa: E402
from bench_serve_ray import write_section  # noqa: E402
from support.milvus_server import MilvusServer  # noqa: E402

SECTION = "## 1:N search in a Milvus server"
INDEXES = {  # key -> (label, index params, search params)
    "flat": ("FLAT (exact)", {"index_type": "FLAT", "params": {}}, {}),
    "ivf_flat": ("IVF_FLAT nlist 1024, nprobe 32", {"index_type": "IVF_FLAT", "params": {"nlist": 1024}}, {"nprobe": 32}),
    "ivf_sq8": ("IVF_SQ8 nlist 1024, nprobe 32", {"index_type": "IVF_SQ8", "params": {"nlist": 1024}}, {"nprobe": 32}),
    "hnsw": ("HNSW M 16, efConstruction 200, ef 128",
             {"index_type": "HNSW", "params": {"M": 16, "efConstruction": 200}}, {"ef": 128}),
    "hnsw_ef512": ("HNSW M 16, efConstruction 200, ef 512",
                   {"index_type": "HNSW", "params": {"M": 16, "efConstruction": 200}}, {"ef": 512}),
}
"""Keys whose index equals the one before them in ``--indexes`` search the same index (no second build)."""


def lfw_vectors(max_people: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(all vectors, gallery vectors, queries); the answer of query i is gallery row i."""
    from _gallery_lfw import embed_cached, lfw_people

    people = list(lfw_people(2).items())[:max_people]
    firsts = [files[0] for _, files in people]
    seconds = [files[1] for _, files in people]
    vecs, ok, _ = embed_cached(firsts + seconds)
    n = len(people)
    both = ok[:n] & ok[n:]
    gallery, queries = vecs[:n][both], vecs[n:][both]
    return np.concatenate([gallery, queries]).astype(np.float32), gallery.astype(np.float32), queries.astype(np.float32)


def insert(client, name: str, base: np.ndarray) -> None:
    """A fresh collection holding ``base`` (row i under id i), flushed into sealed segments."""
    from pymilvus import DataType, MilvusClient

    if client.has_collection(name):
        client.drop_collection(name)
    schema = MilvusClient.create_schema(auto_id=False, enable_dynamic_field=False)
    schema.add_field("id", DataType.INT64, is_primary=True)
    schema.add_field("vector", DataType.FLOAT_VECTOR, dim=base.shape[1])
    client.create_collection(name, schema=schema, consistency_level="Session")
    for start in range(0, len(base), 2000):
        chunk = base[start:start + 2000]
        client.insert(name, [{"id": start + i, "vector": v} for i, v in enumerate(chunk.tolist())])
    client.flush(name)


def build(client, name: str, rows: int, index: dict) -> float:
    """Replace the collection's index by ``index``; seconds from ``create_index`` until every row is indexed."""
    client.release_collection(name)
    for old in client.list_indexes(name):
        client.drop_index(name, old)
    params = client.prepare_index_params()
    params.add_index(field_name="vector", metric_type="IP", **index)
    t0 = time.perf_counter()
    client.create_index(name, params)
    while True:
        info = client.describe_index(name, client.list_indexes(name)[0])
        if int(info.get("indexed_rows", 0)) >= rows and int(info.get("pending_index_rows", 0)) == 0:
            break
        time.sleep(0.5)
    seconds = time.perf_counter() - t0
    client.load_collection(name)
    return seconds


def merge_rows(old_section: str, new_rows: list[str], sizes: list[int]) -> list[str]:
    """The table rows of an earlier run for sizes not measured now, then this run's, by size."""
    kept = [line for line in old_section.splitlines() if line.startswith("| ") and line[2:3].isdigit()
            and int(line.split("|")[1].strip().replace(",", "")) not in sizes]
    return sorted(kept + new_rows, key=lambda line: int(line.split("|")[1].strip().replace(",", "")))


def merge_runs(old_section: str, run: str, sizes: list[int]) -> list[str]:
    """The ``- N faces: ...`` run lines of earlier runs for other sizes, then this run's."""
    labels = {f"- {n:,} faces:" for n in sizes}
    kept = [line for line in old_section.splitlines() if line.startswith("- ") and " faces: " in line
            and not any(line.startswith(lab) for lab in labels)]
    return kept + [f"- {n:,} faces: {run}" for n in sizes]


def write(args, rows: list[str], sizes: list[int], gallery_size: int, dim: int, n_queries: int, began: str,
          load: tuple) -> None:
    """This run's rows (so far) into the section of ``args.out``."""
    end_load = os.getloadavg()
    run = (f"`flock /tmp/facerec-cpu.lock python bench/bench_milvus_search.py --sizes {args.sizes} --queries "
           f"{n_queries} --indexes {args.indexes}` ({began}; load average {load[0]:.1f} at the start, "
           f"{end_load[0]:.1f} at the end, on this {os.cpu_count()}-core machine)")
    old = args.out.read_text() if args.out.exists() else ""
    old_section = old[old.find(SECTION):] if SECTION in old else ""
    old_section = old_section[:old_section.find("\n## ", len(SECTION))] if "\n## " in old_section[len(SECTION):] else old_section
    notes = old_section.split("| faces | index |")[1].split("\n\n", 1)[1] if "| faces | index |" in old_section \
        and "\n\n" in old_section.split("| faces | index |")[1] else ""
    lines = [
        SECTION, "",
        f"{gallery_size:,} LFW faces (default pipeline, {dim}-D) plus Gaussian distractors fitted to them; "
        "queries: the second image of an LFW person, one at a time over gRPC on loopback, 16 neighbours each, "
        "`Session` consistency. The rows are inserted once per size; each index is then built on them (timed from "
        "`create_index` until Milvus reports every row indexed) and loaded. Milvus standalone 2.3.5 (the `milvus` "
        "package's server). Runs:", "",
        *merge_runs(old_section, run, sizes), "",
        "| faces | index | build s | recall@1 vs exact | p50 ms | p95 ms |", "|---|---|---|---|---|---|",
        *merge_rows(old_section, rows, sizes), "",
    ]
    text = "\n".join(lines) + ("\n" + notes.strip("\n") + "\n" if notes.strip() else "")
    print(text)
    write_section(args.out, SECTION, text.rstrip("\n"))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default="100000")
    ap.add_argument("--people", type=int, default=1680)
    ap.add_argument("--queries", type=int, default=500)
    ap.add_argument("--indexes", default=",".join(INDEXES))
    ap.add_argument("--out", type=Path, default=ROOT / "results" / "scale.md")
    args = ap.parse_args()
    from pymilvus import MilvusClient

    lfw, gallery, queries = lfw_vectors(args.people)
    queries = queries[:args.queries]
    sizes = [int(s) for s in args.sizes.split(",")]
    load = os.getloadavg()
    began = time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())
    rows = []
    with MilvusServer() as milvus:
        client = MilvusClient(f"http://127.0.0.1:{milvus.port}", timeout=7200)
        for n in sizes:
            base = with_distractors(lfw, gallery, n)
            truth = exact_top1(base, queries)
            insert(client, "bench", base)
            built = None
            for key in args.indexes.split(","):
                label, index, search = INDEXES[key]
                if index != built:
                    seconds, built = build(client, "bench", n, index), index
                    took = f"{seconds:.1f}"
                else:
                    took = "(the index above)"
                ms, top = [], []
                for q in queries:
                    t = time.perf_counter()
                    hits = client.search("bench", data=[q.tolist()], limit=K, consistency_level="Session",
                                         search_params={"metric_type": "IP", "params": search})
                    ms.append((time.perf_counter() - t) * 1000)
                    top.append(int(hits[0][0]["id"]) if hits[0] else -1)
                recall = float(np.mean(np.array(top) == truth))
                rows.append(f"| {n:,} | {label} | {took} | {recall:.3f} | {np.percentile(ms, 50):.1f} | "
                            f"{np.percentile(ms, 95):.1f} |")
                print(rows[-1], flush=True)
                write(args, rows, sizes, len(gallery), lfw.shape[1], len(queries), began, load)  # a stopped run keeps its rows
            client.drop_collection("bench")
        client.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
