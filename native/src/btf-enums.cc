#include "btf-enums.h"

#include <bpf/btf.h>

#include <cstring>
#include <memory>
#include <mutex>
#include <string>

namespace droptrace {

namespace {
// Shared by the main thread and a tracer preloading on its own: each use holds a reference, so a
// release frees it only once the last use is over.
std::mutex vmlinux_mu;
std::shared_ptr<const struct btf> vmlinux;
bool loaded = false;
}  // namespace

std::shared_ptr<const struct btf> VmlinuxBtf() {
  std::lock_guard<std::mutex> lock(vmlinux_mu);
  if (!loaded) {
    // libbpf 1.x returns NULL (errno set) when the kernel has no BTF
    struct btf* btf = btf__load_vmlinux_btf();
    vmlinux =
        btf ? std::shared_ptr<const struct btf>(btf, [](const struct btf* b) { btf__free(const_cast<struct btf*>(b)); })
            : nullptr;
    loaded = true;
  }
  return vmlinux;
}

Napi::Value BtfRelease(const Napi::CallbackInfo& info) {
  std::lock_guard<std::mutex> lock(vmlinux_mu);
  vmlinux.reset();
  loaded = false;
  return info.Env().Undefined();
}

namespace {

Napi::Value EnumEntries(Napi::Env env, const struct btf* btf, const struct btf_type* t) {
  int n = btf_vlen(t);
  Napi::Array out = Napi::Array::New(env, n);
  bool is_signed = btf_kflag(t);
  for (int i = 0; i < n; i++) {
    Napi::Array pair = Napi::Array::New(env, 2);
    if (btf_is_enum(t)) {
      const struct btf_enum* e = btf_enum(t) + i;
      pair.Set(0u, btf__name_by_offset(btf, e->name_off));
      pair.Set(1u, is_signed ? static_cast<double>(e->val) : static_cast<double>(static_cast<uint32_t>(e->val)));
    } else {
      const struct btf_enum64* e = btf_enum64(t) + i;
      pair.Set(0u, btf__name_by_offset(btf, e->name_off));
      pair.Set(1u, static_cast<double>(btf_enum64_value(e)));
    }
    out.Set(i, pair);
  }
  return out;
}

bool HasMember(const struct btf* btf, const struct btf_type* t, const char* member) {
  int n = btf_vlen(t);
  for (int i = 0; i < n; i++) {
    uint32_t name_off = btf_is_enum(t) ? btf_enum(t)[i].name_off : btf_enum64(t)[i].name_off;
    if (std::strcmp(btf__name_by_offset(btf, name_off), member) == 0) return true;
  }
  return false;
}

}  // namespace

Napi::Value BtfEnum(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::shared_ptr<const struct btf> held = VmlinuxBtf();
  const struct btf* btf = held.get();
  if (btf == nullptr) return env.Null();
  Napi::Object query = info[0].As<Napi::Object>();
  std::string name = query.Has("name") ? query.Get("name").As<Napi::String>().Utf8Value() : "";
  std::string member = query.Has("member") ? query.Get("member").As<Napi::String>().Utf8Value() : "";
  uint32_t count = btf__type_cnt(btf);
  for (uint32_t id = 1; id < count; id++) {
    const struct btf_type* t = btf__type_by_id(btf, id);
    if (!btf_is_any_enum(t)) continue;
    if (!name.empty() && name == btf__name_by_offset(btf, t->name_off)) return EnumEntries(env, btf, t);
    if (!member.empty() && HasMember(btf, t, member.c_str())) return EnumEntries(env, btf, t);
  }
  return env.Null();
}

int64_t BtfEnumMemberValue(const char* member) {
  std::shared_ptr<const struct btf> held = VmlinuxBtf();
  const struct btf* btf = held.get();
  if (btf == nullptr) return -1;
  uint32_t count = btf__type_cnt(btf);
  for (uint32_t id = 1; id < count; id++) {
    const struct btf_type* t = btf__type_by_id(btf, id);
    if (!btf_is_enum(t)) continue;
    for (int i = 0; i < btf_vlen(t); i++) {
      const struct btf_enum* e = btf_enum(t) + i;
      if (std::strcmp(btf__name_by_offset(btf, e->name_off), member) == 0) return static_cast<uint32_t>(e->val);
    }
  }
  return -1;
}

int TracepointArgCount(const char* tracepoint) {
  std::shared_ptr<const struct btf> held = VmlinuxBtf();
  const struct btf* btf = held.get();
  if (btf == nullptr) return -1;
  std::string name = std::string("btf_trace_") + tracepoint;
  int id = btf__find_by_name_kind(btf, name.c_str(), BTF_KIND_TYPEDEF);
  if (id < 0) return -1;
  const struct btf_type* t = btf__type_by_id(btf, btf__type_by_id(btf, id)->type);  // pointer
  if (t == nullptr || !btf_is_ptr(t)) return -1;
  t = btf__type_by_id(btf, t->type);
  if (t == nullptr || !btf_is_func_proto(t)) return -1;
  return btf_vlen(t) - 1;
}

Napi::Value TracepointArgs(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), TracepointArgCount(info[0].As<Napi::String>().Utf8Value().c_str()));
}

namespace {

bool StructHasMember(const struct btf* btf, const struct btf_type* t, const char* member, int depth) {
  if (depth > 8 || !(btf_is_struct(t) || btf_is_union(t))) return false;
  const struct btf_member* m = btf_members(t);
  for (int i = 0; i < btf_vlen(t); i++, m++) {
    const char* name = btf__name_by_offset(btf, m->name_off);
    if (name != nullptr && std::strcmp(name, member) == 0) return true;
    // an anonymous struct or union: its members are the outer struct's
    if ((name == nullptr || *name == '\0') &&
        StructHasMember(btf, btf__type_by_id(btf, btf__resolve_type(btf, m->type)), member, depth + 1))
      return true;
  }
  return false;
}

}  // namespace

Napi::Value BtfHas(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::shared_ptr<const struct btf> held = VmlinuxBtf();
  const struct btf* btf = held.get();
  if (btf == nullptr) return Napi::Boolean::New(env, false);
  Napi::Object query = info[0].As<Napi::Object>();
  std::string name = query.Get("struct").As<Napi::String>().Utf8Value();
  int id = btf__find_by_name_kind(btf, name.c_str(), BTF_KIND_STRUCT);
  if (id < 0) return Napi::Boolean::New(env, false);
  if (!query.Has("member") || query.Get("member").IsUndefined()) return Napi::Boolean::New(env, true);
  std::string member = query.Get("member").As<Napi::String>().Utf8Value();
  return Napi::Boolean::New(env, StructHasMember(btf, btf__type_by_id(btf, id), member.c_str(), 0));
}

}  // namespace droptrace
