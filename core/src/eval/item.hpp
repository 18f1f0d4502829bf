// What a protocol asks of the item an episode works on: its texts, belief extraction and
// scoring. Nodes hand episodes a DomainItem (the domain plugin's item `index`); protocol tests
// hand them a test double, so a state machine is tested without plugins, threads or backends.
// Every call happens on the scheduler's thread (contract P12).
#pragma once

#include <parley/core/components.hpp>

#include <string>
#include <string_view>
#include <utility>

namespace parley::core::eval {

class Item {
  public:
    virtual ~Item() = default;
    // PARLEY_TEXT_* for this item (`input`: the text an extractor prompt quotes).
    virtual std::string render(int32_t what, std::string_view input = {}) const = 0;
    // {belief, valid} from `text` read as PARLEY_EXTRACT_* `mode`.
    virtual std::pair<std::string, bool> extract(int32_t mode, std::string_view text) const = 0;
    // 1.0 correct, 0.0 wrong.
    virtual double score(std::string_view belief) const = 0;
};

// Item `index` of a loaded domain.
class DomainItem final : public Item {
  public:
    DomainItem(const Domain &domain, size_t index) : domain_(&domain), index_(index) {}
    std::string render(int32_t what, std::string_view input = {}) const override { return domain_->render(index_, what, input); }
    std::pair<std::string, bool> extract(int32_t mode, std::string_view text) const override {
        return domain_->extract(index_, mode, text);
    }
    double score(std::string_view belief) const override { return domain_->score(index_, belief); }

  private:
    const Domain *domain_;
    size_t index_;
};

} // namespace parley::core::eval
