import { randomUUID } from "node:crypto";
import type { FakeResponse } from "../fake-server.js";
import { hubSpotError } from "./error-bodies.js";

export interface HubSpotOAuthApp {
  readonly clientId: string;
  readonly clientSecret: string;
  readonly refreshToken: string;
  /** What the token endpoint reports as `expires_in` (HubSpot: 1800). */
  readonly expiresInSec?: number;
  /** When tokens really stop working; defaults to `expiresInSec`. Shorter than reported tests early renewal. */
  readonly tokenTtlMs?: number;
  /** Tokens stop working after this many API requests (a stand-in for revocation mid-life). */
  readonly tokenMaxRequests?: number;
}

interface Issued {
  readonly expiresAt: number;
  uses: number;
}

/** Private app tokens (static) and OAuth access tokens (expiring), as HubSpot checks them. */
export class HubSpotTokenStore {
  private readonly privateTokens: Set<string>;
  private readonly issued = new Map<string, Issued>();
  /** Token endpoint calls that minted a token. */
  tokensIssued = 0;

  constructor(
    privateAppTokens: readonly string[],
    private readonly app: HubSpotOAuthApp | undefined,
    private readonly now: () => number,
  ) {
    this.privateTokens = new Set(privateAppTokens);
  }

  /** POST /oauth/v1/token with a refresh_token grant. */
  refresh(form: unknown): FakeResponse {
    const fields = form !== null && typeof form === "object" ? (form as Record<string, unknown>) : {};
    if (this.app === undefined || fields["client_id"] !== this.app.clientId) {
      return {
        status: 400,
        body: {
          status: "BAD_CLIENT_ID",
          message: "missing or unknown client id",
          correlationId: randomUUID(),
        },
      };
    }
    if (fields["client_secret"] !== this.app.clientSecret) {
      return {
        status: 400,
        body: {
          status: "BAD_CLIENT_SECRET",
          message: "missing or invalid client secret",
          correlationId: randomUUID(),
        },
      };
    }
    if (fields["grant_type"] !== "refresh_token" || fields["refresh_token"] !== this.app.refreshToken) {
      return {
        status: 400,
        body: {
          status: "BAD_REFRESH_TOKEN",
          message: "missing or invalid refresh token",
          correlationId: randomUUID(),
        },
      };
    }
    const expiresInSec = this.app.expiresInSec ?? 1_800;
    const accessToken = `CJ${randomUUID().replaceAll("-", "")}`;
    this.issued.set(accessToken, {
      expiresAt: this.now() + (this.app.tokenTtlMs ?? expiresInSec * 1_000),
      uses: 0,
    });
    this.tokensIssued++;
    return {
      status: 200,
      body: {
        token_type: "bearer",
        refresh_token: this.app.refreshToken,
        access_token: accessToken,
        expires_in: expiresInSec,
      },
    };
  }

  /** undefined when the bearer token may call the API, else the 401 to answer. */
  check(authorization: string | undefined): FakeResponse | undefined {
    const token = /^Bearer\s+(.+)$/i.exec(authorization ?? "")?.[1];
    if (token !== undefined && this.privateTokens.has(token)) return undefined;
    const issued = token === undefined ? undefined : this.issued.get(token);
    if (issued === undefined) {
      return hubSpotError(
        401,
        "INVALID_AUTHENTICATION",
        "Authentication credentials not found. This API supports OAuth 2.0 authentication and you can find more details at https://developers.hubspot.com/docs/methods/auth/oauth-overview",
      );
    }
    const now = this.now();
    const spent = this.app?.tokenMaxRequests !== undefined && issued.uses >= this.app.tokenMaxRequests;
    if (now >= issued.expiresAt || spent) {
      const minutes = Math.max(0, Math.floor((now - issued.expiresAt) / 60_000));
      return hubSpotError(
        401,
        "EXPIRED_AUTHENTICATION",
        `The OAuth token used to make this call expired ${minutes} minute(s) ago.`,
      );
    }
    issued.uses++;
    return undefined;
  }

  /** Every OAuth access token stops working now, as after HubSpot rotates them. */
  expireAll(): void {
    for (const [token, issued] of this.issued)
      this.issued.set(token, { ...issued, expiresAt: this.now() - 1 });
  }

  revoke(token: string): void {
    this.privateTokens.delete(token);
    this.issued.delete(token);
  }
}
