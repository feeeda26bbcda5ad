// plugmq's entry point: the command table and the dispatch to each command.
#include <iostream>
#include <map>
#include <set>

#include "data_dir.hpp"
#include "help.hpp"
#include "plugmq/app/commands.hpp"
#include "plugmq/store/db.hpp"

namespace plugmq::app {

namespace {

// A command: its help, its verbs (none: the command alone) and the options it takes.
struct Subcommand {
  const char* help;
  std::set<std::string> verbs;
  OptionSpec options;
};

const std::map<std::string, Subcommand>& subcommands() {
  static const std::map<std::string, Subcommand> subs = {
      {"serve",
       {kServeHelp,
        {},
        {{"check-config", false},
         {"mqtt", true},
         {"mqtts", true},
         {"http", true},
         {"https", true},
         {"tls-cert", true},
         {"tls-key", true},
         {"ready-file", true},
         {"log-level", true},
         {"io-threads", true},
         {"max-connections", true},
         {"max-packet-size", true},
         {"max-subscriptions", true},
         {"max-inflight", true},
         {"session-expiry-days", true},
         {"max-replay", true},
         {"enroll-timeout", true},
         {"enroll-attempts", true},
         {"login-failures", true},
         {"login-failures-per-identity", true}}}},
      {"account",
       {kAccountHelp,
        {"add", "set", "list", "delete"},
        {{"password", true}, {"retention-days", true}, {"disabled", true}, {"yes", false}}}},
      {"template",
       {kTemplateHelp,
        {"add", "list", "delete"},
        {{"account", true}, {"name", true}, {"ctrl", true}, {"perm", true}}}},
      {"serial",
       {kSerialHelp,
        {"add", "list", "delete"},
        {{"hwid", true}, {"enroll-pass", true}, {"control-pass", true}, {"csv", true}}}},
      {"prototype", {kPrototypeHelp, {"add"}, {{"account", true}, {"name", true}, {"hwid", true}}}},
      {"device",
       {kDeviceHelp,
        {"list", "show", "set", "delete"},
        {{"account", true},
         {"perm", true},
         {"status", true},
         {"name", true},
         {"new-auth", false},
         {"revoke-auth", false}}}},
      {"data",
       {kDataHelp,
        {"get", "delete"},
        {{"of", true}, {"before", true}, {"after", true}, {"limit", true}, {"id", true}}}},
      {"session", {kSessionHelp, {"list", "delete"}, {{"account", true}}}},
  };
  return subs;
}

// Runs the command (its arguments are checked).
int run(const std::string& cmd, const std::string& verb, const Args& args) {
  if (cmd == "serve") return cmd_serve(args);
  if (cmd == "account") return cmd_account(verb, args);
  if (cmd == "prototype") return cmd_prototype(verb, args);
  if (cmd == "template") return cmd_template(verb, args);
  if (cmd == "serial") return cmd_serial(verb, args);
  if (cmd == "data") return cmd_data(verb, args);
  if (cmd == "session") return cmd_session(verb, args);
  return cmd_device(verb, args);
}

}  // namespace

int run_main(int argc, char** argv) {
  if (argc < 2) {
    std::cerr << kMainHelp;
    return 2;
  }
  std::string cmd = argv[1];
  if (cmd == "--help" || cmd == "-h" || cmd == "help") {
    std::cout << kMainHelp;
    return 0;
  }
  if (cmd == "--version" || cmd == "version") {
    std::cout << "plugmq " << PLUGMQ_VERSION << "\n";
    return 0;
  }
  try {
    const auto& subs = subcommands();
    auto it = subs.find(cmd);
    if (it == subs.end()) throw UsageError("unknown command '" + cmd + "' (see plugmq --help)");
    const Subcommand& sub = it->second;
    std::string verb;
    int first = 2;
    if (!sub.verbs.empty()) {
      if (argc < 3 || std::string(argv[2]) == "--help") {
        std::cout << sub.help;
        return argc < 3 ? 2 : 0;
      }
      verb = argv[2];
      if (!sub.verbs.count(verb)) {
        throw UsageError("unknown command '" + cmd + " " + verb + "' (see plugmq " + cmd +
                         " --help)");
      }
      first = 3;
    }
    auto args = parse_args(argc, argv, first, sub.options, cmd + (verb.empty() ? "" : " " + verb));
    if (args.flags.count("help")) {
      std::cout << sub.help;
      return 0;
    }
    return run(cmd, verb, args);
  } catch (const UsageError& e) {
    std::cerr << "plugmq: " << e.what() << "\n";
    return 2;
  } catch (const store::Error& e) {
    const std::string& db = database_in_use();
    std::cerr << "plugmq: " << e.what() << (db.empty() ? "" : " (database " + db + ")") << "\n";
    return e.code() == store::Error::Code::kInvalid ? 2 : 1;
  } catch (const std::exception& e) {
    std::cerr << "plugmq: " << e.what() << "\n";
    return 1;
  }
}

}  // namespace plugmq::app
