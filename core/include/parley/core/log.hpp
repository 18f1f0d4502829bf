// Logging for the host and, through the host services table, for every plugin: one sink, one format.
#pragma once

#include <spdlog/spdlog.h>

#include <string_view>

namespace parley::core {

// The process-wide logger ("parley"), writing to stderr. Safe to call before configure_logging().
spdlog::logger &logger();

// level: "trace", "debug", "info", "warn", "error", "off".
void configure_logging(std::string_view level);

// Maps PARLEY_LOG_* to spdlog levels.
spdlog::level::level_enum to_spdlog_level(int parley_level);

} // namespace parley::core
