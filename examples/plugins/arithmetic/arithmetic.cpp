// An example domain plugin built out of tree against the installed Parley SDK.
// Data: a TSV file, one item per line: id <TAB> question <TAB> answer (an integer).
#include <parley/sdk.hpp>

#include <fstream>
#include <regex>

// A parameter: type, default and doc in one line (the host checks and applies it).
static constexpr parley_param kStrict = parley::param::flag("strict", false, "only accept \"The answer is N\"");

class Arithmetic final : public parley::Domain {
  public:
    explicit Arithmetic(const parley::Config &cfg) : strict_(cfg.get<bool>(kStrict)) {}

    void load(const std::string &path, parley::LoadContext &ctx) override {
        std::ifstream in(path);
        if (!in) throw parley::Error(PARLEY_ERR_NOT_FOUND, "cannot open " + path);
        std::string line;
        for (int n = 1; std::getline(in, line); ++n) {
            auto a = line.find('\t'), b = line.rfind('\t');
            if (line.empty()) continue;
            if (a == std::string::npos || a == b) {
                ctx.malformed(path + ":" + std::to_string(n) + ": expected id, question and answer separated by tabs");
                continue;
            }
            items.push_back({line.substr(0, a), line.substr(b + 1), "", "{}", line.substr(a + 1, b - a - 1)});
        }
    }

    parley::Belief extract(size_t, int, std::string_view text) override {
        // "The answer is 42" wins; otherwise (unless strict) the last integer in the text.
        static const std::regex stated(R"(answer is\s*(-?\d+))"), number(R"(-?\d+)");
        std::string s(text);
        std::smatch m;
        if (std::regex_search(s, m, stated)) return {m[1], true};
        std::string last;
        for (std::sregex_iterator it(s.begin(), s.end(), number), end; !strict_ && it != end; ++it) last = it->str();
        return {last, !last.empty()};
    }

    double score(size_t i, std::string_view belief) override { return belief == items[i].gold ? 1.0 : 0.0; }

    parley::DomainInfo info() const override {
        return {"arithmetic", "End with \"The answer is N\".", "ArithmeticMatch", "ArithmeticExtraction"};
    }

  private:
    bool strict_;
};

static const parley_param kParams[] = {kStrict};

PARLEY_PLUGIN("arithmetic", "1.0.0", "Integer arithmetic questions (SDK example)",
              parley::domain<Arithmetic>("domain", 1, "Integer arithmetic from a TSV file", kParams));
