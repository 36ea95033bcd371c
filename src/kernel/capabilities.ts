/**
 * Which capabilities each verb uses, and why: the permission error and the README say the same.
 * Granting them is for droptrace alone: to root running it (sudo), or to a launcher that starts
 * nothing else (a systemd unit's AmbientCapabilities=). File capabilities on the node binary
 * would hand them to every Node program on the host, so droptrace never suggests that.
 */

export interface CapabilityNeed {
  cap: string;
  why: string;
}

/** What loading and attaching the tracing programs needs (kernel/bpf/syscall.c, bpf_prog_load; perf tracepoints). */
export const TRACING: readonly CapabilityNeed[] = [
  { cap: 'CAP_BPF', why: 'load the BPF programs and maps' },
  { cap: 'CAP_PERFMON', why: 'attach them to tracepoints and read kernel memory through them' },
];

/** What naming and evidence use on top; without them droptrace still traces, with fewer names. */
export const ENRICHMENT: readonly CapabilityNeed[] = [
  { cap: 'CAP_SYSLOG', why: 'read kernel addresses in /proc/kallsyms (the drop location)' },
  { cap: 'CAP_SYS_PTRACE', why: "read other users' /proc/<pid>/ns/net and cgroup (containers, --pid)" },
  { cap: 'CAP_SYS_ADMIN', why: "enter a container's network namespace (setns) to read its ruleset" },
  { cap: 'CAP_NET_ADMIN', why: 'read iptables/nft rule counters (the rule that dropped)' },
];

export const VERB_CAPABILITIES: Readonly<Record<string, readonly CapabilityNeed[]>> = {
  'droptrace (stream)': [...TRACING, ...ENRICHMENT],
  'droptrace top': TRACING,
  'droptrace explain': [...TRACING, ...ENRICHMENT],
  'droptrace check': [...TRACING, ...ENRICHMENT],
  'droptrace containers': [ENRICHMENT[1]],
  'droptrace reasons': [],
};

/** The permission error's hint: ways that grant droptrace alone what it needs. */
export function permissionHint(): string {
  const caps = TRACING.map((c) => c.cap).join(',');
  return (
    'run it as root: sudo droptrace …; or start it from a launcher that runs droptrace and nothing else ' +
    `with ${caps} (e.g. a systemd unit with AmbientCapabilities=${TRACING.map((c) => c.cap).join(' ')}); ` +
    `container names and rule evidence also use ${ENRICHMENT.map((c) => c.cap).join(', ')}. ` +
    'Do not put capabilities on the node binary: every Node program would get them.'
  );
}
