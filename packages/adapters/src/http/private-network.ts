import { BlockList, isIP } from "node:net";

// Loopback, private, link-local, CGNAT, unspecified, multicast and reserved ranges: an outbound webhook
// must never reach the cluster's own services or the cloud metadata endpoint (169.254.169.254).
const blocked = new BlockList();
for (const [network, prefix] of [
  ["0.0.0.0", 8],
  ["10.0.0.0", 8],
  ["100.64.0.0", 10],
  ["127.0.0.0", 8],
  ["169.254.0.0", 16],
  ["172.16.0.0", 12],
  ["192.0.0.0", 24],
  ["192.168.0.0", 16],
  ["198.18.0.0", 15],
  ["224.0.0.0", 4],
  ["240.0.0.0", 4],
] as const) {
  blocked.addSubnet(network, prefix, "ipv4");
}
for (const [network, prefix] of [
  ["::", 128],
  ["::1", 128],
  ["fc00::", 7],
  ["fe80::", 10],
  ["fec0::", 10],
  ["ff00::", 8],
  ["64:ff9b:1::", 48],
  // 6to4 and Teredo tunnel to IPv4 hosts we cannot see from here.
  ["2002::", 16],
  ["2001::", 32],
] as const) {
  blocked.addSubnet(network, prefix, "ipv6");
}

function embeddedIpv4(ip: string): string | undefined {
  // IPv4-mapped (::ffff:a.b.c.d) and NAT64 (64:ff9b::a.b.c.d) addresses reach the IPv4 host inside.
  const dotted = /^(?:::ffff:|64:ff9b::)(\d+\.\d+\.\d+\.\d+)$/i.exec(ip)?.[1];
  if (dotted !== undefined) return dotted;
  const hex = /^(?:::ffff:|64:ff9b::)([0-9a-f]{1,4}):([0-9a-f]{1,4})$/i.exec(ip);
  if (hex?.[1] === undefined || hex[2] === undefined) return undefined;
  const high = parseInt(hex[1], 16);
  const low = parseInt(hex[2], 16);
  return `${high >> 8}.${high & 255}.${low >> 8}.${low & 255}`;
}

/** True for addresses an outbound request must not reach unless the destination allows private networks. */
export function isPrivateAddress(ip: string): boolean {
  const bare = ip.replace(/^\[|\]$/g, "").replace(/%.*$/, "");
  const version = isIP(bare);
  if (version === 4) return blocked.check(bare, "ipv4");
  if (version !== 6) return true; // Not an address at all: refuse rather than guess.
  const inner = embeddedIpv4(bare);
  if (inner !== undefined) return blocked.check(inner, "ipv4");
  return blocked.check(bare, "ipv6");
}
