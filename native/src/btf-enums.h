// Names from the running kernel's BTF: enums (drop reasons, TCP states) and tracepoint prototypes.
#pragma once

#include <napi.h>

#include <cstdint>
#include <memory>

struct btf;

namespace droptrace {

// The running kernel's BTF, parsed once (about 13 ms) and kept until released. Any thread: hold the
// reference while using it. Null when absent.
std::shared_ptr<const struct btf> VmlinuxBtf();

// btfRelease(): lets go of the parsed vmlinux BTF (about 11 MB here) once the tracer is loaded and
// its names are read (it is freed when a use still running ends); a later query parses it again. Main thread.
Napi::Value BtfRelease(const Napi::CallbackInfo& info);

// btfEnum({ name } | { member }): [[name, value], ...] of the enum with that name, or of the first
// enum that has that member (for anonymous enums such as TCP states); null when absent. Main thread.
Napi::Value BtfEnum(const Napi::CallbackInfo& info);

// The value of an enumerator of any (also anonymous) enum, e.g. LINUX_MIB_LISTENOVERFLOWS, or -1. Any thread.
int64_t BtfEnumMemberValue(const char* member);

// The number of arguments a tp_btf program gets for a tracepoint (without the leading void*),
// or -1 when the kernel has no btf_trace_<name>. Any thread.
int TracepointArgCount(const char* tracepoint);

// tracepointArgs(name): TracepointArgCount for JS. Main thread.
Napi::Value TracepointArgs(const Napi::CallbackInfo& info);

// btfHas({ struct, member? }): whether the running kernel's vmlinux BTF has that struct (and that
// member, anonymous members searched too). Module types are not in vmlinux BTF. Main thread.
Napi::Value BtfHas(const Napi::CallbackInfo& info);

}  // namespace droptrace
