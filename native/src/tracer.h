// The tracer object: one loaded BPF object, its links, filters, counters and ring pump.
#pragma once

#include <napi.h>

#include <memory>
#include <vector>

#include "ring-pump.h"

struct droptrace_bpf;
struct bpf_link;

namespace droptrace {

// preloadTracer({ attach, ringBytes }): loads the programs on a thread of its own, for the first
// Tracer made with the same options; false when one was already started. Main thread.
Napi::Value PreloadTracer(const Napi::CallbackInfo& info);

class Tracer : public Napi::ObjectWrap<Tracer> {
 public:
  static Napi::Function Init(Napi::Env env);

  // new Tracer({ ringBytes, attach: 'tp_btf' | 'tracepoint' }): opens and
  // loads the programs (nothing is attached yet). Main thread.
  explicit Tracer(const Napi::CallbackInfo& info);
  ~Tracer() override;

 private:
  // start(onBatch, { pollMs }): attach every program, then stream. Main thread.
  Napi::Value Start(const Napi::CallbackInfo& info);
  // detach(): detach every program, join the pump and return the batches not yet handed to JS
  // (Buffer[]), so that nothing in flight is lost; maps stay readable. Main thread.
  Napi::Value Detach(const Napi::CallbackInfo& info);
  // stop(): detach, join the pump, close everything; idempotent. Main thread.
  Napi::Value Stop(const Napi::CallbackInfo& info);
  Napi::Value SetPaused(const Napi::CallbackInfo& info);
  // setFilter({ flags, emit, l4proto, port, reasons, netns, cgroups, addrs }). Main thread.
  Napi::Value SetFilter(const Napi::CallbackInfo& info);
  // stats(): per-CPU stats summed, indexed by enum dt_stat. Main thread.
  // userLost(): events JS never received because its batch callback threw. Main thread.
  Napi::Value UserLost(const Napi::CallbackInfo& info);
  Napi::Value Stats(const Napi::CallbackInfo& info);
  // counts(): [[netns, reason, location (bigint), count, detect], ...] from the in-kernel counters. Main thread.
  Napi::Value Counts(const Napi::CallbackInfo& info);
  // retransmitCounts(): [[netns, kind, calls, segments], ...] from the in-kernel retransmit counters. Main thread.
  Napi::Value RetransmitCounts(const Napi::CallbackInfo& info);
  // [type, netns, reason, location, suppressed, detect] of every rate-limit key that held events back,
  // summed over CPUs; meaningful only while a rate limit is set. Main thread.
  Napi::Value Suppressed(const Napi::CallbackInfo& info);
  Napi::Value AttachMode(const Napi::CallbackInfo& info);
  Napi::Value ListenSynAvailable(const Napi::CallbackInfo& info);
  // setListenSyn(on): attaches (fresh baselines) or detaches the SYN-on-a-full-queue program, after
  // start(); true when it is attached. A kernel without it (tracepoint mode, before 6.3) answers
  // false. Main thread.
  Napi::Value SetListenSyn(const Napi::CallbackInfo& info);

  void Load(Napi::Env env, bool use_btf, uint32_t ring_bytes);
  void DetachListenSyn();
  // The SYN program loaded and where tcp_rcv_state_process lies known (set in its .bss): resolved
  // once, from the kernel's symbol table.
  bool ListenSpanKnown();
  void DetachLinks();
  void Close();
  static void CleanupHook(void* arg);

  struct droptrace_bpf* skel_ = nullptr;
  std::vector<struct bpf_link*> links_;
  struct bpf_link* listen_link_ = nullptr;  // the SYN program, when attached
  enum class Span { kUnresolved, kKnown, kUnknown } listen_span_ = Span::kUnresolved;
  std::unique_ptr<RingPump> pump_;
  uint64_t dropped_bytes_ = 0;  // of pumps already detached (UserLost)
  uint32_t filter_gen_ = 0;     // dt_filter.gen of the last SetFilter
  bool use_btf_ = true;
  bool hook_added_ = false;
  napi_env env_ = nullptr;
};

}  // namespace droptrace
