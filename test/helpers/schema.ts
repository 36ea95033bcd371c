/** Validates records against the repo's JSON Schema: every record a test sees goes through it. */
import { readFileSync } from 'node:fs';
import Ajv2020 from 'ajv/dist/2020.js';

const schema = JSON.parse(readFileSync(new URL('../../schema/droptrace-event.schema.json', import.meta.url), 'utf8'));
const ajv = new Ajv2020.default({ allErrors: true, strict: true });
const validate = ajv.compile(schema);

export function schemaErrors(record: unknown): string | null {
  return validate(record) ? null : ajv.errorsText(validate.errors);
}

export function assertValidRecord(record: unknown): void {
  const errors = schemaErrors(record);
  if (errors) throw new Error(`record does not match schema/droptrace-event.schema.json: ${errors}\n${JSON.stringify(record)}`);
}
