// The bridge between the firmware inside the XS engine and its Node parent, in one place: the requests
// the firmware makes (one letter, then a body; the parent answers synchronously, first byte
// ANSWER_OK or ANSWER_FAILED), and the events the parent sends (one letter, the time, a payload).
// Imported by both sides: hosts/xs/bridge.ts (XS) and hosts/xs/device-runner.ts (Node).

/** Firmware → parent requests. */
export const Request = {
	/** Open a connection: JSON {host, port, tls}; answers the connection's serial. */
	OPEN: "o",
	/** Read up to N bytes (N as text); answers the bytes. */
	READ: "g",
	/** Write the body's bytes; answers how many were taken (text). */
	WRITE: "w",
	CLOSE: "c",
	/** Arm timer "id,delay". */
	ARM: "a",
	/** Disarm timer "id". */
	DISARM: "d",
	/** Answers JSON {used} (heap slots). */
	MEMORY: "m",
	/** Load the number stored under the key; answers it as text, or nothing. */
	LOAD: "l",
	/** Save JSON {key, value} (null removes it). */
	SAVE: "s",
	/** Answers the stored MQTT session snapshot's bytes (or nothing). */
	LOAD_SESSION: "q",
	/** Save the body as the MQTT session snapshot. */
	SAVE_SESSION: "p",
	/** Answers the saved settings' JSON text after "=" (nothing when none were saved). */
	LOAD_SETTINGS: "j",
	/** Save the body as the settings' JSON text. */
	SAVE_SETTINGS: "k",
	/** Restart the firmware in a fresh engine. */
	RESTART: "r",
	/** The shutdown the parent asked for is done. */
	SHUTDOWN_DONE: "x",
} as const;
export type Request = typeof Request[keyof typeof Request];

/** The first byte of every answer: the request was served, or it failed (a UTF-8 reason follows). */
export const ANSWER_OK = 0;
export const ANSWER_FAILED = 1;

/** Parent → firmware events (the first byte), followed by the time (float64) and a payload. */
export const EVENT_OPEN = 0x4F;      // 'O' serial
export const EVENT_READABLE = 0x52;  // 'R' serial
export const EVENT_WRITABLE = 0x57;  // 'W' serial
export const EVENT_CLOSED = 0x43;    // 'C' serial, code, message
export const EVENT_TIMER = 0x54;     // 'T' timer id
export const EVENT_SHUTDOWN = 0x53;  // 'S'
export const EVENT_TIME = 0x4E;      // 'N' (only the time)
