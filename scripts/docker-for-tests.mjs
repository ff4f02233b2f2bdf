// A Docker engine for one `npm test` run, for the docker driver's tests: DOCKER_HOST when
// it answers (CI starts one and exports it), else a daemon started here (as root, where
// dockerd is installed) with bridge networking and iptables off, stopped when the run ends.
// Then the sandbox image is built (skipped when up to date) before the tests start, so
// test workers do not wait on each other for it. Without an engine the docker tests skip
// themselves (and fail under CI=true).
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, openSync } from 'node:fs';
import path from 'node:path';
import { root } from './build.mjs';

const RUN_DIR = '/run/cutroom-test-docker';
const OWN_HOST = `unix://${RUN_DIR}/docker.sock`;

const answers = (dockerHost) =>
  spawnSync('docker', ['version', '--format', '{{.Server.Version}}'], { env: { ...process.env, DOCKER_HOST: dockerHost }, encoding: 'utf8', timeout: 10_000 }).status === 0;

/** Returns a function that stops what was started (nothing when an engine was already there). */
export async function dockerForTests() {
  const noop = () => {};
  if (spawnSync('docker', ['--version']).status !== 0) {
    console.error('docker: no docker CLI here; the docker driver tests will skip (apt-get install -y --no-install-recommends docker.io)');
    return noop;
  }
  let stop = noop;
  let dockerHost = [process.env.DOCKER_HOST, OWN_HOST, 'unix:///var/run/docker.sock'].find((host) => host && answers(host));
  if (!dockerHost && process.getuid?.() === 0 && existsSync('/usr/sbin/dockerd')) {
    mkdirSync(RUN_DIR, { recursive: true });
    const log = openSync(path.join(RUN_DIR, 'dockerd.log'), 'a');
    const daemon = spawn(
      '/usr/sbin/dockerd',
      ['--bridge=none', '--iptables=false', '--ip-masq=false', '--ip-forward=false', '--data-root=/var/lib/cutroom-test-docker', `--exec-root=${RUN_DIR}/exec`, `--host=${OWN_HOST}`, `--pidfile=${RUN_DIR}/docker.pid`],
      { stdio: ['ignore', log, log] },
    );
    for (let attempt = 0; attempt < 120 && daemon.exitCode === null && !answers(OWN_HOST); attempt++) await new Promise((resolve) => setTimeout(resolve, 500));
    if (answers(OWN_HOST)) {
      dockerHost = OWN_HOST;
      console.error(`docker: started dockerd (pid ${daemon.pid}) at ${OWN_HOST} for this run`);
      stop = () => {
        daemon.kill('SIGTERM');
        spawnSync('sh', ['-c', `for i in $(seq 1 30); do kill -0 ${daemon.pid} 2>/dev/null || exit 0; sleep 1; done; kill -9 ${daemon.pid}`]);
      };
    } else {
      daemon.kill('SIGKILL');
      console.error(`docker: dockerd did not answer; see ${RUN_DIR}/dockerd.log`);
    }
  }
  if (!dockerHost) return stop;
  process.env.DOCKER_HOST = dockerHost;
  const image = spawnSync(process.execPath, [path.join(root, 'scripts/sandbox-image.mjs')], { cwd: root, stdio: 'inherit' });
  if (image.status !== 0) console.error('docker: the sandbox image could not be built; the docker tests will say why');
  return stop;
}
