// Makes sure the Chromium that tests and renders use, and bubblewrap (the local driver's
// wall), are installed. As root on Debian it installs what is missing (apt-get update, then
// apt-get install -y …); otherwise it stops with the exact command to run.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';

/** Installs a Debian package as root, or stops with the command that does. */
function install(pkg, binary) {
  const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
  if (!isRoot || !existsSync('/usr/bin/apt-get')) {
    console.error(`${pkg} is missing (${binary}). Install it, then run the tests again:`);
    console.error(`  sudo apt-get update && sudo apt-get install -y ${pkg}`);
    process.exit(1);
  }
  console.error(`${pkg} is missing: installing it (apt-get update, apt-get install -y ${pkg})…`);
  for (const args of [['update'], ['install', '-y', pkg]]) {
    const result = spawnSync('apt-get', args, { stdio: 'inherit', env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
    if (result.status !== 0) {
      console.error(`apt-get ${args.join(' ')} failed. Run it by hand: apt-get update && apt-get install -y ${pkg}`);
      process.exit(1);
    }
  }
  if (!existsSync(binary)) {
    console.error(`apt-get finished but ${binary} is still missing.`);
    process.exit(1);
  }
}

export function ensureChromium() {
  // bubblewrap: without it the local driver runs sandboxes unconfined, and its tests cannot run.
  if (!existsSync('/usr/bin/bwrap')) install('bubblewrap', '/usr/bin/bwrap');
  const chromium = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
  if (existsSync(chromium)) return chromium;
  if (process.env.CHROMIUM_PATH) {
    console.error(`CHROMIUM_PATH=${chromium} does not exist. Point it at a Chromium binary, or unset it to use /usr/bin/chromium.`);
    process.exit(1);
  }
  install('chromium', chromium);
  return chromium;
}
