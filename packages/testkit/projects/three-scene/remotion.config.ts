import { Config } from '@remotion/cli/config';

// As Remotion's three.js template: WebGL in headless Chromium needs ANGLE.
Config.setChromiumOpenGlRenderer('angle');
Config.setVideoImageFormat('jpeg');
