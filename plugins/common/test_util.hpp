// plugins/common/test_util.hpp — helpers for the domain plugins' unit tests (header-only):
// temporary files, load-error capture, and Coral's prompt templates transcribed verbatim from
// docs/coral.md §1.3 / §1.6 (independently of the SDK helpers, so the tests check them).
#pragma once

#include <parley/sdk.hpp>
#include <parley/testing.hpp>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <unistd.h>

namespace parley::test_util {

class TempDir {
  public:
    TempDir() {
        std::string tmpl = (std::filesystem::temp_directory_path() / "parley-domain-XXXXXX").string();
        if (!mkdtemp(tmpl.data())) throw std::runtime_error("mkdtemp failed");
        path_ = tmpl;
    }
    ~TempDir() {
        std::error_code ec;
        std::filesystem::remove_all(path_, ec);
    }
    TempDir(const TempDir &) = delete;
    TempDir &operator=(const TempDir &) = delete;
    std::string file(const std::string &name, const std::string &content) const {
        auto p = path_ / name;
        std::filesystem::create_directories(p.parent_path());
        std::ofstream(p, std::ios::binary) << content;
        return p.string();
    }
    std::string path() const { return path_.string(); }

  private:
    std::filesystem::path path_;
};

inline std::string read_text(const std::string &path) {
    std::ifstream in(path, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

struct LoadOutcome {
    bool ok = false;
    parley_status code = PARLEY_OK;
    std::string message;
    size_t skipped = 0;
};

// Loads and captures the error (if any) instead of throwing.
template <class D> LoadOutcome try_load(D &d, const std::string &path, bool skip = false) {
    LoadOutcome o;
    parley::LoadContext ctx("domain", skip);
    try {
        d.load(path, ctx);
        o.ok = true;
    } catch (const parley::Error &e) {
        o.code = e.code();
        o.message = e.what();
    }
    o.skipped = ctx.skipped();
    return o;
}

// ---- Coral's templates, verbatim from docs/coral.md (utils/prompt_library.json) ---------------
inline const char *kAssistantSbsShort =
    "You are working with a user to solve some {{ task_name }} problems.\n\nHere is how you should proceed:\n* Starting on the problem and try to give a full solution;\n* When the user proposes a solution, look carefully at each of the step, and be precise and direct when you notice any mistake;\n* When the user raises a concern, first think about if you have actually made a mistake. Correct your mistake if you think you've made one, but stand your ground if you think it's actually correct;\n* Always stay on topic and work towards a solution to the original problem;\n* Be direct and concise during the whole communication;\n* {{ task_specific_inst }}";
inline const char *kAssistantSbs =
    "You are working with an advanced user to solve some complex {{ task_name }} problems.\n\nHere is how you should proceed:\n* Starting on the problem, first lay out a plan and ask for confirmation on the plan;\n* When the user proposes a plan, an actual solution, or a partial solution, look carefully at each of the step, and ask clarification questions if you are unsure about the correctness of a certain step;\n* When you notice an error, be precise and direct, over-politenss will not help anyone;\n* When the user asks you questions about your solution, try to unravel certain steps and explain how they work, correct your mistake if you think you've made one, but stand your ground if you think it's actually correct;\n* Always stay on topic and work towards a solution to the original problem;\n* {{ task_specific_inst }}";
inline const char *kSimpleCot =
    "You are an helpful assistant that help the user solve complex {{ task_name }} problems. Think about the problem step-by-step, and then provides the user with the answer. {{ task_specific_inst }}";
inline const char *kExtractorSystem =
    "You are an assistant that is helping an user to identify the intention of certain responses in a conversation. More specifically, you will help extracting which answer the response is submiting as the final answer, or say \"not sure yet\" if it seems like there is no explict answer included in the response.\n";

inline std::string jinja(std::string t, const std::string &task_name, const std::string &inst) {
    auto sub = [&](const std::string &key, const std::string &v) {
        size_t p;
        while ((p = t.find(key)) != std::string::npos) t.replace(p, key.size(), v);
    };
    sub("{{ task_name }}", task_name);
    sub("{{ task_specific_inst }}", inst);
    return t;
}

} // namespace parley::test_util
