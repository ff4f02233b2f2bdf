import { Config } from '@remotion/cli/config';

// Config.setEntryPoint('./src/not-this-one.ts');
Config.setEntryPoint('./remotion/index.js');
Config.setVideoImageFormat('jpeg');
