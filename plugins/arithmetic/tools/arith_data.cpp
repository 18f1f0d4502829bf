// parley-arith-data: the arithmetic domain's data on the command line.
//   parley-arith-data items SPEC.json            the spec's problems as JSON Lines {"id","expression","answer"}
//   parley-arith-data sft SPEC.json ROWS SEED [COT_SHARE TEACHER_WRONG STUDENT_WRONG]
//                                                synthetic SFT rows {"messages":[...]} (dialogue.hpp)
//   parley-arith-data vocab SPEC.json            {"text": every text the model reads or writes, "phrases": [the
//                                                fixed texts given one token each]} (its vocabulary)
#include "dialogue.hpp"

#include <parley/common/jsonl.hpp>

#include <cstdio>
#include <iostream>

using namespace parley::arithmetic;

static int usage() {
    std::fprintf(stderr, "usage: parley-arith-data items SPEC.json | sft SPEC.json ROWS SEED [COT_SHARE TEACHER_WRONG "
                         "STUDENT_WRONG] | vocab SPEC.json\n");
    return 2;
}

int main(int argc, char **argv) {
    if (argc < 3) return usage();
    const std::string cmd = argv[1], spec_path = argv[2];
    try {
        ArithmeticDomain d(parley::common::Profile::Coral);
        d.set_problems(generate(parse_spec(parley::common::read_file(spec_path), spec_path)));
        if (cmd == "items") {
            for (size_t i = 0; i < d.items.size(); ++i) {
                const Problem &p = d.problem(i);
                std::cout << nlohmann::ordered_json{{"id", p.id}, {"expression", p.expression}, {"answer", p.answer}}.dump() << "\n";
            }
        } else if (cmd == "sft" && (argc == 5 || argc == 8)) {
            SftOptions o;
            o.seed = std::stoull(argv[4]);
            if (argc == 8) {
                o.cot_share = std::stod(argv[5]);
                o.teacher_wrong = std::stod(argv[6]);
                o.student_wrong = std::stod(argv[7]);
            }
            for (const SftRow &r : make_sft_rows(d, std::stoul(argv[3]), o)) {
                nlohmann::ordered_json msgs = nlohmann::ordered_json::array();
                for (const ChatMessage &m : r) msgs.push_back({{"role", m.role}, {"content", m.content}});
                std::cout << nlohmann::ordered_json{{"messages", msgs}}.dump() << "\n";
            }
        } else if (cmd == "vocab") {
            std::cout << nlohmann::ordered_json{{"text", corpus(d)}, {"phrases", phrases(d)}}.dump(1) << "\n";
        } else {
            return usage();
        }
    } catch (const std::exception &e) {
        std::fprintf(stderr, "parley-arith-data: %s\n", e.what());
        return 1;
    }
    return 0;
}
