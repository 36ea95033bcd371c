// Per-CPU BPF maps read from user space: a value is one copy per possible CPU.
#pragma once

#include <bpf/libbpf.h>
#include <linux/types.h>

#include <cstring>
#include <type_traits>
#include <vector>

namespace droptrace {

// A per-CPU map's value of `key` summed over the CPUs into `sum` (Value: __u64, or a struct of
// __u64 fields, summed field by field); false when the key is absent.
template <typename Value>
bool SumPerCpu(struct bpf_map* map, const void* key, size_t key_size, std::vector<Value>& scratch,
               __u64 (&sum)[sizeof(Value) / sizeof(__u64)]) {
  static_assert(sizeof(Value) % sizeof(__u64) == 0 && std::is_trivially_copyable_v<Value>,
                "summed word by word: a value made of __u64 fields");
  if (bpf_map__lookup_elem(map, key, key_size, scratch.data(), scratch.size() * sizeof(Value), 0) != 0) return false;
  for (__u64& w : sum) w = 0;
  for (const Value& v : scratch) {
    __u64 words[sizeof(Value) / sizeof(__u64)];
    std::memcpy(words, &v, sizeof(words));
    for (size_t i = 0; i < sizeof(Value) / sizeof(__u64); i++) sum[i] += words[i];
  }
  return true;
}

// Calls `row(key, sum)` for each key of a per-CPU hash, with its value summed over the CPUs.
template <typename Key, typename Value, typename Row>
void ForEachSummed(struct bpf_map* map, Row row) {
  std::vector<Value> scratch(libbpf_num_possible_cpus());
  Key cur = {}, next = {};
  const void* prev = nullptr;
  while (bpf_map__get_next_key(map, prev, &next, sizeof(next)) == 0) {
    __u64 sum[sizeof(Value) / sizeof(__u64)];
    if (SumPerCpu<Value>(map, &next, sizeof(next), scratch, sum)) row(next, sum);
    cur = next;
    prev = &cur;
  }
}

}  // namespace droptrace
