// What the renderer's modules share: the service, the state, and how to tell the user. main.ts makes
// one and hands it to each module (run controller, lab files, cable menu, editing, layout, views).
import type { VnetlabService } from '../shared/service-api.ts';
import { isDisconnectedError, ServiceError } from './api.ts';
import { $ } from './dom.ts';
import type { AppState } from './state.ts';

export interface App {
  api: VnetlabService;
  state: AppState;
  notify(message: string, kind?: 'info' | 'error'): void;
  /** Say what went wrong (a service error with its hint). */
  fail(err: unknown): void;
  /** The WebSocket to the server dropped and has not come back yet (browser mode). */
  offline: boolean;
  /** Show one of the side panels (lab, properties, problems). */
  showSide(panel: string): void;
}

/** The status line at the bottom, and the app's way of saying what happened. */
export function makeApp(api: VnetlabService, state: AppState, showSide: (panel: string) => void): App {
  const statusLine = $('status');
  const app: App = {
    api,
    state,
    offline: false,
    showSide,
    notify(message, kind = 'info') {
      statusLine.textContent = message;
      statusLine.className = kind;
    },
    fail(err) {
      // Calls cut off by a lost connection: the banner and the status line already say so, in plainer words.
      if (app.offline && isDisconnectedError(err)) return;
      app.notify(errorText(err), 'error');
    },
  };
  return app;
}

/** An error as the user reads it: its message and, for a service error, its hint. */
export function errorText(err: unknown): string {
  const hint = err instanceof ServiceError && err.info.hint ? ` (${err.info.hint})` : '';
  return `${(err as Error).message ?? String(err)}${hint}`;
}
