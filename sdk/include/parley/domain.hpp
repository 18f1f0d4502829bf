// parley/domain.hpp — TableDomain<Row>: the building block of a domain plugin. It keeps each item
// with its row (what the prompts and the scorer read), renders the six texts from parley::Prompts
// (compiled-in defaults, per-node `prompts.*` / `prompts_file` overrides checked at creation), and
// owns the load tail: rows read into a fresh table that replaces the old one only on success, and
// an empty file refused. A subclass supplies read() (the release's format), values() (an item's
// placeholder values), extract() and score(). Needs nlohmann_json and toml++ (parley/prompts.hpp).
#pragma once

#include <parley/prompts.hpp>
#include <parley/sdk.hpp>

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace parley {

template <class Row> class TableDomain : public DomainBase {
  public:
    struct Entry {
        Item item;
        Row row;
    };
    using Table = std::vector<Entry>;

    size_t size() const override { return table_.size(); }
    const Item &item(size_t index) const override { return table_.at(index).item; }
    const Row &row(size_t index) const { return table_.at(index).row; }
    const Prompts &prompts() const { return prompts_; }

    void load(const std::string &path, LoadContext &ctx) final {
        Table fresh;
        read(path, ctx, fresh);
        if (fresh.empty() && ctx.skipped() == 0) throw Error(PARLEY_ERR_PARSE, path + ": " + no_rows_);
        table_ = std::move(fresh);
    }

    std::string render(size_t index, int what, std::string_view input) override {
        const std::vector<std::string> v = values(index);
        Template::Vars vars;
        for (size_t k = 0; k < v.size() && k < prompts_.item_vars().size(); ++k) vars.emplace_back(prompts_.item_vars()[k], v[k]);
        return prompts_.render(what, vars, input);
    }

    // The info given at construction, with the task name and instruction a node may override.
    DomainInfo info() const override {
        DomainInfo d = info_;
        d.task_name = prompts_.task_name();
        d.task_specific_inst = prompts_.task_specific_inst();
        return d;
    }

  protected:
    // `item_vars`: the placeholders values() fills, in its order. `no_rows`: the message for a
    // file without rows ("path: <no_rows>").
    TableDomain(const Config &cfg, DomainInfo info, Prompts::Defaults prompts, std::vector<std::string> item_vars,
                std::string no_rows = "no rows")
        : info_(std::move(info)), no_rows_(std::move(no_rows)) {
        prompts.task_name = info_.task_name;
        prompts.task_specific_inst = info_.task_specific_inst;
        prompts_ = Prompts(std::move(prompts), std::move(item_vars));
        configure_prompts(prompts_, cfg);
    }

    // Appends the rows of `path` to `out` (empty on entry). Report a bad row with ctx.malformed.
    virtual void read(const std::string &path, LoadContext &ctx, Table &out) = 0;
    // Item `index`'s placeholder values, in the order of the constructor's `item_vars`.
    virtual std::vector<std::string> values(size_t index) const = 0;

  private:
    Table table_;
    Prompts prompts_;
    DomainInfo info_;
    std::string no_rows_;
};

} // namespace parley
