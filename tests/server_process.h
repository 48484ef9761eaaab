// `podguard serve` as a child process for the server tests: started with
// ports chosen by the kernel, its JSON log lines collected as they come, and
// signals and exit status at hand.
#pragma once

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "engine/reading/document.h"

namespace podguard::testing {

class ServerProcess {
 public:
  explicit ServerProcess(const std::vector<std::string>& args) {
    int out[2], err[2];
    if (pipe(out) != 0 || pipe(err) != 0) throw std::runtime_error("pipe failed");
    pid_ = fork();
    if (pid_ < 0) throw std::runtime_error("fork failed");
    if (pid_ == 0) {
      dup2(out[1], 1);
      dup2(err[1], 2);
      for (int fd : {out[0], out[1], err[0], err[1]}) close(fd);
      std::vector<char*> argv;
      for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
      argv.push_back(nullptr);
      execv(argv[0], argv.data());
      _exit(127);
    }
    close(out[1]);
    close(err[1]);
    out_fd_ = out[0];
    err_fd_ = err[0];
    reader_ = std::thread([this] { read_output(); });
  }

  ~ServerProcess() {
    if (!exited()) {
      kill(pid_, SIGKILL);
      wait_exit(5000);
    }
    if (reader_.joinable()) reader_.join();
    close(out_fd_);
    close(err_fd_);
  }

  // Waits for the `listening` event and returns it (with port and
  // metrics_port), or nullopt when the process exits or times out first.
  std::optional<Json> wait_listening(int timeout_ms = 10000) { return wait_for_event("listening", timeout_ms); }

  // The first log line with this event after `skip` earlier ones.
  std::optional<Json> wait_for_event(const std::string& event, int timeout_ms, std::size_t skip = 0) {
    std::unique_lock<std::mutex> lock(mutex_);
    std::optional<Json> found;
    cv_.wait_for(lock, std::chrono::milliseconds(timeout_ms), [&] {
      std::size_t seen = 0;
      for (const Json& line : lines_) {
        if (line.value("event", std::string()) == event && seen++ == skip) {
          found = line;
          return true;
        }
      }
      return done_;
    });
    return found;
  }

  std::size_t count_events(const std::string& event) {
    std::lock_guard<std::mutex> lock(mutex_);
    std::size_t n = 0;
    for (const Json& line : lines_) n += line.value("event", std::string()) == event ? 1 : 0;
    return n;
  }

  std::vector<Json> lines() {
    std::lock_guard<std::mutex> lock(mutex_);
    return lines_;
  }

  std::string stderr_text() {
    std::lock_guard<std::mutex> lock(mutex_);
    return err_;
  }

  // Lines on stdout that were not JSON (there should be none).
  std::vector<std::string> non_json_lines() {
    std::lock_guard<std::mutex> lock(mutex_);
    return garbage_;
  }

  void signal(int sig) { kill(pid_, sig); }

  // The exit code (or -signal), or nullopt if still running after the timeout.
  std::optional<int> wait_exit(int timeout_ms) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
    while (true) {
      if (exited()) return status_;
      if (std::chrono::steady_clock::now() >= deadline) return std::nullopt;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  }

  pid_t pid() const { return pid_; }

 private:
  bool exited() {
    if (status_) return true;
    int status = 0;
    if (waitpid(pid_, &status, WNOHANG) == pid_) {
      status_ = WIFEXITED(status) ? WEXITSTATUS(status) : -WTERMSIG(status);
      return true;
    }
    return false;
  }

  void read_output() {
    std::string partial;
    bool out_open = true, err_open = true;
    char buf[8192];
    while (out_open || err_open) {
      pollfd fds[2] = {{out_fd_, POLLIN, 0}, {err_fd_, POLLIN, 0}};
      if (poll(fds, 2, 100) < 0) continue;
      if (out_open && (fds[0].revents & (POLLIN | POLLHUP | POLLERR))) {
        const ssize_t n = read(out_fd_, buf, sizeof buf);
        if (n <= 0) {
          out_open = false;
        } else {
          partial.append(buf, static_cast<std::size_t>(n));
          std::size_t nl;
          while ((nl = partial.find('\n')) != std::string::npos) {
            std::string line = partial.substr(0, nl);
            partial.erase(0, nl + 1);
            Json parsed = Json::parse(line, nullptr, false);
            std::lock_guard<std::mutex> lock(mutex_);
            if (parsed.is_discarded() || !parsed.is_object()) {
              garbage_.push_back(line);
            } else {
              lines_.push_back(std::move(parsed));
            }
            cv_.notify_all();
          }
        }
      }
      if (err_open && (fds[1].revents & (POLLIN | POLLHUP | POLLERR))) {
        const ssize_t n = read(err_fd_, buf, sizeof buf);
        if (n <= 0) {
          err_open = false;
        } else {
          std::lock_guard<std::mutex> lock(mutex_);
          err_.append(buf, static_cast<std::size_t>(n));
        }
      }
    }
    std::lock_guard<std::mutex> lock(mutex_);
    done_ = true;
    cv_.notify_all();
  }

  pid_t pid_ = -1;
  int out_fd_ = -1;
  int err_fd_ = -1;
  std::optional<int> status_;
  std::thread reader_;
  std::mutex mutex_;
  std::condition_variable cv_;
  std::vector<Json> lines_;
  std::vector<std::string> garbage_;
  std::string err_;
  bool done_ = false;
};

}  // namespace podguard::testing
