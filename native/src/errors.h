// libbpf's errors and log lines, turned into JS errors in one place.
#pragma once

#include <napi.h>

#include <string>
#include <vector>

namespace droptrace {

// Collects libbpf's log lines printed on this thread while it is alive. Any thread.
class LogCapture {
 public:
  LogCapture();
  ~LogCapture();
  LogCapture(const LogCapture&) = delete;
  LogCapture& operator=(const LogCapture&) = delete;
  const std::vector<std::string>& lines() const { return lines_; }
  void Add(std::string line) { lines_.push_back(std::move(line)); }

 private:
  std::vector<std::string> lines_;
  LogCapture* previous_;
};

// Routes libbpf's printing into LogCapture; call once at module load.
void InstallLibbpfPrint();

// An Error with code ERR_DROPTRACE_LIBBPF, errno, op and log. The TypeScript layer maps errno and op
// to the user-facing code and hint. Main thread.
Napi::Error LibbpfError(Napi::Env env, const std::string& op, int err, const LogCapture& log);
// The same from log lines captured elsewhere (a load on another thread). Main thread.
Napi::Error LibbpfError(Napi::Env env, const std::string& op, int err, const std::vector<std::string>& log);

}  // namespace droptrace
