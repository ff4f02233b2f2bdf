// Makes sure the Chromium that tests and renders use, and bubblewrap (the local driver's
// wall), are installed. As root on Debian it installs what is missing (apt-get update, then
// apt-get install -y …); otherwise it stops with the exact command to run.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';

export function ensureChromium() {
  const chromium = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
  ensureBubblewrap();
  if (existsSync(chromium)) return chromium;
  if (process.env.CHROMIUM_PATH) {
    console.error(`CHROMIUM_PATH=${chromium} does not exist. Point it at a Chromium binary, or unset it to use /usr/bin/chromium.`);
    process.exit(1);
  }
  const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
  const hasApt = existsSync('/usr/bin/apt-get');
  if (!isRoot || !hasApt) {
    console.error('Chromium is missing (/usr/bin/chromium). Install it, then run the tests again:');
    console.error('  sudo apt-get update && sudo apt-get install -y chromium');
    process.exit(1);
  }
  console.error('Chromium is missing: installing Debian\'s chromium (apt-get update, apt-get install -y chromium)…');
  for (const args of [['update'], ['install', '-y', 'chromium']]) {
    const result = spawnSync('apt-get', args, { stdio: 'inherit', env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
    if (result.status !== 0) {
      console.error(`apt-get ${args.join(' ')} failed. Run it by hand: apt-get update && apt-get install -y chromium`);
      process.exit(1);
    }
  }
  if (!existsSync(chromium)) {
    console.error('apt-get finished but /usr/bin/chromium is still missing.');
    process.exit(1);
  }
  return chromium;
}

/** bubblewrap: without it the local driver runs sandboxes unconfined, and its tests cannot run. */
function ensureBubblewrap() {
  if (existsSync('/usr/bin/bwrap')) return;
  const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
  if (!isRoot || !existsSync('/usr/bin/apt-get')) {
    console.error('bubblewrap is missing (/usr/bin/bwrap). Install it, then run the tests again:');
    console.error('  sudo apt-get update && sudo apt-get install -y bubblewrap');
    process.exit(1);
  }
  console.error('bubblewrap is missing: installing it (apt-get update, apt-get install -y bubblewrap)…');
  for (const args of [['update'], ['install', '-y', 'bubblewrap']]) {
    const result = spawnSync('apt-get', args, { stdio: 'inherit', env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
    if (result.status !== 0) {
      console.error(`apt-get ${args.join(' ')} failed. Run it by hand: apt-get update && apt-get install -y bubblewrap`);
      process.exit(1);
    }
  }
}
