import path from 'node:path';
import { Config } from '@remotion/cli/config';

// `@brand/…` is an alias that only this webpack override knows.
Config.overrideWebpackConfig((config) => ({
  ...config,
  resolve: {
    ...config.resolve,
    alias: { ...(config.resolve?.alias as Record<string, string> | undefined), '@brand': path.join(__dirname, 'src', 'brand') },
  },
}));
Config.setChromiumOpenGlRenderer('swangle');
Config.setPixelFormat('yuv444p');
