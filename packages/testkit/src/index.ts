export {
  startScriptedModelServer,
  type RecordedRequest,
  type ScriptedModelServer,
  type ScriptedModelServerOptions,
} from './scripted-model-server.js';
// `Scenario` is both the zod schema and the type.
export { Scenario, loadScenario, type ScriptedRule, type ScriptedStep, type ScriptedToolCall } from './scenario.js';
export { testProjectDir, testProjectsDir } from './projects.js';
export { makeTar, makeTarGz, makeZip, type TestArchiveEntry } from './archives.js';
export * from './media.js';
export { imagesOf, lastMessageHasImage, type SeenImage } from './images.js';
