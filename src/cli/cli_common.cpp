#include <fcntl.h>
#include <termios.h>
#include <unistd.h>

#include <cstdlib>

#include "cli/cli.h"

namespace tally::cli {
namespace {

// Restores the terminal's echo however the read ends.
class EchoOff {
 public:
  explicit EchoOff(int terminal) : terminal_(terminal) {
    if (tcgetattr(terminal_, &saved_) == 0) {
      termios quiet = saved_;
      quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO);
      active_ = tcsetattr(terminal_, TCSAFLUSH, &quiet) == 0;
    }
  }
  ~EchoOff() {
    if (active_)
      tcsetattr(terminal_, TCSAFLUSH, &saved_);
  }

 private:
  int terminal_;
  termios saved_{};
  bool active_ = false;
};

std::string prompt_line(int terminal, const std::string& prompt) {
  (void)!::write(terminal, prompt.data(), prompt.size());
  std::string line;
  {
    EchoOff echo_off(terminal);
    char character = 0;
    while (::read(terminal, &character, 1) == 1 && character != '\n') {
      if (line.size() >= 1024)
        fail("passphrase is longer than 1024 characters");
      line.push_back(character);
    }
  }
  (void)!::write(terminal, "\n", 1);
  return line;
}

}  // namespace

std::string read_passphrase(const std::string& prompt, bool confirm) {
  if (const char* from_environment = std::getenv("TALLY_PASSPHRASE"))
    return from_environment;
  int terminal = ::open("/dev/tty", O_RDWR | O_CLOEXEC);
  if (terminal < 0) {
    fail(
        "no terminal to ask for a passphrase: set TALLY_PASSPHRASE, or use "
        "--insecure-no-passphrase on a test network");
  }
  std::string passphrase = prompt_line(terminal, prompt);
  if (confirm && prompt_line(terminal, "Repeat the passphrase: ") != passphrase) {
    ::close(terminal);
    fail("the passphrases do not match");
  }
  ::close(terminal);
  return passphrase;
}

std::filesystem::path default_home() {
  const char* home = std::getenv("HOME");
  return std::filesystem::path(home != nullptr ? home : ".") / ".tally";
}

}  // namespace tally::cli
