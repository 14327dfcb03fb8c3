const redacted = '[key material]';

/**
 * Raw bytes of a data-encryption key held in process memory. The bytes are
 * reachable only through {@link KeyMaterial.bytes}; they never show in
 * `JSON.stringify`, `util.inspect` or a log line, and {@link
 * KeyMaterial.destroy} overwrites them with zeros.
 */
export class KeyMaterial {
  readonly #bytes: Buffer;
  #destroyed = false;

  /**
   * Takes ownership of `bytes`: the caller must not keep or reuse them.
   *
   * @param bytes - 32 bytes of an AES-256 key
   * @throws RangeError when `bytes` is not 32 bytes long
   */
  constructor(bytes: Buffer) {
    if (bytes.length !== 32) {
      throw new RangeError(`an AES-256 key has 32 bytes, got ${bytes.length}`);
    }

    this.#bytes = bytes;
  }

  /**
   * The key bytes, for the cipher only.
   *
   * @throws Error when the material was destroyed
   */
  get bytes(): Buffer {
    if (this.#destroyed) throw new Error('key material was destroyed');

    return this.#bytes;
  }

  /** Whether {@link KeyMaterial.destroy} has run. */
  get destroyed(): boolean {
    return this.#destroyed;
  }

  /** Overwrites the bytes with zeros. Safe to call twice. */
  destroy(): void {
    this.#bytes.fill(0);
    this.#destroyed = true;
  }

  toJSON(): string {
    return redacted;
  }

  toString(): string {
    return redacted;
  }

  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return redacted;
  }
}
