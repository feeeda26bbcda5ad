// Command-line parsing for the plugmq subcommands.
#pragma once

#include <map>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

namespace plugmq::app {

// A usage error: the process exits with status 2 and this message.
class UsageError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// What a subcommand accepts: option name (without "--") -> whether it takes a value.
using OptionSpec = std::map<std::string, bool>;

struct Args {
  std::vector<std::string> positional;
  std::map<std::string, std::string> values;
  std::set<std::string> flags;

  bool has(const std::string& name) const { return values.count(name) || flags.count(name); }
  std::optional<std::string> get(const std::string& name) const;
  // The value of a required option; UsageError naming it when missing.
  std::string require(const std::string& name) const;
  // An integer option within [lo, hi]; UsageError naming it when malformed or out of range.
  std::optional<long long> get_int(const std::string& name, long long lo, long long hi) const;
  // "true"/"false"; UsageError otherwise.
  std::optional<bool> get_bool(const std::string& name) const;
};

// Parses argv[first..argc). Accepts "--name value" and "--name=value". Every subcommand also
// accepts --config, --data-dir, --json and --help. Throws UsageError naming an unknown option or a
// missing value.
Args parse_args(int argc, char** argv, int first, const OptionSpec& spec,
                const std::string& command);

}  // namespace plugmq::app
