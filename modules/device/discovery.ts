// Home Assistant MQTT discovery: the retained config messages that make the device appear in Home
// Assistant as one device with four entities (temperature, humidity, the LED switch, the sensor's
// problem state), all reading topics the device already has.

import { validateTopicName } from "../mqtt/topic.js";

/** Where Home Assistant looks for config messages unless told otherwise. */
export const DISCOVERY_PREFIX = "homeassistant";
/** The firmware's version, as the discovery `device` block reports it (package.json's). */
export const FIRMWARE_VERSION = "0.1.0";
export const MANUFACTURER = "xs-mqtt";
/** Sensor values older than this many telemetry intervals show as unavailable (expire_after). */
export const EXPIRE_INTERVALS = 3;
/** The LED state topic's payloads, and what Home Assistant's switch sends (the device takes both). */
export const LED_PAYLOADS = { on: "ON", off: "OFF" } as const;

/** What the config messages are built from: the device's topics and identity. */
export interface DiscoverySource {
	prefix: string;
	deviceId: string;
	sensorName: string;
	/** Milliseconds between telemetry messages. */
	interval: number;
	topics: { status: string; telemetry: string; led: string; ledCommand: string };
}

/** One retained config message: its topic and JSON body. */
export interface DiscoveryConfig {
	component: "sensor" | "switch" | "binary_sensor";
	topic: string;
	body: Record<string, unknown>;
}

/**
 * `discoveryPrefix`: "homeassistant" when absent (undefined or null), "" (discovery off), or a
 * topic name without wildcards and without a trailing "/"; anything else throws, naming it (as `name`).
 */
export function parseDiscoveryPrefix(value: unknown, name = "discoveryPrefix"): string {
	if (value === undefined || value === null) return DISCOVERY_PREFIX;
	if (typeof value === "string") {
		const prefix = value.trim();
		if (prefix === "") return "";
		let valid = !prefix.endsWith("/");
		try {
			validateTopicName(`${prefix}/sensor/x/y/config`);
		}
		catch {
			valid = false;
		}
		if (valid) return prefix;
	}
	throw new Error(`${name} must be a topic prefix without wildcards or a trailing "/" ("" turns discovery off), not ${JSON.stringify(value)}`);
}

/** A topic level Home Assistant takes as node or object id: letters, digits, "_" and "-". */
export function discoveryId(text: string): string {
	const id = text.replace(/[^A-Za-z0-9_-]/g, "_");
	return id === "" ? "device" : id;
}

/** expire_after for an interval: EXPIRE_INTERVALS missed intervals, in whole seconds. */
export function expireAfter(interval: number): number {
	return Math.ceil((EXPIRE_INTERVALS * interval) / 1000);
}

/** The config messages, in the order they are published. */
export function discoveryConfigs(s: DiscoverySource): DiscoveryConfig[] {
	const node = discoveryId(s.deviceId);
	const device = {
		identifiers: [s.deviceId],
		name: s.deviceId,
		model: `MQTT sensor node (${s.sensorName})`,
		sw_version: FIRMWARE_VERSION,
		manufacturer: MANUFACTURER,
	};
	const common = (object: string, name: string): Record<string, unknown> => ({
		name,
		unique_id: `${node}_${object}`,
		object_id: `${node}_${object}`,
		availability_topic: s.topics.status,
		payload_available: "online",
		payload_not_available: "offline",
		device,
	});
	const expire = expireAfter(s.interval);
	const measurement = (object: "temperature" | "humidity", name: string, unit: string): DiscoveryConfig => ({
		component: "sensor",
		topic: `${s.prefix}/sensor/${node}/${object}/config`,
		body: {
			...common(object, name),
			state_topic: s.topics.telemetry,
			// Absent when the sensor failed: None, which Home Assistant shows as unknown.
			value_template: `{{ value_json.${object} if value_json.${object} is defined else none }}`,
			device_class: object,
			unit_of_measurement: unit,
			state_class: "measurement",
			expire_after: expire,
		},
	});
	return [
		measurement("temperature", "Temperature", "°C"),
		measurement("humidity", "Humidity", "%"),
		{
			component: "switch",
			topic: `${s.prefix}/switch/${node}/led/config`,
			body: {
				...common("led", "LED"),
				command_topic: s.topics.ledCommand,
				state_topic: s.topics.led,
				payload_on: LED_PAYLOADS.on,
				payload_off: LED_PAYLOADS.off,
				state_on: LED_PAYLOADS.on,
				state_off: LED_PAYLOADS.off,
				qos: 1,
				retain: false,
			},
		},
		{
			component: "binary_sensor",
			topic: `${s.prefix}/binary_sensor/${node}/sensor_problem/config`,
			body: {
				...common("sensor_problem", "Sensor problem"),
				state_topic: s.topics.telemetry,
				value_template: "{{ 'ON' if value_json.error is defined else 'OFF' }}",
				payload_on: "ON",
				payload_off: "OFF",
				device_class: "problem",
				entity_category: "diagnostic",
				expire_after: expire,
			},
		},
	];
}
