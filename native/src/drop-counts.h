// The exact drop counts: drop_counts plus what the kfree_skb programs' count slots hold.
#pragma once

#include <bpf/libbpf.h>
#include <linux/types.h>

#include <vector>

#include "droptrace.h"

namespace droptrace {

struct DropCount {
  struct dt_count_key key;
  __u64 count;  // summed over the CPUs
};

// Each key's count while the programs run (never more than the kernel matched; a slot changing
// hands throughout three reads is left out until the next call) and exactly once they are detached.
std::vector<DropCount> ReadDropCounts(struct bpf_map* drop_counts, struct bpf_map* count_slots);

}  // namespace droptrace
