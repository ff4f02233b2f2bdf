import { readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { BundlerInternals, type WebpackOverrideFn } from '@remotion/bundler';
import type { OpenGlRenderer, PixelFormat } from '@remotion/renderer';
import type { BrowserSafeApis as BrowserSafeApisType } from '@remotion/renderer/client';
import { findConfigFile } from '@cutroom/template';

/**
 * Remotion's option store as `@remotion/cli/config` writes it: the CommonJS instance
 * (`import` would load the package's ES build, a second store that the configuration
 * never sets).
 */
const remotionOptions = (): (typeof BrowserSafeApisType)['options'] =>
  (createRequire(import.meta.url)('@remotion/renderer/client') as { BrowserSafeApis: typeof BrowserSafeApisType }).BrowserSafeApis.options;

/**
 * A project's `remotion.config.*` as Remotion's CLI applies it to a render: compiled with
 * esbuild and run against `@remotion/cli/config` (the same `Config` the CLI's
 * `remotion render` uses), then read back. Runs in the render worker only, inside the
 * render sandbox: the configuration is project code.
 */
export type ProjectRenderConfig = {
  /** Its file (relative to the project), or null when the project has none. */
  file: string | null;
  /** `Config.overrideWebpackConfig(…)` (e.g. `@remotion/tailwind`'s `enableTailwind`), or null. */
  webpackOverride: WebpackOverrideFn | null;
  /** `Config.setChromiumOpenGlRenderer(…)` (three.js wants `angle` in headless Chromium), or null. */
  gl: OpenGlRenderer | null;
  /** `Config.setPixelFormat(…)`, or null for Remotion's default. */
  pixelFormat: PixelFormat | null;
};

const none: ProjectRenderConfig = { file: null, webpackOverride: null, gl: null, pixelFormat: null };

export async function loadProjectRenderConfig(projectDir: string): Promise<ProjectRenderConfig> {
  const file = findConfigFile(projectDir);
  if (!file) return none;
  const absolute = path.join(projectDir, file);
  let code: string;
  try {
    const result = await BundlerInternals.esbuild.build({
      platform: 'node',
      target: 'node20',
      format: 'cjs',
      bundle: true,
      entryPoints: [absolute],
      absWorkingDir: projectDir,
      outfile: 'remotion-config.cjs',
      write: false,
      // Packages (`@remotion/tailwind`, …) are required at run time from the project.
      packages: 'external',
      logLevel: 'silent',
    });
    code = new TextDecoder().decode(result.outputFiles[0]!.contents);
  } catch (error) {
    throw new Error(`${file} does not compile: ${error instanceof Error ? error.message : String(error)}`);
  }
  // Loaded only for a project that has a configuration (it brings Remotion's Studio server along).
  const cliConfig = await import('@remotion/cli/config');
  const projectRequire = createRequire(absolute);
  const requireForConfig = (id: string): unknown => (id === '@remotion/cli/config' ? cliConfig : projectRequire(id));
  const module = { exports: {} as unknown };
  try {
    new Function('require', 'module', 'exports', '__filename', '__dirname', code)(requireForConfig, module, module.exports, absolute, projectDir);
  } catch (error) {
    throw new Error(`${file} failed: ${error instanceof Error ? error.message : String(error)}`);
  }
  const { ConfigInternals } = cliConfig;
  const options = remotionOptions();
  const override = ConfigInternals.getWebpackOverrideFn();
  const pixelFormat = options.pixelFormatOption.getValue({ commandLine: {} });
  return {
    file,
    webpackOverride: override === ConfigInternals.defaultOverrideFunction ? null : override,
    gl: options.glOption.getValue({ commandLine: {} }).value,
    pixelFormat: pixelFormat.source === 'default' ? null : pixelFormat.value,
  };
}

/** Whether this render can reach a GPU (a DRM render node): the render sandbox gives none. */
function hasGpu() {
  try {
    return readdirSync('/dev/dri').some((name) => name.startsWith('renderD'));
  } catch {
    return false;
  }
}

/**
 * The GL backend Chromium gets. A project that asks for one that needs a GPU (`angle`, as
 * Remotion's three.js template does; `egl`, `vulkan`, `angle-egl`) gets ANGLE on
 * SwiftShader (`swangle`, the software backend Remotion advises where there is no GPU)
 * when the render has none: there WebGL would not start at all ("Error creating WebGL
 * context", from `npx remotion render` too). What it draws is the same picture.
 */
export function effectiveGl(gl: OpenGlRenderer | null, gpu = hasGpu()): OpenGlRenderer | null {
  if (!gl || gl === 'swangle' || gl === 'swiftshader' || gpu) return gl;
  return 'swangle';
}
