// The offsets of droptrace.h's structs as the host compiler lays them out.
#pragma once

#include <napi.h>

namespace droptrace {

// { eventSize, event: { field: [offset, size] }, filterSize, countKeySize }. Main thread.
Napi::Object EventLayout(Napi::Env env);

}  // namespace droptrace
