// Validate .glb files with the Khronos glTF validator; prints one JSON report per file.
// Usage: node tools/validate_gltf.mjs FILE...   (exit 1 when any file has errors)
import { readFile } from "node:fs/promises";
import validator from "gltf-validator";

let failed = false;
const reports = [];
for (const file of process.argv.slice(2)) {
  const bytes = new Uint8Array(await readFile(file));
  const report = await validator.validateBytes(bytes, { maxIssues: 50 });
  const issues = report.issues;
  if (issues.numErrors > 0) failed = true;
  reports.push({
    file,
    errors: issues.numErrors,
    warnings: issues.numWarnings,
    messages: issues.messages.filter((m) => m.severity <= 1).map((m) => `${m.code} ${m.pointer ?? ""}: ${m.message}`),
  });
}
console.log(JSON.stringify(reports));
process.exit(failed ? 1 : 0);
