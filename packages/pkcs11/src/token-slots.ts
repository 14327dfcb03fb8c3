import { RekeyError } from '@rekey/core';
import pkcs11js from 'pkcs11js';

import { pkcs11CallSync } from './pkcs11-errors.js';
import type { Pkcs11Handle, Pkcs11Module } from './pkcs11-module.js';

/**
 * Slot look-up by token label. Slot ids are not stable (SoftHSM2 gives a
 * token a new slot id when it is initialised), so Rekey always finds a
 * token by its label.
 */

/** The longest token label PKCS#11 allows, in bytes. */
export const maxTokenLabelBytes = 32;

/** A slot with a token in it, as {@link listTokens} reports it. */
export interface TokenSlot {
  readonly slot: Pkcs11Handle;
  /** The label without its blank padding; empty for a free slot. */
  readonly label: string;
  /** Whether the token was initialised (CKF_TOKEN_INITIALIZED). */
  readonly initialised: boolean;
  /** Whether the token's user PIN was set (CKF_USER_PIN_INITIALIZED). */
  readonly userPinInitialised: boolean;
}

/**
 * Lists the slots that hold a token.
 *
 * @param module - the loaded module
 * @throws RekeyError translated from the CKR code
 */
export function listTokens(module: Pkcs11Module): TokenSlot[] {
  const slots = pkcs11CallSync('C_GetSlotList', () =>
    module.C_GetSlotList(true),
  );

  const tokens: TokenSlot[] = [];
  for (const slot of slots) {
    let info: { label: string; flags: number };
    try {
      info = module.C_GetTokenInfo(slot);
    } catch {
      // The token left its slot between the two calls: it is not there.
      continue;
    }
    tokens.push(
      Object.freeze({
        slot,
        label: info.label.trimEnd(),
        initialised: (info.flags & pkcs11js.CKF_TOKEN_INITIALIZED) !== 0,
        userPinInitialised:
          (info.flags & pkcs11js.CKF_USER_PIN_INITIALIZED) !== 0,
      }),
    );
  }

  return tokens;
}

/**
 * Finds the initialised token with the given label.
 *
 * @param module - the loaded module
 * @param label - the token label, without padding
 * @returns the token, or `undefined` when none has that label
 * @throws RekeyError `REKEY_CONFIG_INVALID` when several tokens share it
 */
export function findToken(
  module: Pkcs11Module,
  label: string,
): TokenSlot | undefined {
  const matches = listTokens(module).filter(
    (token) => token.initialised && token.label === label,
  );
  if (matches.length > 1) {
    throw new RekeyError(
      'REKEY_CONFIG_INVALID',
      `${matches.length} tokens are labelled "${label}": give each token a distinct label so that Rekey can tell them apart`,
      { details: { tokenLabel: label, tokens: matches.length } },
    );
  }

  return matches[0];
}

/**
 * Finds the slot of the initialised token with the given label.
 *
 * @param module - the loaded module
 * @param label - the token label, without padding
 * @returns the slot's handle
 * @throws RekeyError `REKEY_HSM_TOKEN_NOT_FOUND` listing the labels seen
 */
export function requireTokenSlot(
  module: Pkcs11Module,
  label: string,
): Pkcs11Handle {
  const token = findToken(module, label);
  if (token !== undefined) return token.slot;

  const seen = listTokens(module)
    .filter((t) => t.initialised)
    .map((t) => JSON.stringify(t.label));
  throw new RekeyError(
    'REKEY_HSM_TOKEN_NOT_FOUND',
    `no token is labelled "${label}" (tokens seen: ${seen.length > 0 ? seen.join(', ') : 'none'}): fix the configured token label, or initialise the token first`,
    { details: { tokenLabel: label, tokensSeen: seen.join(',') } },
  );
}

/**
 * Checks a token label and pads it with blanks to the 32 bytes that
 * `C_InitToken` reads.
 *
 * @param label - 1 to 32 bytes of UTF-8
 * @throws RekeyError `REKEY_CONFIG_INVALID` for an empty or long label
 */
export function paddedTokenLabel(label: string): string {
  const bytes = Buffer.byteLength(label, 'utf8');
  if (label.trim() === '' || bytes > maxTokenLabelBytes) {
    throw new RekeyError(
      'REKEY_CONFIG_INVALID',
      `a token label has 1 to ${maxTokenLabelBytes} bytes and is not blank, got ${bytes} bytes: choose another label`,
      { details: { labelBytes: bytes } },
    );
  }
  if (label !== label.trimEnd()) {
    throw new RekeyError(
      'REKEY_CONFIG_INVALID',
      'a token label cannot end in blanks, which PKCS#11 uses as padding: remove them',
    );
  }

  return label + ' '.repeat(maxTokenLabelBytes - bytes);
}
