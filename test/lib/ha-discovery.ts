// What Home Assistant's MQTT discovery format asks of this device's config messages: the fields
// each component needs, and those every entity here carries. Platform-free (the device suite runs in XS).

/** Every entity: its name and ids, availability on the status topic, the shared device block. */
export const COMMON_FIELDS = ["name", "unique_id", "object_id", "availability_topic", "payload_available", "payload_not_available", "device"];
/** Per component: the fields it requires, and those this device's entities set for their meaning. */
export const COMPONENT_FIELDS: Record<string, string[]> = {
	sensor: ["state_topic", "value_template", "device_class", "unit_of_measurement", "state_class", "expire_after"],
	switch: ["command_topic", "state_topic", "payload_on", "payload_off"],
	binary_sensor: ["state_topic", "value_template", "device_class", "payload_on", "payload_off", "expire_after"],
};
/** The device block's fields. */
export const DEVICE_FIELDS = ["identifiers", "name", "model", "sw_version", "manufacturer"];

/** The fields of the table that `body` (a config of `component`) lacks or leaves empty, as "device.name" for the device block's. */
export function missingFields(component: string, body: Record<string, unknown>): string[] {
	const required = COMPONENT_FIELDS[component];
	if (!required) return [`(no component ${component})`];
	const empty = (v: unknown): boolean => v === undefined || v === null || v === "" || (Array.isArray(v) && v.length === 0);
	const missing = [...COMMON_FIELDS, ...required].filter((f) => empty(body[f]));
	const device = body.device;
	if (device && typeof device === "object") for (const f of DEVICE_FIELDS) if (empty((device as Record<string, unknown>)[f])) missing.push(`device.${f}`);
	return missing;
}

/** The telemetry fields a value template reads (value_json.<field>). */
export function templateFields(template: unknown): string[] {
	const fields: string[] = [];
	const re = /value_json\.([A-Za-z_]+)/g;
	const text = String(template);
	for (let m = re.exec(text); m; m = re.exec(text)) if (fields.indexOf(m[1]!) < 0) fields.push(m[1]!);
	return fields;
}
