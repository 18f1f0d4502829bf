#!/usr/bin/env python3
"""Prints one table of every evaluation node's results under a run's output folder:
per domain and node, the protocol's headline accuracy (± standard error) and its completion
tokens per item (the agents' or samples', extractor calls not counted).

    python3 examples/protocols/table.py runs/protocols
"""
import json
import pathlib
import sys

# evaluation -> (headline metric, tokens-per-item metric)
HEADLINE = {
    "core/cot_eval": ("final_success_rate", "tokens_per_item"),
    "core/sc_eval": ("final_success_rate", "tokens_per_item"),
    "core/debate_eval": ("final_success_rate", "tokens_per_item"),
    "core/coral_eval": ("agreement_correctness", "conv_len"),
}


def value(result, metric):
    for key, v in result.items():
        if key.split(",")[0] == metric and isinstance(v, (int, float)):
            return v
    return None


def cot_tokens(folder, domain):
    """core/cot_eval's results.json has no tokens per item (its golden files pin its shape): its samples do."""
    path = folder / f"samples_{domain}.jsonl"
    if not path.exists():
        return None
    tokens = [json.loads(line).get("completion_tokens", 0) for line in path.read_text().splitlines() if line.strip()]
    return sum(tokens) / len(tokens) if tokens else None


def main(root):
    rows = []
    for path in sorted(pathlib.Path(root).glob("*/results.json")):
        doc = json.loads(path.read_text())
        evaluation = doc.get("config", {}).get("evaluation", "?")
        headline, tokens = HEADLINE.get(evaluation, ("final_success_rate", "tokens_per_item"))
        for domain, r in doc.get("results", {}).items():
            acc, err, tok = value(r, headline), value(r, headline + "_stderr"), value(r, tokens)
            if tok is None and evaluation == "core/cot_eval":
                tok = cot_tokens(path.parent, domain)
            k = value(r, "k")
            rows.append((domain, path.parent.name, evaluation.split("/")[-1] + (f" k={k:g}" if k else ""), headline,
                         "-" if acc is None else f"{acc:.3f} ± {err or 0:.3f}", "-" if tok is None else f"{tok:.1f}"))
    head = ("domain", "node", "protocol", "metric", "accuracy", "tokens/item")
    widths = [max(len(str(x)) for x in col) for col in zip(head, *rows)]
    for row in [head, tuple("-" * w for w in widths)] + sorted(rows):
        print("  ".join(str(x).ljust(w) for x, w in zip(row, widths)).rstrip())


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "runs/protocols")
