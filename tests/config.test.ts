import { chmodSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { ConfigError, checkFolders, loadConfig } from "../src/config.ts";
import { readEnvironment } from "../src/env.ts";
import { tempDir } from "./helpers/articles.ts";
import { configProblems } from "./helpers/config.ts";

describe("loadConfig()", () => {
  it("has the contract's defaults", () => {
    const config = loadConfig({});
    expect(config).toMatchObject({
      port: 8080,
      scanSchedule: "* * * * *",
      watch: true,
      accountUsername: "news",
      allowPrivateAddress: false,
      databaseUrl: undefined,
      redisUrl: undefined,
    });
    expect(config.publicUrl.href).toBe("http://localhost:8080/");
    expect(config.articlesDir).toBe(join(process.cwd(), "articles"));
    expect(config.keysDir).toBe(join(process.cwd(), "keys"));
    expect(config.dataDir).toBe(join(process.cwd(), "data"));
  });

  it("reads WATCH as a boolean, on by default, and names a bad value", () => {
    expect(loadConfig({ WATCH: "false" }).watch).toBe(false);
    expect(loadConfig({ WATCH: "true" }).watch).toBe(true);
    expect(configProblems({ WATCH: "sometimes" })).toEqual([
      'WATCH must be "true" or "false" (got "sometimes").',
    ]);
  });

  it("derives PUBLIC_URL from PORT", () => {
    expect(loadConfig({ PORT: "9000" }).publicUrl.href).toBe("http://localhost:9000/");
  });

  it("reads every variable", () => {
    const config = loadConfig({
      PORT: "3000",
      PUBLIC_URL: "https://news.test",
      ARTICLES_DIR: "/srv/articles",
      KEYS_DIR: "/srv/keys",
      DATA_DIR: "/srv/data",
      SCAN_SCHEDULE: "*/10 * * * * *",
      ACCOUNT_USERNAME: "zeitung",
      ALLOW_PRIVATE_ADDRESS: "true",
      DATABASE_URL: "postgres://localhost/herald",
      REDIS_URL: "redis://localhost:6379",
    });
    expect(config).toMatchObject({
      port: 3000,
      articlesDir: "/srv/articles",
      keysDir: "/srv/keys",
      dataDir: "/srv/data",
      scanSchedule: "*/10 * * * * *",
      accountUsername: "zeitung",
      allowPrivateAddress: true,
    });
    expect(config.publicUrl.href).toBe("https://news.test/");
    expect(config.databaseUrl?.href).toBe("postgres://localhost/herald");
    expect(config.redisUrl?.protocol).toBe("redis:");
  });

  it("reports every bad value at once, one line each, naming the variable", () => {
    expect(
      configProblems({
        PORT: "eighty",
        PUBLIC_URL: "news.test/path",
        SCAN_SCHEDULE: "every minute",
        ALLOW_PRIVATE_ADDRESS: "maybe",
        DATABASE_URL: "mysql://db",
        REDIS_URL: "localhost:6379",
        ACCOUNT_USERNAME: "no spaces",
      }),
    ).toEqual([
      'PORT must be a whole number from 0 to 65535 (got "eighty").',
      'PUBLIC_URL must be an origin like https://news.example (got "news.test/path").',
      'SCAN_SCHEDULE must be a cron expression of 5 or 6 fields, like */5 * * * * (got "every minute").',
      'ACCOUNT_USERNAME must be 1 to 30 letters, digits or underscores (got "no spaces").',
      'ALLOW_PRIVATE_ADDRESS must be "true" or "false" (got "maybe").',
      'DATABASE_URL must be a URL starting with postgres:// or postgresql:// (got "mysql://db").',
      'REDIS_URL must be a URL starting with redis:// or rediss:// (got "localhost:6379").',
    ]);
  });

  it.each([
    ["https://news.test/blog", "no path"],
    ["ftp://news.test", "https://"],
    ["https://news.test/?a=1", "no path"],
  ])("refuses PUBLIC_URL %s", (url, why) => {
    expect(configProblems({ PUBLIC_URL: url })[0]).toContain(why);
  });

  it("reads TIME_ZONE as an IANA name, the system's by default, and names a bad one", () => {
    expect(loadConfig({ TIME_ZONE: "Europe/Berlin" }).timeZone).toBe("Europe/Berlin");
    expect(loadConfig({}).timeZone).toBe(Intl.DateTimeFormat().resolvedOptions().timeZone);
    expect(configProblems({ TIME_ZONE: "Mars/Olympus" })).toEqual([
      'TIME_ZONE must be an IANA time zone like Europe/Berlin or America/New_York (got "Mars/Olympus").',
    ]);
  });

  it("takes the site's language from its articles unless SITE_LANGUAGE says it", () => {
    expect(loadConfig({})).toMatchObject({ siteLanguage: "en", languageFromArticles: true });
    expect(loadConfig({ SITE_LANGUAGE: "de-AT" })).toMatchObject({
      siteLanguage: "de-AT",
      languageFromArticles: false,
    });
  });

  it("names the site after the account, else the host without its port, and says no tagline", () => {
    const config = loadConfig({ PUBLIC_URL: "http://news.test:8080" });
    expect(config.siteTitle).toBe("news.test");
    expect(config.siteDescription).toBeUndefined();
    expect(config.account.bio).toBeUndefined();
    expect(loadConfig({ ACCOUNT_NAME: "Die Zeitung" }).siteTitle).toBe("Die Zeitung");
    expect(loadConfig({ SITE_TITLE: "Blatt" }).account.name).toBe("Blatt");
  });

  it("reads ALIASES as actor URLs and handles, separated by commas or spaces", () => {
    const config = loadConfig({
      ALIASES: "https://old.test/users/news, @news@old.test\nacct:news@other.test  zeitung@x.test",
    });
    expect(config.account.aliases).toEqual([
      "https://old.test/users/news",
      "@news@old.test",
      "acct:news@other.test",
      "zeitung@x.test",
    ]);
    expect(loadConfig({}).account.aliases).toEqual([]);
  });

  it("refuses an alias that is neither a URL nor a handle, naming it", () => {
    expect(configProblems({ ALIASES: "@news@old.test, news, ftp://x.test" })).toEqual([
      'ALIASES must list actor URLs (https://…) or handles (@user@host), separated by commas; not "news", "ftp://x.test" (got "@news@old.test, news, ftp://x.test").',
    ]);
  });

  it("reads RELAYS separated by commas and spaces, with optional style prefixes", () => {
    const { relays } = loadConfig({
      RELAYS:
        " https://relay.test/actor,litepub:https://pleroma.test/relay  mastodon:https://r.test/inbox,,https://relay.test/actor#x",
    });
    expect(relays.map((r) => [r.url.href, r.style])).toEqual([
      ["https://relay.test/actor", undefined],
      ["https://pleroma.test/relay", "litepub"],
      ["https://r.test/inbox", "mastodon"],
    ]);
    expect(loadConfig({}).relays).toEqual([]);
  });

  it("names RELAYS and the entry that is not an http(s) URL", () => {
    expect(configProblems({ RELAYS: "https://relay.test/actor relay.test" })).toEqual([
      'RELAYS must list relay actor URLs like https://relay.example/actor, optionally prefixed mastodon: or litepub: ("relay.test" is not one) (got "https://relay.test/actor relay.test").',
    ]);
    expect(configProblems({ RELAYS: "litepub:ftp://relay.test" })[0]).toMatch(
      /^RELAYS must list relay actor URLs .*\("litepub:ftp:\/\/relay\.test" is not one\)/,
    );
    expect(configProblems({ RELAYS: "https://u:p@relay.test/actor" })[0]).toMatch(
      /^RELAYS must list URLs without a user name or password/,
    );
  });

  it("reads HIDE_REACTIONS_FROM as actor URLs, handles and server names", () => {
    const { hideReactionsFrom } = loadConfig({
      HIDE_REACTIONS_FROM: "https://a.test/users/x, @Troll@b.test spam.example,127.0.0.1:3000",
    });
    expect(hideReactionsFrom).toEqual([
      { actor: "https://a.test/users/x" },
      { user: "Troll", host: "b.test" },
      { domain: "spam.example" },
      { domain: "127.0.0.1:3000" },
    ]);
    expect(loadConfig({}).hideReactionsFrom).toEqual([]);
    expect(configProblems({ HIDE_REACTIONS_FROM: "troll" })[0]).toMatch(
      /^HIDE_REACTIONS_FROM must list actor URLs, handles \(@user@host\) or server names \(spam\.example\); not "troll"/,
    );
  });

  it("holds replies for review by default, and reads REPLIES and REPLIES_TRUST", () => {
    expect(loadConfig({})).toMatchObject({ replies: "review", repliesTrust: "approved" });
    expect(loadConfig({ REPLIES: "Auto", REPLIES_TRUST: "none" })).toMatchObject({
      replies: "auto",
      repliesTrust: "none",
    });
    expect(loadConfig({ REPLIES: "off" }).replies).toBe("off");
    expect(configProblems({ REPLIES: "moderate", REPLIES_TRUST: "all" })).toEqual([
      'REPLIES must be one of review, auto, off (got "moderate").',
      'REPLIES_TRUST must be one of approved, none (got "all").',
    ]);
  });

  it("lets anyone quote by default, and reads QUOTE_POLICY", () => {
    expect(loadConfig({}).quotePolicy).toBe("public");
    expect(loadConfig({ QUOTE_POLICY: "Followers" }).quotePolicy).toBe("followers");
    expect(loadConfig({ QUOTE_POLICY: "nobody" }).quotePolicy).toBe("nobody");
    expect(configProblems({ QUOTE_POLICY: "friends" })).toEqual([
      'QUOTE_POLICY must be one of public, followers, nobody (got "friends").',
    ]);
  });

  it("reads TRUST_PROXY as a hop count or a list of addresses, ranges and range names", () => {
    expect(loadConfig({}).trustProxy).toBeUndefined();
    expect(loadConfig({ TRUST_PROXY: "2" }).trustProxy).toBe(2);
    expect(
      loadConfig({ TRUST_PROXY: "loopback, 10.0.0.0/8 fd00::1 192.0.2.1/32" }).trustProxy,
    ).toEqual(["loopback", "10.0.0.0/8", "fd00::1", "192.0.2.1/32"]);
    expect(configProblems({ TRUST_PROXY: "true" })).toEqual([
      'TRUST_PROXY must be the number of proxies in front of Herald, or their addresses or CIDR ranges (or loopback, linklocal, uniquelocal), separated by commas; not "true" (got "true").',
    ]);
    expect(configProblems({ TRUST_PROXY: "loopback,10.0.0.0/33,proxy.test" })[0]).toMatch(
      /^TRUST_PROXY must be .*; not "10\.0\.0\.0\/33", "proxy\.test"/,
    );
  });

  it("refuses a cron expression that does not parse, saying why", () => {
    expect(configProblems({ SCAN_SCHEDULE: "61 * * * *" })[0]).toMatch(
      /^SCAN_SCHEDULE is not a valid cron expression \(minute: .*\) \(got "61 \* \* \* \*"\)\.$/,
    );
  });
});

describe("loadConfig(): SITE_ICON", () => {
  it("takes an .svg, .png or .ico file, and names anything else", () => {
    expect(loadConfig({ SITE_ICON: "/srv/icon.PNG" }).siteIcon).toBe("/srv/icon.PNG");
    expect(loadConfig({}).siteIcon).toBeUndefined();
    expect(configProblems({ SITE_ICON: "icon.gif" })).toEqual([
      'SITE_ICON must be the path of an .svg, .png or .ico file (got "icon.gif").',
    ]);
  });

  it("is checked at start: a missing file stops it", () => {
    const root = tempDir();
    const config = loadConfig({
      ARTICLES_DIR: root,
      KEYS_DIR: root,
      DATA_DIR: root,
      SITE_ICON: join(root, "icon.svg"),
    });
    expect(() => checkFolders(config)).toThrow(/SITE_ICON is not a readable file/);
  });
});

describe("checkFolders()", () => {
  it("creates missing key and data folders", () => {
    const root = tempDir();
    mkdirSync(join(root, "articles"));
    const config = loadConfig({
      ARTICLES_DIR: join(root, "articles"),
      KEYS_DIR: join(root, "k"),
      DATA_DIR: join(root, "d"),
    });
    expect(() => checkFolders(config)).not.toThrow();
  });

  it("names a missing articles folder and a data folder that is a file", () => {
    const root = tempDir();
    writeFileSync(join(root, "file"), "");
    const config = loadConfig({
      ARTICLES_DIR: join(root, "nope"),
      KEYS_DIR: join(root, "k"),
      DATA_DIR: join(root, "file"),
    });
    expect(() => checkFolders(config)).toThrow(ConfigError);
    try {
      checkFolders(config);
    } catch (error) {
      expect((error as ConfigError).problems).toEqual([
        `ARTICLES_DIR does not exist: ${join(root, "nope")}`,
        expect.stringMatching(/^DATA_DIR /),
      ]);
    }
  });

  it.skipIf(process.getuid?.() === 0)("names an unreadable articles folder", () => {
    const root = tempDir();
    mkdirSync(join(root, "a"));
    chmodSync(join(root, "a"), 0o000);
    const config = loadConfig({ ARTICLES_DIR: join(root, "a"), KEYS_DIR: root, DATA_DIR: root });
    expect(() => checkFolders(config)).toThrow(/ARTICLES_DIR is not readable/);
  });
});

describe("readEnvironment()", () => {
  it("reads .env, and the process environment wins", () => {
    const file = join(tempDir(), ".env");
    writeFileSync(file, "PORT=9999\nSITE_TITLE='Die Zeitung'\n# comment\n");
    const env = readEnvironment({ PORT: "1234" }, file);
    expect(env.PORT).toBe("1234");
    expect(env.SITE_TITLE).toBe("Die Zeitung");
  });

  it("is fine without a .env file", () => {
    expect(readEnvironment({ A: "1" }, join(tempDir(), ".env"))).toEqual({ A: "1" });
  });
});
