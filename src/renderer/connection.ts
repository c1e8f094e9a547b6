// The connection to the server (browser mode): a banner while it is down (running labs keep running),
// and on its return a new session catches up — subscribe again, the lab's status, its consoles.
import type { ServiceBridge } from '../shared/service-api.ts';
import type { App } from './app.ts';
import type { Consoles } from './consoles.ts';
import { $ } from './dom.ts';
import type { RunController } from './run-controller.ts';

/** Returns whether the server is reachable (no banner up). */
export function wireConnection(app: App, bridge: ServiceBridge, consoles: Consoles, run: RunController): () => boolean {
  const { api, state, notify, fail } = app;
  const banner = $('banner');
  bridge.onConnection?.((up, why, reason) => {
    if (!up) {
      banner.textContent = why === 'refused'
        ? 'The vnetlab server is back but does not accept this page (it was started with a new access link): open the link it printed. Running labs keep running.'
        : reason
          ? `${reason.charAt(0).toUpperCase()}${reason.slice(1).replace(/\.$/, '')}… Your labs and disks are kept.`
          : 'Disconnected from the vnetlab server: reconnecting… Running labs keep running. If you stopped `vnetlab serve`, start it again (with the same --port, this page reconnects by itself).';
      banner.hidden = false;
      if (app.offline) return;
      app.offline = true;
      consoles.connectionLost();
      run.renderControls();
      notify('Disconnected from the vnetlab server: Start, Stop and Check my work wait until it is back.', 'error');
      return;
    }
    banner.hidden = true;
    if (!app.offline) return;
    app.offline = false;
    // A new session on the server: subscribe again, catch up with what happened meanwhile, re-attach consoles.
    void (async () => {
      if (state.folder) await api.subscribe(state.folder).catch(fail);
      await run.refreshStatus().catch(fail);
      run.renderControls();
      await run.restoreConsoles();
      notify('Reconnected to the vnetlab server.');
    })();
  });
  return () => banner.hidden;
}
