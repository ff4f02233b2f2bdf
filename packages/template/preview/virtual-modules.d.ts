/** The project's entry point (resolved by the runtime's plugin): importing it runs its `registerRoot`. */
declare module '@cutroom/project-entry' {}

/** Where the page loads the working copy's files from. */
declare module '@cutroom/project-info' {
  /** The working copy's folder as a URL of this page (ends with `/`). */
  export const projectUrl: string;
  /** What of the project's `remotion.config.*` the preview cannot honour (for the user). */
  export const notices: string[];
  /** Why the project's packages (its `package.json`) could not be installed, if they could not. */
  export const packagesError: string | null;
  /** Whether they are being installed now (the page reloads when they are there). */
  export const packagesPending: boolean;
  /** Which state of the above this is (the runtime reloads a page that connects with an older one). */
  export const infoGeneration: number;
}
