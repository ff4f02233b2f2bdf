import { Config } from '@remotion/cli/config';
import { enableTailwind } from '@remotion/tailwind';

Config.setVideoImageFormat('jpeg');
Config.setOverwriteOutput(true);
// Tailwind v3, as Remotion's older templates set it up: tailwindcss comes with @remotion/tailwind.
Config.overrideWebpackConfig((currentConfiguration) => enableTailwind(currentConfiguration));
