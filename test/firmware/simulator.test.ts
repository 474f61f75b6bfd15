// The firmware end to end in the Moddable SDK's Linux simulator (mcsim, headless under xvfb-run),
// built into a temp dir with mcconfig for a broker on 127.0.0.1; skips when no SDK is found.

import { spawn } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { availableParallelism, tmpdir } from "node:os";
import { delimiter, join } from "node:path";
import { firmwareScenario } from "../lib/firmware-scenario.js";
import type { FirmwareConfig, FirmwareLauncher, RunningFirmware } from "../lib/firmware-scenario.js";
import { findTool } from "../lib/broker.js";
import { findSdk, linuxTools, reportSkip, ROOT } from "../lib/moddable.js";
import type { Sdk } from "../lib/moddable.js";

const BUILD_TIMEOUT = 140_000;
/** Output kept per process (the simulator traces a line per message). */
const OUTPUT_LIMIT = 1 << 20;

/** Process groups this file started, ended when the test process exits whatever happened. */
const groups = new Set<number>();
process.on("exit", () => {
	groups.forEach((pgid) => {
		try {
			process.kill(-pgid, "SIGKILL");
		}
		catch {
			// already gone
		}
	});
});

/** Members of process group `pgid` as [pid, command name] (from /proc). */
function groupMembers(pgid: number): Array<[number, string]> {
	const members: Array<[number, string]> = [];
	for (const entry of readdirSync("/proc")) {
		if (!/^\d+$/.test(entry)) continue;
		let stat: string;
		try {
			stat = readFileSync(`/proc/${entry}/stat`, "utf8");
		}
		catch {
			continue;
		}
		// "pid (comm) state ppid pgrp ...": comm may hold spaces and parentheses.
		const close = stat.lastIndexOf(")");
		const fields = stat.slice(close + 2).split(" ");
		if (Number(fields[2]) === pgid && fields[0] !== "Z") members.push([Number(entry), stat.slice(stat.indexOf("(") + 1, close)]);
	}
	return members;
}

function signalGroup(pgid: number, signal: NodeJS.Signals): void {
	try {
		process.kill(-pgid, signal);
	}
	catch {
		// the group is gone
	}
}

async function waitFor(condition: () => boolean, timeout: number): Promise<boolean> {
	const deadline = Date.now() + timeout;
	while (!condition()) {
		if (Date.now() > deadline) return false;
		await new Promise((resolve) => setTimeout(resolve, 25));
	}
	return true;
}

/** A child in its own process group (detached), its output collected, its exit awaited. */
class Group {
	private text = "";
	readonly exited: Promise<void>;
	private done = false;

	constructor(readonly child: ChildProcess) {
		groups.add(child.pid!);
		const collect = (chunk: Buffer): void => {
			if (this.text.length < OUTPUT_LIMIT) this.text += chunk.toString("utf8");
		};
		child.stdout?.on("data", collect);
		child.stderr?.on("data", collect);
		this.exited = new Promise((resolve) => {
			child.once("close", () => resolve());
			child.once("error", (error) => {
				this.text += `\n${error.message}\n`;
				resolve();
			});
		});
		void this.exited.then(() => {
			this.done = true;
		});
	}

	get pgid(): number {
		return this.child.pid!;
	}

	get running(): boolean {
		return !this.done;
	}

	output(): string {
		return this.text;
	}

	/**
	 * Sends `signal` to the members named `first` (the simulator itself), lets the rest of the group
	 * end on its own for a moment (xvfb-run then stops its X server and tidies up), and SIGKILLs the
	 * whole group for whatever is left.
	 */
	async end(signal: NodeJS.Signals, first: string[] = []): Promise<void> {
		const pgid = this.pgid;
		const targets = groupMembers(pgid).filter(([, name]) => first.includes(name));
		for (const [pid] of targets) {
			try {
				process.kill(pid, signal);
			}
			catch {
				// gone already
			}
		}
		if (targets.length === 0) signalGroup(pgid, signal);
		await waitFor(() => groupMembers(pgid).length === 0, 3000);
		signalGroup(pgid, "SIGKILL");
		const gone = await waitFor(() => groupMembers(pgid).length === 0, 3000);
		await Promise.race([this.exited, new Promise((resolve) => setTimeout(resolve, 3000))]);
		if (!gone) throw new Error(`processes of group ${pgid} outlived SIGKILL: ${JSON.stringify(groupMembers(pgid))}`);
		groups.delete(pgid);
	}
}

/** The first file called `name` under `dir`, or undefined. */
function findFile(dir: string, name: string): string | undefined {
	if (!existsSync(dir)) return undefined;
	for (const entry of readdirSync(dir, { withFileTypes: true })) {
		const path = join(dir, entry.name);
		if (entry.isFile() && entry.name === name) return path;
		if (entry.isDirectory()) {
			const found = findFile(path, name);
			if (found) return found;
		}
	}
	return undefined;
}

function tail(text: string, lines = 30): string {
	return text.trimEnd().split("\n").slice(-lines).join("\n");
}

class SimulatorRun implements RunningFirmware {
	constructor(private readonly sim: Group, private readonly dir: string) {}

	output(): string {
		return this.sim.output();
	}

	async kill(): Promise<void> {
		if (this.sim.running) await this.sim.end("SIGKILL", ["mcsim"]);
	}

	async stop(): Promise<void> {
		if (this.sim.running) await this.sim.end("SIGTERM", ["mcsim"]);
		rmSync(this.dir, { recursive: true, force: true });
	}
}

/** Builds the firmware with mcconfig into a temp dir (-o) and runs it in mcsim under xvfb-run. */
class McsimLauncher implements FirmwareLauncher {
	readonly name = "the Moddable simulator (mcsim, headless)";
	private readonly active = new Set<Group>();
	private readonly dirs = new Set<string>();

	constructor(
		private readonly sdk: Sdk,
		private readonly tools: { mcconfig: string; mcsim: string },
		private readonly xvfbRun: string,
		private readonly stdbuf: string | undefined,
	) {}

	async start(config: FirmwareConfig): Promise<RunningFirmware> {
		const dir = mkdtempSync(join(tmpdir(), "xs-mqtt-mcsim-"));
		this.dirs.add(dir);
		const started = performance.now();
		const library = await this.build(dir, config);
		process.stdout.write(`    mcconfig -m -p lin (SDK ${this.sdk.version}, ${this.sdk.root}): built in ${((performance.now() - started) / 1000).toFixed(1)} s\n`);
		const command = this.stdbuf ? [this.stdbuf, "-o0", this.tools.mcsim, library] : [this.tools.mcsim, library];
		const sim = this.track(new Group(spawn(this.xvfbRun, ["-a", ...command], {
			cwd: dir, detached: true, stdio: ["ignore", "pipe", "pipe"],
		})));
		return new SimulatorRun(sim, dir);
	}

	/** Runs mcconfig; returns the simulator library it made (mc.so). */
	private async build(dir: string, config: FirmwareConfig): Promise<string> {
		const bin = join(this.sdk.root, "build", "bin", "lin", "release");
		const settings = Object.entries(config).map(([key, value]) => `${key}=${String(value)}`);
		const env: NodeJS.ProcessEnv = {
			...process.env,
			MODDABLE: this.sdk.root,
			PATH: [join(ROOT, "node_modules", ".bin"), bin, process.env.PATH ?? ""].join(delimiter),
			MAKEFLAGS: process.env.MAKEFLAGS ?? `-j${availableParallelism()}`,
		};
		const build = this.track(new Group(spawn(this.tools.mcconfig, ["-m", "-p", "lin", "-o", dir, join(ROOT, "manifest.json"), ...settings], {
			cwd: ROOT, env, detached: true, stdio: ["ignore", "pipe", "pipe"],
		})));
		const timer = setTimeout(() => {
			build.end("SIGKILL").catch((error: Error) => process.stderr.write(`ending the timed-out build: ${error.message}\n`));
		}, BUILD_TIMEOUT);
		await build.exited;
		clearTimeout(timer);
		this.active.delete(build);
		const code = build.child.exitCode;
		const library = findFile(join(dir, "bin"), "mc.so");
		if (code !== 0 || !library)
			throw new Error(`mcconfig failed (exit ${code ?? build.child.signalCode}):\n${tail(build.output())}`);
		return library;
	}

	private track(group: Group): Group {
		this.active.add(group);
		return group;
	}

	/** Ends whatever is still running (a build a timed-out hook left behind) and removes the temp dirs. */
	async dispose(): Promise<void> {
		await Promise.all([...this.active].map((g) => (g.running ? g.end("SIGKILL", ["mcsim"]) : Promise.resolve())));
		this.active.clear();
		for (const dir of this.dirs) rmSync(dir, { recursive: true, force: true });
		this.dirs.clear();
	}
}

/** The launcher, or why this machine cannot run the simulator. */
function setUp(): { launcher: McsimLauncher; reason?: undefined } | { launcher?: undefined; reason: string } {
	const lookup = findSdk();
	if (!lookup.sdk) return { reason: lookup.reason };
	const tools = linuxTools(lookup.sdk);
	if (tools.reason !== undefined) return { reason: tools.reason };
	const xvfbRun = findTool("xvfb-run");
	if (!xvfbRun) return { reason: "xvfb-run is not installed (the simulator needs an X display)" };
	return { launcher: new McsimLauncher(lookup.sdk, tools, xvfbRun, findTool("stdbuf")) };
}

const setup = setUp();
const skipping = setup.reason;
const unavailable: FirmwareLauncher = {
	name: "the Moddable simulator (mcsim)",
	start: () => Promise.reject(new Error(skipping ?? "unavailable")),
};

describe(`firmware end to end in the Moddable simulator${skipping ? ` (skipped: ${skipping})` : ""}`, function () {
	before(function () {
		if (skipping) {
			reportSkip("firmware end to end in the simulator", skipping);
			this.skip();
		}
	});
	after(async function () {
		this.timeout(20_000);
		await setup.launcher?.dispose();
	});

	firmwareScenario(setup.launcher ?? unavailable);
});
