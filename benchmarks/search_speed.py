"""Search latency on a 100,000-asset corpus made by varying the demo corpus.

Recombines the demo assets' paragraphs and sentences, swaps facet values and
varies titles and signals; builds the index from plain dicts (prints build time
and size), then runs mixed queries (the judged queries and random 1-3-token
queries, half of them with facet filters) and prints p50/p95/p99 latency of a
whole search call (page of 20 hits with snippets and facet counts), in wall
clock time and in CPU time (the CPU figure is what a query costs when the
machine is not shared).

    python benchmarks/search_speed.py [--assets 100000] [--queries 2000]
"""

import argparse
import json
import os
import random
import re
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
from search_quality import CORPUS, JUDGMENTS, build_index, load_documents

from asset_library.search import FACETS

TARGET_P95_MS = 30.0
_PIECES = re.compile(r"[^\n。！？.!?]+[\n。！？.!?]*")


def pieces(text: str) -> list[str]:
    """Paragraphs of ``text`` split further into sentences."""
    return [p for p in _PIECES.findall(text or "") if p.strip()]


def generate(base: list[dict], n: int, rng: random.Random) -> list[dict]:
    """``n`` asset dicts varied from ``base``."""
    facet_values = {
        facet: sorted({d[facet] for d in base if d.get(facet)}) for facet in FACETS
    }
    all_pieces = [p for d in base for p in pieces(d.get("body", ""))]
    all_tags = sorted({t for d in base for t in d.get("tags") or []})
    start = datetime(2023, 1, 1, tzinfo=UTC)
    out = []
    for i in range(n):
        source = rng.choice(base)
        own = pieces(source.get("body", ""))
        body = own[: rng.randint(1, max(1, len(own)))]
        body += rng.sample(all_pieces, k=min(len(all_pieces), rng.randint(1, 4)))
        rng.shuffle(body)
        title_words = pieces(rng.choice(base)["title"])[:1]
        document = {
            "id": f"gen-{i:06d}",
            "title": f"{source['title']} {rng.choice(title_words or [''])}".strip(),
            "summary": source.get("summary", ""),
            "body": "".join(body),
            "tags": rng.sample(all_tags, k=min(len(all_tags), rng.randint(1, 4))),
            "evidence_strength": rng.choice([0.0, 0.0, 0.0, rng.random()]),
            "verification": rng.choice(["verified", "lapsed", "none", "none"]),
            "updated_at": start + timedelta(days=rng.randint(0, 900)),
            "usage_count": int(rng.paretovariate(1.2)) - 1,
            "rating": rng.choice([None, rng.uniform(2, 5)]),
        }
        for facet in FACETS:
            values = facet_values[facet]
            keep = rng.random() < 0.5 or not values
            document[facet] = source.get(facet) if keep else rng.choice(values)
        out.append(document)
    return out


def random_queries(base: list[dict], n: int, rng: random.Random) -> list[str]:
    """1-3-token queries cut from the assets' titles, tags and bodies."""
    queries = []
    for _ in range(n):
        document = rng.choice(base)
        text = rng.choice([document["title"], *(document.get("tags") or [])])
        if rng.random() < 0.3:
            text = rng.choice(pieces(document.get("body", "")) or [text])
        words = re.findall(r"[A-Za-z]+|[\u4e00-\u9fff]+", text)
        if not words:
            continue
        picked = []
        for _ in range(rng.randint(1, 3)):
            word = rng.choice(words)
            if not word.isascii() and len(word) > 2:
                at = rng.randrange(len(word) - 1)
                word = word[at : at + rng.choice([1, 2, 2, 3, 4])]
            picked.append(word)
        queries.append(" ".join(picked))
    return queries


def resident_megabytes() -> float:
    with open(f"/proc/{os.getpid()}/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def percentiles(samples: list[float]) -> str:
    p50, p95, p99 = np.percentile(samples, [50, 95, 99])
    return f"p50 {p50:6.2f} ms  p95 {p95:6.2f} ms  p99 {p99:6.2f} ms"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--assets", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=2_000)
    parser.add_argument("--corpus", type=Path, default=CORPUS)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    base = load_documents(args.corpus)
    documents = generate(base, args.assets, rng)
    print(f"corpus: {len(documents):,} assets varied from {len(base)} demo assets")

    before = resident_megabytes()
    index = build_index(documents)
    stats = index.stats()
    grown = resident_megabytes() - before
    print(
        f"build: {stats.build_seconds:.1f} s; {stats.terms:,} terms, "
        f"{stats.postings:,} postings; arrays {stats.array_bytes / 2**20:.0f} MiB, "
        f"process grew {grown:.0f} MiB (documents and vocabulary included); "
        f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs"
    )

    judged = []
    if JUDGMENTS.exists():
        data = json.loads(JUDGMENTS.read_text(encoding="utf-8"))
        judged = [(q["query"], q.get("filters") or {}) for q in data["queries"]]
    mixed = judged + [(q, {}) for q in random_queries(base, args.queries, rng)]
    filter_facets = ("industry", "scenario", "kind", "customer_type")
    runs: list[tuple[str, dict]] = []
    for query, filters in mixed[: max(args.queries, len(judged))]:
        runs.append((query, filters))
        if not filters:
            facet = rng.choice(filter_facets)
            value = rng.choice(sorted({d[facet] for d in base if d.get(facet)}))
            runs.append((query, {facet: value}))
    for query in rng.sample(base, k=min(20, len(base))):
        runs.append(("", {"scenario": query.get("scenario")}))

    index.search("warm up")
    wall: dict[str, list[float]] = {"all": [], "no filter": [], "filtered": []}
    cpu: list[float] = []
    totals = []
    load_before = os.getloadavg()[0]
    for query, filters in runs:
        began, began_cpu = time.perf_counter(), time.process_time()
        result = index.search(query, filters=filters, per_page=20)
        cpu.append((time.process_time() - began_cpu) * 1000)
        elapsed = (time.perf_counter() - began) * 1000
        totals.append(result.total)
        wall["all"].append(elapsed)
        wall["filtered" if filters else "no filter"].append(elapsed)
    load = (load_before + os.getloadavg()[0]) / 2
    print(f"queries: {len(runs):,} (median {int(np.median(totals)):,} matches each)")
    print(f"latency, wall clock (load average {load:.1f} on {os.cpu_count()} CPUs):")
    for label, samples in wall.items():
        print(f"  {label:<10} {len(samples):>6,}  {percentiles(samples)}")
    print(f"  CPU time   {len(cpu):>6,}  {percentiles(cpu)}")

    edits = rng.sample(documents, k=200)
    began = time.perf_counter()
    for document in edits:
        index.add(dict(document, title=document["title"] + " v2"))
    per_edit = (time.perf_counter() - began) * 1000 / len(edits)
    print(f"incremental update: {per_edit:.2f} ms per edited asset")
    p95 = float(np.percentile(wall["all"], 95))
    verdict = "met" if p95 <= TARGET_P95_MS else "MISSED"
    print(f"p95 {p95:.2f} ms, target <= {TARGET_P95_MS:.0f} ms: {verdict}")
    return 0 if p95 <= TARGET_P95_MS else 1


if __name__ == "__main__":
    sys.exit(main())
