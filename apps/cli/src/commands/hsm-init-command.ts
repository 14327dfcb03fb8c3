import { RekeyError } from '@rekey/core';
import {
  acquirePkcs11Module,
  ensureMasterKey,
  initTokenIfAbsent,
  listTokens,
} from '@rekey/pkcs11';
import { openKeyServices, requirePin } from '@rekey/runtime';

import { say, type CliContext } from '../cli-context.js';

/**
 * `rekey hsm init`: makes the token (if absent), the master key on it (if
 * absent) and the first KEK, and registers both keys. Running it again
 * changes nothing.
 */
export async function hsmInitCommand(ctx: CliContext): Promise<void> {
  const { hsm } = ctx.config;
  const pin = requirePin(ctx.config);

  const token = tokenExists(hsm.modulePath, hsm.tokenLabel)
    ? { created: false }
    : await initTokenIfAbsent({
        modulePath: hsm.modulePath,
        label: hsm.tokenLabel,
        pin,
        soPin: soPinOf(ctx.env),
      });
  const master = await ensureMasterKey({
    modulePath: hsm.modulePath,
    tokenLabel: hsm.tokenLabel,
    pin,
    label: hsm.masterLabel,
  });

  const services = await openKeyServices(ctx.config, {
    cleanup: ctx.cleanup,
    applicationName: 'rekey-cli',
    poolMax: 2,
  });
  const masterRecord = await services.hierarchy.registerMasterKey(
    hsm.masterLabel,
  );
  const kek = await services.hierarchy.ensureKek();

  say(
    `hsm: token ${hsm.tokenLabel} ${token.created ? 'created' : 'present'}; ` +
      `master key ${hsm.masterLabel} ${master.created ? 'generated on the token' : 'present'} (key ${masterRecord.id}); ` +
      `kek ${kek.scope} v${kek.version} (key ${kek.id})`,
  );
}

function tokenExists(modulePath: string, label: string): boolean {
  const lease = acquirePkcs11Module(modulePath);
  try {
    return listTokens(lease.module).some(
      (token) => token.userPinInitialised && token.label === label,
    );
  } finally {
    lease.release();
  }
}

function soPinOf(env: NodeJS.ProcessEnv): string {
  // Needed only when the token has to be created.
  const soPin = env.REKEY_HSM_SO_PIN;
  if (soPin) return soPin;

  throw new RekeyError(
    'REKEY_CONFIG_INVALID',
    'the token does not exist yet and REKEY_HSM_SO_PIN is not set: give the security officer PIN to create it, or use `rekey hsm init --dev` for a development token',
  );
}
