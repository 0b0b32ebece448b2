// Validates an OpenAPI document against the published OpenAPI 3.1 schema
// (npm @seriousme/openapi-schema-validator, pinned in package-lock.json) and
// checks that every $ref resolves.  Usage: node tests/openapi/validate.mjs FILE
import { readFileSync } from "node:fs";
import { Validator } from "@seriousme/openapi-schema-validator";

const file = process.argv[2];
if (!file) {
  console.error("usage: node tests/openapi/validate.mjs FILE");
  process.exit(2);
}
const doc = JSON.parse(readFileSync(file, "utf8"));
const validator = new Validator();
const res = await validator.validate(doc);
if (!res.valid) {
  console.error("openapi: %s does NOT match the OpenAPI %s schema:", file, validator.version);
  console.error(JSON.stringify(res.errors, null, 1).slice(0, 20000));
  process.exit(1);
}
if (validator.version !== "3.1") {
  console.error("openapi: %s is OpenAPI %s, not 3.1", file, validator.version);
  process.exit(1);
}
try {
  validator.resolveRefs();
} catch (e) {
  console.error("openapi: a $ref does not resolve: %s", e.message);
  process.exit(1);
}
const ops = Object.values(doc.paths).reduce(
  (n, item) => n + Object.keys(item).filter((k) => ["get", "head", "post", "put", "patch", "delete", "options"].includes(k)).length, 0);
console.log("openapi: %s is valid OpenAPI %s (%d paths, %d operations)", file, validator.version,
  Object.keys(doc.paths).length, ops);
