/**
 * compose.yaml cannot be run here (no Docker engine): this checks what can be checked without
 * one. It parses, its services are wired as documented, and every variable it gives Herald is
 * one `loadConfig()` reads, with a value it accepts.
 */
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { loadConfig } from "../src/config.ts";

interface Service {
  readonly image?: string;
  readonly build?: string;
  readonly environment?: Record<string, string>;
  readonly volumes?: readonly string[];
  readonly ports?: readonly string[];
  readonly healthcheck?: { readonly test?: readonly string[] };
  readonly depends_on?: Record<string, { readonly condition?: string }>;
}

const compose = parse(readFileSync(new URL("../compose.yaml", import.meta.url), "utf8"), {
  strict: true,
  uniqueKeys: true,
}) as { services: Record<string, Service>; volumes: Record<string, unknown> };
const { postgres, web, worker } = compose.services;
const configSource = readFileSync(new URL("../src/config.ts", import.meta.url), "utf8");

/** Compose's `${NAME:-default}` interpolation, with nothing set. */
function interpolate(value: string): string {
  return value.replace(/\$\{[A-Z_]+(?::?-([^}]*))?\}/g, (_, fallback?: string) => fallback ?? "");
}

describe("compose.yaml", () => {
  it("runs PostgreSQL from the official image, on a named volume, with a pg_isready check", () => {
    expect(postgres?.image).toMatch(/^postgres:1[67]$/);
    expect(postgres?.volumes).toContain("postgres:/var/lib/postgresql/data");
    expect(postgres?.healthcheck?.test?.join(" ")).toMatch(/pg_isready/);
    expect(Object.keys(compose.volumes)).toEqual(["postgres", "keys"]);
  });

  it("builds web and worker as the one image, starting once their dependencies are healthy", () => {
    for (const service of [web, worker]) {
      expect(service?.build).toBe(".");
      expect(service?.image).toBe("herald");
      expect(service?.volumes).toEqual(["./articles:/app/articles:ro", "keys:/app/keys"]);
      expect(service?.depends_on?.postgres?.condition).toBe("service_healthy");
    }
    // The first start creates the keys: the worker must not race the web process to it.
    expect(worker?.depends_on?.web?.condition).toBe("service_healthy");
    expect(web?.ports).toEqual(["127.0.0.1:8080:8080"]);
    const [exec, node, flag, script] = web?.healthcheck?.test ?? [];
    expect([exec, node, flag]).toEqual(["CMD", "node", "-e"]);
    expect(script).toContain("/readyz");
    expect(() => new Function(script ?? "(")).not.toThrow();
    expect(worker?.ports).toBeUndefined();
  });

  it("gives Herald only variables it reads, with values it accepts", () => {
    for (const [role, service] of [
      ["web", web],
      ["worker", worker],
    ] as const) {
      const env = Object.fromEntries(
        Object.entries(service?.environment ?? {}).map(([name, value]) => [
          name,
          interpolate(value),
        ]),
      );
      for (const name of Object.keys(env)) {
        expect(configSource, name).toMatch(new RegExp(`\\bread(<[^>]*>)?\\("${name}"`));
      }
      const config = loadConfig(env);
      expect(config.role).toBe(role);
      expect(config.databaseUrl?.host).toBe("postgres:5432");
      expect(config.publicUrl.href).toBe("http://localhost:8080/");
      expect(config.articlesDir).toBe("/app/articles");
      expect(config.keysDir).toBe("/app/keys");
    }
  });
});
