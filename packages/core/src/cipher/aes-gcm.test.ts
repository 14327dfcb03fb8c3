import { describe, expect, it } from 'vitest';

import { gcmOpen, gcmSeal } from './aes-gcm.js';

// AES-256 vectors of "The Galois/Counter Mode of Operation (GCM)" (McGrew and
// Viega), test cases 13, 14 and 16, which NIST SP 800-38D adopted.
const vectors = [
  {
    name: 'test case 13: empty plaintext, no AAD',
    key: '00'.repeat(32),
    iv: '00'.repeat(12),
    aad: '',
    plaintext: '',
    ciphertext: '',
    tag: '530f8afbc74536b9a963b4f1c4cb738b',
  },
  {
    name: 'test case 14: one zero block, no AAD',
    key: '00'.repeat(32),
    iv: '00'.repeat(12),
    aad: '',
    plaintext: '00'.repeat(16),
    ciphertext: 'cea7403d4d606b6e074ec5d3baf39d18',
    tag: 'd0d1c8a799996bf0265b98b5d48ab919',
  },
  {
    name: 'test case 16: 60-byte plaintext, 20-byte AAD',
    key: 'feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308',
    iv: 'cafebabefacedbaddecaf888',
    aad: 'feedfacedeadbeeffeedfacedeadbeefabaddad2',
    plaintext:
      'd9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a72' +
      '1c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b39',
    ciphertext:
      '522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa' +
      '8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662',
    tag: '76fc6ece0f4e1768cddf8853bb2d551b',
  },
];

const hex = (s: string) => Buffer.from(s, 'hex');

describe('AES-256-GCM against published vectors', () => {
  for (const v of vectors) {
    it(`seals ${v.name}`, () => {
      const sealed = gcmSeal(hex(v.key), {
        iv: hex(v.iv),
        aad: hex(v.aad),
        plaintext: hex(v.plaintext),
      });

      expect(sealed.ciphertext.toString('hex')).toBe(v.ciphertext);
      expect(sealed.tag.toString('hex')).toBe(v.tag);
    });

    it(`opens ${v.name}`, () => {
      const opened = gcmOpen(hex(v.key), {
        iv: hex(v.iv),
        aad: hex(v.aad),
        ciphertext: hex(v.ciphertext),
        tag: hex(v.tag),
      });

      expect(opened?.toString('hex')).toBe(v.plaintext);
    });
  }

  it('refuses a tag that does not match', () => {
    const v = vectors[2]!;
    const tag = hex(v.tag);
    tag[0]! ^= 1;

    const opened = gcmOpen(hex(v.key), {
      iv: hex(v.iv),
      aad: hex(v.aad),
      ciphertext: hex(v.ciphertext),
      tag,
    });

    expect(opened).toBeNull();
  });

  it('refuses an IV that is not 96 bits', () => {
    expect(() =>
      gcmSeal(Buffer.alloc(32), {
        iv: Buffer.alloc(16),
        aad: Buffer.alloc(0),
        plaintext: Buffer.alloc(1),
      }),
    ).toThrow(/12 bytes/);
  });
});
