import { execFile } from "node:child_process";
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { promisify } from "node:util";

const run = promisify(execFile);

/** PEM files of a throwaway CA and the certificates it signed, for TLS tests against local servers. */
export interface TestPki {
  readonly caFile: string;
  readonly serverCertFile: string;
  readonly serverKeyFile: string;
  /** The server's key followed by its certificate: the file a `ssl.keystore.type=PEM` Kafka keystore reads. */
  readonly serverKeystoreFile: string;
  readonly clientCertFile: string;
  readonly clientKeyFile: string;
}

async function openssl(dir: string, args: readonly string[]): Promise<void> {
  await run("openssl", [...args], { cwd: dir });
}

async function signedCert(dir: string, name: string, subject: string, extensions: string): Promise<void> {
  await openssl(dir, [
    "req",
    "-newkey",
    "rsa:2048",
    "-nodes",
    "-keyout",
    `${name}.key`,
    "-out",
    `${name}.csr`,
    "-subj",
    subject,
  ]);
  await writeFile(join(dir, `${name}.ext`), extensions);
  await openssl(dir, [
    "x509",
    "-req",
    "-in",
    `${name}.csr`,
    "-CA",
    "ca.pem",
    "-CAkey",
    "ca.key",
    "-CAcreateserial",
    "-out",
    `${name}.pem`,
    "-days",
    "2",
    "-sha256",
    "-extfile",
    `${name}.ext`,
  ]);
}

/**
 * Creates a CA, a server certificate for 127.0.0.1 and localhost, and a client certificate, with
 * the machine's openssl. Keys are unencrypted PKCS#8, which both Node and Kafka's PEM keystore read.
 */
export async function createTestPki(dir: string): Promise<TestPki> {
  await openssl(dir, [
    "req",
    "-x509",
    "-newkey",
    "rsa:2048",
    "-nodes",
    "-keyout",
    "ca.key",
    "-out",
    "ca.pem",
    "-days",
    "2",
    "-sha256",
    "-subj",
    "/CN=handoff-sync test CA",
    "-addext",
    "basicConstraints=critical,CA:TRUE",
    "-addext",
    "keyUsage=critical,keyCertSign,cRLSign",
  ]);
  await signedCert(
    dir,
    "server",
    "/CN=localhost",
    "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth,clientAuth\n",
  );
  await signedCert(dir, "client", "/CN=handoff-sync-client", "extendedKeyUsage=clientAuth\n");
  const keystore = join(dir, "server-keystore.pem");
  await writeFile(
    keystore,
    (await readFile(join(dir, "server.key"), "utf8")) + (await readFile(join(dir, "server.pem"), "utf8")),
  );
  return {
    caFile: join(dir, "ca.pem"),
    serverCertFile: join(dir, "server.pem"),
    serverKeyFile: join(dir, "server.key"),
    serverKeystoreFile: keystore,
    clientCertFile: join(dir, "client.pem"),
    clientKeyFile: join(dir, "client.key"),
  };
}
