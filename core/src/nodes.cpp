// The host's own nodes ("core/<name>"). Each is defined beside its code as a CoreNode {schema,
// run} (run.hpp); a new node is its file plus a declaration and an entry here.
#include <parley/core/run.hpp>

namespace parley::core {

const CoreNode &cot_eval_node();   // cot_eval.cpp
const CoreNode &coral_eval_node(); // coral_eval.cpp
const CoreNode &pairs_node();      // pairs.cpp
const CoreNode &debate_eval_node(); // debate_eval.cpp
const CoreNode &sc_eval_node();     // sc_eval.cpp

// In the order `parley plugins` and `parley inspect core` list them.
const std::vector<const CoreNode *> &core_nodes() {
    static const std::vector<const CoreNode *> nodes = {&cot_eval_node(), &coral_eval_node(), &debate_eval_node(), &sc_eval_node(),
                                                          &pairs_node()};
    return nodes;
}

const CoreNode *find_core_node(std::string_view name) {
    for (const CoreNode *n : core_nodes())
        if (n->schema.name == name) return n;
    return nullptr;
}

} // namespace parley::core
