// ArrayBuffer.fromString and String.fromArrayBuffer, which Moddable's XS provides natively and the
// XS build in @agoric/xsnap lacks, on xsnap's native TextEncoder/TextDecoder (one shared each).

const encoder = new TextEncoder();
const decoder = new TextDecoder();

interface ModdableArrayBuffer {
	fromString?: (text: string) => ArrayBuffer;
}
interface ModdableString {
	fromArrayBuffer?: (buffer: ArrayBuffer) => string;
}

const ab = ArrayBuffer as unknown as ModdableArrayBuffer;
const str = String as unknown as ModdableString;

/** True when the engine had them natively (a Moddable build), false when these shims were installed. */
export const nativeExtensions = typeof ab.fromString === "function" && typeof str.fromArrayBuffer === "function";

if (typeof ab.fromString !== "function")
	ab.fromString = (text: string): ArrayBuffer => encoder.encode(text).buffer as ArrayBuffer;
if (typeof str.fromArrayBuffer !== "function")
	str.fromArrayBuffer = (buffer: ArrayBuffer): string => decoder.decode(buffer);
