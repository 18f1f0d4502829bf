#include <parley/core/plugin_loader.hpp>
#include <parley/core/schema.hpp>

namespace parley::core {

const char *kind_name(int32_t kind) {
    switch (kind) {
    case PARLEY_KIND_DOMAIN: return "domain";
    case PARLEY_KIND_BACKEND: return "backend";
    case PARLEY_KIND_FILTER: return "filter";
    case PARLEY_KIND_TRAINER: return "trainer";
    case kKindCore: return "core";
    case kKindRows: return "rows";
    default: return "invalid";
    }
}

const char *type_name(int32_t type) {
    switch (type) {
    case PARLEY_TYPE_STRING: return "string";
    case PARLEY_TYPE_INT: return "integer";
    case PARLEY_TYPE_FLOAT: return "number";
    case PARLEY_TYPE_BOOL: return "boolean";
    case PARLEY_TYPE_STRING_ARRAY: return "array of strings";
    case PARLEY_TYPE_PATH: return "path";
    case PARLEY_TYPE_ANY: return "any";
    default: return "invalid";
    }
}

const ParamSpec *ComponentSchema::param(std::string_view key) const {
    for (auto &p : params)
        if (p.key == key) return &p;
    return nullptr;
}

const PortSpec *ComponentSchema::port(std::string_view n) const {
    for (auto &p : inputs)
        if (p.name == n) return &p;
    return nullptr;
}

ComponentSchema schema_of(const LoadedPlugin &plugin, const parley_component &c) {
    ComponentSchema s;
    s.plugin = plugin.name;
    s.name = c.name;
    s.kind = c.kind;
    s.version = c.version;
    s.plugin_version = plugin.desc->version;
    s.abi_version = plugin.abi_version();
    s.description = c.description ? c.description : "";
    s.component = &c;
    s.loaded = &plugin;
    for (size_t i = 0; i < c.n_params && c.params; ++i) {
        const parley_param &p = c.params[i];
        if (!p.key) continue;
        s.params.push_back({p.key, p.type, p.flags, p.default_text ? p.default_text : "", p.doc ? p.doc : ""});
    }
    // Ports the host itself wires for plugin kinds.
    if (c.kind == PARLEY_KIND_FILTER) {
        s.inputs.push_back({"rows", kKindRows, true, true, "rows to filter (an evaluation's records, pairs, another filter)"});
        s.outputs = {"rows"};
    }
    if (c.kind == PARLEY_KIND_TRAINER) {
        s.inputs.push_back({"data", kKindRows, true, true, "training rows (pairs or SFT rows)"});
        s.outputs = {"model"};
    }
    if (c.kind == PARLEY_KIND_BACKEND)
        s.inputs.push_back({"model", PARLEY_KIND_TRAINER, false, false,
                            "serve the model a trainer node exported (sets `model`, and `lora` for adapters)"});
    if (c.kind == PARLEY_KIND_DOMAIN) {
        s.params.push_back({"data", PARLEY_TYPE_PATH, PARLEY_PARAM_REQUIRED | PARLEY_PARAM_MUST_EXIST, "",
                            "the release file or folder to evaluate (host key)"});
        s.params.push_back({"limit", PARLEY_TYPE_INT, 0, "0", "evaluate only the first N items; 0 = all (host key)"});
        s.params.push_back({"skip_malformed", PARLEY_TYPE_BOOL, 0, "false",
                            "skip and count malformed rows instead of failing (host key)"});
    }
    return s;
}

namespace {
// A node the host runs itself (version 1 of its configuration).
ComponentSchema core_node(const char *name, const char *description) {
    ComponentSchema s;
    s.plugin = "core";
    s.name = name;
    s.kind = kKindCore;
    s.version = 1;
    s.plugin_version = PARLEY_VERSION;
    s.abi_version = std::string(1, '-'); // (not = "-": GCC 12 warns falsely, -Wrestrict, PR 105329)
    s.description = description;
    return s;
}
} // namespace

const std::vector<ComponentSchema> &core_schemas() {
    static const std::vector<ComponentSchema> schemas = [] {
        std::vector<ComponentSchema> v;
        ComponentSchema cot = core_node("cot_eval", "Single-agent chain-of-thought evaluation (Coral's simple_cot baseline)");
        cot.params = {
            {"profile", PARLEY_TYPE_STRING, 0, "coral",
             "\"coral\" (official CoT configs: LLM extraction, a failed answer's error text extracted and scored) or \"fixed\""},
            {"max_tokens", PARLEY_TYPE_INT, 0, "1024", "completion tokens per answer"},
            {"temperature", PARLEY_TYPE_FLOAT, 0, "0.2", "sampling temperature (Coral's default; 0 = greedy)"},
            {"top_p", PARLEY_TYPE_FLOAT, 0, "0.9", "nucleus sampling"},
            {"top_k", PARLEY_TYPE_INT, 0, "0", "top-k sampling; 0 = off"},
            {"min_p", PARLEY_TYPE_FLOAT, 0, "0", "min-p sampling; 0 = off"},
            {"seed", PARLEY_TYPE_INT, 0, "42", "base seed (0 … 2^63-1); each (item, trial) derives its own, below 2^63"},
            {"trials", PARLEY_TYPE_INT, 0, "1", "samples per item, each with its own seed"},
            {"stop", PARLEY_TYPE_STRING_ARRAY, 0, "[]", "stop strings"},
            {"extraction", PARLEY_TYPE_STRING, 0, "llm (profile coral), rule (fixed)",
             "\"rule\": read the answer from the response; \"llm\": ask the extractor backend (Coral's way)"},
            {"extractor_max_tokens", PARLEY_TYPE_INT, 0, "32", "completion tokens of the LLM extractor (T 0, top_p 0.9, seed 42)"},
            {"max_in_flight", PARLEY_TYPE_INT, 0, "256", "hard cap on items in flight"},
            {"backend_feedback", PARLEY_TYPE_BOOL, 0, "true", "start new items only while the backends' queues and KV caches have room (ABI 1.2 get_load)"},
            {"system_prompt", PARLEY_TYPE_BOOL, 0, "true", "send the domain's simple_cot system prompt"},
        };
        cot.inputs = {
            {"domains", PARLEY_KIND_DOMAIN, true, true, "domain nodes to evaluate"},
            {"backend", PARLEY_KIND_BACKEND, false, true, "the model answering"},
            {"extractor", PARLEY_KIND_BACKEND, false, false, "the model extracting beliefs (extraction = \"llm\"); default: backend"},
        };
        cot.outputs = {"samples"};
        v.push_back(std::move(cot));

        ComponentSchema coral = core_node("coral_eval", "Coral collaborative reasoning: two agents discuss each item until they agree");
        coral.params = {
            {"profile", PARLEY_TYPE_STRING, 0, "coral",
             "\"coral\" (official: last two turns agree; total_turns counts turn 0) or \"matrix\" (Matrix P2P)"},
            {"max_turns", PARLEY_TYPE_INT, 0, "20", "generated turns at most (turn 0 not counted)"},
            {"max_tokens", PARLEY_TYPE_INT, 0, "1024", "completion tokens per turn"},
            {"temperature", PARLEY_TYPE_FLOAT, 0, "0.2", "agents' sampling temperature (Coral's default)"},
            {"top_p", PARLEY_TYPE_FLOAT, 0, "0.9", "nucleus sampling"},
            {"top_k", PARLEY_TYPE_INT, 0, "0", "top-k sampling; 0 = off"},
            {"min_p", PARLEY_TYPE_FLOAT, 0, "0", "min-p sampling; 0 = off"},
            {"seed", PARLEY_TYPE_INT, 0, "42", "base seed (0 … 2^63-1); every seed sent is below 2^63"},
            {"seed_mode", PARLEY_TYPE_STRING, 0, "per_conversation",
             "\"per_conversation\": each (item, trial, turn) its own seed; \"fixed\": `seed` on every request (Coral/Matrix), "
             "tree picks from one Python-random stream seeded `seed`"},
            {"trials", PARLEY_TYPE_INT, 0, "1", "conversations (trees) per item (Coral's sampling_n), each with its own seed"},
            {"extraction", PARLEY_TYPE_STRING, 0, "llm",
             "\"llm\": the domain's extractor prompt on the extractor backend (official); \"rule\": read beliefs from the turn"},
            {"extractor_max_tokens", PARLEY_TYPE_INT, 0, "32", "completion tokens of the LLM extractor (T 0, top_p 0.9, seed 42)"},
            {"first_role", PARLEY_TYPE_STRING, 0, "student", "who asks the question in turn 0 (the other answers first)"},
            {"beam", PARLEY_TYPE_INT, 0, "1",
             "tree sampling: candidates per turn (one request with n = beam); one continues, the rest are kept as siblings"},
            {"stop", PARLEY_TYPE_STRING_ARRAY, 0, "[]", "stop strings for agent turns"},
            {"max_conversations", PARLEY_TYPE_INT, 0, "4 x backend slots", "hard cap on conversations in flight"},
            {"records", PARLEY_TYPE_BOOL, 0, "true", "write per-conversation records (false: metrics and results only; no resume)"},
            {"max_tokens_in_flight", PARLEY_TYPE_INT, 0, "0", "budget of resident tokens over live conversations (0 = none)"},
            {"backend_feedback", PARLEY_TYPE_BOOL, 0, "true", "start new conversations only while the backends' queues and KV caches have room (ABI 1.2 get_load)"},
            {"system_prompt", PARLEY_TYPE_STRING, 0, "collaborate",
             "\"collaborate\" (assistant_sbs_short / GPQA assistant_sbs), \"cot\" (simple_cot), \"none\", or literal text"},
            {"teacher_system_prompt", PARLEY_TYPE_STRING, 0, "= system_prompt", "the teacher's own system prompt"},
            {"student_system_prompt", PARLEY_TYPE_STRING, 0, "= system_prompt", "the student's own system prompt"},
            {"teacher_temperature", PARLEY_TYPE_FLOAT, 0, "= temperature", "the teacher's own temperature"},
            {"student_temperature", PARLEY_TYPE_FLOAT, 0, "= temperature", "the student's own temperature"},
            {"teacher_max_tokens", PARLEY_TYPE_INT, 0, "= max_tokens", "the teacher's own token limit"},
            {"student_max_tokens", PARLEY_TYPE_INT, 0, "= max_tokens", "the student's own token limit"},
        };
        coral.inputs = {
            {"domains", PARLEY_KIND_DOMAIN, true, true, "domain nodes to evaluate"},
            {"teacher", PARLEY_KIND_BACKEND, false, true, "the teacher's model (and by default everyone's)"},
            {"student", PARLEY_KIND_BACKEND, false, false, "the student's model (cross-partner evaluation); default: teacher"},
            {"extractor", PARLEY_KIND_BACKEND, false, false, "the belief extractor's model; default: teacher"},
        };
        coral.outputs = {"records"};
        v.push_back(std::move(coral));

        ComponentSchema pairs = core_node("pairs", "DPO preference pairs and SFT rows from tree-sampled conversation records (Coral's rules)");
        pairs.params = {
            {"profile", PARLEY_TYPE_STRING, 0, "coral",
             "\"coral\" (the official filter's rows, quirks included) or \"fixed\" (its quirks corrected; README)"},
            {"pairs_per_turn", PARLEY_TYPE_INT, 0, "1", "pairs kept per turn (Coral's code: 1; paper: 2)"},
            {"pairs_per_question", PARLEY_TYPE_INT, 0, "10", "pairs kept per question (Coral's code: 10; paper: 20)"},
            {"min_gap", PARLEY_TYPE_FLOAT, 0, "0.5", "chosen score minus rejected score must exceed this"},
            {"first_n_turns", PARLEY_TYPE_INT, 0, "0", "pairs and SFT rows from turns 1..n-1 only; 0 = all"},
            {"agreement_penalty", PARLEY_TYPE_FLOAT, 0, "0", "discourage_agreement: score = c - agree*p*(1-c) (coral: 0 or 0.1, and it excludes length_penalty)"},
            {"length_penalty", PARLEY_TYPE_FLOAT, 0, "0", "discourage_length: score = c - p*norm_len (coral: 0 or 0.1)"},
            {"seed", PARLEY_TYPE_INT, 0, "42", "seed of the per-question and global shuffles"},
            {"sft_mode", PARLEY_TYPE_STRING, 0, "all",
             "\"all\" (every turn of the first trees), \"success\" (trees that agreed correctly), \"correct_turns\" (turns with the gold belief)"},
            {"sft_per_question", PARLEY_TYPE_INT, 0, "10", "trees (all/success) or turns (correct_turns) per question"},
            {"add_prev_turns", PARLEY_TYPE_INT, 0, "-1", "correct_turns: also add this many earlier turns; -1 = all"},
            {"chat_template", PARLEY_TYPE_STRING, 0, "backend",
             "how `src` is rendered: \"backend\" (the backend input's chat template), \"chatml\", a Hugging Face "
             "tokenizer_config.json or .jinja file (relative to the graph), Jinja source, or \"none\" (TRL rows only)"},
        };
        pairs.inputs = {
            {"records", kKindRows, true, true, "conversation records (tree-sampled for pairs)"},
            {"backend", PARLEY_KIND_BACKEND, false, false, "renders `src` with the model's chat template"},
        };
        pairs.outputs = {"pairs", "pairs_trl", "sft", "sft_trl"};
        v.push_back(std::move(pairs));

        return v;
    }();
    return schemas;
}

const ComponentSchema *find_core_schema(std::string_view name) {
    for (auto &s : core_schemas())
        if (s.name == name) return &s;
    return nullptr;
}

} // namespace parley::core
