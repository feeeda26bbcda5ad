#include "secrets.hpp"

#include <termios.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstring>
#include <iostream>
#include <stdexcept>

namespace plugmq::app {

namespace {

// Longer lines are not secrets the store would take (at most 128 bytes): read no further.
constexpr std::size_t kMaxLine = 4096;

// The terminal's settings before echo went off, for the signal handler.
termios saved_termios;
volatile std::sig_atomic_t echo_off = 0;
constexpr int kSignals[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT};

extern "C" void restore_echo_and_die(int sig) {
  // Only async-signal-safe calls: the terminal gets its echo back, then the signal does what
  // it would have done.
  if (echo_off) ::tcsetattr(STDIN_FILENO, TCSANOW, &saved_termios);
  std::signal(sig, SIG_DFL);
  std::raise(sig);
}

// Echo off on the terminal of standard input while it lives (the newline still echoes); a
// signal meanwhile turns it back on first.
class NoEcho {
 public:
  NoEcho() {
    if (::tcgetattr(STDIN_FILENO, &saved_termios) != 0) {
      throw std::runtime_error(std::string("cannot read the terminal's settings: ") +
                               std::strerror(errno));
    }
    struct sigaction sa {};
    sa.sa_handler = restore_echo_and_die;
    sigemptyset(&sa.sa_mask);
    for (std::size_t i = 0; i < std::size(kSignals); ++i) ::sigaction(kSignals[i], &sa, &old_[i]);
    termios quiet = saved_termios;
    quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO);
    quiet.c_lflag |= ECHONL;
    echo_off = 1;
    // TCSAFLUSH: what was typed before the prompt is not taken for the secret.
    if (::tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet) != 0) {
      const int err = errno;
      restore();
      throw std::runtime_error(std::string("cannot turn the terminal's echo off: ") +
                               std::strerror(err));
    }
  }
  ~NoEcho() { restore(); }
  NoEcho(const NoEcho&) = delete;
  NoEcho& operator=(const NoEcho&) = delete;

 private:
  void restore() {
    ::tcsetattr(STDIN_FILENO, TCSANOW, &saved_termios);
    echo_off = 0;
    for (std::size_t i = 0; i < std::size(kSignals); ++i)
      ::sigaction(kSignals[i], &old_[i], nullptr);
  }

  struct sigaction old_[std::size(kSignals)]{};
};

// One line typed on the terminal (without its newline); nothing at the end of input.
std::optional<std::string> read_terminal_line() {
  std::string line;
  for (;;) {
    char c = 0;
    const ssize_t n = ::read(STDIN_FILENO, &c, 1);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0)
      throw std::runtime_error(std::string("cannot read the terminal: ") + std::strerror(errno));
    if (n == 0) return line.empty() ? std::nullopt : std::optional<std::string>(line);
    if (c == '\n') return line;
    if (line.size() < kMaxLine) line += c;
  }
}

// Asks twice, without echo: a new secret typed wrong once would lock its owner out.
std::string prompt_twice(const std::string& what) {
  NoEcho quiet;
  std::string first;
  for (int round = 0; round < 2; ++round) {
    std::cerr << (round == 0 ? what : what + " (again)") << ": " << std::flush;
    auto line = read_terminal_line();
    if (!line) throw UsageError(what + ": nothing entered (end of input)");
    if (round == 0) {
      first = std::move(*line);
    } else if (*line != first) {
      throw UsageError("the two entries of the " + what + " differ; nothing was changed");
    }
  }
  return first;
}

// One line of standard input, its newline (and a carriage return before it) stripped.
std::string read_stdin_line(const std::string& name, const std::string& what) {
  std::string line;
  if (!std::getline(std::cin, line)) {
    throw UsageError("--" + name + " -: nothing to read on standard input (one line: the " + what +
                     ")");
  }
  if (!line.empty() && line.back() == '\r') line.pop_back();
  return line;
}

}  // namespace

std::optional<std::string> secret_option(const Args& args, const std::string& name, bool required,
                                         const std::string& what) {
  const auto value = args.get(name);
  const bool terminal = ::isatty(STDIN_FILENO) == 1;
  if (value && *value != "-") return value;
  if (value) return terminal ? prompt_twice(what) : read_stdin_line(name, what);
  if (!required) return std::nullopt;
  if (terminal) return prompt_twice(what);
  throw UsageError("missing --" + name + " (the " + what + "): give it as --" + name +
                   " - to read it from standard input, or run the command on a terminal to be "
                   "asked for it");
}

}  // namespace plugmq::app
