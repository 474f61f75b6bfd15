// The globals of the XS engine from @agoric/xsnap, for code that runs inside it (hosts/xs on the
// XS side): print to stdout, gc, and the synchronous command channel to the Node parent.

declare function print(...values: unknown[]): void;
declare function gc(): void;
/** Sends `request` to the Node parent and returns its answer (XS waits for it). */
declare function issueCommand(request: ArrayBuffer): ArrayBuffer;
