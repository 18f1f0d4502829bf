// Replica discovery for the grpc backend: the list of server URLs from a file (one per line) or
// a folder (one file per replica, e.g. what `parley serve --register DIR` writes). Pure
// functions over the file system, re-read by the backend while it runs.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

namespace parley::grpc_backend {

// Every URL listed: a file's non-empty lines (after '#' comments), or, for a folder, those of each
// regular file not starting with '.', files in name order. Missing path: empty list. Duplicates
// are dropped (first kept).
std::vector<std::string> read_replica_list(const std::filesystem::path &path);

// gRPC targets among `urls`: "grpc://host:port" and bare "host:port" become "host:port";
// http(s):// entries (for the openai backend) are skipped.
std::vector<std::string> grpc_targets(const std::vector<std::string> &urls);

} // namespace parley::grpc_backend
