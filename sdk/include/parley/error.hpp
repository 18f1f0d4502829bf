// parley/error.hpp — the exception plugin code throws; the SDK's boundary (sdk.hpp) turns it into
// its status code and message.
#pragma once

#include <parley/plugin.h>

#include <stdexcept>
#include <string>

namespace parley {

class Error : public std::runtime_error {
  public:
    Error(parley_status code, const std::string &message) : std::runtime_error(message), code_(code) {}
    parley_status code() const noexcept { return code_; }

  private:
    parley_status code_;
};

} // namespace parley
