#include "tracer.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/types.h>

#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstring>
#include <set>
#include <vector>
#include <system_error>
#include <thread>
#include <mutex>
#include <chrono>
#include <condition_variable>
#include <string>
#include <type_traits>

extern "C" {
#include "droptrace.h"
}
// the skeleton is C; its helpers are static inline and C++-clean
#include "droptrace.skel.h"

#include "btf-enums.h"
#include "drop-counts.h"
#include "kallsyms.h"
#include "kernel-hz.h"
#include "per-cpu.h"
#include "errors.h"

namespace droptrace {

namespace {

// At most this much read from the ring and not yet taken by JS (then the pump stops draining and
// the kernel counts what it cannot store), handed over in batches of this size.
constexpr uint32_t kMaxPendingBytes = 1u << 20;
constexpr uint32_t kDefaultRingBytes = 4u << 20;
constexpr uint32_t kBatchBytes = 64u << 10;

struct ProgramPair {
  struct bpf_program* btf;
  struct bpf_program* tracepoint;
};

std::vector<ProgramPair> Programs(struct droptrace_bpf* skel) {
  return {
      {skel->progs.kfree_skb_btf, skel->progs.kfree_skb_tp},
      {skel->progs.tcp_rtx_btf, skel->progs.tcp_rtx_tp},
      {skel->progs.tcp_synack_btf, skel->progs.tcp_synack_tp},
      {skel->progs.neigh_create_btf, skel->progs.neigh_create_tp},
  };
}

// The SYN-on-a-full-queue program: the per-netns SNMP fields it compares; off when any is unknown.
// Where tcp_rcv_state_process lies (consume_skb calls from there are the listener's SYNs) is set
// after loading (ResolveListenSpan): the load need not wait for the kernel's symbol table.
void ConfigureListenSyn(struct droptrace_bpf* skel, bool use_btf) {
  int64_t overflows = BtfEnumMemberValue("LINUX_MIB_LISTENOVERFLOWS");
  int64_t drops = BtfEnumMemberValue("LINUX_MIB_LISTENDROPS");
  int64_t reqq = BtfEnumMemberValue("LINUX_MIB_TCPREQQFULLDROP");
  // consume_skb gained its `location` argument in v6.3 ("net: add location to trace_consume_skb()")
  bool ok = use_btf && TracepointArgCount("consume_skb") >= 2 && overflows >= 0 && drops >= 0 && reqq >= 0;
  if (!ok) {
    bpf_program__set_autoload(skel->progs.listen_syn_btf, false);
    return;
  }
  skel->rodata->mib_listen_overflows = static_cast<uint32_t>(overflows);
  skel->rodata->mib_listen_drops = static_cast<uint32_t>(drops);
  skel->rodata->mib_reqq_full_drop = static_cast<uint32_t>(reqq);
  skel->rodata->nr_cpus = static_cast<uint32_t>(libbpf_num_possible_cpus());
}

uint32_t GetU32(Napi::Object o, const char* key, uint32_t fallback) {
  return o.Has(key) && o.Get(key).IsNumber() ? o.Get(key).As<Napi::Number>().Uint32Value() : fallback;
}

// Makes a BPF hash set hold exactly `keys`, or returns a negative errno: -E2BIG when they cannot
// fit, else what the kernel refused. The new keys go in first and the stale ones out after, so a
// key present before and after is never missing in between; only when the old and new together
// would overflow the map do the stale ones go first.
int ReplaceSet(struct bpf_map* map, const std::vector<std::vector<uint8_t>>& keys) {
  size_t key_size = bpf_map__key_size(map);
  size_t capacity = bpf_map__max_entries(map);
  std::set<std::vector<uint8_t>> wanted(keys.begin(), keys.end());
  if (wanted.size() > capacity) return -E2BIG;
  std::set<std::vector<uint8_t>> present;
  std::vector<std::vector<uint8_t>> stale;
  std::vector<uint8_t> cur(key_size), next(key_size);
  const void* prev = nullptr;
  while (bpf_map__get_next_key(map, prev, next.data(), key_size) == 0) {
    if (wanted.count(next) != 0) {
      present.insert(next);
    } else {
      stale.push_back(next);
    }
    cur = next;
    prev = cur.data();
  }
  auto drop_stale = [&]() {
    for (const auto& key : stale) {
      int err = bpf_map__delete_elem(map, key.data(), key_size, 0);
      if (err != 0 && err != -ENOENT) return err;
    }
    stale.clear();
    return 0;
  };
  if (present.size() + stale.size() + (wanted.size() - present.size()) > capacity) {
    int err = drop_stale();
    if (err != 0) return err;
  }
  uint8_t one = 1;
  for (const auto& key : wanted) {
    if (present.count(key) != 0) continue;
    int err = bpf_map__update_elem(map, key.data(), key_size, &one, sizeof(one), BPF_ANY);
    if (err != 0) return err;
  }
  return drop_stale();
}

template <typename T>
std::vector<uint8_t> KeyBytes(T value) {
  std::vector<uint8_t> bytes(sizeof(T));
  std::memcpy(bytes.data(), &value, sizeof(T));
  return bytes;
}

}  // namespace

Napi::Function Tracer::Init(Napi::Env env) {
  return DefineClass(env, "Tracer",
                     {
                         InstanceMethod<&Tracer::Start>("start"),
                         InstanceMethod<&Tracer::Detach>("detach"),
                         InstanceMethod<&Tracer::Stop>("stop"),
                         InstanceMethod<&Tracer::SetPaused>("setPaused"),
                         InstanceMethod<&Tracer::SetFilter>("setFilter"),
                         InstanceMethod<&Tracer::Stats>("stats"),
                         InstanceMethod<&Tracer::UserLost>("userLost"),
                         InstanceMethod<&Tracer::Counts>("counts"),
                         InstanceMethod<&Tracer::RetransmitCounts>("retransmitCounts"),
                         InstanceMethod<&Tracer::SetListenSyn>("setListenSyn"),
                         InstanceMethod<&Tracer::Suppressed>("suppressed"),
                         InstanceAccessor<&Tracer::AttachMode>("attachMode"),
                         InstanceAccessor<&Tracer::ListenSynAvailable>("listenSynAvailable"),
                     });
}

Tracer::Tracer(const Napi::CallbackInfo& info) : Napi::ObjectWrap<Tracer>(info), env_(info.Env()) {
  Napi::Env env = info.Env();
  Napi::Object opts = info[0].IsObject() ? info[0].As<Napi::Object>() : Napi::Object::New(env);
  uint32_t ring_bytes = GetU32(opts, "ringBytes", kDefaultRingBytes);
  // which kind to try first and what to fall back to is decided in TypeScript (src/session.ts)
  Load(env, opts.Get("attach").ToString().Utf8Value() == "tp_btf", ring_bytes);
  napi_add_env_cleanup_hook(env, CleanupHook, this);
  hook_added_ = true;
}

Tracer::~Tracer() {
  if (hook_added_) napi_remove_env_cleanup_hook(env_, CleanupHook, this);
  Close();
}

void Tracer::CleanupHook(void* arg) {
  auto* self = static_cast<Tracer*>(arg);
  self->hook_added_ = false;
  self->Close();
}

namespace {

// One load of the object, on any thread: the skeleton (null on failure), libbpf's error and log.
struct Loaded {
  struct droptrace_bpf* skel = nullptr;
  int err = 0;
  std::string op;
  std::vector<std::string> log;
};

Loaded LoadSkeleton(bool use_btf, uint32_t ring_bytes) {
  LogCapture log;
  Loaded out;
  out.op = use_btf ? "load tp_btf programs" : "load tracepoint programs";
  struct droptrace_bpf* skel = droptrace_bpf__open();
  if (skel == nullptr) {
    out.err = errno;
    out.op = "open";
    out.log = log.lines();
    return out;
  }
  for (const ProgramPair& pair : Programs(skel)) {
    bpf_program__set_autoload(use_btf ? pair.tracepoint : pair.btf, false);
  }
  skel->rodata->self_tgid = static_cast<uint32_t>(getpid());
  skel->rodata->kernel_hz = KernelHz();
  skel->rodata->rtx_has_err = TracepointArgCount("tcp_retransmit_skb") >= 3;
  skel->rodata->kfree_skb_has_rx_sk = TracepointArgCount("kfree_skb") >= 4;
  ConfigureListenSyn(skel, use_btf);
  // neigh_create (v5.3, "net: neigh: add tracepoints") carries the table; without it the neighbour
  // evidence is off, not the tracer
  if (TracepointArgCount("neigh_create") < 4) {
    bpf_program__set_autoload(skel->progs.neigh_create_btf, false);
    bpf_program__set_autoload(skel->progs.neigh_create_tp, false);
  }
  int err = bpf_map__set_max_entries(skel->maps.events, ring_bytes);
  if (err == 0) err = droptrace_bpf__load(skel);
  if (err != 0) {
    droptrace_bpf__destroy(skel);
    out.err = err;
    out.log = log.lines();
    return out;
  }
  out.skel = skel;
  return out;
}

// A load started early (preloadTracer) on a thread of its own, for the first Tracer that asks for
// the same kind and ring size: the verifier's work overlaps Node loading the CLI. Never freed: the
// thread is detached.
struct Preload {
  std::mutex mu;
  std::condition_variable cv;
  bool done = false;
  bool taken = false;
  bool use_btf = true;
  uint32_t ring_bytes = 0;
  Loaded result;
};

Preload* preload = nullptr;

}  // namespace

Napi::Value PreloadTracer(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object opts = info[0].IsObject() ? info[0].As<Napi::Object>() : Napi::Object::New(env);
  if (preload != nullptr) return Napi::Boolean::New(env, false);
  auto* p = new Preload();
  p->use_btf = opts.Get("attach").ToString().Utf8Value() == "tp_btf";
  p->ring_bytes = GetU32(opts, "ringBytes", kDefaultRingBytes);
  try {
    std::thread([p] {
      Loaded result = LoadSkeleton(p->use_btf, p->ring_bytes);
      std::lock_guard<std::mutex> lock(p->mu);
      p->result = std::move(result);
      p->done = true;
      p->cv.notify_all();
    }).detach();
  } catch (const std::system_error&) {
    delete p;  // no thread to be had: the tracer loads on the main thread as before
    return Napi::Boolean::New(env, false);
  }
  preload = p;
  return Napi::Boolean::New(env, true);
}

void Tracer::Load(Napi::Env env, bool use_btf, uint32_t ring_bytes) {
  Close();
  Loaded loaded;
  bool adopted = false;
  if (preload != nullptr) {
    std::unique_lock<std::mutex> lock(preload->mu);
    if (!preload->taken && preload->use_btf == use_btf && preload->ring_bytes == ring_bytes) {
      // wait_for, not wait: condition_variable::wait is a GLIBCXX_3.4.30 symbol (see kallsyms.cc)
      while (!preload->done) preload->cv.wait_for(lock, std::chrono::milliseconds(100));
      preload->taken = true;
      loaded = std::move(preload->result);
      adopted = true;
    }
  }
  if (!adopted) loaded = LoadSkeleton(use_btf, ring_bytes);
  if (loaded.skel == nullptr) throw LibbpfError(env, loaded.op, loaded.err, loaded.log);
  skel_ = loaded.skel;
  use_btf_ = use_btf;
  listen_span_ = Span::kUnresolved;
}

void Tracer::DetachListenSyn() {
  if (listen_link_ != nullptr) bpf_link__destroy(listen_link_);
  listen_link_ = nullptr;
}

void Tracer::DetachLinks() {
  DetachListenSyn();
  for (struct bpf_link* link : links_) bpf_link__destroy(link);
  links_.clear();
}

void Tracer::Close() {
  pump_.reset();
  DetachLinks();
  if (skel_ != nullptr) droptrace_bpf__destroy(skel_);
  skel_ = nullptr;
}

Napi::Value Tracer::Start(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (skel_ == nullptr) throw Napi::Error::New(env, "tracer is closed");
  if (!links_.empty()) throw Napi::Error::New(env, "tracer already started");
  Napi::Function on_batch = info[0].As<Napi::Function>();
  Napi::Object opts = info[1].IsObject() ? info[1].As<Napi::Object>() : Napi::Object::New(env);
  LogCapture log;
  for (const ProgramPair& pair : Programs(skel_)) {
    struct bpf_program* prog = use_btf_ ? pair.btf : pair.tracepoint;
    if (!bpf_program__autoload(prog)) continue;
    struct bpf_link* link = bpf_program__attach(prog);
    if (link == nullptr) {
      int err = errno;
      DetachLinks();
      throw LibbpfError(env, std::string("attach ") + bpf_program__section_name(prog), err, log);
    }
    links_.push_back(link);
  }
  // connect() failures: syscall tracepoints exist in one kind only, and only with
  // CONFIG_FTRACE_SYSCALLS and tracefs; without them that record is off, not the tracer
  struct bpf_link* enter = bpf_program__attach(skel_->progs.connect_enter_tp);
  struct bpf_link* leave = enter != nullptr ? bpf_program__attach(skel_->progs.connect_exit_tp) : nullptr;
  if (leave != nullptr) {
    links_.push_back(enter);
    links_.push_back(leave);
  } else if (enter != nullptr) {
    bpf_link__destroy(enter);
  }
  // the SYN program is attached on demand (setListenSyn): it runs on every consume_skb of the host
  pump_ = std::make_unique<RingPump>(env, bpf_map__fd(skel_->maps.events), on_batch, kMaxPendingBytes, kBatchBytes,
                                     GetU32(opts, "pollMs", 10));
  return env.Undefined();
}

Napi::Value Tracer::SetListenSyn(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (skel_ == nullptr || links_.empty()) throw Napi::Error::New(env, "tracer is not started");
  bool on = info[0].ToBoolean();
  if (!on) {
    DetachListenSyn();
    return Napi::Boolean::New(env, false);
  }
  if (listen_link_ != nullptr || !ListenSpanKnown()) return Napi::Boolean::New(env, listen_link_ != nullptr);
  // baselines from an earlier attachment are stale: the counters moved while it was off, and a
  // stale baseline would call the next accepted SYN a refused one
  struct bpf_map* base = skel_->maps.syn_base;
  __u32 key = 0;
  while (bpf_map__get_next_key(base, nullptr, &key, sizeof(key)) == 0) {
    if (bpf_map__delete_elem(base, &key, sizeof(key), 0) != 0) break;
  }
  LogCapture log;
  listen_link_ = bpf_program__attach(skel_->progs.listen_syn_btf);
  if (listen_link_ == nullptr) throw LibbpfError(env, "attach tp_btf/consume_skb", errno, log);
  return Napi::Boolean::New(env, true);
}

Napi::Value Tracer::Detach(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  DetachLinks();
  Napi::Array out = Napi::Array::New(env);
  if (!pump_) return out;
  uint32_t i = 0;
  for (std::vector<uint8_t>& batch : pump_->Drain()) {
    out.Set(i++, Napi::Buffer<uint8_t>::Copy(env, batch.data(), batch.size()));
  }
  dropped_bytes_ += pump_->DroppedBytes();
  pump_.reset();
  return out;
}

Napi::Value Tracer::Stop(const Napi::CallbackInfo& info) {
  Close();
  return info.Env().Undefined();
}

Napi::Value Tracer::SetPaused(const Napi::CallbackInfo& info) {
  if (pump_) pump_->SetPaused(info[0].ToBoolean());
  return info.Env().Undefined();
}

Napi::Value Tracer::SetFilter(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (skel_ == nullptr) throw Napi::Error::New(env, "tracer is closed");
  Napi::Object spec = info[0].As<Napi::Object>();
  LogCapture log;

  std::vector<std::vector<uint8_t>> netns, cgroups, addrs;
  Napi::Array list = spec.Get("netns").As<Napi::Array>();
  for (uint32_t i = 0; i < list.Length(); i++)
    netns.push_back(KeyBytes<__u32>(list.Get(i).As<Napi::Number>().Uint32Value()));
  list = spec.Get("cgroups").As<Napi::Array>();
  for (uint32_t i = 0; i < list.Length(); i++) {
    bool lossless = false;
    cgroups.push_back(KeyBytes<__u64>(list.Get(i).As<Napi::BigInt>().Uint64Value(&lossless)));
  }
  list = spec.Get("addrs").As<Napi::Array>();
  for (uint32_t i = 0; i < list.Length(); i++) {
    Napi::Object a = list.Get(i).As<Napi::Object>();
    struct dt_addr_key key = {};
    key.family = a.Get("family").As<Napi::Number>().Uint32Value();
    Napi::Buffer<uint8_t> bytes = a.Get("bytes").As<Napi::Buffer<uint8_t>>();
    std::memcpy(key.addr, bytes.Data(), std::min<size_t>(bytes.Length(), sizeof(key.addr)));
    addrs.push_back(KeyBytes(key));
  }
  // a set that is not written exactly would trace other namespaces than asked, or none: refused
  struct {
    struct bpf_map* map;
    const std::vector<std::vector<uint8_t>>& keys;
    const char* op;
  } sets[] = {
      {skel_->maps.filter_netns, netns, "write filter_netns"},
      {skel_->maps.filter_cgroup, cgroups, "write filter_cgroup"},
      {skel_->maps.filter_addr, addrs, "write filter_addr"},
  };
  for (const auto& set : sets) {
    int err = ReplaceSet(set.map, set.keys);
    if (err != 0) throw LibbpfError(env, set.op, err, log);
  }

  struct dt_filter filter = {};
  filter.flags = GetU32(spec, "flags", 0);
  filter.emit = GetU32(spec, "emit", 1);
  filter.rate_limit = GetU32(spec, "rateLimit", 0);
  filter.l4proto = static_cast<__u8>(GetU32(spec, "l4proto", 0));
  filter.port = static_cast<__u16>(GetU32(spec, "port", 0));
  filter.gen = ++filter_gen_;
  list = spec.Get("reasons").As<Napi::Array>();
  for (uint32_t i = 0; i < list.Length(); i++) {
    uint32_t reason = list.Get(i).As<Napi::Number>().Uint32Value();
    if (reason < DT_REASON_WORDS * 64) filter.reasons[reason / 64] |= 1ULL << (reason % 64);
  }
  __u32 zero = 0;
  // written last: the sets above are complete before the flags put them in force
  int err = bpf_map__update_elem(skel_->maps.filter_cfg, &zero, sizeof(zero), &filter, sizeof(filter), BPF_ANY);
  if (err != 0) throw LibbpfError(env, "write filter", err, log);
  return env.Undefined();
}

Napi::Value Tracer::UserLost(const Napi::CallbackInfo& info) {
  uint64_t bytes = dropped_bytes_ + (pump_ ? pump_->DroppedBytes() : 0);
  return Napi::Number::New(info.Env(), static_cast<double>(bytes / sizeof(struct dt_event)));
}

Napi::Value Tracer::Stats(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (skel_ == nullptr) throw Napi::Error::New(env, "tracer is closed");
  int ncpus = libbpf_num_possible_cpus();
  std::vector<__u64> values(ncpus);
  Napi::Array out = Napi::Array::New(env, DT_STAT_MAX);
  for (__u32 i = 0; i < DT_STAT_MAX; i++) {
    __u64 sum = 0;
    if (bpf_map__lookup_elem(skel_->maps.stats, &i, sizeof(i), values.data(), values.size() * sizeof(__u64), 0) == 0) {
      for (__u64 v : values) sum += v;
    }
    out.Set(i, static_cast<double>(sum));
  }
  return out;
}

Napi::Value Tracer::Counts(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (skel_ == nullptr) throw Napi::Error::New(env, "tracer is closed");
  std::vector<DropCount> counts = ReadDropCounts(skel_->maps.drop_counts, skel_->maps.count_slots);
  Napi::Array out = Napi::Array::New(env, counts.size());
  uint32_t n = 0;
  for (const DropCount& c : counts) {
    Napi::Array row = Napi::Array::New(env, 5);
    row.Set(0u, static_cast<double>(c.key.netns));
    row.Set(1u, static_cast<double>(c.key.reason));
    row.Set(2u, Napi::BigInt::New(env, static_cast<uint64_t>(c.key.location)));
    row.Set(3u, static_cast<double>(c.count));
    row.Set(4u, static_cast<double>(c.key.detect));
    out.Set(n++, row);
  }
  return out;
}

Napi::Value Tracer::RetransmitCounts(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (skel_ == nullptr) throw Napi::Error::New(env, "tracer is closed");
  Napi::Array out = Napi::Array::New(env);
  uint32_t n = 0;
  ForEachSummed<struct dt_rtx_count_key, struct dt_rtx_count>(skel_->maps.rtx_counts,
                                                              [&](const dt_rtx_count_key& key, const __u64* sum) {
                                                                Napi::Array row = Napi::Array::New(env, 4);
                                                                row.Set(0u, static_cast<double>(key.netns));
                                                                row.Set(1u, static_cast<double>(key.kind));
                                                                row.Set(2u, static_cast<double>(sum[0]));  // calls
                                                                row.Set(3u, static_cast<double>(sum[1]));  // segments
                                                                out.Set(n++, row);
                                                              });
  return out;
}

Napi::Value Tracer::Suppressed(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (skel_ == nullptr) throw Napi::Error::New(env, "tracer is closed");
  Napi::Array out = Napi::Array::New(env);
  uint32_t n = 0;
  auto row = [&](uint32_t type, uint32_t netns, uint32_t reason, __u64 location, __u64 suppressed, uint32_t detect) {
    Napi::Array r = Napi::Array::New(env, 6);
    r.Set(0u, static_cast<double>(type));
    r.Set(1u, static_cast<double>(netns));
    r.Set(2u, static_cast<double>(reason));
    r.Set(3u, Napi::BigInt::New(env, static_cast<uint64_t>(location)));
    r.Set(4u, static_cast<double>(suppressed));
    r.Set(5u, static_cast<double>(detect));
    out.Set(n++, r);
  };

  // drops: counted minus admitted, per key. The count is read first: while the programs run the
  // difference can only be low, never high, and after detach it is exact.
  std::vector<__u64> scratch(libbpf_num_possible_cpus());
  for (const DropCount& c : ReadDropCounts(skel_->maps.drop_counts, skel_->maps.count_slots)) {
    __u64 admitted[1] = {0};
    SumPerCpu<__u64>(skel_->maps.drop_admitted, &c.key, sizeof(c.key), scratch, admitted);
    if (c.count > admitted[0]) {
      row(DT_EVENT_DROP, c.key.netns, c.key.reason, c.key.location, c.count - admitted[0], c.key.detect);
    }
  }

  // retransmits: their windows count what they held back
  static_assert(offsetof(struct dt_limit, suppressed) == sizeof(__u64), "dt_limit.suppressed is its second word");
  ForEachSummed<struct dt_limit_key, struct dt_limit>(
      skel_->maps.limits, [&](const dt_limit_key& key, const __u64* sum) {
        if (sum[1] != 0) row(key.type, key.netns, key.reason, key.location, sum[1], DT_DETECT_KFREE_SKB);
      });
  return out;
}

bool Tracer::ListenSpanKnown() {
  if (listen_span_ == Span::kUnresolved) {
    uint64_t start = 0, size = 0;
    bool known = skel_ != nullptr && bpf_program__autoload(skel_->progs.listen_syn_btf) &&
                 KallsymsSpan("/proc/kallsyms", "tcp_rcv_state_process", &start, &size);
    if (known) {
      skel_->bss->listen_fn_start = start;
      skel_->bss->listen_fn_size = size;
    }
    listen_span_ = known ? Span::kKnown : Span::kUnknown;
  }
  return listen_span_ == Span::kKnown;
}

Napi::Value Tracer::ListenSynAvailable(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), ListenSpanKnown());
}

Napi::Value Tracer::AttachMode(const Napi::CallbackInfo& info) {
  return Napi::String::New(info.Env(), use_btf_ ? "tp_btf" : "tracepoint");
}

}  // namespace droptrace
