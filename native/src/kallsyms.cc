#include "kallsyms.h"

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <string>
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

Table Load(const std::string& path) {
  Table table;
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    // "ffffffff81000000 T _stext" or "ffffffffc0a01000 t veth_xmit\t[veth]"
    if (line.size() < 20 || line[16] != ' ' || line[18] != ' ') continue;
    char type = line[17];
    if (type != 't' && type != 'T') continue;
    uint64_t addr = std::strtoull(line.substr(0, 16).c_str(), nullptr, 16);
    if (addr == 0) continue;  // addresses hidden from this user
    size_t end = line.find_first_of(" \t", 19);
    table.symbols.push_back({addr, static_cast<uint32_t>(table.names.size())});
    table.names.append(line, 19, end == std::string::npos ? std::string::npos : end - 19);
    table.names.push_back('\0');
  }
  std::sort(table.symbols.begin(), table.symbols.end(),
            [](const Symbol& a, const Symbol& b) { return a.addr < b.addr; });
  return table;
}

const Table& TableOf(const std::string& path) {
  static std::map<std::string, Table> tables;
  auto it = tables.find(path);
  if (it == tables.end()) it = tables.emplace(path, Load(path)).first;
  return it->second;
}

}  // namespace

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
