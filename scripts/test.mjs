// `npm test`: every test. Installs Chromium where it can, builds, finds (or starts) a
// Docker engine with the sandbox image for the docker driver's tests, runs all Vitest
// projects (unit, integration, e2e), and ends with one plain summary line.
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { build, root } from './build.mjs';
import { dockerForTests } from './docker-for-tests.mjs';
import { ensureChromium } from './ensure-chromium.mjs';

ensureChromium();
build();
const stopDocker = await dockerForTests();

const resultsDir = path.join(root, 'test-results');
mkdirSync(resultsDir, { recursive: true });
const jsonFile = path.join(resultsDir, 'vitest.json');
const result = spawnSync(
  process.execPath,
  [path.join(root, 'node_modules/vitest/vitest.mjs'), 'run', '--reporter=default', '--reporter=json', `--outputFile.json=${jsonFile}`, ...process.argv.slice(2)],
  { cwd: root, stdio: 'inherit' },
);

try {
  const report = JSON.parse(readFileSync(jsonFile, 'utf8'));
  const skipped = report.numPendingTests + report.numTodoTests;
  console.log(`\n${report.numPassedTests} passed, ${report.numFailedTests} failed, ${skipped} skipped`);
} catch {
  console.log('\nThe test report could not be read.');
}
stopDocker();
process.exit(result.status ?? 1);
