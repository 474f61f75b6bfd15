// Type-checks the firmware (main.ts, modules/, hosts/moddable/) with the project's tsc for both boards,
// against the npm @moddable/typings always and against the installed Moddable SDK's own typings.

import * as assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve, sep } from "node:path";
import { findSdk, ROOT, TSC } from "../lib/moddable.js";
import { reportSkip } from "../lib/output.js";
import type { Sdk } from "../lib/moddable.js";

const HOSTS = join(ROOT, "hosts", "moddable");
const BASE_CONFIG = join(HOSTS, "tsconfig.json");
const LOCAL_TYPINGS = join(HOSTS, "typings");
const EXTRA_TYPINGS = join(HOSTS, "typings-extra");
const NPM_TYPINGS = join(ROOT, "node_modules", "@moddable", "typings");
const BOARD_MODULE = "hosts/platform/board";

interface Board {
	label: string;
	file: string;
}
const BOARDS: Board[] = [
	{ label: "ESP32", file: join(HOSTS, "board-esp32.ts") },
	{ label: "simulator", file: join(HOSTS, "board-sim.ts") },
];

interface TsConfig {
	compilerOptions?: { paths?: Record<string, string[]> };
	files?: string[];
	include?: string[];
}

function version(packageJson: string): string {
	try {
		return (JSON.parse(readFileSync(packageJson, "utf8")) as { version?: string }).version ?? "?";
	}
	catch {
		return "?";
	}
}

const TS_VERSION = version(join(ROOT, "node_modules", "typescript", "package.json"));
const NPM_TYPINGS_VERSION = version(join(NPM_TYPINGS, "package.json"));

function readBase(): TsConfig {
	return JSON.parse(readFileSync(BASE_CONFIG, "utf8")) as TsConfig;
}

function under(file: string, dir: string): boolean {
	return file === dir || file.startsWith(dir + sep);
}

/** A path of hosts/moddable/tsconfig.json made absolute (a generated config lives elsewhere). */
function fromBase(path: string): string {
	return resolve(HOSTS, path);
}

/** The board file hosts/moddable/tsconfig.json maps hosts/platform/board to. */
function baseBoard(): string | undefined {
	const target = readBase().compilerOptions?.paths?.[BOARD_MODULE]?.[0];
	return target === undefined ? undefined : fromBase(target);
}

/** hosts/moddable/tsconfig.json with another board: the same paths, made absolute, but the board. */
function npmConfig(board: Board): object {
	const paths: Record<string, string[]> = {};
	for (const [key, targets] of Object.entries(readBase().compilerOptions?.paths ?? {})) paths[key] = targets.map(fromBase);
	paths[BOARD_MODULE] = [board.file];
	return { extends: BASE_CONFIG, compilerOptions: { paths } };
}

/** The SDK's module layout (typings/tsconfig.es2024.json, whose paths are relative to typings/). */
function sdkLayout(sdk: Sdk): Record<string, string[]> {
	const file = join(sdk.typings, "tsconfig.es2024.json");
	if (!existsSync(file)) throw new Error(`${file} is missing: SDK ${sdk.version} predates the typings layout this check follows`);
	const layout = (JSON.parse(readFileSync(file, "utf8")) as TsConfig).compilerOptions?.paths;
	if (!layout) throw new Error(`${file} has no compilerOptions.paths`);
	const paths: Record<string, string[]> = {};
	for (const [key, targets] of Object.entries(layout)) paths[key] = targets.map((t) => resolve(sdk.typings, t));
	return paths;
}

/**
 * hosts/moddable/tsconfig.json against the SDK: module paths into $MODDABLE/typings (no baseUrl, so
 * absolute), the project's own mappings kept, XS globals from xs/includes/xs.d.ts plus the SDK's
 * global.d.ts (as the SDK's own build declares them), hosts/moddable/typings/*.d.ts kept,
 * typings-extra/ (only for the npm typings) left out.
 */
function sdkConfig(sdk: Sdk, board: Board, extraFiles: string[] = []): object {
	const base = readBase();
	const paths = sdkLayout(sdk);
	for (const [key, targets] of Object.entries(base.compilerOptions?.paths ?? {})) {
		const absolute = targets.map(fromBase);
		if (absolute.some((t) => under(t, NPM_TYPINGS))) continue;
		paths[key] = absolute;
	}
	paths[BOARD_MODULE] = [board.file];
	const files = [sdk.xsGlobals];
	const globals = join(sdk.typings, "global.d.ts");
	if (existsSync(globals)) files.push(globals);
	for (const name of readdirSync(LOCAL_TYPINGS).sort()) if (name.endsWith(".d.ts")) files.push(join(LOCAL_TYPINGS, name));
	for (const file of (base.files ?? []).map(fromBase)) {
		if (under(file, NPM_TYPINGS) || under(file, EXTRA_TYPINGS) || files.includes(file)) continue;
		files.push(file);
	}
	files.push(...extraFiles);
	return {
		extends: BASE_CONFIG,
		compilerOptions: { paths },
		files,
		include: (base.include ?? []).map(fromBase),
	};
}

interface Check {
	/** tsc's exit status and its diagnostics. */
	status: number | null;
	diagnostics: string;
	/** Every file of the program (absolute) with tsc's reasons for it (--explainFiles). */
	files: Map<string, string[]>;
}

function tsc(config: string, args: string[]): { status: number | null; output: string } {
	const r = spawnSync(process.execPath, [TSC, "-p", config, "--pretty", "false", ...args], {
		cwd: ROOT, encoding: "utf8", timeout: 120_000, maxBuffer: 64 * 1024 * 1024,
	});
	if (r.error) throw r.error;
	return { status: r.status, output: `${r.stdout ?? ""}${r.stderr ?? ""}` };
}

function typecheck(config: string): Check {
	const checked = tsc(config, []);
	const explained = tsc(config, ["--listFilesOnly", "--explainFiles"]);
	const files = new Map<string, string[]>();
	let current: string[] | undefined;
	for (const line of explained.output.split("\n")) {
		if (line.trim() === "") continue;
		if (/^\s/.test(line)) current?.push(line.trim());
		else if (!/error TS\d+/.test(line)) files.set(resolve(ROOT, line), current = []);
		else current = undefined;
	}
	return { status: checked.status, diagnostics: checked.output.trim(), files };
}

function assertClean(check: Check, what: string): void {
	if (check.status !== 0 || check.diagnostics !== "")
		assert.fail(`tsc (exit ${check.status}) found errors in the firmware ${what}:\n${check.diagnostics}`);
	assert.ok(check.files.size > 0, "tsc listed no files");
}

/** The board file is what hosts/platform/board resolved to, and the other board's file is not. */
function assertBoard(check: Check, board: Board): void {
	const imported = (file: string): boolean =>
		(check.files.get(file) ?? []).some((reason) => reason.includes(`Imported via "${BOARD_MODULE}"`));
	assert.ok(check.files.has(join(ROOT, "main.ts")), "main.ts is not in the program");
	for (const b of BOARDS) {
		assert.ok(check.files.has(b.file), `${b.file} is not in the program (both boards are checked)`);
		assert.equal(imported(b.file), b === board, `"${BOARD_MODULE}" should resolve to ${board.file} only`);
	}
}

/** Every Moddable declaration in the program comes from `typings` and none from `notFrom`. */
function assertTypings(check: Check, typings: string, notFrom: string[]): void {
	const files = [...check.files.keys()];
	const used = files.filter((f) => under(f, typings));
	assert.ok(used.some((f) => f.endsWith(`${sep}timer.d.ts`)), `"timer" did not resolve into ${typings}`);
	for (const dir of notFrom) {
		const stray = files.filter((f) => under(f, dir));
		assert.deepEqual(stray, [], `declarations from ${dir} slipped into the program`);
	}
}

/** A file with a deliberate type error that needs the platform's typings to be found at all. */
function writeCanary(dir: string): string {
	const file = join(dir, "canary.ts");
	writeFileSync(file, [
		"// A deliberate type error: the check must report it (TS2322), not a missing module (TS2307).",
		'import Time from "time";',
		"export const canary: string = Time.ticks;",
		"",
	].join("\n"));
	return file;
}

function assertCanaryCaught(check: Check, canary: string): void {
	assert.notEqual(check.status, 0, `tsc passed a tree with a type error:\n${check.diagnostics}`);
	const line = check.diagnostics.split("\n").find((l) => l.includes("canary.ts") && l.includes("error TS"));
	assert.ok(line, `tsc did not report the error in ${canary}:\n${check.diagnostics}`);
	assert.match(line, /error TS2322:/, `the canary failed for another reason:\n${check.diagnostics}`);
}

describe(`firmware type-check with tsc ${TS_VERSION}: main.ts, modules/, hosts/moddable/ (both boards)`, function () {
	this.timeout(120_000);
	const lookup = findSdk();
	let dir = "";

	before(() => {
		dir = mkdtempSync(join(tmpdir(), "xs-mqtt-typecheck-"));
	});
	after(() => {
		if (dir) rmSync(dir, { recursive: true, force: true });
	});

	describe(`npm @moddable/typings ${NPM_TYPINGS_VERSION} (hosts/moddable/tsconfig.json, with typings-extra/)`, () => {
		for (const board of BOARDS) {
			it(`board ${board.label} (${board.file.slice(HOSTS.length + 1)}) type-checks`, () => {
				let config = BASE_CONFIG;
				if (baseBoard() !== board.file) {
					config = join(dir, `tsconfig.npm.${board.label}.json`);
					writeFileSync(config, JSON.stringify(npmConfig(board), null, "\t"));
				}
				const check = typecheck(config);
				assertClean(check, `with the npm typings, board ${board.label}`);
				assertBoard(check, board);
				const notFrom = lookup.sdk ? [lookup.sdk.root] : [];
				assertTypings(check, NPM_TYPINGS, notFrom);
			});
		}
		it("a deliberate type error fails the check", () => {
			const canary = writeCanary(dir);
			const config = join(dir, "tsconfig.npm.canary.json");
			// rootDir "/" only so that the canary may live outside the project.
			writeFileSync(config, JSON.stringify({ extends: BASE_CONFIG, compilerOptions: { rootDir: "/" }, files: [...(readBase().files ?? []).map(fromBase), canary] }, null, "\t"));
			assertCanaryCaught(typecheck(config), canary);
		});
	});

	const sdk = lookup.sdk;
	const title = sdk
		? `Moddable SDK ${sdk.version} typings (${sdk.typings}, found via ${sdk.via})`
		: "Moddable SDK typings";
	describe(title, function () {
		before(function () {
			if (!sdk) {
				reportSkip("firmware type-check against the SDK's typings", lookup.reason ?? "no SDK");
				this.skip();
			}
		});
		for (const board of BOARDS) {
			it(`board ${board.label} (${board.file.slice(HOSTS.length + 1)}) type-checks`, () => {
				const config = join(dir, `tsconfig.sdk.${board.label}.json`);
				writeFileSync(config, JSON.stringify(sdkConfig(sdk!, board), null, "\t"));
				const check = typecheck(config);
				assertClean(check, `with the SDK's typings (${sdk!.typings}), board ${board.label}`);
				assertBoard(check, board);
				assertTypings(check, sdk!.typings, [NPM_TYPINGS, EXTRA_TYPINGS]);
				assert.ok(check.files.has(sdk!.xsGlobals), `${sdk!.xsGlobals} is not in the program`);
			});
		}
		it("a deliberate type error fails the check", () => {
			const canary = writeCanary(dir);
			const config = join(dir, "tsconfig.sdk.canary.json");
			const generated = sdkConfig(sdk!, BOARDS[0]!, [canary]) as { compilerOptions: Record<string, unknown> };
			generated.compilerOptions.rootDir = "/";
			writeFileSync(config, JSON.stringify(generated, null, "\t"));
			assertCanaryCaught(typecheck(config), canary);
		});
	});
});
