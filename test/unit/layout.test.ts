import { describe, expect, it } from 'vitest';
import { DECODED_FIELDS } from '../../src/decode/decoder.js';
import { loadAddon } from '../../src/native/addon.js';
import { bpfStructLayout } from '../helpers/bpf-object.js';

// The C header is the one definition of the event. The BPF object (clang -target bpf) and the addon
// (host C++ compiler) each compile it; the decoder reads the addon's offsets. They must agree.
describe('struct dt_event layout', () => {
  const addon = loadAddon();
  const btf = bpfStructLayout('dt_event');

  it('has the same size in the BPF object and in the addon', () => {
    expect(addon.layout.eventSize).toBe(btf.size);
  });

  it('has the same members, offsets and sizes in the BPF object and in the addon', () => {
    expect(addon.layout.event).toEqual(btf.fields);
  });

  it('is decoded field by field: every member but padding is read by the decoder', () => {
    const members = Object.keys(btf.fields).filter((name) => !name.startsWith('_pad'));
    expect([...DECODED_FIELDS].sort()).toEqual(members.sort());
  });

  it('has no hidden padding: members tile the struct', () => {
    const spans = Object.values(btf.fields).sort((a, b) => a[0] - b[0]);
    let end = 0;
    for (const [offset, size] of spans) {
      expect(offset).toBe(end);
      end = offset + size;
    }
    expect(end).toBe(btf.size);
  });

  it('keeps the filter and counter key sizes of the header', () => {
    expect(addon.layout.filterSize).toBe(bpfStructLayout('dt_filter').size);
    expect(addon.layout.countKeySize).toBe(bpfStructLayout('dt_count_key').size);
    expect(addon.layout.limitKeySize).toBe(bpfStructLayout('dt_limit_key').size);
    expect(addon.layout.limitSize).toBe(bpfStructLayout('dt_limit').size);
    expect(addon.layout.limitSlotSize).toBe(bpfStructLayout('dt_limit_slot').size);
    expect(addon.layout.countSlotSize).toBe(bpfStructLayout('dt_count_slot').size);
  });
});
