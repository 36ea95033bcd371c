#include "layout.h"

#include <linux/types.h>

#include <cstddef>

extern "C" {
#include "droptrace.h"
}

namespace droptrace {

namespace {

void Field(Napi::Env env, Napi::Object fields, const char* name, size_t offset, size_t size) {
  Napi::Array entry = Napi::Array::New(env, 2);
  entry.Set(0u, static_cast<double>(offset));
  entry.Set(1u, static_cast<double>(size));
  fields.Set(name, entry);
}

}  // namespace

// Every member of struct dt_event: the decoder reads offsets from here, and a unit test compares them
// with the BPF object's BTF, so the C header stays the only definition.
#define DT_FIELD(name) Field(env, event, #name, offsetof(struct dt_event, name), sizeof(((struct dt_event*)0)->name))

Napi::Object EventLayout(Napi::Env env) {
  Napi::Object layout = Napi::Object::New(env);
  Napi::Object event = Napi::Object::New(env);
  DT_FIELD(ts_ns);
  DT_FIELD(location);
  DT_FIELD(cgroup_id);
  DT_FIELD(netns);
  DT_FIELD(reason);
  DT_FIELD(len);
  DT_FIELD(ifindex);
  DT_FIELD(mtu);
  DT_FIELD(peer_ifindex);
  DT_FIELD(peer_mtu);
  DT_FIELD(peer_netns);
  DT_FIELD(rcvbuf_used);
  DT_FIELD(rcvbuf_size);
  DT_FIELD(queue_len);
  DT_FIELD(queue_limit);
  DT_FIELD(qdisc_qlen);
  DT_FIELD(qdisc_backlog);
  DT_FIELD(err);
  DT_FIELD(segs);
  DT_FIELD(neigh_entries);
  DT_FIELD(gc_thresh3);
  DT_FIELD(pid);
  DT_FIELD(saddr);
  DT_FIELD(daddr);
  DT_FIELD(sport);
  DT_FIELD(dport);
  DT_FIELD(protocol);
  DT_FIELD(type);
  DT_FIELD(family);
  DT_FIELD(l4proto);
  DT_FIELD(tcp_flags);
  DT_FIELD(direction);
  DT_FIELD(sk_state);
  DT_FIELD(rtx_kind);
  DT_FIELD(ca_state);
  DT_FIELD(detect);
  DT_FIELD(_pad);
  DT_FIELD(ifname);
  DT_FIELD(peer_ifname);
  DT_FIELD(qdisc);
  DT_FIELD(comm);
  // the header's enums, so TypeScript never copies a number from it
  Napi::Object constants = Napi::Object::New(env);
  constants.Set("DT_EVENT_DROP", static_cast<double>(DT_EVENT_DROP));
  constants.Set("DT_EVENT_RETRANSMIT", static_cast<double>(DT_EVENT_RETRANSMIT));
  constants.Set("DT_EVENT_SYNACK", static_cast<double>(DT_EVENT_SYNACK));
  constants.Set("DT_EVENT_CONNECT", static_cast<double>(DT_EVENT_CONNECT));
  constants.Set("DT_DETECT_KFREE_SKB", static_cast<double>(DT_DETECT_KFREE_SKB));
  constants.Set("DT_DETECT_SYN_ACCEPT_QUEUE", static_cast<double>(DT_DETECT_SYN_ACCEPT_QUEUE));
  constants.Set("DT_DETECT_SYN_SYN_QUEUE", static_cast<double>(DT_DETECT_SYN_SYN_QUEUE));
  constants.Set("DT_DETECT_SYN_LISTEN_DROP", static_cast<double>(DT_DETECT_SYN_LISTEN_DROP));
  constants.Set("DT_DIR_RX", static_cast<double>(DT_DIR_RX));
  constants.Set("DT_DIR_TX", static_cast<double>(DT_DIR_TX));
  constants.Set("DT_RTX_RTO", static_cast<double>(DT_RTX_RTO));
  constants.Set("DT_RTX_FAST", static_cast<double>(DT_RTX_FAST));
  constants.Set("DT_RTX_TLP", static_cast<double>(DT_RTX_TLP));
  constants.Set("DT_RTX_SYN", static_cast<double>(DT_RTX_SYN));
  constants.Set("DT_RTX_SYNACK", static_cast<double>(DT_RTX_SYNACK));
  constants.Set("DT_FILTER_NETNS", static_cast<double>(DT_FILTER_NETNS));
  constants.Set("DT_FILTER_CGROUP", static_cast<double>(DT_FILTER_CGROUP));
  constants.Set("DT_FILTER_ADDR", static_cast<double>(DT_FILTER_ADDR));
  constants.Set("DT_FILTER_REASON", static_cast<double>(DT_FILTER_REASON));
  constants.Set("DT_FILTER_PROTO", static_cast<double>(DT_FILTER_PROTO));
  constants.Set("DT_FILTER_PORT", static_cast<double>(DT_FILTER_PORT));
  constants.Set("DT_FILTER_NETNS_MAX", static_cast<double>(DT_FILTER_NETNS_MAX));
  constants.Set("DT_FILTER_CGROUP_MAX", static_cast<double>(DT_FILTER_CGROUP_MAX));
  constants.Set("DT_FILTER_ADDR_MAX", static_cast<double>(DT_FILTER_ADDR_MAX));
  constants.Set("DT_STAT_SEEN", static_cast<double>(DT_STAT_SEEN));
  constants.Set("DT_STAT_MATCHED", static_cast<double>(DT_STAT_MATCHED));
  constants.Set("DT_STAT_SENT", static_cast<double>(DT_STAT_SENT));
  constants.Set("DT_STAT_LOST", static_cast<double>(DT_STAT_LOST));
  constants.Set("DT_STAT_COUNTER_FULL", static_cast<double>(DT_STAT_COUNTER_FULL));
  constants.Set("DT_STAT_RETRANSMITS", static_cast<double>(DT_STAT_RETRANSMITS));
  constants.Set("DT_STAT_SYN_UNJUDGED", static_cast<double>(DT_STAT_SYN_UNJUDGED));
  constants.Set("DT_STAT_CONNECTS", static_cast<double>(DT_STAT_CONNECTS));
  constants.Set("DT_STAT_SUPPRESSED", static_cast<double>(DT_STAT_SUPPRESSED));
  constants.Set("DT_STAT_OWN", static_cast<double>(DT_STAT_OWN));
  constants.Set("DT_REASON_WORDS", static_cast<double>(DT_REASON_WORDS));
  layout.Set("constants", constants);
  layout.Set("eventSize", static_cast<double>(sizeof(struct dt_event)));
  layout.Set("event", event);
  layout.Set("filterSize", static_cast<double>(sizeof(struct dt_filter)));
  layout.Set("countKeySize", static_cast<double>(sizeof(struct dt_count_key)));
  layout.Set("limitKeySize", static_cast<double>(sizeof(struct dt_limit_key)));
  layout.Set("limitSize", static_cast<double>(sizeof(struct dt_limit)));
  layout.Set("limitSlotSize", static_cast<double>(sizeof(struct dt_limit_slot)));
  layout.Set("countSlotSize", static_cast<double>(sizeof(struct dt_count_slot)));
  return layout;
}

#undef DT_FIELD

}  // namespace droptrace
