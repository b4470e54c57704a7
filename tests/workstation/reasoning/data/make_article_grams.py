"""Regenerate article_12grams.sha1 from the seed article (run by hand with the article's path; the tests read only the hashes).

    python tests/workstation/reasoning/data/make_article_grams.py PATH/TO/article.txt
"""
from __future__ import annotations

import hashlib
import re
import sys
from pathlib import Path


def words(text: str) -> list[str]:
    return re.sub(r"[^a-z0-9%]+", " ", text.lower()).split()


def gram_hash(gram: tuple[str, ...] | list[str]) -> str:
    return hashlib.sha1(" ".join(gram).encode()).hexdigest()[:12]


def main(path: str) -> None:
    raw = Path(path).read_text(encoding="utf-8")
    hashes: set[str] = set()
    for version in (raw.replace("-\n", ""), raw.replace("-\n", " ")):
        w = words(version)
        hashes |= {gram_hash(w[i:i + 12]) for i in range(len(w) - 11)}
    out = Path(__file__).with_name("article_12grams.sha1")
    head = out.read_text(encoding="utf-8").splitlines()[:2] if out.exists() else []
    out.write_text("\n".join([*head, *sorted(hashes)]) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main(sys.argv[1])
