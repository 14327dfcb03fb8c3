import { errorCodes, RekeyError, type ErrorCode } from '@rekey/core';

/** A rotation as the scheduler's API describes it. */
export interface ApiRotation {
  readonly id: number;
  readonly tenantId: string;
  readonly status: string;
  readonly rowsTotal: number | null;
  readonly rowsDone: number;
  readonly rowsFailed: number;
  readonly rowsRemaining: number | null;
  readonly hsmCalls?: number;
  readonly error: string | null;
  readonly startedAt?: string | null;
  readonly finishedAt?: string | null;
}

/**
 * The part of the scheduler's HTTP API the CLI uses. Rotations are requested
 * through the API, like any other service would, so that one code path
 * validates and enqueues them.
 */
export class RekeyApiClient {
  readonly #baseUrl: string;

  /** @param baseUrl - e.g. `http://127.0.0.1:8080` */
  constructor(baseUrl: string) {
    this.#baseUrl = baseUrl.replace(/\/+$/, '');
  }

  /** `POST /v1/tenants/:tenantId/rotations` */
  async requestRotation(
    tenantId: string,
    requestedBy: string,
  ): Promise<ApiRotation> {
    const body = await this.#call(
      `/v1/tenants/${encodeURIComponent(tenantId)}/rotations`,
      {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ requestedBy }),
      },
    );

    return rotationOf(body);
  }

  /** `GET /v1/rotations/:id` */
  async getRotation(id: number): Promise<ApiRotation> {
    return rotationOf(
      await this.#call(`/v1/rotations/${id}`, { method: 'GET' }),
    );
  }

  async #call(path: string, init: RequestInit): Promise<unknown> {
    let response: Response;
    try {
      response = await fetch(`${this.#baseUrl}${path}`, {
        ...init,
        signal: AbortSignal.timeout(10_000),
      });
    } catch (error) {
      throw new RekeyError(
        'REKEY_API_UNAVAILABLE',
        `the scheduler API at ${this.#baseUrl} did not answer: start the scheduler (\`node apps/scheduler/dist/main.js\`) or point REKEY_API_URL at it`,
        { cause: error },
      );
    }

    const body = (await response.json().catch(() => ({}))) as {
      error?: { code?: string; message?: string };
    };
    if (!response.ok) {
      const code =
        body.error?.code ??
        (response.status === 503 ? 'REKEY_API_UNAVAILABLE' : 'REKEY_INTERNAL');
      const message = body.error?.message ?? `HTTP ${response.status}`;
      throw new RekeyError(
        code in errorCodes ? (code as ErrorCode) : 'REKEY_INTERNAL',
        message,
        { details: { status: response.status } },
      );
    }

    return body;
  }
}

interface RotationBody {
  readonly rotation?: Omit<
    ApiRotation,
    'rowsTotal' | 'rowsDone' | 'rowsFailed' | 'rowsRemaining'
  > & {
    readonly progress?: Pick<
      ApiRotation,
      'rowsTotal' | 'rowsDone' | 'rowsFailed' | 'rowsRemaining'
    >;
  };
}

function rotationOf(body: unknown): ApiRotation {
  const rotation = (body as RotationBody).rotation;
  if (!rotation) {
    throw new RekeyError(
      'REKEY_INTERNAL',
      'the scheduler API answered without a rotation',
    );
  }

  return {
    ...rotation,
    rowsTotal: rotation.progress?.rowsTotal ?? null,
    rowsDone: rotation.progress?.rowsDone ?? 0,
    rowsFailed: rotation.progress?.rowsFailed ?? 0,
    rowsRemaining: rotation.progress?.rowsRemaining ?? null,
  };
}
