import { z } from "zod";

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/**
 * A pointer to a secret, never the secret: config files end up in git and in `config validate`
 * output. The private member makes the type nominal, so `Resolved<T>` can find refs by type.
 */
export class SecretRef {
  private readonly nominal = true;
  constructor(
    readonly kind: "env" | "file",
    readonly target: string,
  ) {}

  toString(): string {
    return `${this.kind}:${this.target}`;
  }

  toJSON(): string {
    return this.nominal ? this.toString() : "";
  }
}

const HOW_TO =
  'write "env:VAR_NAME" to read it from an environment variable or "file:/path/to/secret" to read it from a file';

export const SecretRefSchema = z.string().transform((value, ctx) => {
  if (value.startsWith("env:")) {
    const name = value.slice(4);
    if (ENV_NAME.test(name)) return new SecretRef("env", name);
    ctx.addIssue({ code: "custom", message: `"${value}" is not a valid environment variable name` });
    return z.NEVER;
  }
  if (value.startsWith("file:")) {
    const path = value.slice(5);
    if (path !== "") return new SecretRef("file", path);
    ctx.addIssue({ code: "custom", message: '"file:" needs a path' });
    return z.NEVER;
  }
  ctx.addIssue({ code: "custom", message: `secrets must not be written into the config file; ${HOW_TO}` });
  return z.NEVER;
});

/** The config with every SecretRef replaced by the secret's value. */
export type Resolved<T> = T extends SecretRef
  ? string
  : T extends readonly (infer U)[]
    ? Resolved<U>[]
    : T extends object
      ? { [K in keyof T]: Resolved<T[K]> }
      : T;
