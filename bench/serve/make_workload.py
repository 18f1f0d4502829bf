"""The Coral multi-turn workload for bench/multiturn/coral_client.py, from real MMLU-Pro rows with
Coral's own prompts (coral.md §1.2, §1.3, §1.6, verbatim): the collaborate system prompt, the
student's task message as turn 0, and the extractor's system prompt and per-turn prompt.

usage: make_workload.py MMLU_PRO.jsonl OUT.json --conversations N --parallel P --turns T --turn TOKENS
"""
import argparse
import json

SYSTEM = ("You are working with a user to solve some reasoning-focused question answering problems.\n\n"
          "Here is how you should proceed:\n"
          "* Starting on the problem and try to give a full solution;\n"
          "* When the user proposes a solution, look carefully at each of the step, and be precise and direct when "
          "you notice any mistake;\n"
          "* When the user raises a concern, first think about if you have actually made a mistake. Correct your "
          "mistake if you think you've made one, but stand your ground if you think it's actually correct;\n"
          "* Always stay on topic and work towards a solution to the original problem;\n"
          "* Be direct and concise during the whole communication;\n"
          "* To give a final answer, do it in the format of \"The correct answer is (insert answer here)\", such as "
          "\"The correct answer is (B)\"")
EXTRACTOR_SYSTEM = ("You are an assistant that is helping an user to identify the intention of certain responses in a "
                    "conversation. More specifically, you will help extracting which answer the response is submiting "
                    "as the final answer, or say \"not sure yet\" if it seems like there is no explict answer included "
                    "in the response.\n")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("data")
    ap.add_argument("out")
    ap.add_argument("--conversations", type=int, default=32)
    ap.add_argument("--parallel", type=int, default=16)
    ap.add_argument("--turns", type=int, default=4)
    ap.add_argument("--turn", type=int, default=64)
    ap.add_argument("--temperature", type=float, default=0.0)
    a = ap.parse_args()
    rows = [json.loads(line) for line in open(a.data) if line.strip()]
    tasks, questions, options = [], [], []
    for c in range(a.conversations):
        r = rows[c % len(rows)]
        opts = "\n".join(f"({chr(65 + i)}) {o}" for i, o in enumerate(r["options"]))
        tasks.append(f"I'm trying to solve this problem: \"{r['question']}\"\n" + "And the choices are:\n" + opts)
        questions.append(r["question"])
        options.append(opts)
    w = {"conversations": a.conversations, "parallel": a.parallel, "turns": a.turns, "turn": a.turn,
         "extractor_tokens": 32, "extractor": True, "temperature": a.temperature, "top_p": 1.0, "seed": 42,
         "system": SYSTEM, "extractor_system": EXTRACTOR_SYSTEM, "tasks": tasks, "questions": questions,
         "options": options, "time_limit_s": 0}
    json.dump(w, open(a.out, "w"))


main()
