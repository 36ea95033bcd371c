#include "kallsyms.h"

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <map>
#include <mutex>
#include <string>
#include <system_error>
#include <thread>
#include <vector>

namespace droptrace {

namespace {

struct Symbol {
  uint64_t addr;
  uint32_t name_off;  // into Table::names, NUL-terminated
};

struct Table {
  std::vector<Symbol> symbols;  // sorted by address
  std::string names;
};

// One read of the whole file and a hand parse: the kernel makes the text on each read (~40 ms
// here for 120k symbols), and getline + substr per line doubled that.
Table Load(const std::string& path) {
  Table table;
  // open/read, not stdio: this runs on a detached thread, and exit() walks stdio's open files
  std::string text;
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd >= 0) {
    char buf[1 << 16];
    ssize_t n;
    while ((n = read(fd, buf, sizeof(buf))) > 0) text.append(buf, static_cast<size_t>(n));
    close(fd);
  }
  table.symbols.reserve(text.size() / 40);
  const char* p = text.c_str();
  const char* end = p + text.size();
  while (p < end) {
    const char* eol = static_cast<const char*>(std::memchr(p, '\n', end - p));
    if (eol == nullptr) eol = end;
    // "ffffffff81000000 T _stext" or "ffffffffc0a01000 t veth_xmit\t[veth]"
    if (eol - p >= 20 && p[16] == ' ' && p[18] == ' ' && (p[17] == 't' || p[17] == 'T')) {
      uint64_t addr = std::strtoull(p, nullptr, 16);
      const char* name = p + 19;
      const char* name_end = name;
      while (name_end < eol && *name_end != ' ' && *name_end != '\t') name_end++;
      if (addr != 0) {  // 0: addresses hidden from this user
        table.symbols.push_back({addr, static_cast<uint32_t>(table.names.size())});
        table.names.append(name, name_end - name);
        table.names.push_back('\0');
      }
    }
    p = eol + 1;
  }
  std::sort(table.symbols.begin(), table.symbols.end(),
            [](const Symbol& a, const Symbol& b) { return a.addr < b.addr; });
  return table;
}

// The host's table, loaded on a thread of its own from the moment the addon is loaded: the
// tracer needs it before loading its programs (the SYN program's address range) and the stream on
// the first drop, and by then it is ready. Never freed: the thread is detached, and may still be
// filling it when the process exits.
constexpr const char* kHostPath = "/proc/kallsyms";

struct Prefetched {
  std::mutex mu;
  std::condition_variable cv;
  bool done = false;
  Table table;
};

Prefetched* prefetched = nullptr;

const Table& TableOf(const std::string& path) {
  if (path == kHostPath) {
    KallsymsPrefetch();
    std::unique_lock<std::mutex> lock(prefetched->mu);
    // wait_for, not wait: condition_variable::wait is a GLIBCXX_3.4.30 symbol, newer than the
    // libstdc++ the prebuilt addon may find
    while (!prefetched->done) prefetched->cv.wait_for(lock, std::chrono::milliseconds(100));
    return prefetched->table;
  }
  static std::map<std::string, Table> tables;
  auto it = tables.find(path);
  if (it == tables.end()) it = tables.emplace(path, Load(path)).first;
  return it->second;
}

}  // namespace

void KallsymsPrefetch() {
  static std::once_flag once;
  std::call_once(once, [] {
    auto* p = new Prefetched();
    auto fill = [p] {
      Table table = Load(kHostPath);
      std::lock_guard<std::mutex> lock(p->mu);
      p->table = std::move(table);
      p->done = true;
      p->cv.notify_all();
    };
    try {
      std::thread(fill).detach();
    } catch (const std::system_error&) {
      fill();  // no thread to be had (pids.max): read it here instead
    }
    prefetched = p;
  });
}

bool KallsymsSpan(const std::string& path, const char* name, uint64_t* start, uint64_t* size) {
  const Table& table = TableOf(path);
  for (size_t i = 0; i + 1 < table.symbols.size(); i++) {
    if (std::strcmp(table.names.c_str() + table.symbols[i].name_off, name) != 0) continue;
    *start = table.symbols[i].addr;
    *size = table.symbols[i + 1].addr - table.symbols[i].addr;
    return *size > 0;
  }
  return false;
}

Napi::Value KallsymsLookup(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string path = info[0].As<Napi::String>().Utf8Value();
  uint64_t addr = (static_cast<uint64_t>(info[1].As<Napi::Number>().Uint32Value()) << 32) |
                  info[2].As<Napi::Number>().Uint32Value();
  const Table& table = TableOf(path);
  const std::vector<Symbol>& symbols = table.symbols;
  auto next =
      std::upper_bound(symbols.begin(), symbols.end(), addr, [](uint64_t a, const Symbol& s) { return a < s.addr; });
  if (next == symbols.begin()) return env.Null();
  const Symbol& sym = *(next - 1);
  char offset[24];
  std::snprintf(offset, sizeof(offset), "+0x%llx", static_cast<unsigned long long>(addr - sym.addr));
  return Napi::String::New(env, std::string(table.names.c_str() + sym.name_off) + offset);
}

}  // namespace droptrace
