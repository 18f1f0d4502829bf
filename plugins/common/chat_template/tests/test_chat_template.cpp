// parley_chat_template against the reference: transformers' way of evaluating a chat template,
// run by tests/tools/hf_chat_template.py with Debian's python3-jinja2. Byte-for-byte equality on
// the Llama-3.1-Instruct, Llama-3.2-Instruct (strftime_now), Qwen2.5-Instruct and
// SmolLM2-Instruct templates.
#include "chat_template.hpp"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <unistd.h>

using parley::chat::Template;
using parley::chat::Turn;
using json = nlohmann::json;
namespace fs = std::filesystem;

namespace {

const std::time_t kNow = 1764672000; // 2025-12-02, pins strftime_now in both renderers

std::string read(const fs::path &p) {
    std::ifstream in(p, std::ios::binary);
    REQUIRE(in);
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
}

fs::path llama_template(const std::string &name) { return fs::path(PARLEY_LLAMA_SOURCE_DIR) / "models/templates" / name; }

std::vector<std::vector<Turn>> conversations() {
    return {
        {{"system", "You are a helpful assistant."}, {"user", "What is 2 + 2?"}},
        {{"user", "Hi there"}},
        // Coral's speaker view: system prompt, then the partner (user) and own turns (assistant) alternating.
        {{"system", "  Solve the problem with your partner.  \n"},
         {"user", "Question: which is larger, 9.11 or 9.9?\nThink step by step."},
         {"assistant", "9.9 is larger: 0.90 > 0.11.\n\nThe answer is (B)."},
         {"user", "I agree — café, naïve, 数学 {{ not_a_variable }} {% raw %}"}},
        {{"user", "a"}, {"assistant", "b"}, {"user", "c"}, {"assistant", "d"}, {"user", "e"}},
    };
}

// Renders every conversation, with and without the generation prompt, by the Python reference.
std::vector<std::string> reference(const Template &t) {
    json spec = {{"template", t.source()}, {"bos_token", t.bos_token()}, {"eos_token", t.eos_token()}, {"now", kNow}};
    spec["cases"] = json::array();
    for (auto &conv : conversations())
        for (bool agp : {true, false}) {
            json msgs = json::array();
            for (auto &m : conv) msgs.push_back({{"role", m.role}, {"content", m.content}});
            spec["cases"].push_back({{"messages", msgs}, {"add_generation_prompt", agp}});
        }
    const fs::path dir = fs::temp_directory_path() / ("parley-chat-template-" + std::to_string(getpid()));
    fs::create_directories(dir);
    std::ofstream(dir / "spec.json") << spec.dump();
    const std::string cmd = "python3 " PARLEY_SOURCE_DIR "/tests/tools/hf_chat_template.py < " + (dir / "spec.json").string() +
                            " > " + (dir / "out.json").string();
    INFO("reference renderer: " << cmd << " (needs python3-jinja2)");
    REQUIRE(std::system(cmd.c_str()) == 0);
    auto out = json::parse(read(dir / "out.json")).get<std::vector<std::string>>();
    fs::remove_all(dir);
    return out;
}

void check_against_reference(const Template &t) {
    auto expected = reference(t);
    size_t k = 0;
    for (auto &conv : conversations())
        for (bool agp : {true, false}) {
            INFO("conversation of " << conv.size() << " messages, add_generation_prompt " << agp);
            REQUIRE(k < expected.size());
            CHECK(t.render(conv, agp, kNow) == expected[k++]);
        }
}

} // namespace

TEST_CASE("Llama-3.1-Instruct renders as transformers renders it", "[chat_template]") {
    Template t(read(llama_template("meta-llama-Llama-3.1-8B-Instruct.jinja")), "<|begin_of_text|>", "<|eot_id|>", "llama-3.1");
    check_against_reference(t);
    // What llama.cpp's built-in llama3 formatter drops and Coral's `src` has.
    std::string s = t.render({{"system", "S"}, {"user", "U"}});
    CHECK(s == "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nCutting Knowledge Date: December 2023\n"
               "Today Date: 26 Jul 2024\n\nS<|eot_id|><|start_header_id|>user<|end_header_id|>\n\nU<|eot_id|>"
               "<|start_header_id|>assistant<|end_header_id|>\n\n");
}

TEST_CASE("Llama-3.2-Instruct with strftime_now renders as transformers renders it", "[chat_template]") {
    Template t(read(llama_template("meta-llama-Llama-3.2-3B-Instruct.jinja")), "<|begin_of_text|>", "<|eot_id|>", "llama-3.2");
    check_against_reference(t);
    CHECK(t.render({{"user", "U"}}, true, kNow).find("Today Date: 02 Dec 2025") != std::string::npos);
}

TEST_CASE("Qwen2.5-Instruct renders as transformers renders it", "[chat_template]") {
    Template t(read(llama_template("Qwen-Qwen2.5-7B-Instruct.jinja")), "", "<|im_end|>", "qwen2.5");
    check_against_reference(t);
}

TEST_CASE("SmolLM2-Instruct from its tokenizer_config.json renders as transformers renders it", "[chat_template]") {
    const std::string path = PARLEY_SOURCE_DIR "/tests/fixtures/chat_templates/SmolLM2-1.7B-Instruct/tokenizer_config.json";
    Template t = Template::from_option(path, "chat_template");
    CHECK(t.bos_token() == "<|im_start|>");
    CHECK(t.eos_token() == "<|im_end|>");
    check_against_reference(t);
}

TEST_CASE("chatml is transformers' ChatML template", "[chat_template]") {
    Template t = Template::from_option("chatml", "chat_template");
    check_against_reference(t);
    CHECK(t.render({{"system", "s"}, {"user", "u"}}) == "<|im_start|>system\ns<|im_end|>\n<|im_start|>user\nu<|im_end|>\n<|im_start|>assistant\n");
}

TEST_CASE("block whitespace and loop controls follow transformers' settings", "[chat_template]") {
    // No "-" whitespace control: the output depends on trim_blocks and lstrip_blocks.
    Template t("{% for m in messages %}\n"
               "    {% if m.role == 'user' %}\n"
               "U: {{ m.content }}\n"
               "    {% elif m.content == 'd' %}{% break %}\n"
               "    {% else %}\n"
               "A: {{ m.content }}\n"
               "    {% endif %}\n"
               "{% endfor %}\n"
               "{% if add_generation_prompt %}A:{% endif %}",
               "", "", "whitespace.jinja");
    check_against_reference(t);
}

TEST_CASE("a Jinja file takes its special tokens from the tokenizer_config.json beside it", "[chat_template]") {
    const fs::path dir = fs::temp_directory_path() / ("parley-chat-template-dir-" + std::to_string(getpid()));
    fs::create_directories(dir);
    std::ofstream(dir / "chat_template.jinja") << "{{ bos_token }}{% for m in messages %}{{ m.content }}{% endfor %}{{ eos_token }}";
    Template bare = Template::from_option((dir / "chat_template.jinja").string(), "chat_template");
    CHECK(bare.render({{"user", "x"}}) == "x");
    std::ofstream(dir / "tokenizer_config.json") << R"({"bos_token": {"content": "<s>", "lstrip": false}, "eos_token": "</s>"})";
    Template with = Template::from_option((dir / "chat_template.jinja").string(), "chat_template");
    CHECK(with.render({{"user", "x"}}) == "<s>x</s>");
    fs::remove_all(dir);
}

TEST_CASE("chat template errors name the option and the template", "[chat_template]") {
    CHECK_THROWS_WITH(Template::from_option("/no/such/tokenizer_config.json", "nodes.pairs.chat_template"),
                      Catch::Contains("nodes.pairs.chat_template") && Catch::Contains("/no/such/tokenizer_config.json"));
    CHECK_THROWS_WITH(Template("{% if %}", "", "", "my.jinja"), Catch::Contains("my.jinja") && Catch::Contains("does not parse"));
    Template raising("{{ raise_exception('roles must alternate') }}", "", "", "strict.jinja");
    CHECK_THROWS_WITH(raising.render({{"user", "x"}}), Catch::Contains("strict.jinja") && Catch::Contains("roles must alternate"));
}
