// The web console's files (console/), built into the binary: cmake/embed_console.cmake writes
// their bytes, content types and SHA-256 into a generated console_files.cpp at build time
// (docs/decisions/021-console.md). Private to the http module.
#pragma once

#include <span>
#include <string_view>

namespace plugmq::http::detail {

struct ConsoleFile {
  std::string_view path;          // under console/: "index.html", "vendor/uPlot.min.css"
  std::string_view content_type;  // "text/javascript; charset=utf-8"
  std::string_view body;
  std::string_view sha256;  // of body, lowercase hex: the ETag
};

// Every file, in no particular order. Static storage; thread-safe.
std::span<const ConsoleFile> console_files();

}  // namespace plugmq::http::detail
