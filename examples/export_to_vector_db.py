"""Export face vectors to another vector database: Milvus (Lite file, or a server).

    facerec embed photos/ --out vectors.npz
    python examples/export_to_vector_db.py vectors.npz --uri milvus_demo.db [--collection faces]

Reads a ``facerec embed`` output (.npz or .parquet), creates a collection whose dimension and metric
(inner product = cosine on unit vectors) match the embedder, inserts every vector with its path and
label, and queries the first vector back. The embedder id is stored with every row, since vectors of
different embedders must never be compared. Needs ``pip install 'facerec[milvus]'`` (pymilvus).
The same three steps (dimension, cosine metric, embedder id) apply to any other vector database.
"""
from __future__ import annotations

import argparse
import sys

from facerec import FacerecError
from facerec.io.embeddings import load_embeddings


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("vectors")
    parser.add_argument("--uri", default="milvus_demo.db", help="a Milvus Lite file, or http://host:19530")
    parser.add_argument("--collection", default="faces")
    args = parser.parse_args(argv)
    try:
        table = load_embeddings(args.vectors)
    except FacerecError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    try:
        from pymilvus import MilvusClient
    except ImportError:
        print("error: pymilvus is not installed: pip install 'facerec[milvus]'", file=sys.stderr)
        return 2
    client = MilvusClient(args.uri)
    if client.has_collection(args.collection):
        client.drop_collection(args.collection)
    client.create_collection(args.collection, dimension=int(table.vectors.shape[1]), metric_type="IP",
                             auto_id=True)
    labels = table.labels or [""] * len(table.paths)
    rows = [{"vector": vec.tolist(), "path": path, "label": label, "embedder": table.model}
            for vec, path, label in zip(table.vectors, table.paths, labels)]
    client.insert(args.collection, rows)
    hits = client.search(args.collection, data=[table.vectors[0].tolist()], limit=1,
                         output_fields=["path", "label"])
    best = hits[0][0]
    print(f"inserted {len(rows)} vectors of {table.model} into {args.uri}:{args.collection}")
    print(f"nearest to {table.paths[0]}: {best['entity']['path']} (similarity {best['distance']:.3f})")
    client.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
