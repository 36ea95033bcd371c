#include "errors.h"

#include <bpf/libbpf.h>

#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <string>

namespace droptrace {

namespace {

thread_local LogCapture* current_capture = nullptr;

int PrintToCapture(enum libbpf_print_level level, const char* format, va_list args) {
  // debug lines are libbpf's chatter about every relocation: too many to keep
  if (current_capture == nullptr || level == LIBBPF_DEBUG) return 0;
  // sized to the message: a verifier log arrives as one print of many kilobytes
  va_list copy;
  va_copy(copy, args);
  int n = vsnprintf(nullptr, 0, format, copy);
  va_end(copy);
  if (n <= 0) return 0;
  std::string text(static_cast<size_t>(n) + 1, '\0');
  vsnprintf(text.data(), text.size(), format, args);
  text.resize(static_cast<size_t>(n));
  // one entry per line, so that a multi-line log reads as lines
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    current_capture->Add(text.substr(start, end - start));
    start = end + 1;
  }
  return n;
}

}  // namespace

LogCapture::LogCapture() : previous_(current_capture) { current_capture = this; }

LogCapture::~LogCapture() { current_capture = previous_; }

void InstallLibbpfPrint() { libbpf_set_print(PrintToCapture); }

Napi::Error LibbpfError(Napi::Env env, const std::string& op, int err, const LogCapture& log) {
  return LibbpfError(env, op, err, log.lines());
}

Napi::Error LibbpfError(Napi::Env env, const std::string& op, int err, const std::vector<std::string>& log) {
  int errnum = err < 0 ? -err : err;
  Napi::Error error = Napi::Error::New(env, op + " failed: " + std::strerror(errnum));
  Napi::Object obj = error.Value();
  obj.Set("code", "ERR_DROPTRACE_LIBBPF");
  obj.Set("errno", errnum);
  obj.Set("op", op);
  Napi::Array lines = Napi::Array::New(env, log.size());
  for (size_t i = 0; i < log.size(); i++) lines.Set(i, log[i]);
  obj.Set("log", lines);
  return error;
}

}  // namespace droptrace
