import { describe, expect, it } from "vitest";
import {
  atPath,
  compactJson,
  JsonTextError,
  MAX_DEPTH,
  nestingDepth,
  parseJson,
  stringifyJson,
} from "../../../src/domain/json-text.ts";
import { readWebhookBody } from "../../../src/domain/webhook-body.ts";

describe("exact JSON", () => {
  const text =
    '{ "b": 1, "10": [true, null, -1.50e+3], "2": {"big": 123456789012345678901234567890}, "s": "a\\"b\\u00e9\\n" }';

  it("keeps digits and key order (JSON.parse keeps neither)", () => {
    expect(JSON.stringify(JSON.parse(text))).not.toBe(compactJson(text));
    expect(stringifyJson(parseJson(text))).toBe(
      '{"b":1,"10":[true,null,-1.50e+3],"2":{"big":123456789012345678901234567890},"s":"a\\"bé\\n"}',
    );
    expect(compactJson(text)).toBe(
      '{"b":1,"10":[true,null,-1.50e+3],"2":{"big":123456789012345678901234567890},"s":"a\\"b\\u00e9\\n"}',
    );
  });

  it("follows paths through objects and arrays; the last duplicate key wins, as in JSON.parse", () => {
    const tree = parseJson(text);
    expect(atPath(tree, ["2", "big"])).toEqual({ type: "literal", text: "123456789012345678901234567890" });
    expect(atPath(tree, ["10", "2"])).toEqual({ type: "literal", text: "-1.50e+3" });
    expect(atPath(tree, ["10", "x"])).toBeUndefined();
    expect(atPath(tree, ["s", "0"])).toBeUndefined();
    expect(atPath(parseJson('{"a":1,"a":2}'), ["a"])).toEqual({ type: "literal", text: "2" });
  });

  it("refuses what isn't JSON, and nesting beyond MAX_DEPTH, with JsonTextError (never a stack overflow)", () => {
    for (const bad of ["{", "[1,]", "01", "{'a':1}", "NaN", '"\u0001"'])
      expect(() => parseJson(bad)).toThrow(JsonTextError);
    const deep = "[".repeat(MAX_DEPTH + 1) + "]".repeat(MAX_DEPTH + 1);
    expect(() => parseJson(deep)).toThrow(JsonTextError);
    expect(nestingDepth(deep)).toBe(MAX_DEPTH + 1);
    expect(nestingDepth('{"a":"[[[{{{","b":[{}]}')).toBe(3);
  });

  it("handles a 1 MiB string without running out of stack", () => {
    const big = JSON.stringify({ blob: 'x\\"y'.repeat(256 * 1024) });
    expect(atPath(parseJson(big), ["blob"])).toMatchObject({ type: "string" });
    expect(compactJson(big)).toBe(big);
  });
});

describe("webhook bodies", () => {
  it("an empty body is {}; JSON that isn't an object is the payload", () => {
    expect(readWebhookBody("")).toEqual({ payload: "{}", dagRunId: undefined });
    expect(readWebhookBody("  \n")).toEqual({ payload: "{}", dagRunId: undefined });
    expect(readWebhookBody(" [1, 2] ")).toEqual({ payload: "[1,2]", dagRunId: undefined });
    expect(readWebhookBody('"x"')).toEqual({ payload: '"x"', dagRunId: undefined });
    expect(readWebhookBody("null")).toEqual({ payload: "null", dagRunId: undefined });
  });

  it("Dagu's envelope only when the keys are a subset of {payload, dagRunId}", () => {
    expect(readWebhookBody('{"payload": {"n": 10000000000000000001}, "dagRunId": "r1"}')).toEqual({
      payload: '{"n":10000000000000000001}',
      dagRunId: "r1",
    });
    expect(readWebhookBody('{"dagRunId": "r2"}')).toEqual({ payload: "{}", dagRunId: "r2" });
    expect(readWebhookBody("{}")).toEqual({ payload: "{}", dagRunId: undefined });
    expect(readWebhookBody('{"payload": 1, "other": 2}')).toEqual({
      payload: '{"payload":1,"other":2}',
      dagRunId: undefined,
    });
    expect(readWebhookBody('{"dagRunId": "r3", "branch": "main"}')).toEqual({
      payload: '{"dagRunId":"r3","branch":"main"}',
      dagRunId: "r3",
    });
    expect(readWebhookBody('{"dagRunId": 5, "branch": "main"}').dagRunId).toBeUndefined();
  });

  it("JSON is JSON whatever the Content-Type; a form is a form only when signed as one, or when it isn't JSON", () => {
    const form = "application/x-www-form-urlencoded";
    expect(readWebhookBody('{"branch":"dev"}', form).payload).toBe('{"branch":"dev"}');
    expect(readWebhookBody('{"branch":"dev"}', form, true).payload).toBe('{"{\\"branch\\":\\"dev\\"}":""}');
    expect(readWebhookBody("branch=dev", form).payload).toBe('{"branch":"dev"}');
    expect(readWebhookBody("true", form).payload).toBe("true");
    expect(readWebhookBody("payload=%7B%22a%22%3A1%7D", form, true).payload).toBe('{"a":1}');
    expect(() => readWebhookBody("branch=dev", "application/json")).toThrow(JsonTextError);
  });

  it("drops the top-level fields named like a sender's credential; nested ones and look-alikes are data", () => {
    const form = "application/x-www-form-urlencoded";
    expect(readWebhookBody("token=t0k&user_name=ada&text=deploy+api", form, true).payload).toBe(
      '{"user_name":"ada","text":"deploy api"}',
    );
    expect(readWebhookBody("token=t0k&branch=dev", form).payload).toBe('{"branch":"dev"}');
    // GitHub's form variant: the JSON of its one `payload` field.
    expect(readWebhookBody(`payload=${encodeURIComponent('{"ref":"main","client_secret":"s"}')}`, form, true)).toEqual({
      payload: '{"ref":"main"}',
      dagRunId: undefined,
    });
    // Exact otherwise: digits, key order; the dagRunId still names the run.
    expect(
      readWebhookBody(
        '{"dagRunId": "r4", "api_key": "k", "X-Api-Key": "k", "apiKey": "k", "password": "p", "n": 10000000000000000001, "signature": {"token": "t"}}',
      ),
    ).toEqual({ payload: '{"dagRunId":"r4","n":10000000000000000001}', dagRunId: "r4" });
    expect(readWebhookBody('{"payload": {"branch": "main", "verificationToken": "t"}, "dagRunId": "r5"}')).toEqual({
      payload: '{"branch":"main"}',
      dagRunId: "r5",
    });
    const data =
      '{"token_type":"bearer","total_tokens":12,"authorizations":[{"team_id":"T1"}],"personal_access_token_request":{"id":1},"installation":{"access_tokens_url":"u"},"repository":{"deploy":{"password":"kept"}},"author":"ada","key":"k"}';
    expect(readWebhookBody(data).payload).toBe(data);
    expect(readWebhookBody('[{"token": "t"}]').payload).toBe('[{"token":"t"}]');
  });

  it("refuses malformed JSON, an envelope's non-string dagRunId, and too deep nesting", () => {
    for (const bad of ["{", '{"dagRunId": 5}', "[".repeat(300) + "]".repeat(300)])
      expect(() => readWebhookBody(bad)).toThrow(JsonTextError);
  });
});
