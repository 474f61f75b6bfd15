// The client's Store on Node: one file, replaced atomically (written whole to a temporary file,
// flushed, then renamed over it), so that a crash or power cut leaves the old or the new snapshot.

import { closeSync, fsyncSync, openSync, readFileSync, renameSync, writeSync } from "node:fs";
import { dirname } from "node:path";
import type { Store } from "../../modules/mqtt/host.js";

export interface FileStoreOptions {
	/** fsync the file and its directory on each save, so that it outlives a power cut (default true). */
	sync?: boolean;
}

export class FileStore implements Store {
	private readonly temporary: string;
	private readonly sync: boolean;

	constructor(readonly path: string, options: FileStoreOptions = {}) {
		this.temporary = `${path}.tmp`;
		this.sync = options.sync ?? true;
	}

	/** The file's bytes, or undefined when there is no file. */
	load(): Uint8Array | undefined {
		try {
			return new Uint8Array(readFileSync(this.path));
		}
		catch (error) {
			if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
			throw error;
		}
	}

	save(data: Uint8Array, length: number): void {
		const fd = openSync(this.temporary, "w");
		try {
			let at = 0;
			while (at < length) at += writeSync(fd, data, at, length - at);
			if (this.sync) fsyncSync(fd);
		}
		finally {
			closeSync(fd);
		}
		renameSync(this.temporary, this.path);
		if (this.sync) syncDirectory(dirname(this.path));
	}
}

/** Makes a rename in `dir` durable (where the platform allows fsync on a directory). */
function syncDirectory(dir: string): void {
	let fd: number | undefined;
	try {
		fd = openSync(dir, "r");
		fsyncSync(fd);
	}
	catch {
		// Windows cannot open a directory: the rename is as durable as the platform makes it.
	}
	finally {
		if (fd !== undefined) closeSync(fd);
	}
}
