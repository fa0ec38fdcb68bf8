#!/usr/bin/env node
// The `pgshift` command of the npm package: runs the binary that the package for this
// platform (an optional dependency, installed by npm with no download script) holds.
"use strict";

const { spawn } = require("child_process");

const PACKAGES = {
  "linux x64": "pgshift-linux-x64",
  "linux arm64": "pgshift-linux-arm64",
  "darwin x64": "pgshift-darwin-x64",
  "darwin arm64": "pgshift-darwin-arm64",
};

function fail(message, help) {
  process.stderr.write(`error: ${message}\n  help: ${help}\n`);
  process.exit(2);
}

function binary() {
  if (process.env.PGSHIFT_BINARY) {
    return process.env.PGSHIFT_BINARY;
  }
  const platform = `${process.platform} ${process.arch}`;
  const name = PACKAGES[platform];
  if (!name) {
    fail(
      `pgshift has no npm binary for ${platform}`,
      "install it another way (docs/install.md: the release archive, pip, or cargo install), or set PGSHIFT_BINARY to a pgshift binary"
    );
  }
  try {
    return require.resolve(`${name}/bin/pgshift`);
  } catch (e) {
    fail(
      `the package ${name}, which holds pgshift's binary for ${platform}, is not installed`,
      `npm installs it with pgshift as an optional dependency: reinstall without --no-optional or --omit=optional (npm install --save-dev pgshift ${name})`
    );
  }
}

const child = spawn(binary(), process.argv.slice(2), { stdio: "inherit" });
child.on("error", (e) => fail(`cannot run pgshift's binary: ${e.message}`, "reinstall the package (npm install --save-dev pgshift)"));
// A terminal's Ctrl-C reaches pgshift itself (same process group): wait for it to stop. A
// SIGTERM or SIGHUP sent to this launcher alone (a container's PID 1, a CI runner) is passed
// on, so that a deploy rolls back its current migration as it does when run directly.
process.on("SIGINT", () => {});
for (const signal of ["SIGTERM", "SIGHUP"]) {
  process.on(signal, () => child.kill(signal));
}
child.on("exit", (code, signal) => {
  if (signal) {
    process.removeAllListeners(signal);
    process.kill(process.pid, signal);
  } else {
    process.exit(code === null ? 1 : code);
  }
});
