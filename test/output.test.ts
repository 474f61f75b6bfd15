// The printed output of a test run: mocha with the project's config and reporter (test/lib/reporter.cjs)
// run in a child process on the small files of test/fixtures/output/, and the text asserted on: one
// tree, skip reasons said once, "skipped" (never "pending"), the brokers in one line above the one
// summary line; one file named runs just that file, --grep just that suite. Also: .gitignore names
// nothing tracked, and the README's Tests section shows how to run one file and one suite.

import * as assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { ROOT } from "./lib/moddable.js";

const MOCHA = join(ROOT, "node_modules", "mocha", "bin", "mocha.js");
const TREE = "build/test/fixtures/output/tree.js";
const OTHER = "build/test/fixtures/output/other.js";
const SUMMARY = /^\d+ passed, \d+ failed, \d+ skipped$/;

/** mocha as `npx mocha ...args` in the project root would run it (so with .mocharc.json); its stdout's lines. */
function mocha(...args: string[]): string[] {
	const run = spawnSync(process.execPath, [MOCHA, ...args], {
		cwd: ROOT,
		encoding: "utf8",
		timeout: 30_000,
		env: { ...process.env, FORCE_COLOR: "0", NO_COLOR: "1" },
	});
	assert.equal(run.error, undefined, `mocha did not run: ${run.error}`);
	return run.stdout.split("\n").filter((line, i, all) => i < all.length - 1 || line !== "");
}

describe("test output", function () {
	this.timeout(60_000);
	let tree: string[];
	before(() => {
		tree = mocha(TREE);
	});

	it("ends with the one summary line, and says it once", () => {
		assert.equal(tree.at(-1), "4 passed, 0 failed, 2 skipped", tree.join("\n"));
		assert.deepEqual(tree.filter((line) => SUMMARY.test(line)), ["4 passed, 0 failed, 2 skipped"]);
	});

	it("says skipped, never pending (nor mocha's passing and failing counts)", () => {
		assert.deepEqual(tree.filter((line) => /pending|passing|failing/i.test(line)), []);
	});

	it("gives a skip reason once, under its suite, before the skipped tests", () => {
		const reasons = tree.filter((line) => line.includes("the reason, said once"));
		assert.deepEqual(reasons.map((line) => line.trim()), ["[skipped] the skipping suite: the reason, said once"]);
		const at = tree.indexOf(reasons[0]!);
		assert.equal(tree[at - 1]!.trim(), "a suite that skips");
		assert.deepEqual(tree.slice(at + 1, at + 3).map((line) => line.trim()), ["- would run first", "- would run second"]);
	});

	it("says which brokers served in one line above the summary, not one line per start in the tree", () => {
		assert.deepEqual(tree.filter((line) => /^\s*broker:/.test(line)), []);
		const brokers = tree.filter((line) => line.includes("brokers started:"));
		assert.equal(brokers.length, 1, tree.join("\n"));
		assert.equal(tree.at(-2), brokers[0]);
		assert.match(brokers[0]!, /brokers started: aedes \S+ twice$/);
	});

	it("runs just the file named (npx mocha <file>), not the whole suite", () => {
		const other = mocha(OTHER);
		assert.equal(other.at(-1), "1 passed, 0 failed, 0 skipped", other.join("\n"));
		assert.ok(other.some((line) => line.includes("passes in the other file")));
		assert.ok(!tree.some((line) => line.includes("passes in the other file")));
		assert.match(other.at(-2)!, /brokers started: none$/);
	});

	it("runs just the suite --grep names", () => {
		const grep = mocha(TREE, OTHER, "--grep", "a suite that passes");
		assert.equal(grep.at(-1), "2 passed, 0 failed, 0 skipped", grep.join("\n"));
		assert.deepEqual(grep.filter((line) => line.includes("✔")).map((line) => line.trim()), ["✔ passes", "✔ passes too"]);
	});
});

describe("repository hygiene", function () {
	it(".gitignore names no tracked file", function () {
		const git = spawnSync("git", ["ls-files", "--cached", "--ignored", "--exclude-standard"], { cwd: ROOT, encoding: "utf8" });
		if (git.error || git.status !== 0) return this.skip(); // not a git checkout
		assert.equal(git.stdout, "");
	});

	it("the README's Tests section shows how to run everything, one file and one suite, and the commands work", () => {
		const readme = readFileSync(join(ROOT, "README.md"), "utf8");
		const section = /\n## Tests\n([\s\S]*?)\n## /.exec(readme)?.[1] ?? "";
		assert.match(section, /`npm test`/);
		const file = /npx mocha (build\/test\/\S+\.test\.js)/.exec(section)?.[1];
		assert.ok(file, "no `npx mocha build/test/....test.js` in the Tests section");
		assert.ok(existsSync(join(ROOT, file)), `${file}, which the README runs, is not built`);
		assert.match(section, /--grep /);
	});
});
