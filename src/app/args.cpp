#include "plugmq/app/args.hpp"

#include <charconv>

namespace plugmq::app {

std::optional<std::string> Args::get(const std::string& name) const {
  auto it = values.find(name);
  if (it == values.end()) return std::nullopt;
  return it->second;
}

std::string Args::require(const std::string& name) const {
  auto v = get(name);
  if (!v) throw UsageError("missing required option --" + name);
  return *v;
}

std::optional<long long> Args::get_int(const std::string& name, long long lo,
                                       long long hi) const {
  auto v = get(name);
  if (!v) return std::nullopt;
  long long n = 0;
  auto [end, ec] = std::from_chars(v->data(), v->data() + v->size(), n);
  if (ec != std::errc() || end != v->data() + v->size()) {
    throw UsageError("--" + name + " needs a whole number, got '" + *v + "'");
  }
  if (n < lo || n > hi) {
    throw UsageError("--" + name + " must be between " + std::to_string(lo) + " and " +
                     std::to_string(hi) + ", got " + *v);
  }
  return n;
}

std::optional<bool> Args::get_bool(const std::string& name) const {
  auto v = get(name);
  if (!v) return std::nullopt;
  if (*v == "true") return true;
  if (*v == "false") return false;
  throw UsageError("--" + name + " takes true or false, got '" + *v + "'");
}

Args parse_args(int argc, char** argv, int first, const OptionSpec& spec,
                const std::string& command) {
  OptionSpec all = spec;
  all.emplace("config", true);
  all.emplace("data-dir", true);
  all.emplace("json", false);
  all.emplace("help", false);
  Args args;
  for (int i = first; i < argc; ++i) {
    std::string a = argv[i];
    if (a.size() > 2 && a.rfind("--", 0) == 0) {
      std::string name = a.substr(2);
      std::optional<std::string> inline_value;
      if (auto eq = name.find('='); eq != std::string::npos) {
        inline_value = name.substr(eq + 1);
        name = name.substr(0, eq);
      }
      auto it = all.find(name);
      if (it == all.end()) {
        throw UsageError("unknown option --" + name + " for '" + command + "'");
      }
      if (!it->second) {
        if (inline_value) throw UsageError("option --" + name + " takes no value");
        args.flags.insert(name);
        continue;
      }
      if (inline_value) {
        args.values[name] = *inline_value;
      } else {
        if (i + 1 >= argc) throw UsageError("option --" + name + " needs a value");
        args.values[name] = argv[++i];
      }
    } else {
      args.positional.push_back(std::move(a));
    }
  }
  return args;
}

}  // namespace plugmq::app
