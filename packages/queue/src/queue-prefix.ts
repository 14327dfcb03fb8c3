import { RekeyError } from '@rekey/core';

/**
 * The key prefix every Rekey queue uses unless configured otherwise. Its
 * braces make it a Redis Cluster hash tag.
 */
export const defaultQueuePrefix = '{rekey}';

/**
 * Checks that a queue key prefix holds exactly one non-empty Redis Cluster
 * hash tag, such as `{rekey}` or `prod:{rekey}`.
 *
 * BullMQ's scripts touch many keys of a queue in one call, and a flow's
 * parent and children live in different queues. On a cluster every one of
 * those keys must hash to the same slot or Redis answers `CROSSSLOT`. Rekey
 * therefore gives all its queues one shared prefix, and the prefix's hash
 * tag (the text between the first `{` and the next `}`) is what Redis
 * hashes. A prefix without a tag, with an empty tag `{}` (which Redis
 * ignores) or with several brace pairs (of which only the first would
 * count, hiding a mistake) is refused here, at startup, rather than on the
 * first flow.
 *
 * @param prefix - the configured prefix
 * @returns the prefix, unchanged
 * @throws RekeyError `REKEY_CONFIG_INVALID` when the prefix has no single
 *   non-empty hash tag, starts or ends with `:`, or contains whitespace
 */
export function validateQueuePrefix(prefix: string): string {
  const example = `use one tag for all queues, for example '${defaultQueuePrefix}' or 'prod:${defaultQueuePrefix}'`;
  const opens = countOf(prefix, '{');
  const closes = countOf(prefix, '}');
  if (opens !== 1 || closes !== 1) {
    throw invalid(
      `the queue prefix '${prefix}' must contain exactly one {…} hash tag so that every queue, and every flow across queues, lands in one Redis Cluster slot; ${example}`,
    );
  }

  const open = prefix.indexOf('{');
  const close = prefix.indexOf('}');
  if (close < open + 2) {
    throw invalid(
      `the queue prefix '${prefix}' has an empty or reversed hash tag, which Redis ignores; ${example}`,
    );
  }

  if (prefix.startsWith(':') || prefix.endsWith(':') || /\s/.test(prefix)) {
    throw invalid(
      `the queue prefix '${prefix}' must not start or end with ':' nor contain whitespace; ${example}`,
    );
  }

  return prefix;
}

function countOf(text: string, char: string): number {
  return text.split(char).length - 1;
}

function invalid(message: string): RekeyError {
  return new RekeyError('REKEY_CONFIG_INVALID', message);
}
