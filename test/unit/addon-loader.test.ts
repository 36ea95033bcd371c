import { describe, expect, it } from 'vitest';
import { addonCandidates } from '../../src/native/addon.js';

describe('addon loader order', () => {
  it('takes the prebuilt first, then the cmake-js and node-gyp builds', () => {
    const c = addonCandidates({});
    expect(c.map((p) => p.split('/').slice(-3).join('/'))).toEqual([
      `prebuilds/${process.platform}-${process.arch}/droptrace.napi.node`,
      'build/Release/droptrace.node',
      'build/Release/droptrace.node',
    ]);
    expect(c[1]).toMatch(/\/native\/build\/Release\/droptrace\.node$/);
    expect(c[2]).not.toMatch(/\/native\//);
  });

  it('DROPTRACE_ADDON names the one file to load', () => {
    expect(addonCandidates({ DROPTRACE_ADDON: '/opt/x/droptrace.node' })).toEqual(['/opt/x/droptrace.node']);
  });
});
