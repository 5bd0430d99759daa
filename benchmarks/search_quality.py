"""Search relevance on the judged query set: nDCG@10, recall@10 and MRR, overall
and per query type.

Builds the engine's index straight from the demo corpus (no database: the ranking
is the engine's) and runs every judged query with its filters.

    python benchmarks/search_quality.py [--verbose] [--judgments PATH]

Definitions (unjudged documents have grade 0; "relevant" means grade >= 1):
nDCG@k = DCG@k / IDCG@k with DCG@k = sum over ranks i <= k of
(2^grade_i - 1) / log2(i + 1), the ideal DCG taken from all judged grades;
recall@k = relevant documents in the top k / all relevant documents;
MRR = mean over queries of 1 / rank of the first relevant document (0 if none).
"""

import argparse
import json
import math
import sys
from collections import defaultdict
from pathlib import Path

from asset_library.search import SearchIndex

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT / "asset_library" / "demo_assets.jsonl"
VOCABULARIES = ROOT / "asset_library" / "vocabularies.json"
JUDGMENTS = ROOT / "benchmarks" / "data" / "search_judgments.json"
K = 10
TARGETS = {"overall": 0.85, "cross_language": 0.75}
#: Ranking is measured at a fixed moment, so freshness does not drift.
NOW = "2025-06-01T00:00:00+00:00"


def dcg(grades: list[int]) -> float:
    return sum((2**grade - 1) / math.log2(i + 2) for i, grade in enumerate(grades))


def ndcg(ranking: list, judgments: dict, k: int = K) -> float:
    """nDCG@k of ``ranking`` (ids, best first) against graded ``judgments``."""
    ideal = dcg(sorted(judgments.values(), reverse=True)[:k])
    if ideal == 0:
        return 0.0
    return dcg([judgments.get(doc_id, 0) for doc_id in ranking[:k]]) / ideal


def recall(ranking: list, judgments: dict, k: int = K) -> float:
    """Share of the relevant documents (grade >= 1) found in the top k."""
    relevant = {doc_id for doc_id, grade in judgments.items() if grade >= 1}
    if not relevant:
        return 0.0
    return len(relevant.intersection(ranking[:k])) / len(relevant)


def reciprocal_rank(ranking: list, judgments: dict) -> float:
    """1 / rank of the first relevant document, 0 when there is none."""
    for rank, doc_id in enumerate(ranking, start=1):
        if judgments.get(doc_id, 0) >= 1:
            return 1 / rank
    return 0.0


def load_documents(path: Path = CORPUS) -> list[dict]:
    with path.open(encoding="utf-8") as lines:
        return [json.loads(line) for line in lines if line.strip()]


def load_vocabularies(path: Path = VOCABULARIES) -> tuple[list, dict]:
    """The synonym groups and, per facet, each value's bilingual labels."""
    data = json.loads(path.read_text(encoding="utf-8"))
    labels = {
        facet: {
            entry["key"]: [entry.get("zh", ""), entry.get("en", "")]
            for entry in data[facet]
        }
        for facet in ("kind", "industry", "customer_type", "scenario")
        if facet in data
    }
    return data.get("synonyms", []), labels


def build_index(documents: list[dict]) -> SearchIndex:
    synonyms, labels = load_vocabularies()
    return SearchIndex.build(documents, synonyms=synonyms, facet_labels=labels)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--judgments", type=Path, default=JUDGMENTS)
    parser.add_argument("--verbose", action="store_true", help="one line a query")
    args = parser.parse_args()
    documents = load_documents()
    index = build_index(documents)
    stats = index.stats()
    print(
        f"index: {stats.documents} assets, {stats.terms:,} terms, "
        f"{stats.postings:,} postings, built in {stats.build_seconds * 1000:.0f} ms"
    )
    queries = json.loads(args.judgments.read_text(encoding="utf-8"))["queries"]
    by_type: dict[str, list[tuple[float, float, float]]] = defaultdict(list)
    for query in queries:
        judgments = {str(k): int(v) for k, v in query["judgments"].items()}
        result = index.search(
            query["query"], filters=query.get("filters") or {}, per_page=K, now=NOW
        )
        ranking = [str(hit.id) for hit in result.hits]
        figures = (
            ndcg(ranking, judgments),
            recall(ranking, judgments),
            reciprocal_rank(ranking, judgments),
        )
        by_type[query.get("type", "other")].append(figures)
        by_type["overall"].append(figures)
        if args.verbose:
            print(
                f"  {query['id']:<8} {query.get('type', ''):<16} "
                f"nDCG {figures[0]:.3f} R {figures[1]:.2f} RR {figures[2]:.2f}  "
                f"{query['query']!r} -> {ranking[:5]}"
            )
    print(f"\n{'type':<18}{'queries':>8}{'nDCG@10':>10}{'recall@10':>11}{'MRR':>8}")
    failed = False
    for kind in sorted(by_type, key=lambda t: (t == "overall", t)):
        rows = by_type[kind]
        means = [sum(column) / len(rows) for column in zip(*rows, strict=True)]
        target = TARGETS.get(kind)
        verdict = ""
        if target is not None:
            ok = means[0] >= target
            failed |= not ok
            verdict = f"  target >= {target:.2f}: {'met' if ok else 'MISSED'}"
        print(
            f"{kind:<18}{len(rows):>8}{means[0]:>10.3f}{means[1]:>11.3f}"
            f"{means[2]:>8.3f}{verdict}"
        )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
