// Declaration of the SDK's ECMA-419 TLS socket (examples/io/tcp/tlssocket), as its source behaves:
// TCP options plus the server name and `secure` session options; read returns the count read.

declare module "embedded:io/socket/tcp/tls" {
	import type TCP from "embedded:io/socket/tcp";

	export interface TLSSocketOptions {
		address: string;
		port: number;
		/** Server name for SNI and certificate checks. */
		host: string;
		nodelay?: boolean;
		/** The TCP socket class the TLS socket runs over. */
		TCP: { io: typeof TCP };
		/** Session options: `certificate` (a trusted CA, DER), `verify`, `protocolVersion`... */
		secure?: Record<string, unknown>;
		onReadable?: (count: number) => void;
		onWritable?: (count: number) => void;
		onError?: () => void;
	}

	export default class TLSSocket {
		constructor(options: TLSSocketOptions);
		/** Reads into `buffer` (up to its length); returns the count read. */
		read(buffer: ArrayBufferView): number | undefined;
		write(buffer: ArrayBufferView): number;
		close(): void;
		format: "buffer" | "number";
	}
}
