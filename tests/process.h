#ifndef TEXTGEN_TESTS_PROCESS_H_
#define TEXTGEN_TESTS_PROCESS_H_

#include <gtest/gtest.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <regex>
#include <string>
#include <utility>
#include <vector>

extern char** environ;

namespace textgen::testing {

// The line textgen-server logs once it serves, in the text and the JSON log
// formats. The first group is the gRPC port.
inline std::regex ServingLine() { return std::regex(R"(serving.*port"?[=:](\d+))"); }

// The line textgen-server logs when its metrics endpoint opens, in either
// format. The first group is the endpoint's port.
inline std::regex MetricsEndpointLine() {
  return std::regex(R"(metrics endpoint open.*port"?[=:](\d+))");
}

// A child process with its stdout and stderr in pipes.
class Process {
 public:
  explicit Process(const std::vector<std::string>& arguments) {
    int out_pipe[2], err_pipe[2];
    EXPECT_EQ(pipe(out_pipe), 0);
    EXPECT_EQ(pipe(err_pipe), 0);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, out_pipe[1], 1);
    posix_spawn_file_actions_adddup2(&actions, err_pipe[1], 2);
    posix_spawn_file_actions_addclose(&actions, out_pipe[0]);
    posix_spawn_file_actions_addclose(&actions, err_pipe[0]);
    std::vector<char*> argv;
    for (const auto& argument : arguments) argv.push_back(const_cast<char*>(argument.c_str()));
    argv.push_back(nullptr);
    EXPECT_EQ(posix_spawn(&pid_, argv[0], &actions, nullptr, argv.data(), environ), 0)
        << "cannot start " << arguments[0];
    posix_spawn_file_actions_destroy(&actions);
    close(out_pipe[1]);
    close(err_pipe[1]);
    stdout_fd_ = out_pipe[0];
    stderr_fd_ = err_pipe[0];
  }

  ~Process() {
    if (pid_ > 0 && !exited_) {
      kill(pid_, SIGKILL);
      Wait();
    }
    close(stdout_fd_);
    close(stderr_fd_);
  }

  // Reads stderr line by line until `pattern` matches a line, up to the
  // end of the stream; returns the first capture group or "".
  std::string WaitForStderrLine(const std::regex& pattern) {
    std::string line;
    char c;
    while (read(stderr_fd_, &c, 1) == 1) {
      if (c != '\n') {
        line += c;
        continue;
      }
      std::smatch match;
      if (std::regex_search(line, match, pattern)) return match[1];
      line.clear();
    }
    return "";
  }

  // Reads the rest of stderr, up to the end of the stream.
  std::string ReadAllStderr() {
    std::string text;
    char buffer[4096];
    ssize_t n;
    while ((n = read(stderr_fd_, buffer, sizeof(buffer))) > 0) text.append(buffer, n);
    return text;
  }

  // Blocks until the process writes its first byte to stdout; false at EOF.
  bool WaitForStdout() {
    char c;
    if (read(stdout_fd_, &c, 1) != 1) return false;
    first_stdout_byte_ = std::string(1, c);
    return true;
  }

  std::string ReadAllStdout() {
    std::string text = std::exchange(first_stdout_byte_, "");
    char buffer[4096];
    ssize_t n;
    while ((n = read(stdout_fd_, buffer, sizeof(buffer))) > 0) text.append(buffer, n);
    return text;
  }

  int Wait() {
    int status = 0;
    waitpid(pid_, &status, 0);
    exited_ = true;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  }

  void Signal(int signal_number) { kill(pid_, signal_number); }

 private:
  pid_t pid_ = -1;
  int stdout_fd_ = -1;
  int stderr_fd_ = -1;
  bool exited_ = false;
  std::string first_stdout_byte_;
};

}  // namespace textgen::testing

#endif  // TEXTGEN_TESTS_PROCESS_H_
