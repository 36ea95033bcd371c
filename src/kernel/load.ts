/**
 * Which program set to load on this kernel, and the errors when none loads: `tp_btf` where its
 * kfree_skb prototype passes a reason (5.17+), the classic tracepoints otherwise (chosen from BTF,
 * not by a failed attempt: a load costs seconds on a slow machine). Every failure keeps the whole
 * libbpf log of each attempt.
 */
import { release } from 'node:os';
import { DroptraceError } from '../errors.js';
import type { Addon, NativeTracer } from '../native/addon.js';
import { fromNative } from './libbpf-errors.js';
import { ensureTracefs } from './preflight.js';

export type AttachMode = 'auto' | 'tp_btf' | 'tracepoint';

/** kfree_skb's tp_btf arguments after the context: (skb, location, reason[, rx_sk]) since 5.17. */
export const KFREE_SKB_ARGS_WITH_REASON = 3;

export function loadTracer(addon: Addon, attach: AttachMode = 'auto', ringBytes?: number, kernel = release()): NativeTracer {
  const args = addon.tracepointArgs('kfree_skb');
  const make = (mode: 'tp_btf' | 'tracepoint') => {
    if (mode === 'tracepoint') ensureTracefs();
    else {
      // tp_btf needs no tracefs, but the syscall tracepoints of failed connects do: mount it when we can
      try {
        ensureTracefs();
      } catch {
        // connect_error records are then off
      }
    }
    return new addon.Tracer({ ringBytes, attach: mode });
  };
  if (attach === 'tp_btf' && args < KFREE_SKB_ARGS_WITH_REASON) {
    throw new DroptraceError(
      'ERR_DROPTRACE_KERNEL_TP_BTF',
      args < 0
        ? `kernel ${kernel} has no BTF prototype for tp_btf/kfree_skb (btf_trace_kfree_skb)`
        : `kernel ${kernel}: tp_btf/kfree_skb passes no drop reason (added in 5.17)`,
      'use --attach tracepoint, or leave --attach out: droptrace picks the classic tracepoint on this kernel',
    );
  }
  if (attach === 'tracepoint' || (attach === 'auto' && args < KFREE_SKB_ARGS_WITH_REASON)) {
    try {
      return make('tracepoint');
    } catch (e) {
      throw fromNative(e, kernel);
    }
  }
  try {
    return make('tp_btf');
  } catch (first) {
    const btfError = fromNative(first, kernel);
    if (attach === 'tp_btf') throw btfError;
    try {
      return make('tracepoint');
    } catch (second) {
      const tpError = fromNative(second, kernel);
      if (!(tpError instanceof DroptraceError) || !(btfError instanceof DroptraceError)) throw tpError;
      // both attempts, each with its own log: the first failure is often the telling one
      const both = new DroptraceError(
        tpError.code,
        `tp_btf programs: ${btfError.message}\nclassic tracepoint programs: ${tpError.message}`,
        tpError.hint,
        { cause: btfError },
      );
      both.errno = tpError.errno;
      both.op = tpError.op;
      both.log = [...(btfError.log ?? []), ...(tpError.log ?? [])];
      throw both;
    }
  }
}
