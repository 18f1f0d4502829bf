// A multiple-choice domain from a CSV file (id,question,A,B,C,D,answer), built out of tree
// against the installed SDK: prompts, letter extraction and scoring come from MultipleChoiceDomain.
#include <parley/common/csv.hpp>
#include <parley/mc_domain.hpp>

using namespace parley;

class Quiz final : public MultipleChoiceDomain {
  public:
    explicit Quiz(const Config &cfg) : MultipleChoiceDomain(cfg, {"general knowledge"}) {}

  protected:
    void read(const std::string &path, LoadContext &ctx, Table &out) override {
        common::for_each_csv_row(path, {"id", "question", "A", "B", "C", "D", "answer"}, ctx, [&](const common::CsvRow &r) {
            const std::string &a = r["answer"];
            if (a.size() != 1 || a[0] < 'A' || a[0] > 'D') throw common::RowError(r.where + ": field 'answer': expected A-D");
            Choices c{r["question"], {r["A"], r["B"], r["C"], r["D"]}, a[0]};
            out.push_back({Item{r["id"], a, "", "{}", c.question}, std::move(c)});
        });
    }
};

static const parley_param kParams[] = {PARLEY_MC_PARAMS};
PARLEY_PLUGIN("quiz", "1.0.0", "Multiple-choice questions from a CSV file (SDK example)",
              domain<Quiz>("domain", 1, "A CSV quiz", kParams));
