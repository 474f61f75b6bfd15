// bench/RESULTS.md, one section at a time: a benchmark run alone with `--write` replaces its own section
// (from its "## " heading to the next) or adds it at the end, and leaves the others as they are.

import { existsSync, readFileSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { fileURLToPath } from "node:url";

export function writeSection(lines: string[]): void {
	const file = path.join(path.dirname(fileURLToPath(import.meta.url)), "../../bench/RESULTS.md");
	const text = existsSync(file) ? readFileSync(file, "utf8") : "# Benchmark results\n\n";
	const start = text.indexOf(lines[0]!);
	const next = start < 0 ? -1 : text.indexOf("\n## ", start + 1);
	const block = lines.join("\n") + "\n";
	writeFileSync(file, start < 0 ? text.trimEnd() + "\n\n" + block : text.slice(0, start) + block + (next < 0 ? "" : text.slice(next)));
}
