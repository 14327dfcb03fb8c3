/** The SoftHSM2 token that the global setup made for this run. */
export function testToken(): {
  readonly label: string;
  readonly pin: string;
  readonly soPin: string;
  readonly conf: string;
} {
  const label = process.env.REKEY_TEST_TOKEN_LABEL;
  const pin = process.env.REKEY_TEST_PIN;
  const soPin = process.env.REKEY_TEST_SO_PIN;
  const conf = process.env.SOFTHSM2_CONF;
  if (!label || !pin || !soPin || !conf) {
    throw new Error(
      'the test token is missing: run through test/vitest.config.ts',
    );
  }

  return { label, pin, soPin, conf };
}
