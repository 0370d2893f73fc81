import { describe, expect, it } from "vitest";
import { maskHeaders } from "./mask-headers.js";

describe("maskHeaders", () => {
  it("masks credentials and keeps the rest", () => {
    expect(
      maskHeaders({
        Authorization: "Bearer abc.def",
        "proxy-authorization": "Basic dXNlcjpwYXNz",
        "x-api-key": "k",
        "webhook-signature": "v1,abc= v1a,def=",
        "content-type": "application/json",
        cookie: "sid=1",
      }),
    ).toEqual({
      Authorization: "Bearer ****",
      "proxy-authorization": "Basic ****",
      "x-api-key": "****",
      "webhook-signature": "v1,**** v1a,****",
      "content-type": "application/json",
      cookie: "****",
    });
  });

  it("masks an authorization value without a scheme whole", () => {
    expect(maskHeaders({ authorization: "token" })).toEqual({ authorization: "****" });
  });
});
