// droptrace's native addon: libbpf behind a small Node-API surface.
#include <napi.h>

#include <ctime>

#include "btf-enums.h"
#include "errors.h"
#include "kallsyms.h"
#include "layout.h"
#include "tracer.h"

namespace droptrace {

// CLOCK_REALTIME - CLOCK_MONOTONIC as [seconds, nanoseconds], to turn bpf_ktime_get_ns() into wall time.
Napi::Value ClockOffset(const Napi::CallbackInfo& info) {
  struct timespec real, mono;
  clock_gettime(CLOCK_MONOTONIC, &mono);
  clock_gettime(CLOCK_REALTIME, &real);
  long long sec = real.tv_sec - mono.tv_sec;
  long long nsec = real.tv_nsec - mono.tv_nsec;
  if (nsec < 0) {
    nsec += 1000000000LL;
    sec -= 1;
  }
  Napi::Array out = Napi::Array::New(info.Env(), 2);
  out.Set(0u, static_cast<double>(sec));
  out.Set(1u, static_cast<double>(nsec));
  return out;
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  InstallLibbpfPrint();
  // loading the addon means tracing soon: the symbol table is read meanwhile
  KallsymsPrefetch();
  exports.Set("Tracer", Tracer::Init(env));
  exports.Set("preloadTracer", Napi::Function::New(env, PreloadTracer));
  exports.Set("layout", EventLayout(env));
  exports.Set("btfEnum", Napi::Function::New(env, BtfEnum));
  exports.Set("btfHas", Napi::Function::New(env, BtfHas));
  exports.Set("btfRelease", Napi::Function::New(env, BtfRelease));
  exports.Set("tracepointArgs", Napi::Function::New(env, TracepointArgs));
  exports.Set("clockOffset", Napi::Function::New(env, ClockOffset));
  exports.Set("kallsymsLookup", Napi::Function::New(env, KallsymsLookup));
  return exports;
}

}  // namespace droptrace

static Napi::Object InitAddon(Napi::Env env, Napi::Object exports) { return droptrace::Init(env, exports); }

NODE_API_MODULE(droptrace, InitAddon)
