// The Moddable transport inside the XS engine: hosts/moddable/transport.ts compiled for the engine
// with its SDK imports (the TCP and TLS sockets, net, Resource) pointed at the stubs in
// test/lib/xs/transport-workloads.ts (a socket that counts bytes), for tests and benchmarks.

import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { XsWorker } from "../../../hosts/xs/worker.js";

const here = path.dirname(fileURLToPath(import.meta.url));
/** The project root (this file runs as build/test/lib/xs/transport-worker.js). */
const ROOT = path.resolve(here, "..", "..", "..", "..");
const TSC = path.join(ROOT, "node_modules", ".bin", "tsc");
const TRANSPORT = path.join(ROOT, "hosts", "moddable", "transport.ts");
const WORKLOADS = path.join(here, "transport-workloads.js");
/** The build's output (build/). */
const BUILD = path.resolve(here, "..", "..", "..");
/** The module each SDK import of the transport is served by: a name exported by the workloads file. */
const STUBS: Record<string, string> = {
	"embedded:io/socket/tcp": "CountingSocket",
	"embedded:io/socket/tcp/tls": "CountingTlsSocket",
	"net": "StubNet",
	"Resource": "StubResource",
};

/**
 * hosts/moddable/transport.ts as JavaScript in `stage`, with its imports of SDK modules replaced by
 * files there that re-export the stubs, and its imports of the project's modules by the build's
 * (one instance of each module in the engine). Returns the compiled transport's path.
 */
function compileTransport(stage: string): string {
	const out = path.join(stage, "out");
	const config = path.join(stage, "tsconfig.json");
	// The firmware's own configuration (its typings for the SDK modules), emitting this one file and what it imports.
	writeFileSync(config, JSON.stringify({
		extends: path.join(ROOT, "hosts", "moddable", "tsconfig.json"),
		compilerOptions: { noEmit: false, outDir: out, rootDir: ROOT, sourceMap: false },
		files: [path.join(ROOT, "node_modules", "@moddable", "typings", "xs.d.ts"), TRANSPORT],
		include: [],
	}));
	const tsc = spawnSync(process.execPath, [TSC, "-p", config], { encoding: "utf8" });
	if (tsc.status !== 0) throw new Error(`compiling ${TRANSPORT} failed:\n${tsc.stdout}${tsc.stderr}`);
	const compiled = path.join(out, path.relative(ROOT, TRANSPORT).replace(/\.ts$/, ".js"));
	const stubs = path.join(stage, "stubs");
	mkdirSync(stubs);
	let n = 0;
	const source = readFileSync(compiled, "utf8").replace(/(\bfrom\s*)"([^"]+)"/g, (_all, from: string, specifier: string) => {
		if (specifier.startsWith(".")) return `${from}${JSON.stringify(path.join(BUILD, path.relative(out, path.resolve(path.dirname(compiled), specifier))))}`;
		const name = STUBS[specifier];
		if (name === undefined) throw new Error(`${TRANSPORT} imports ${specifier}, which has no stub in ${WORKLOADS}`);
		const file = path.join(stubs, `${n++}.js`);
		writeFileSync(file, `export { ${name} as default } from ${JSON.stringify(WORKLOADS)};\n`);
		return `${from}${JSON.stringify(file)}`;
	});
	writeFileSync(compiled, source);
	return compiled;
}

/**
 * An XS worker with the compiled transport opened over the counting socket, and the workloads of
 * test/lib/xs/transport-workloads.ts registered (globalThis.workloads, globalThis.transportRig).
 */
export async function startTransportWorker(): Promise<{ worker: XsWorker; cleanup: () => void }> {
	const stage = mkdtempSync(path.join(os.tmpdir(), "xs-mqtt-transport-"));
	const cleanup = (): void => rmSync(stage, { recursive: true, force: true });
	let entry: string;
	try {
		const transport = compileTransport(stage);
		entry = path.join(stage, "entry.js");
		writeFileSync(entry, [
			`import { ModdableTransport } from ${JSON.stringify(transport)};`,
			`import { start } from ${JSON.stringify(WORKLOADS)};`,
			"start(ModdableTransport);",
			"",
		].join("\n"));
	}
	catch (error) {
		cleanup();
		throw error;
	}
	let stderr = "";
	const worker = new XsWorker({ onStderr: (t) => { stderr += t; } });
	try {
		await worker.importModule(entry);
		const ready = await worker.evaluate(`globalThis.transportWorkloadsReady === true ? new TextEncoder().encode("ready").buffer : undefined`);
		if (ready.text !== "ready") throw new Error(`the Moddable transport did not load inside XS${stderr ? `: ${stderr.trim()}` : ""}`);
	}
	catch (error) {
		await worker.close();
		cleanup();
		throw error;
	}
	return { worker, cleanup };
}

