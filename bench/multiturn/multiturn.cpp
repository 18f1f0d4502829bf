// multiturn: Parley's multi-turn inference benchmark.
//
// N concurrent two-agent conversations (Coral's protocol: turn 0 is the task, then teacher and
// student alternate; each agent sees its own turns as `assistant` and its partner's as `user`,
// after the shared system prompt), K turns of T generated tokens each, driven through a backend
// plugin loaded over Parley's C ABI (dlopen + parley_plugin_init with a small host table written
// here), with conversation/agent affinity ids set. Optionally each turn is followed by Coral's LLM
// belief-extractor call (a second request, temperature 0, max_tokens 32), keyed by its conversation
// as a third agent the way Parley's core sends it (--no-extractor-affinity: no key, as Coral does).
//
// Suites (each writes one results JSON; see bench/README.md, "Multi-turn inference"):
//   multiturn llama_cpp ...  the embedded llama_cpp plugin vs llama-batched-bench's ceiling at the
//                            same parallelism and lengths
//   multiturn openai ...     conversations/s of: the embedded llama_cpp plugin, the openai plugin
//                            against a llama-server this program starts, and a Coral-style Python
//                            asyncio client (coral_client.py) against the same llama-server
//   multiturn run ...        one backend, one workload, figures on stdout (for profiling)
#include "../tools/plugin_host.hpp"

#include <parley/plugin.h>

#include <llama.h>
#include <nlohmann/json.hpp>

#include <arpa/inet.h>
#include <dlfcn.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace fs = std::filesystem;

bool g_progress = true;

// =============================================================================================
// Tokenizer (vocab only) and chat template of the model: prompt lengths and unique-token counts.
// =============================================================================================

void quiet_log(ggml_log_level level, const char *text, void *) {
    if (level == GGML_LOG_LEVEL_ERROR) std::fputs(text, stderr);
}

class Tokenizer {
  public:
    explicit Tokenizer(const std::string &model) {
        llama_log_set(&quiet_log, nullptr);
        llama_backend_init();
        llama_model_params mp = llama_model_default_params();
        mp.vocab_only = true;
        model_ = llama_model_load_from_file(model.c_str(), mp);
        if (!model_) die("cannot load the vocabulary of " + model);
        vocab_ = llama_model_get_vocab(model_);
        const char *t = llama_model_chat_template(model_, nullptr);
        tmpl_ = t ? t : "chatml";
        if (render({{"system", "s"}, {"user", "u"}}).empty()) tmpl_ = "chatml";
    }
    ~Tokenizer() { llama_model_free(model_); }

    std::string render(const std::vector<Message> &msgs) const {
        std::vector<llama_chat_message> chat;
        size_t total = 0;
        for (auto &m : msgs) {
            chat.push_back({m.role.c_str(), m.content.c_str()});
            total += m.role.size() + m.content.size();
        }
        std::string buf(2 * total + 512, '\0');
        int32_t n = llama_chat_apply_template(tmpl_.c_str(), chat.data(), chat.size(), true, buf.data(), (int32_t)buf.size());
        if (n > (int32_t)buf.size()) {
            buf.assign((size_t)n, '\0');
            n = llama_chat_apply_template(tmpl_.c_str(), chat.data(), chat.size(), true, buf.data(), (int32_t)buf.size());
        }
        if (n < 0) return {};
        buf.resize((size_t)n);
        return buf;
    }
    // As the llama_cpp engine tokenizes a prompt (special tokens parsed, BOS per the vocabulary).
    std::vector<llama_token> tokenize(const std::string &text, bool prompt) const {
        std::vector<llama_token> t(text.size() + 8);
        int32_t n = llama_tokenize(vocab_, text.data(), (int32_t)text.size(), t.data(), (int32_t)t.size(), prompt, prompt);
        if (n < 0) {
            t.resize((size_t)-n);
            n = llama_tokenize(vocab_, text.data(), (int32_t)text.size(), t.data(), (int32_t)t.size(), prompt, prompt);
        }
        t.resize((size_t)std::max(n, 0));
        return t;
    }
    size_t count(const std::vector<Message> &msgs) const { return tokenize(render(msgs), true).size(); }

  private:
    llama_model *model_ = nullptr;
    const llama_vocab *vocab_ = nullptr;
    std::string tmpl_;
};

size_t lcp(const std::vector<llama_token> &a, const std::vector<llama_token> &b) {
    size_t n = std::min(a.size(), b.size()), i = 0;
    while (i < n && a[i] == b[i]) ++i;
    return i;
}

// =============================================================================================
// Workload: Coral's MMLU-Pro shape with synthetic questions of a fixed prompt length.
// =============================================================================================

// Coral's assistant_sbs_short system prompt rendered for MMLU-Pro (coral.md §1.3), and its extractor.
const char *kSystem =
    "You are working with a user to solve some reasoning-focused question answering problems.\n\nHere is how you "
    "should proceed:\n* Starting on the problem and try to give a full solution;\n* When the user proposes a solution, "
    "look carefully at each of the step, and be precise and direct when you notice any mistake;\n* When the user raises "
    "a concern, first think about if you have actually made a mistake. Correct your mistake if you think you've made "
    "one, but stand your ground if you think it's actually correct;\n* Always stay on topic and work towards a solution "
    "to the original problem;\n* Be direct and concise during the whole communication;\n* To give a final answer, do it "
    "in the format of \"The correct answer is (insert answer here)\", such as \"The correct answer is (B)\"";
const char *kExtractorSystem =
    "You are an assistant that is helping an user to identify the intention of certain responses in a conversation. "
    "More specifically, you will help extracting which answer the response is submiting as the final answer, or say "
    "\"not sure yet\" if it seems like there is no explict answer included in the response.\n";

const char *kWords[] = {
    "energy", "system", "particle", "market", "theory", "cell", "force", "value", "model", "process", "growth",
    "rate", "function", "policy", "structure", "signal", "pressure", "heat", "light", "charge", "field", "mass",
    "demand", "supply", "price", "law", "court", "contract", "gene", "protein", "enzyme", "reaction", "acid",
    "water", "carbon", "metal", "wave", "speed", "distance", "time", "angle", "circle", "triangle", "number",
    "sum", "product", "ratio", "history", "empire", "war", "trade", "culture", "language", "memory", "behavior",
    "patient", "disease", "treatment", "dose", "risk", "sample", "mean", "variance", "error", "test", "result",
    "engine", "circuit", "voltage", "current", "resistance", "power", "frequency", "orbit", "planet", "star",
    "which", "of", "the", "following", "is", "most", "likely", "when", "an", "a", "increase", "decrease", "given",
    "that", "what", "would", "be", "in", "this", "case", "and", "for", "under", "after", "before", "between"};

struct Workload {
    int conversations = 32; // total conversations (at most `parallel` in flight)
    int parallel = 16;
    int prompt = 256;       // tokens of the first agent request (system + task, rendered)
    int turn = 64;          // max_tokens of an agent turn
    int turns = 6;          // agent turns per conversation
    bool extractor = false; // Coral's LLM extractor after every turn
    int extractor_tokens = 32;
    double temperature = 0.2, top_p = 0.9; // Matrix's Coral settings (matrix.md §5.7)
    uint64_t seed = 42;                     // Matrix's default seed
    double time_limit_s = 0;                // > 0: no new turn starts after this (partial run)
    std::vector<std::string> tasks, questions, options;
    std::string system = kSystem;
    std::string extractor_system = kExtractorSystem;
};

// Turn 0 of conversation i and the question/options the extractor prompt quotes (coral.md §1.2, §1.6).
void make_tasks(Workload &w, const Tokenizer &tok) {
    const size_t nw = sizeof kWords / sizeof *kWords;
    for (int c = 0; c < w.conversations; ++c) {
        std::mt19937_64 rng(1000003ull * (uint64_t)(c + 1));
        std::string opts;
        for (int k = 0; k < 10; ++k) {
            opts += std::string(k ? "\n" : "") + "(" + char('A' + k) + ") ";
            for (int j = 0; j < 2; ++j) opts += std::string(j ? " " : "") + kWords[rng() % nw];
        }
        std::vector<std::string> qwords;
        auto task_of = [&](const std::string &q) {
            return "I'm trying to solve this problem: \"" + q + "\"\nAnd the choices are:\n" + opts;
        };
        auto join = [&] {
            std::string q;
            for (size_t j = 0; j < qwords.size(); ++j) q += (j ? " " : "") + qwords[j];
            return q;
        };
        // Grow the question until the first agent prompt reaches `prompt` tokens.
        for (int guard = 0; guard < 100000; ++guard) {
            std::string task = task_of(join());
            size_t n = tok.count({{"system", w.system}, {"user", task}});
            if ((int)n >= w.prompt) break;
            qwords.push_back(kWords[rng() % nw]);
        }
        w.questions.push_back(join());
        w.options.push_back(opts);
        w.tasks.push_back(task_of(w.questions.back()));
    }
}

std::string extractor_prompt(const Workload &w, int c, const std::string &response) {
    return "**This is the original question:**\n" + w.questions[(size_t)c] + "\n\n\n\n**And the options are:**\n" +
           w.options[(size_t)c] + "\n\n**This is the response you need to extract answer from:**\n\n" + response +
           "\n\n**Extract the answer in ([A-Z]) format, or say \"not sure yet\".**";
}

json workload_json(const Workload &w) {
    json j = {{"conversations", w.conversations}, {"parallel", w.parallel}, {"prompt", w.prompt}, {"turn", w.turn},
              {"turns", w.turns}, {"extractor", w.extractor}, {"extractor_tokens", w.extractor_tokens},
              {"temperature", w.temperature}, {"top_p", w.top_p}, {"seed", w.seed}, {"system", w.system},
              {"extractor_system", w.extractor_system}, {"tasks", w.tasks}, {"questions", w.questions},
              {"options", w.options}, {"time_limit_s", w.time_limit_s}};
    return j;
}

// =============================================================================================
// The driver: a sliding window of `parallel` conversations, one event loop on the main thread.
// =============================================================================================

struct Stats {
    double wall_s = 0, cpu_s = 0; // cpu_s: this process (the client; with llama_cpp, the engine too)
    int64_t requests = 0, agent_requests = 0, extractor_requests = 0, failures = 0;
    int64_t prompt_tokens = 0, cached_tokens = 0, completion_tokens = 0, agent_completion_tokens = 0;
    int64_t extractor_prompt_tokens = 0, extractor_cached_tokens = 0;
    int64_t unique_prompt_tokens = 0;          // perfect prefix cache, per conversation (see README)
    int64_t unique_prompt_tokens_per_view = 0; // perfect prefix cache, per (conversation, agent)
    int64_t driver_prompt_tokens = 0;          // prompt tokens as the driver renders and tokenizes them
    int64_t retokenized_answer_tokens = 0;     // generated texts re-tokenized (= generated_tokens when canonical)
    double agent_depth_sum = 0;                // sum of agent prompt lengths (for the mean depth)
    double conversations_per_s = 0;
    int conversations = 0, conversations_done = 0;
    int64_t turns_done = 0; // agent turns completed (with their extractor call when there is one)
    int turns_per_conversation = 0;
    bool partial = false;   // the time limit stopped it early
    json trace = json::array(); // per request: kind, conversation, turn, tokens, timings (--trace)
    std::string first_error;

    json to_json() const {
        const double gen = wall_s > 0 ? completion_tokens / wall_s : 0;
        return {{"wall_s", wall_s},
                {"driver_process_cpu_s", cpu_s},
                {"conversations", conversations},
                {"conversations_done", conversations_done},
                {"turns_done", turns_done},
                {"partial", partial},
                {"conversations_per_s", conversations_per_s},
                {"requests", requests},
                {"agent_requests", agent_requests},
                {"extractor_requests", extractor_requests},
                {"failures", failures},
                {"generated_tokens", completion_tokens},
                {"agent_generated_tokens", agent_completion_tokens},
                {"generated_tok_per_s", gen},
                {"prompt_tokens", prompt_tokens},
                {"cached_tokens", cached_tokens},
                {"prefilled_tokens", prompt_tokens - cached_tokens},
                {"prefilled_tok_per_s", wall_s > 0 ? (prompt_tokens - cached_tokens) / wall_s : 0},
                {"extractor_prompt_tokens", extractor_prompt_tokens},
                {"extractor_prefilled_tokens", extractor_prompt_tokens - extractor_cached_tokens},
                {"unique_prompt_tokens", unique_prompt_tokens},
                {"unique_prompt_tokens_per_agent_view", unique_prompt_tokens_per_view},
                {"driver_prompt_tokens", driver_prompt_tokens},
                {"retokenized_answer_tokens", retokenized_answer_tokens},
                {"prefilled_over_unique", unique_prompt_tokens ? double(prompt_tokens - cached_tokens) / unique_prompt_tokens : 0},
                {"mean_agent_prompt_tokens", agent_requests ? agent_depth_sum / agent_requests : 0}};
    }
};

class Inbox {
  public:
    void push(size_t slot, Result &&r) {
        {
            std::lock_guard<std::mutex> lock(mu_);
            q_.emplace_back(slot, std::move(r));
        }
        cv_.notify_one();
    }
    std::pair<size_t, Result> pop() {
        std::unique_lock<std::mutex> lock(mu_);
        cv_.wait(lock, [&] { return !q_.empty(); });
        auto v = std::move(q_.front());
        q_.pop_front();
        return v;
    }

  private:
    std::mutex mu_;
    std::condition_variable cv_;
    std::deque<std::pair<size_t, Result>> q_;
};

struct Options {
    bool extractor_affinity = true; // extractor calls carry the conversation id (agent 2), as Parley's core sends them
    int pin_slots = 0; // > 0 (openai plugin + llama-server): requests carry {"id_slot": conversation % pin_slots}
};

Stats drive(Backend &b, const Workload &w, const Tokenizer &tok, const Options &opt = {}) {
    struct Turn {
        int role;
        std::string text;
    };
    struct Conv {
        int index = -1;
        std::vector<Turn> turns;
        int next_role = 0;
        bool extracting = false;
        std::vector<std::vector<llama_token>> computed; // token sequences a perfect cache holds (this conversation)
        std::vector<llama_token> view[3];                // per agent view (0 teacher, 1 student, 2 extractor)
        std::vector<llama_token> pending;                // prompt tokens of the request in flight
        int pending_view = 0;
        double submitted_at = 0;
    };
    Stats st;
    Inbox inbox;
    std::vector<Conv> slots((size_t)w.parallel);
    int next = 0, finished = 0;
    const auto t0 = Clock::now();
    const double cpu0 = process_cpu_s();

    auto account = [&](Conv &cv, const std::vector<Message> &msgs, int view, bool agent) {
        std::vector<llama_token> p = tok.tokenize(tok.render(msgs), true);
        size_t best = 0;
        for (auto &s : cv.computed) best = std::max(best, lcp(p, s));
        const size_t cap = p.empty() ? 0 : p.size() - 1; // the last prompt token is always computed (its logits)
        st.unique_prompt_tokens += (int64_t)(p.size() - std::min(best, cap));
        st.unique_prompt_tokens_per_view += (int64_t)(p.size() - std::min(lcp(p, cv.view[view]), cap));
        st.driver_prompt_tokens += (int64_t)p.size();
        if (agent) st.agent_depth_sum += (double)p.size();
        cv.pending = std::move(p);
        cv.pending_view = view;
        cv.submitted_at = since(t0);
    };
    auto computed = [&](Conv &cv, const std::string &answer) {
        std::vector<llama_token> s = cv.pending;
        auto a = tok.tokenize(answer, false);
        st.retokenized_answer_tokens += (int64_t)a.size();
        s.insert(s.end(), a.begin(), a.end());
        cv.view[cv.pending_view] = s;
        cv.computed.push_back(std::move(s));
    };

    auto speak = [&](size_t slot) {
        Conv &cv = slots[slot];
        Request q;
        q.messages.push_back({"system", w.system});
        for (auto &t : cv.turns) q.messages.push_back({t.role == cv.next_role ? "assistant" : "user", t.text});
        q.temperature = w.temperature;
        q.top_p = w.top_p;
        q.seed = w.seed;
        q.has_seed = true;
        q.max_tokens = w.turn;
        q.conversation = (uint64_t)cv.index + 1;
        q.agent = (uint32_t)cv.next_role;
        if (opt.pin_slots > 0) q.extra_json = "{\"id_slot\": " + std::to_string(cv.index % opt.pin_slots) + "}";
        account(cv, q.messages, cv.next_role, true);
        cv.extracting = false;
        b.submit(q, [&inbox, slot](Result &&r) { inbox.push(slot, std::move(r)); });
    };
    auto extract = [&](size_t slot) {
        Conv &cv = slots[slot];
        Request q;
        q.messages = {{"system", w.extractor_system}, {"user", extractor_prompt(w, cv.index, cv.turns.back().text)}};
        q.temperature = 0.0;
        q.max_tokens = w.extractor_tokens;
        if (opt.extractor_affinity) {
            q.conversation = (uint64_t)cv.index + 1;
            q.agent = 2;
        }
        if (opt.pin_slots > 0) q.extra_json = "{\"id_slot\": " + std::to_string(cv.index % opt.pin_slots) + "}";
        account(cv, q.messages, 2, false);
        cv.extracting = true;
        b.submit(q, [&inbox, slot](Result &&r) { inbox.push(slot, std::move(r)); });
    };
    auto start = [&](size_t slot) {
        Conv &cv = slots[slot];
        cv = Conv{};
        cv.index = next++;
        cv.turns.push_back({1, w.tasks[(size_t)cv.index]}); // turn 0: the student asks
        cv.next_role = 0;                                     // the teacher speaks first
        speak(slot);
    };

    for (size_t s = 0; s < slots.size() && next < w.conversations; ++s) start(s);
    auto last_report = Clock::now();
    while (finished < w.conversations) {
        auto [slot, r] = inbox.pop();
        if (g_progress && since(last_report) >= 30) {
            last_report = Clock::now();
            std::fprintf(stderr, "  ... %.0f s: %d/%d conversations done, %lld requests, %lld tokens generated\n", since(t0),
                         finished, w.conversations, (long long)st.requests, (long long)st.completion_tokens);
        }
        Conv &cv = slots[slot];
        ++st.requests;
        st.trace.push_back({{"conv", cv.index}, {"kind", cv.extracting ? "extractor" : "agent"},
                            {"turn", (int)cv.turns.size() - (cv.extracting ? 1 : 0)}, {"prompt", r.prompt_tokens},
                            {"cached", r.cached_tokens}, {"generated", r.completion_tokens}, {"submitted_at", cv.submitted_at},
                            {"done_at", since(t0)}, {"queue_s", r.queue_s}, {"prefill_s", r.prefill_s}, {"total_s", r.total_s}});
        if (r.status != PARLEY_OK) {
            ++st.failures;
            if (st.first_error.empty()) st.first_error = r.error;
        }
        st.prompt_tokens += r.prompt_tokens;
        st.cached_tokens += r.cached_tokens;
        st.completion_tokens += r.completion_tokens;
        computed(cv, r.text);
        bool more;
        if (cv.extracting || !w.extractor || r.status != PARLEY_OK) ++st.turns_done;
        if (cv.extracting) {
            ++st.extractor_requests;
            st.extractor_prompt_tokens += r.prompt_tokens;
            st.extractor_cached_tokens += r.cached_tokens;
            more = (int)cv.turns.size() - 1 < w.turns;
        } else {
            ++st.agent_requests;
            st.agent_completion_tokens += r.completion_tokens;
            cv.turns.push_back({cv.next_role, r.text});
            cv.next_role = 1 - cv.next_role;
            if (w.extractor && r.status == PARLEY_OK) {
                extract(slot);
                continue;
            }
            more = (int)cv.turns.size() - 1 < w.turns;
        }
        if (r.status != PARLEY_OK) more = false;
        const bool out_of_time = w.time_limit_s > 0 && since(t0) > w.time_limit_s;
        if (out_of_time && !st.partial) {
            st.partial = true;
            std::fprintf(stderr, "  ... time limit of %.0f s reached: finishing the requests in flight\n", w.time_limit_s);
            finished += w.conversations - next; // never started
            next = w.conversations;
        }
        if (more && !out_of_time) {
            speak(slot);
        } else {
            if (!more) ++st.conversations_done;
            ++finished;
            if (next < w.conversations) start(slot);
        }
    }
    st.wall_s = since(t0);
    st.cpu_s = process_cpu_s() - cpu0;
    st.conversations = w.conversations;
    st.turns_per_conversation = w.turns;
    // Completed conversation-equivalents per second: all turns done / turns per conversation
    // (equal to conversations / wall time for a complete run; also meaningful for a partial one).
    st.conversations_per_s = (double)st.turns_done / w.turns / st.wall_s;
    return st;
}

// A short request so that model pages, threads and connections are warm before timing.
void warmup(Backend &b) {
    Inbox inbox;
    Request q;
    q.messages = {{"user", "warm up"}};
    q.max_tokens = 8;
    b.submit(q, [&](Result &&r) { inbox.push(0, std::move(r)); });
    auto r = inbox.pop();
    if (r.second.status != PARLEY_OK) die("warm-up request failed: " + r.second.error);
}

// =============================================================================================
// Child processes: llama-server, llama-batched-bench, the Python baseline.
// =============================================================================================

std::string run_capture(const std::string &cmd, int *rc = nullptr) {
    std::string out;
    FILE *p = popen(cmd.c_str(), "r");
    if (!p) die("cannot run: " + cmd);
    char buf[4096];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
    int status = pclose(p);
    if (rc) *rc = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    return out;
}

std::string shell_quote(const std::string &s) {
    std::string o = "'";
    for (char c : s) o += c == '\'' ? std::string("'\\''") : std::string(1, c);
    return o + "'";
}

int free_port() {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = 0;
    if (bind(fd, (sockaddr *)&a, sizeof a) != 0) die("bind failed");
    socklen_t len = sizeof a;
    getsockname(fd, (sockaddr *)&a, &len);
    int port = ntohs(a.sin_port);
    close(fd);
    return port;
}

bool http_ok(int port, const std::string &path) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons((uint16_t)port);
    bool ok = false;
    if (connect(fd, (sockaddr *)&a, sizeof a) == 0) {
        std::string req = "GET " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";
        if (write(fd, req.data(), req.size()) == (ssize_t)req.size()) {
            char buf[256] = {0};
            ssize_t n = read(fd, buf, sizeof buf - 1);
            ok = n > 12 && std::strncmp(buf + 9, "200", 3) == 0;
        }
    }
    close(fd);
    return ok;
}

class Server {
  public:
    Server(const std::vector<std::string> &argv, int port, const std::string &log) : port_(port) {
        pid_ = fork();
        if (pid_ < 0) die("fork failed");
        if (pid_ == 0) {
            FILE *f = std::freopen(log.c_str(), "w", stdout);
            (void)f;
            dup2(fileno(stdout), 2);
            prctl(PR_SET_PDEATHSIG, SIGTERM); // never outlive the driver
            std::vector<char *> a;
            for (auto &s : argv) a.push_back(const_cast<char *>(s.c_str()));
            a.push_back(nullptr);
            execv(a[0], a.data());
            _exit(127);
        }
        g_child = pid_;
        const auto t0 = Clock::now();
        while (!http_ok(port_, "/health")) {
            int status;
            if (waitpid(pid_, &status, WNOHANG) == pid_) die("llama-server exited at start; see " + log);
            if (since(t0) > 120) die("llama-server did not become healthy in 120 s; see " + log);
            std::this_thread::sleep_for(std::chrono::milliseconds(200));
        }
    }
    ~Server() {
        if (pid_ > 0) {
            kill(pid_, SIGTERM);
            int status;
            for (int i = 0; i < 50 && waitpid(pid_, &status, WNOHANG) == 0; ++i)
                std::this_thread::sleep_for(std::chrono::milliseconds(100));
            if (waitpid(pid_, &status, WNOHANG) == 0) {
                kill(pid_, SIGKILL);
                waitpid(pid_, &status, 0);
            }
            g_child = -1;
        }
    }
    std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }
    double cpu_s() const { return child_cpu_s(pid_); }

  private:
    pid_t pid_ = -1;
    int port_;
};

// llama-batched-bench's table row for (pp, tg, pl): PP TG B N_KV T_PP S_PP T_TG S_TG T S.
json batched_bench(const std::string &bin, const std::string &model, int ctx, int pp, int tg, int pl, int threads,
                   std::string *cmd_out) {
    std::string cmd = shell_quote(bin) + " -m " + shell_quote(model) + " -c " + std::to_string(ctx) +
                      " -b 2048 -ub 512 -t " + std::to_string(threads) + " -npp " + std::to_string(pp) + " -ntg " +
                      std::to_string(tg) + " -npl " + std::to_string(pl);
    if (cmd_out) *cmd_out = cmd;
    int rc = 0;
    std::string out = run_capture(cmd + " 2>&1", &rc);
    if (rc != 0) die("llama-batched-bench failed (" + std::to_string(rc) + "):\n" + out);
    std::istringstream in(out);
    std::string line;
    while (std::getline(in, line)) {
        if (line.empty() || line[0] != '|') continue;
        std::vector<std::string> cells;
        std::string cell;
        std::istringstream ls(line.substr(1));
        while (std::getline(ls, cell, '|')) {
            cell.erase(0, cell.find_first_not_of(' '));
            cell.erase(cell.find_last_not_of(' ') + 1);
            cells.push_back(cell);
        }
        if (cells.size() < 10 || cells[0] == "PP" || cells[0].find('-') != std::string::npos) continue;
        try {
            return {{"pp", std::stoi(cells[0])}, {"tg", std::stoi(cells[1])}, {"pl", std::stoi(cells[2])},
                    {"n_kv", std::stoi(cells[3])}, {"t_pp_s", std::stod(cells[4])}, {"s_pp", std::stod(cells[5])},
                    {"t_tg_s", std::stod(cells[6])}, {"s_tg", std::stod(cells[7])}, {"t_s", std::stod(cells[8])},
                    {"s", std::stod(cells[9])}};
        } catch (...) {
        }
    }
    die("could not parse llama-batched-bench output:\n" + out);
}

// =============================================================================================
// Command line
// =============================================================================================

struct Args {
    std::string suite;
    std::string model, plugins, tools, out, python = "/usr/bin/python3", coral_client;
    std::string backend = "llama_cpp", url, workload_out, trace;
    std::vector<int> parallel{16};
    int conversations_per_slot = 2;
    int conversations = 0; // overrides conversations_per_slot
    int prompt = 256, turn = 64, turns = 6, threads = 2;
    double temperature = 0.2, top_p = 0.9; // agent turns (Matrix's Coral settings)
    int slots_factor = 3;  // llama_cpp n_parallel = slots_factor x parallel (resident agent views + extractor)
    bool extractor = false, extractor_affinity = true, pin_slots = false;
    double time_limit = 0;
    std::vector<json> engine_configs{json::object()}; // llama_cpp overrides per configuration
    std::vector<std::string> engine_labels{"default"};
    json meta = json::object();
    std::string command_line; // how to reproduce the results file (--command), else this argv
    std::string driver_line;  // this argv
};

fs::path self_dir() {
    std::error_code ec;
    return fs::read_symlink("/proc/self/exe", ec).parent_path();
}

std::vector<int> int_list(const std::string &s) {
    std::vector<int> v;
    std::stringstream ss(s);
    std::string x;
    while (std::getline(ss, x, ',')) v.push_back(std::stoi(x));
    return v;
}

// "default;kv_unified=true;kv_unified=false,flash_attn=off": configurations of the llama_cpp plugin,
// each a comma-separated list of KEY=VALUE overrides ("default": none). Values are typed as JSON
// (true/false/numbers), else strings.
void parse_configs(const std::string &spec, Args &a) {
    a.engine_configs.clear();
    a.engine_labels.clear();
    std::stringstream ss(spec);
    std::string one;
    while (std::getline(ss, one, ';')) {
        if (one.empty()) continue;
        json cfg = json::object();
        if (one != "default") {
            std::stringstream cs(one);
            std::string kv;
            while (std::getline(cs, kv, ',')) {
                auto eq = kv.find('=');
                if (eq == std::string::npos) die("--engine-configs: '" + kv + "' is not KEY=VALUE");
                const std::string key = kv.substr(0, eq), val = kv.substr(eq + 1);
                json jv = json::parse(val, nullptr, false);
                cfg[key] = jv.is_discarded() || jv.is_object() || jv.is_array() ? json(val) : jv;
            }
        }
        a.engine_configs.push_back(cfg);
        a.engine_labels.push_back(one);
    }
    if (a.engine_configs.empty()) die("--engine-configs lists no configuration");
}

Args parse(int argc, char **argv) {
    Args a;
    if (argc < 2) die("usage: multiturn llama_cpp|openai|run [options] (see bench/README.md)");
    a.suite = argv[1];
    for (int i = 0; i < argc; ++i) a.driver_line += (i ? " " : "") + shell_quote(argv[i]);
    for (int i = 2; i < argc; ++i) {
        std::string k = argv[i];
        auto v = [&]() -> std::string {
            if (i + 1 >= argc) die("missing value after " + k);
            return argv[++i];
        };
        if (k == "--model") a.model = v();
        else if (k == "--plugins") a.plugins = v();
        else if (k == "--tools") a.tools = v();
        else if (k == "--out") a.out = v();
        else if (k == "--python") a.python = v();
        else if (k == "--coral-client") a.coral_client = v();
        else if (k == "--backend") a.backend = v();
        else if (k == "--url") a.url = v();
        else if (k == "--workload-out") a.workload_out = v();
        else if (k == "--trace") a.trace = v();
        else if (k == "--parallel") a.parallel = int_list(v());
        else if (k == "--conversations-per-slot") a.conversations_per_slot = std::stoi(v());
        else if (k == "--conversations") a.conversations = std::stoi(v());
        else if (k == "--prompt") a.prompt = std::stoi(v());
        else if (k == "--turn") a.turn = std::stoi(v());
        else if (k == "--turns") a.turns = std::stoi(v());
        else if (k == "--threads") a.threads = std::stoi(v());
        else if (k == "--slots-factor") a.slots_factor = std::stoi(v());
        else if (k == "--extractor") a.extractor = true;
        else if (k == "--time-limit") a.time_limit = std::stod(v());
        else if (k == "--temperature") a.temperature = std::stod(v());
        else if (k == "--top-p") a.top_p = std::stod(v());
        else if (k == "--engine-configs") parse_configs(v(), a);
        else if (k == "--meta") {
            std::string kv = v();
            auto eq = kv.find('=');
            if (eq == std::string::npos) die("--meta wants KEY=VALUE");
            a.meta[kv.substr(0, eq)] = kv.substr(eq + 1);
        }
        else if (k == "--extractor-affinity") a.extractor_affinity = true;
        else if (k == "--no-extractor-affinity") a.extractor_affinity = false;
        else if (k == "--pin-slots") a.pin_slots = true;
        else if (k == "--verbose") host::g_log_level = PARLEY_LOG_INFO;
        else if (k == "--quiet") g_progress = false;
        else if (k == "--command") a.command_line = v();
        else die("unknown option " + k);
    }
    if (a.command_line.empty()) a.command_line = a.driver_line;
    if (a.model.empty()) die("--model is required");
    if (a.plugins.empty()) die("--plugins DIR (the build's plugins folder) is required");
    if (a.coral_client.empty()) a.coral_client = (fs::path(__FILE__).parent_path() / "coral_client.py").string();
    return a;
}

Workload make_workload(const Args &a, int parallel, const Tokenizer &tok, bool extractor) {
    Workload w;
    w.parallel = parallel;
    w.conversations = a.conversations > 0 ? a.conversations : parallel * a.conversations_per_slot;
    w.prompt = a.prompt;
    w.turn = a.turn;
    w.turns = a.turns;
    w.extractor = extractor;
    w.time_limit_s = a.time_limit;
    w.temperature = a.temperature;
    w.top_p = a.top_p;
    make_tasks(w, tok);
    return w;
}

// KV budget: every agent view at its longest (+ margin), and an extractor prompt per slot.
int view_ctx(const Workload &w) { return w.prompt + w.turns * (w.turn + 24) + 64; }
int extractor_ctx(const Workload &w) { return w.prompt + w.turn + 160 + w.extractor_tokens; }
int round_up(int x, int m) { return (x + m - 1) / m * m; }

// n_parallel: a slot per resident agent view (2 per conversation) plus one per conversation for the
// request in flight (an extractor call, with no affinity, takes a free slot). n_ctx: every slot can
// hold the longest agent view (the plugin gives each sequence n_ctx / n_parallel cells, or pools
// them with kv_unified). `overrides` (--engine-configs) come last.
json llama_cpp_config(const Args &a, const Workload &w, const json &overrides) {
    const int slots = std::min(a.slots_factor * w.parallel, 256);
    const int ctx = slots * round_up(std::max(view_ctx(w), extractor_ctx(w)), 256);
    json cfg = {{"model", a.model}, {"n_parallel", slots}, {"n_ctx", ctx}, {"n_batch", 2048},
                {"n_ubatch", 512},  {"threads", a.threads}};
    for (auto &[k, v] : overrides.items()) cfg[k] = v;
    return cfg;
}

std::string plugin_lib(const Args &a, const std::string &name) {
    fs::path p = fs::path(a.plugins) / ("libparley-" + name + ".so");
    if (!fs::exists(p)) die("plugin not found: " + p.string());
    return fs::absolute(p).string();
}

// `extractor_affinity=false` in an engine configuration is the driver's, not the plugin's: the
// extractor calls then carry no conversation id (Coral's client sends none; Parley's core does).
Stats run_embedded(const Args &a, const Workload &w, const Tokenizer &tok, const json &overrides, json *config_out) {
    json o_cfg = overrides;
    Options o;
    o.extractor_affinity = a.extractor_affinity;
    if (o_cfg.contains("extractor_affinity")) {
        o.extractor_affinity = o_cfg["extractor_affinity"].is_boolean() && o_cfg["extractor_affinity"].get<bool>();
        o_cfg.erase("extractor_affinity");
    }
    json cfg = llama_cpp_config(a, w, o_cfg);
    if (config_out) {
        *config_out = cfg;
        (*config_out)["driver_extractor_affinity"] = o.extractor_affinity;
    }
    Backend b(plugin_lib(a, "llama_cpp"), cfg);
    warmup(b);
    return drive(b, w, tok, o);
}

void print_stats(const char *what, const Stats &s) {
    std::fprintf(stderr, "%-28s %7.2f s  %6.3f conv/s  gen %6.1f tok/s  prefilled %7lld  unique %7lld (x%.3f)  fail %lld\n",
                 what, s.wall_s, s.conversations_per_s, s.wall_s > 0 ? s.completion_tokens / s.wall_s : 0,
                 (long long)(s.prompt_tokens - s.cached_tokens), (long long)s.unique_prompt_tokens,
                 s.unique_prompt_tokens ? double(s.prompt_tokens - s.cached_tokens) / s.unique_prompt_tokens : 0,
                 (long long)s.failures);
    if (s.failures) std::fprintf(stderr, "  first error: %s\n", s.first_error.c_str());
}

void write_json(const std::string &path, const json &j) {
    if (path.empty()) {
        std::printf("%s\n", j.dump(2).c_str());
        return;
    }
    fs::create_directories(fs::path(path).parent_path());
    std::ofstream f(path);
    f << j.dump(2) << "\n";
    if (!f) die("cannot write " + path);
    std::fprintf(stderr, "wrote %s\n", path.c_str());
}

json common_header(const Args &a) {
    return {{"command", a.command_line},
            {"driver_command", a.driver_line},
            {"model", a.model},
            {"model_file", fs::path(a.model).filename().string()},
            {"threads", a.threads},
            {"machine", {{"cores", (int)std::thread::hardware_concurrency()}}},
            {"workload", {{"prompt_tokens_first_request", a.prompt}, {"turn_tokens", a.turn}, {"turns", a.turns},
                          {"conversations_per_slot", a.conversations_per_slot}, {"time_limit_s", a.time_limit},
                          {"temperature", a.temperature}, {"top_p", a.top_p}}},
            {"engine_configs", a.engine_labels},
            {"meta", a.meta}};
}

// --- suite: llama_cpp ------------------------------------------------------------------------
int suite_llama_cpp(const Args &a) {
    Tokenizer tok(a.model);
    json out = common_header(a);
    json runs = json::array();
    const std::string bench_bin = (fs::path(a.tools) / "llama-batched-bench").string();
    for (int n : a.parallel) {
        Workload w = make_workload(a, n, tok, false);
        std::vector<json> rs;
        for (size_t c = 0; c < a.engine_configs.size(); ++c) {
            json cfg;
            Stats s = run_embedded(a, w, tok, a.engine_configs[c], &cfg);
            print_stats(("llama_cpp [" + a.engine_labels[c] + "] N=" + std::to_string(n)).c_str(), s);
            json r = s.to_json();
            r["parallel"] = n;
            r["engine_config"] = a.engine_labels[c];
            r["backend_config"] = cfg;
            rs.push_back(r);
        }
        // Ceiling: llama-batched-bench at the same parallelism, the workload's mean agent-prompt
        // depth and turn length.
        const int depth = (int)std::lround(rs[0]["mean_agent_prompt_tokens"].get<double>());
        const int ctx = round_up(n * (depth + a.turn) + 256, 256);
        std::string bcmd;
        json bb = batched_bench(bench_bin, a.model, ctx, depth, a.turn, n, a.threads, &bcmd);
        const double s_tg = bb["s_tg"], s_pp = bb["s_pp"];
        for (auto &r : rs) {
            const double gen = r["generated_tokens"], uniq = r["unique_prompt_tokens"];
            // The fastest this llama.cpp build could run the same workload: every generated token
            // decoded at S_TG, only the unique prompt tokens prefilled, at S_PP.
            const double ceiling = gen / (gen / s_tg + uniq / s_pp);
            const double measured = r["generated_tok_per_s"];
            r["ceiling_generated_tok_per_s"] = ceiling;
            r["generated_over_ceiling"] = measured / ceiling;
            r["batched_bench"] = bb;
            r["batched_bench_command"] = bcmd;
            r["batched_bench_s_tg"] = s_tg;
            r["batched_bench_s_pp"] = s_pp;
            r["generated_over_s_tg"] = measured / s_tg;
            std::fprintf(stderr, "  [%s] vs llama-batched-bench -npp %d -ntg %d -npl %d (S_PP %.1f, S_TG %.1f): ceiling %.1f gen tok/s, "
                         "measured %.1f = %.1f%%\n",
                         r["engine_config"].get<std::string>().c_str(), depth, a.turn, n, s_pp, s_tg, ceiling, measured,
                         100 * measured / ceiling);
            runs.push_back(r);
        }
    }
    // Top level: the first parallelism and the first engine configuration (the plugin's defaults).
    const json &f = runs[0];
    for (const char *k : {"parallel", "engine_config", "generated_tok_per_s", "ceiling_generated_tok_per_s",
                          "generated_over_ceiling", "batched_bench_s_tg", "batched_bench_s_pp", "prefilled_tokens",
                          "unique_prompt_tokens", "unique_prompt_tokens_per_agent_view", "prefilled_over_unique",
                          "prefilled_tok_per_s", "prompt_tokens", "cached_tokens", "generated_tokens", "wall_s", "partial"})
        out[k] = f[k];
    out["targets"] = {{"generated_over_ceiling_min", 0.9}, {"prefilled_over_unique_max", 1.1}};
    out["runs"] = runs;
    write_json(a.out, out);
    return 0;
}

// --- suite: openai ---------------------------------------------------------------------------
int suite_openai(const Args &a) {
    Tokenizer tok(a.model);
    json out = common_header(a);
    json runs = json::array();
    const std::string server_bin = (fs::path(a.tools) / "llama-server").string();
    for (int n : a.parallel) {
        Workload w = make_workload(a, n, tok, true);
        json r = {{"parallel", n}, {"conversations", w.conversations}};

        // (a) the embedded engine, same workload and request semantics (each engine configuration).
        json emb_runs = json::array();
        for (size_t c = 0; c < a.engine_configs.size(); ++c) {
            json cfg;
            Stats emb = run_embedded(a, w, tok, a.engine_configs[c], &cfg);
            print_stats(("embedded [" + a.engine_labels[c] + "] N=" + std::to_string(n)).c_str(), emb);
            json e = emb.to_json();
            e["engine_config"] = a.engine_labels[c];
            e["backend_config"] = cfg;
            emb_runs.push_back(e);
        }
        r["embedded"] = emb_runs[0];
        r["embedded_configs"] = emb_runs;

        // llama-server: -np N slots, each able to hold the longest agent view.
        const int port = free_port();
        const int ctx = n * round_up(view_ctx(w) + 64, 256);
        std::vector<std::string> argv = {server_bin, "-m", a.model, "--host", "127.0.0.1", "--port", std::to_string(port),
                                         "-np", std::to_string(n), "-t", std::to_string(a.threads), "-tb",
                                         std::to_string(a.threads), "-c", std::to_string(ctx), "-b", "2048", "-ub", "512"};
        std::string scmd;
        for (auto &x : argv) scmd += (scmd.empty() ? "" : " ") + shell_quote(x);
        r["llama_server_command"] = scmd;
        const std::string log = (fs::temp_directory_path() / ("multiturn-llama-server-" + std::to_string(port) + ".log")).string();
        // Each client gets a freshly started server: slots and prompt cache left by one client
        // would otherwise favour (or hinder) the one that runs second.
        auto fresh_server = [&]() {
            const int p = free_port();
            std::vector<std::string> v = argv;
            *std::next(std::find(v.begin(), v.end(), std::string("--port"))) = std::to_string(p);
            return std::make_unique<Server>(v, p, log);
        };
        {
            // (b) the openai plugin against a server of its own.
            {
                auto server = fresh_server();
                Server &srv = *server;
                json ocfg = {{"url", srv.url()}, {"model", "default"}, {"timeout_s", 3600.0}};
                Backend b(plugin_lib(a, "openai"), ocfg);
                warmup(b);
                const double c0 = srv.cpu_s();
                Options po;
                po.extractor_affinity = a.extractor_affinity;
                if (a.pin_slots) po.pin_slots = n; // llama-server runs -np N slots
                Stats s = drive(b, w, tok, po);
                const double server_cpu = srv.cpu_s() - c0;
                print_stats(("openai plugin N=" + std::to_string(n)).c_str(), s);
                r["openai"] = s.to_json();
                r["openai"]["server_cpu_s"] = server_cpu;
                r["openai"]["pin_slots"] = a.pin_slots;
                r["openai"]["backend_config"] = ocfg;
            }
            // (c) the Coral-style client against another server started the same way.
            {
                auto server = fresh_server();
                Server &srv = *server;
                const std::string wl = (fs::temp_directory_path() / ("multiturn-workload-" + std::to_string(port) + ".json")).string();
                const std::string res = wl + ".result.json";
                std::ofstream(wl) << workload_json(w).dump();
                std::string cmd = shell_quote(a.python) + " " + shell_quote(a.coral_client) + " --url " + srv.url() +
                                  " --workload " + shell_quote(wl) + " --out " + shell_quote(res);
                int rc = 0;
                const double c0 = srv.cpu_s();
                std::string o = run_capture(cmd + " 2>&1", &rc);
                const double server_cpu = srv.cpu_s() - c0;
                if (rc != 0) die("coral_client.py failed:\n" + o);
                json c = json::parse(std::ifstream(res));
                c["server_cpu_s"] = server_cpu;
                // Unique tokens are a property of the workload's tokens; the driver counts them the
                // same way for the client's transcripts (see coral_client.py: it returns them).
                r["coral_client"] = c;
                r["coral_client_command"] = cmd;
                std::fprintf(stderr, "%-28s %7.2f s  %6.3f conv/s  gen %6.1f tok/s  prefilled %7lld  fail %lld\n",
                             ("coral client N=" + std::to_string(n)).c_str(), c["wall_s"].get<double>(),
                             c["conversations_per_s"].get<double>(), c["generated_tok_per_s"].get<double>(),
                             (long long)c["prefilled_tokens"].get<int64_t>(), (long long)c["failures"].get<int64_t>());
                fs::remove(wl);
                fs::remove(res);
            }
        }
        // The same ceiling as the llama_cpp suite, in conversations/s: every generated token (agent
        // turns and extractor answers) decoded at S_TG, only the unique prompt tokens prefilled at
        // S_PP (llama-batched-bench at the mean agent-prompt depth, N sequences).
        {
            const json &e0 = emb_runs[0];
            const int depth = (int)std::lround(e0["mean_agent_prompt_tokens"].get<double>());
            std::string bcmd;
            json bb = batched_bench((fs::path(a.tools) / "llama-batched-bench").string(), a.model,
                                    round_up(n * (depth + a.turn) + 256, 256), depth, a.turn, n, a.threads, &bcmd);
            const double g = e0["generated_tokens"], u = e0["unique_prompt_tokens"];
            const double secs = g / bb["s_tg"].get<double>() + u / bb["s_pp"].get<double>();
            r["batched_bench"] = bb;
            r["batched_bench_command"] = bcmd;
            r["ceiling_conversations_per_s"] = w.conversations / secs;
        }
        const double base = r["coral_client"]["conversations_per_s"];
        r["conversations_per_s"] = r["openai"]["conversations_per_s"];
        r["baseline_conversations_per_s"] = base;
        r["embedded_conversations_per_s"] = r["embedded"]["conversations_per_s"];
        r["openai_over_baseline"] = r["openai"]["conversations_per_s"].get<double>() / base;
        r["embedded_over_baseline"] = r["embedded"]["conversations_per_s"].get<double>() / base;
        for (auto &e : r["embedded_configs"]) e["over_baseline"] = e["conversations_per_s"].get<double>() / base;
        r["baseline_over_ceiling"] = base / r["ceiling_conversations_per_s"].get<double>();
        r["max_possible_over_baseline"] = r["ceiling_conversations_per_s"].get<double>() / base;
        std::fprintf(stderr, "  N=%d: embedded %.2fx, openai plugin %.2fx the Coral-style client; ceiling %.3f conv/s = %.2fx the client\n", n,
                     r["embedded_over_baseline"].get<double>(), r["openai_over_baseline"].get<double>(),
                     r["ceiling_conversations_per_s"].get<double>(), r["max_possible_over_baseline"].get<double>());
        runs.push_back(r);
    }
    const json &f = runs[0];
    for (const char *k : {"parallel", "conversations_per_s", "baseline_conversations_per_s", "embedded_conversations_per_s",
                          "openai_over_baseline", "embedded_over_baseline", "conversations", "ceiling_conversations_per_s",
                          "baseline_over_ceiling", "max_possible_over_baseline"})
        out[k] = f[k];
    for (const char *who : {"openai", "embedded"})
        for (const char *k : {"prefilled_tokens", "unique_prompt_tokens", "prefilled_over_unique", "generated_tokens",
                              "generated_tok_per_s", "prompt_tokens", "cached_tokens"})
            out[std::string(who) + "_" + k] = f[who][k];
    for (const char *k : {"prefilled_tokens", "generated_tokens", "generated_tok_per_s", "prompt_tokens", "cached_tokens"})
        out[std::string("baseline_") + k] = f["coral_client"][k];
    out["unique_prompt_tokens"] = f["embedded"]["unique_prompt_tokens"];
    json per = json::object();
    for (auto &e : f["embedded_configs"])
        per[e["engine_config"].get<std::string>()] = {{"conversations_per_s", e["conversations_per_s"]},
                                                      {"over_baseline", e["over_baseline"]},
                                                      {"prefilled_tokens", e["prefilled_tokens"]},
                                                      {"prefilled_over_unique", e["prefilled_over_unique"]}};
    out["embedded_by_config"] = per;
    out["server_cpu_s"] = {{"openai", f["openai"]["server_cpu_s"]}, {"baseline", f["coral_client"]["server_cpu_s"]}};
    out["client_cpu_s"] = {{"openai_plugin_driver", f["openai"]["driver_process_cpu_s"]},
                           {"baseline_python", f["coral_client"]["client_process_cpu_s"]}};
    out["targets"] = {{"embedded_over_baseline_min", 2.0}, {"openai_over_baseline_min", 1.5}};
    out["runs"] = runs;
    write_json(a.out, out);
    return 0;
}

// --- run: one backend, one workload ----------------------------------------------------------
int suite_run(const Args &a) {
    Tokenizer tok(a.model);
    Workload w = make_workload(a, a.parallel[0], tok, a.extractor);
    if (!a.workload_out.empty()) {
        std::ofstream(a.workload_out) << workload_json(w).dump();
        if (a.backend == "none") return 0;
    }
    Stats s;
    json cfg;
    if (a.backend == "llama_cpp") {
        s = run_embedded(a, w, tok, a.engine_configs[0], &cfg);
    } else if (a.backend == "openai") {
        if (a.url.empty()) die("--url is required with --backend openai");
        cfg = {{"url", a.url}, {"model", "default"}, {"timeout_s", 3600.0}};
        Backend b(plugin_lib(a, "openai"), cfg);
        warmup(b);
        Options po;
        po.extractor_affinity = a.extractor_affinity;
        if (a.pin_slots) po.pin_slots = a.parallel[0]; // llama-server runs -np N slots
        s = drive(b, w, tok, po);
    } else {
        die("--backend must be llama_cpp or openai");
    }
    print_stats(a.backend.c_str(), s);
    if (!a.trace.empty()) std::ofstream(a.trace) << s.trace.dump(1) << "\n";
    json j = s.to_json();
    j["backend_config"] = cfg;
    j["command"] = a.command_line;
    j["driver_command"] = a.driver_line;
    if (!a.out.empty()) write_json(a.out, j);
    else std::printf("%s\n", j.dump(2).c_str());
    return 0;
}

void on_signal(int sig) {
    if (g_child > 0) kill(g_child, SIGKILL);
    _exit(128 + sig);
}

int main(int argc, char **argv) {
    g_program = "multiturn";
    signal(SIGPIPE, SIG_IGN);
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    Args a = parse(argc, argv);
    if (a.tools.empty() && a.suite != "run") die("--tools DIR (llama.cpp tools: llama-server, llama-batched-bench) is required");
    if (a.suite == "llama_cpp") return suite_llama_cpp(a);
    if (a.suite == "openai") return suite_openai(a);
    if (a.suite == "run") return suite_run(a);
    die("unknown suite '" + a.suite + "' (llama_cpp, openai, run)");
}
