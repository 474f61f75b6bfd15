// Throwaway certificates for the TLS tests, made with the openssl command line in a temp dir: a CA, the
// broker certificates it signs (localhost and 127.0.0.1; another name), and a second CA trusted by nobody.

import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { findMosquitto, findTool } from "./broker.js";

/** The names the broker certificates carry (subjectAltName), but for `otherName`. */
export const SERVER_NAMES = "DNS:localhost,IP:127.0.0.1";
/** The only name `otherName` carries. */
export const OTHER_NAME = "DNS:wrong.example";

export interface Authority {
	/** PEM file of the CA certificate. */
	file: string;
	/** The same, as text (what the Node client and the firmware on XS take as `ca`). */
	pem: string;
	/** The same, DER-encoded (a Moddable resource). */
	der: string;
}

export interface ServerCertificate {
	certfile: string;
	keyfile: string;
	/** The CA that signed it. */
	issuer: Authority;
}

export interface Certificates {
	dir: string;
	/** The CA the tests trust, and the broker certificate it signed. */
	ca: Authority;
	server: ServerCertificate;
	/** Signed by the trusted CA, but for another name only (DNS:wrong.example). */
	otherName: ServerCertificate;
	/** Another CA, which no test trusts, and a broker certificate with the same names that it signed. */
	rogueCa: Authority;
	rogueServer: ServerCertificate;
	/** Removes the temp dir (keys included). */
	remove(): void;
}

/** openssl on PATH (or the usual places), or undefined. */
export function findOpenssl(): string | undefined {
	return findTool("openssl");
}

/** Why a test against mosquitto's TLS listener cannot run here, or undefined. */
export function missingForTls(): string | undefined {
	if (process.env.MQTT_TEST_BROKER === "aedes") return "MQTT_TEST_BROKER=aedes, and the TLS listener is mosquitto's";
	if (!findMosquitto()) return "mosquitto is not installed (the aedes fallback has no TLS listener)";
	if (!findOpenssl()) return "openssl is not installed to make the certificates";
	return undefined;
}

function run(openssl: string, dir: string, args: string[]): void {
	const r = spawnSync(openssl, args, { cwd: dir, encoding: "utf8", timeout: 20_000 });
	if (r.error) throw new Error(`openssl ${args[0]}: ${r.error.message}`);
	if (r.status !== 0) throw new Error(`openssl ${args.join(" ")} exited with ${r.status}: ${r.stderr}`);
}

function authority(openssl: string, dir: string, name: string, subject: string): Authority {
	run(openssl, dir, [
		"req", "-x509", "-newkey", "rsa:2048", "-nodes", "-sha256", "-days", "2",
		"-keyout", `${name}.key`, "-out", `${name}.pem`, "-subj", `/CN=${subject}`,
		"-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign",
	]);
	run(openssl, dir, ["x509", "-in", `${name}.pem`, "-outform", "der", "-out", `${name}.der`]);
	const file = join(dir, `${name}.pem`);
	return { file, pem: readFileSync(file, "utf8"), der: join(dir, `${name}.der`) };
}

function serverCertificate(openssl: string, dir: string, name: string, issuer: Authority, issuerName: string, serial: number, names = SERVER_NAMES): ServerCertificate {
	const ext = join(dir, `${name}.ext`);
	writeFileSync(ext, [
		`subjectAltName=${names}`,
		"basicConstraints=CA:FALSE",
		"keyUsage=critical,digitalSignature,keyEncipherment",
		"extendedKeyUsage=serverAuth",
	].join("\n") + "\n");
	const commonName = names.split(",")[0]!.replace(/^[A-Z]+:/, "");
	run(openssl, dir, ["req", "-newkey", "rsa:2048", "-nodes", "-keyout", `${name}.key`, "-out", `${name}.csr`, "-subj", `/CN=${commonName}`]);
	run(openssl, dir, [
		"x509", "-req", "-sha256", "-days", "2", "-in", `${name}.csr`, "-CA", issuer.file, "-CAkey", `${issuerName}.key`,
		"-set_serial", String(serial), "-extfile", ext, "-out", `${name}.pem`,
	]);
	return { certfile: join(dir, `${name}.pem`), keyfile: join(dir, `${name}.key`), issuer };
}

/** Makes both CAs and the three broker certificates (RSA 2048, valid two days) in a new temp dir. */
export function makeCertificates(): Certificates {
	const openssl = findOpenssl();
	if (!openssl) throw new Error("openssl is not installed");
	const dir = mkdtempSync(join(tmpdir(), "mqtt-security-pki-"));
	try {
		const ca = authority(openssl, dir, "ca", "xs-mqtt test CA");
		const rogueCa = authority(openssl, dir, "rogue-ca", "xs-mqtt untrusted CA");
		const server = serverCertificate(openssl, dir, "server", ca, "ca", 1001);
		const otherName = serverCertificate(openssl, dir, "other-name", ca, "ca", 1002, OTHER_NAME);
		const rogueServer = serverCertificate(openssl, dir, "rogue-server", rogueCa, "rogue-ca", 2002);
		return { dir, ca, server, otherName, rogueCa, rogueServer, remove: () => rmSync(dir, { recursive: true, force: true }) };
	}
	catch (error) {
		rmSync(dir, { recursive: true, force: true });
		throw error;
	}
}
