#include <parley/core/log.hpp>
#include <parley/plugin.h>

#include <spdlog/sinks/stdout_color_sinks.h>

namespace parley::core {

spdlog::logger &logger() {
    static std::shared_ptr<spdlog::logger> log = [] {
        auto l = spdlog::stderr_color_mt("parley");
        l->set_pattern("%^[%H:%M:%S.%e %l]%$ %v");
        l->set_level(spdlog::level::info);
        return l;
    }();
    return *log;
}

void configure_logging(std::string_view level) {
    logger().set_level(spdlog::level::from_str(std::string(level)));
}

spdlog::level::level_enum to_spdlog_level(int parley_level) {
    switch (parley_level) {
    case PARLEY_LOG_TRACE: return spdlog::level::trace;
    case PARLEY_LOG_DEBUG: return spdlog::level::debug;
    case PARLEY_LOG_INFO: return spdlog::level::info;
    case PARLEY_LOG_WARN: return spdlog::level::warn;
    default: return spdlog::level::err;
    }
}

} // namespace parley::core
