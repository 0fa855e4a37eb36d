#!/usr/bin/env python3
"""Python peer for crates/classify: the usual scikit-learn text classifier on the civic data.

TfidfVectorizer(jieba words, 1-2 grams) + TfidfVectorizer(characters, 1-3 grams), both with
sublinear tf (a FeatureUnion, each block L2-normalised), then LinearSVC(C=0.5), one-vs-rest.
It uses the SAME deterministic split as the Rust side (hotline_classify::split::holdout):
FNV-1a-64 of "{seed}:{text}", per label ordered by (key, row index), the first
(n * percent + 50) // 100 rows held out; percent 20, seed 12345.

Prints macro-F1 on held-out bodies (text) and titles for two training regimes
  separate: a bodies model for bodies, a titles model for titles (the usual setup)
  combined: one model trained on bodies + titles (what the Rust model does)
and the classification throughput on bodies (messages/s, single core: the process is
pinned to one CPU and BLAS threads are set to 1).

Requirements (see classify_baseline.requirements.txt): pip install scikit-learn jieba
Run from the workspace root: python3 benches/peers/classify_baseline.py [path/to/train.csv]
"""
import csv
import os
import sys
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
if hasattr(os, "sched_setaffinity"):
    os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})

import jieba  # noqa: E402
from sklearn.feature_extraction.text import TfidfVectorizer  # noqa: E402
from sklearn.metrics import f1_score  # noqa: E402
from sklearn.pipeline import make_pipeline, make_union  # noqa: E402
from sklearn.svm import LinearSVC  # noqa: E402

PERCENT = 20
SEED = 12345
DEFAULT_PATH = os.path.join(os.path.dirname(__file__), "..", "..", "..", "shared", "data", "civic", "train.csv")


def fnv1a64(data):
    h = 0xCBF29CE484222325
    for b in data:
        h ^= b
        h = (h * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return h


def holdout(rows, percent=PERCENT, seed=SEED):
    """rows: list of (text, label). Returns a list of bools: True = held out."""
    by_label = {}
    for index, (text, label) in enumerate(rows):
        key = fnv1a64(f"{seed}:{text}".encode("utf-8"))
        by_label.setdefault(label, []).append((key, index))
    test = [False] * len(rows)
    for members in by_label.values():
        members.sort()
        for _, index in members[: (len(members) * percent + 50) // 100]:
            test[index] = True
    return test


def jieba_words(text):
    return [w for w in jieba.lcut(text) if any(ch.isalnum() for ch in w)]


def make_model():
    words = TfidfVectorizer(tokenizer=jieba_words, token_pattern=None, lowercase=True,
                            ngram_range=(1, 2), sublinear_tf=True)
    chars = TfidfVectorizer(analyzer="char", ngram_range=(1, 3), sublinear_tf=True)
    return make_pipeline(make_union(words, chars), LinearSVC(C=0.5))


def main():
    path = sys.argv[1] if len(sys.argv) > 1 else DEFAULT_PATH
    with open(path, encoding="utf-8") as f:
        rows = [(r["text"], r["label"], r["title"]) for r in csv.DictReader(f)]
    test = holdout([(t, l) for t, l, _ in rows])
    train_rows = [r for r, held in zip(rows, test) if not held]
    test_rows = [r for r, held in zip(rows, test) if held]
    print(f"train {len(train_rows)} / test {len(test_rows)} rows (stratified {PERCENT}%, seed {SEED})")
    jieba.initialize()
    y_train = [l for _, l, _ in train_rows]
    y_test = [l for _, l, _ in test_rows]
    bodies = [t for t, _, _ in test_rows]
    titles = [t for _, _, t in test_rows]

    started = time.perf_counter()
    body_model = make_model().fit([t for t, _, _ in train_rows], y_train)
    title_model = make_model().fit([t for _, _, t in train_rows], y_train)
    combined = make_model().fit([t for t, _, _ in train_rows] + [t for _, _, t in train_rows], y_train + y_train)
    print(f"trained 3 models in {time.perf_counter() - started:.1f}s")

    def macro(model, texts):
        return f1_score(y_test, model.predict(texts), average="macro")

    print(f"separate: bodies macro-F1 {macro(body_model, bodies):.4f}  titles macro-F1 {macro(title_model, titles):.4f}")
    print(f"combined: bodies macro-F1 {macro(combined, bodies):.4f}  titles macro-F1 {macro(combined, titles):.4f}")

    # Throughput: one message at a time (as an intake service would call it) and in one batch.
    started = time.perf_counter()
    for text in bodies:
        body_model.predict([text])
    one = len(bodies) / (time.perf_counter() - started)
    started = time.perf_counter()
    body_model.predict(bodies)
    batch = len(bodies) / (time.perf_counter() - started)
    print(f"throughput (bodies, 1 core): {one:.0f} messages/s one at a time, {batch:.0f} messages/s batched")


if __name__ == "__main__":
    main()
