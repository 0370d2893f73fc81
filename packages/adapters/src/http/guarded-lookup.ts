import { lookup as dnsLookup, type LookupAddress } from "node:dns";
import type { LookupFunction } from "node:net";
import { isPrivateAddress } from "./private-network.js";

/** Raised from inside the connect path; the adapter turns it into a DestinationError. */
export class PrivateNetworkError extends Error {
  static {
    this.prototype.name = "PrivateNetworkError";
  }

  constructor(
    readonly host: string,
    readonly address: string,
  ) {
    super(`${host} resolves to ${address}, a private, loopback or link-local address`);
  }
}

/**
 * A `net.connect` lookup that refuses private addresses. Checking at connect time, on the address
 * actually dialled, closes the DNS-rebinding gap a check before the request would leave open.
 */
export function guardedLookup(resolve: LookupFunction = dnsLookup): LookupFunction {
  return (hostname, options, callback) => {
    resolve(hostname, options, (error, address, family) => {
      if (error) {
        callback(error, address, family);
        return;
      }
      const addresses: LookupAddress[] = Array.isArray(address)
        ? address
        : [{ address, family: family ?? 4 }];
      const bad = addresses.find((entry) => isPrivateAddress(entry.address));
      if (bad !== undefined) {
        callback(Object.assign(new PrivateNetworkError(hostname, bad.address), { code: "EPRIVATE" }), "", 4);
        return;
      }
      callback(null, address, family);
    });
  };
}
