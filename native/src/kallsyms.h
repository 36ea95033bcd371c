// Kernel text addresses to names, from /proc/kallsyms, parsed natively: the table is ~120k symbols,
// which as JS objects costs 130 ms and 50 MB of heap on the first drop; here 20 ms and 3 MB.
#pragma once

#include <napi.h>

#include <cstdint>
#include <string>

namespace droptrace {

// kallsymsLookup(path, hi, lo): "function+0xoff", or null when below every text symbol or the
// file is unreadable. The table of each path is loaded on first use and kept. Main thread.
Napi::Value KallsymsLookup(const Napi::CallbackInfo& info);

// Starts loading /proc/kallsyms on a thread of its own; the lookups below wait for it. Main thread.
void KallsymsPrefetch();

// Where a text symbol starts and how far to the next one; false when absent or addresses are hidden. Main thread.
bool KallsymsSpan(const std::string& path, const char* name, uint64_t* start, uint64_t* size);

}  // namespace droptrace
