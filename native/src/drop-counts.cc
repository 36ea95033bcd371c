#include "drop-counts.h"

#include <cstring>
#include <string>
#include <unordered_map>

#include "per-cpu.h"

namespace droptrace {

namespace {

// Every CPU's slots; false when the map cannot be read (then no slot is added).
bool ReadSlots(struct bpf_map* map, std::vector<struct dt_count_slots>& cpus) {
  __u32 zero = 0;
  return bpf_map__lookup_elem(map, &zero, sizeof(zero), cpus.data(), cpus.size() * sizeof(cpus[0]), 0) == 0;
}

std::string KeyBytes(const struct dt_count_key& key) {
  return std::string(reinterpret_cast<const char*>(&key), sizeof(key));
}

}  // namespace

// A slot's pending count belongs to the reading only when the slot did not change hands between
// the slot reads before and after drop_counts (its seq even and the same in both, and its key;
// the key as well for CPUs that may reorder the kernel's copy of it): only then did
// drop_counts receive none of its moves meanwhile, and the second read is whole. A slot that moved
// is read again (twice more at most); one that keeps moving is left out of this reading: its key
// then reads low, never high (the slot is taken before the old pending is moved, bpf/).
std::vector<DropCount> ReadDropCounts(struct bpf_map* drop_counts, struct bpf_map* count_slots) {
  size_t ncpus = static_cast<size_t>(libbpf_num_possible_cpus());
  std::vector<struct dt_count_slots> before(ncpus), after(ncpus);
  std::vector<DropCount> rows;
  for (int attempt = 0;; attempt++) {
    bool slots = ReadSlots(count_slots, before);
    rows.clear();
    std::unordered_map<std::string, size_t> index;
    ForEachSummed<struct dt_count_key, __u64>(drop_counts, [&](const dt_count_key& key, const __u64* sum) {
      index.emplace(KeyBytes(key), rows.size());
      rows.push_back({key, sum[0]});
    });
    slots = slots && ReadSlots(count_slots, after);
    if (!slots) return rows;
    bool moved = false;
    for (size_t cpu = 0; cpu < ncpus; cpu++) {
      for (size_t i = 0; i < DT_COUNT_SLOTS; i++) {
        const struct dt_count_slot& s = after[cpu].slot[i];
        if (s.seq == 0) continue;
        const struct dt_count_slot& b = before[cpu].slot[i];
        if (s.seq != b.seq || (s.seq & 1) != 0 || std::memcmp(&s.key, &b.key, sizeof(s.key)) != 0) {
          moved = true;
          continue;
        }
        if (s.pending == 0) continue;
        auto at = index.find(KeyBytes(s.key));
        if (at != index.end()) {
          rows[at->second].count += s.pending;
        } else {
          // not seen in drop_counts: the kernel makes a key's entry before the key takes a slot
          index.emplace(KeyBytes(s.key), rows.size());
          rows.push_back({s.key, s.pending});
        }
      }
    }
    if (!moved || attempt == 2) return rows;
  }
}

}  // namespace droptrace
