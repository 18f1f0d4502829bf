#!/usr/bin/env python3
"""Test oracle for the domain plugins: Coral's normalisation and matching formulas, as quoted in
docs/coral.md §1.6 (extractor normalisation) and §1.8 (matchers), run by CPython on fuzzed
strings. Writes plugins/common/testdata/coral_oracle.json, which the plugin tests replay against
the C++ code (Python's own str/re semantics are the reference). Not shipped code.

    python3 plugins/common/tools/coral_oracle.py > plugins/common/testdata/coral_oracle.json
"""
import json
import random
import re


def norm_mc(response):  # MMLU-Pro / GPQA extractor output
    if "not sure yet" in response.lower():
        return "not sure yet"
    m = re.findall(r"\([A-Z]\)", response)
    return f"The answer is {m[0]}." if m else f"Error: {response}"


def norm_math(response):  # MATH extractor output
    if "not sure yet" in response.lower():
        return "not sure yet"
    m = re.findall(r"\$\\boxed\{.*\}\$", response)
    return f"The answer is {m[0]}." if m else f"Error: {response}"


def norm_tom(response, hitom):  # ExploreToM / Hi-ToM extractor output
    if "not sure yet" in response.lower():
        return "not sure yet"
    m = re.findall(r"(?:Short Answer: (?:The final answer is )?|The final answer is )?(.*)", response)
    r = m[0].lower().replace("the", "").rstrip(".").strip()
    return r.replace(" ", "_") if hitom else r


def letter(s):  # extract_letter_answer
    return "".join(x for x in s.lstrip("The answer is ").strip() if x.isupper())


def tom_match(prediction, target):  # ExploreTOMMatchEvaluator.em_match
    if "does not know" in target and " not " in prediction:
        return 1
    elif "knows about" in target[:11] and " not " not in prediction:
        return 1
    elif target == "yes" and (prediction.split(",")[0] == "yes" or prediction.split(".")[0] == "yes"):
        return 1
    elif target == "no" and (prediction.split(",")[0] == "no" or prediction.split(".")[0] == "no"):
        return 1
    elif prediction in target or target in prediction:
        return 1
    return 0


PIECES = ["The answer is ", "(B)", "(Z)", "(b)", "Short Answer: ", "The final answer is ", "the", "The",
          "THE", "\n", "\r", "É", "ß", "İ", "Σ", "Ǆ", "Ⅳ", "Ⓐ", "𝐀", "Ａ", " ", ".", "..", "$\\boxed{", "}$",
          "{", "}", "not sure yet", "NOT Sure yet", "\u00a0", "\u2003", "\t", "E", "Error: ", "mother", "yes",
          "no", ",", " not ", "knows about it", "does not know", "green drawer", "green_drawer", "A", "x",
          "1", "$", "\\boxed{5}", "\\frac{1}{2}"]
TARGETS = ["yes", "no", "knows about it", "does not know about it", "green_drawer", "metal locker",
           "back office of the vet shop"]


def main():
    rnd = random.Random(20250601)
    cases = []
    for _ in range(300):
        s = "".join(rnd.choice(PIECES) for _ in range(rnd.randint(0, 7)))
        t = rnd.choice(TARGETS)
        cases.append({"s": s, "t": t, "mc": norm_mc(s), "math": norm_math(s), "tom": norm_tom(s, False),
                      "hitom": norm_tom(s, True), "letter": letter(s), "match": tom_match(s, t)})
    print(json.dumps(cases, ensure_ascii=False, indent=0))


if __name__ == "__main__":
    main()
