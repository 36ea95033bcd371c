#include "errors.h"

#include <bpf/libbpf.h>

#include <cstdarg>
#include <cstdio>
#include <cstring>

namespace droptrace {

namespace {

thread_local LogCapture* current_capture = nullptr;

int PrintToCapture(enum libbpf_print_level level, const char* format, va_list args) {
  // debug lines are libbpf's chatter about every relocation: too many to keep
  if (current_capture == nullptr || level == LIBBPF_DEBUG) return 0;
  char line[1024];
  int n = vsnprintf(line, sizeof(line), format, args);
  if (n <= 0) return 0;
  std::string text(line);
  while (!text.empty() && text.back() == '\n') text.pop_back();
  current_capture->Add(std::move(text));
  return n;
}

}  // namespace

LogCapture::LogCapture() : previous_(current_capture) { current_capture = this; }

LogCapture::~LogCapture() { current_capture = previous_; }

void InstallLibbpfPrint() { libbpf_set_print(PrintToCapture); }

Napi::Error LibbpfError(Napi::Env env, const std::string& op, int err, const LogCapture& log) {
  int errnum = err < 0 ? -err : err;
  Napi::Error error = Napi::Error::New(env, op + " failed: " + std::strerror(errnum));
  Napi::Object obj = error.Value();
  obj.Set("code", "ERR_DROPTRACE_LIBBPF");
  obj.Set("errno", errnum);
  obj.Set("op", op);
  Napi::Array lines = Napi::Array::New(env, log.lines().size());
  for (size_t i = 0; i < log.lines().size(); i++) lines.Set(i, log.lines()[i]);
  obj.Set("log", lines);
  return error;
}

}  // namespace droptrace
