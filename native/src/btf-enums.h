// Names from the running kernel's BTF: enums (drop reasons, TCP states) and tracepoint prototypes.
#pragma once

#include <napi.h>

#include <cstdint>

struct btf;

namespace droptrace {

// The running kernel's BTF, parsed once (about 13 ms) and kept. Main thread. Null when absent.
const struct btf* VmlinuxBtf();

// btfEnum({ name } | { member }): [[name, value], ...] of the enum with that name, or of the first
// enum that has that member (for anonymous enums such as TCP states); null when absent. Main thread.
Napi::Value BtfEnum(const Napi::CallbackInfo& info);

// The value of an enumerator of any (also anonymous) enum, e.g. LINUX_MIB_LISTENOVERFLOWS, or -1. Main thread.
int64_t BtfEnumMemberValue(const char* member);

// The number of arguments a tp_btf program gets for a tracepoint (without the leading void*),
// or -1 when the kernel has no btf_trace_<name>. Main thread.
int TracepointArgCount(const char* tracepoint);

}  // namespace droptrace
