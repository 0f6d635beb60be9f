import { execFile } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { posix } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";

const root = fileURLToPath(new URL("..", import.meta.url));
const read = (file: string) => readFileSync(new URL(`../${file}`, import.meta.url), "utf8");

interface Manifest {
  name: string;
  version: string;
  license: string;
  bin: Record<string, string>;
  engines: Record<string, string>;
  dependencies: Record<string, string>;
  devDependencies: Record<string, string>;
}
const pkg = JSON.parse(read("package.json")) as Manifest;

/** What `npm pack` would put in the tarball, without running the build. */
async function packedFiles(): Promise<Set<string>> {
  const { stdout } = await promisify(execFile)(
    "npm",
    ["pack", "--dry-run", "--json", "--ignore-scripts"],
    { cwd: root },
  );
  const [result] = JSON.parse(stdout) as [{ files: { path: string }[] }];
  return new Set(result.files.map((f) => f.path));
}

describe("the package", () => {
  it("carries the MIT license its manifest names", () => {
    expect(pkg.license).toBe("MIT");
    const license = read("LICENSE");
    expect(license).toMatch(/^MIT License\n\nCopyright \(c\) 2026 oauthmanager contributors\n/);
    expect(license).toContain('THE SOFTWARE IS PROVIDED "AS IS"');
  });

  it("has a lock file that matches the manifest, so npm install leaves it as it is", () => {
    const lock = JSON.parse(read("package-lock.json")) as { packages: { "": Manifest } };
    const locked = lock.packages[""];
    for (const field of [
      "name",
      "version",
      "license",
      "engines",
      "dependencies",
      "devDependencies",
    ] as const) {
      expect(locked[field], field).toEqual(pkg[field]);
    }
    // npm stores bin paths without the leading "./".
    const bin = Object.fromEntries(
      Object.entries(pkg.bin).map(([name, path]) => [name, posix.normalize(path)]),
    );
    expect(locked.bin).toEqual(bin);
  });

  it("lets consumers share compatible runtime dependencies, while tools stay pinned", () => {
    for (const [name, range] of Object.entries(pkg.dependencies)) {
      expect(range, name).toMatch(/^\^\d+\.\d+\.\d+$/);
    }
    for (const [name, version] of Object.entries(pkg.devDependencies)) {
      expect(version, name).toMatch(/^\d+\.\d+\.\d+$/);
    }
  });

  it("builds its bin from a script that node can run directly", () => {
    for (const path of Object.values(pkg.bin)) {
      const source = posix
        .normalize(path)
        .replace(/^dist\//, "src/")
        .replace(/\.js$/, ".ts");
      expect(existsSync(new URL(`../${source}`, import.meta.url)), source).toBe(true);
      expect(read(source)).toMatch(/^#!\/usr\/bin\/env node\n/);
    }
  });

  it("ships the sources its maps point to, and no tests", async () => {
    const files = await packedFiles();
    expect(files).toContain("LICENSE");
    expect(files).toContain("README.md");
    const sources = [...files].filter((f) => f.startsWith("src/"));
    expect(sources).toContain("src/index.ts");
    expect(sources.filter((f) => f.endsWith(".test.ts") || f.includes("test-support"))).toEqual([]);
    // Maps exist only after a build (CI builds first); each must resolve inside the package.
    for (const map of [...files].filter((f) => f.endsWith(".map"))) {
      const { sources: mapped } = JSON.parse(read(map)) as { sources: string[] };
      for (const source of mapped) {
        expect(files, map).toContain(posix.join(posix.dirname(map), source));
      }
    }
  });
});
